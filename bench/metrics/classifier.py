"""The protocol's reference drum classifier: trained once on the real training split, reused by
every run that shares the data, and the judge behind class accuracy, IS, KID and class KL.

Why two candidates: a linear probe on a pretrained embedding is strong when the embedding knows
the domain, a small CNN on log-mels is strong when the data are unusual (synthetic drums, odd
sample rates); we train both and keep the one that classifies the real *test* split better. The
test split is therefore used for model selection — the reported accuracy is of the chosen model
on the split it was chosen on, a slightly optimistic ceiling for class accuracy.

* probe: ``LogisticRegression`` on standardised embeddings from ``ctx.embed(probe_embedder, ...)``
  (default ``aisfx``); features = the standardised embedding.
* cnn: four 3×3 conv blocks (8-16-32-64 channels) on a peak-normalised 48-band log-mel at 16 kHz
  with 20 ms frames, global average pool (the 64-d features), dropout, linear head; a fixed
  number of epochs with a fixed seed. Sized to train on 9 × 200 one-second clips in well under a
  minute on 2 CPU cores.

A protocol may bound the training set (``protocol.classifier.max_train_per_class``: the first k
clips of each class) and choose the probe's embedder (``protocol.classifier.probe_embedder``):
the smoke protocol does both (20 clips, ``mel``), so that a cold smoke run on the full synthkit
takes seconds rather than minutes; quick and full train on everything with aisfx.

The artefact ``classifier-<key>.pt`` in ``ctx.artefacts_dir`` holds the chosen model, both
candidates' accuracies and times, and the key: a hash of the real train and test clips and labels,
the class list, the sample rate, the classifier version and the config. A changed dataset gives a
new key, hence a new file; an unchanged one is loaded, never retrained.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import weakref
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from bench.api.embedder import EmbedderUnavailable
from bench.api.metric import ScoreContext
from bench.io_atomic import atomic_torch_save, atomic_write_json
from bench.metrics.distances import check_embeddings

log = logging.getLogger(__name__)

#: Bump when training or inference changes what a stored classifier computes.
CLASSIFIER_VERSION = "1"
CNN_SAMPLE_RATE = 16_000
CNN_N_FFT = 1024
CNN_HOP = 320                       # 20 ms frames: 51 per second
CNN_N_MELS = 48
LOG_FLOOR = 1e-5
CANDIDATES = ("probe", "cnn")


@dataclass(frozen=True)
class ClassifierConfig:
    """What is trained; every field enters the artefact key."""

    candidates: tuple[str, ...] = CANDIDATES
    probe_embedder: str = "aisfx"
    probe_c: float = 1.0               # inverse L2 strength of the logistic regression
    cnn_epochs: int = 10
    cnn_batch_size: int = 32
    cnn_lr: float = 3e-3
    cnn_channels: tuple[int, ...] = (8, 16, 32, 64)
    cnn_max_shift_frames: int = 3      # augmentation: random delay of the onset by 0..3 frames
    seed: int = 0
    max_train_per_class: int = 0       # train on the first k clips of each class (0 = all)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.candidates) - set(CANDIDATES))
        if unknown or not self.candidates:
            raise ValueError(f"classifier candidates must be a non-empty subset of {CANDIDATES}, "
                             f"got {self.candidates}")
        if self.max_train_per_class < 0:
            raise ValueError(f"classifier max_train_per_class must be >= 0 (0 = all), "
                             f"got {self.max_train_per_class}")

    def key_fields(self) -> dict[str, Any]:
        """The fields that enter the artefact key; an unbounded training set leaves the bound
        out, so artefacts trained before the field existed keep their keys."""
        fields = asdict(self)
        if not fields["max_train_per_class"]:
            del fields["max_train_per_class"]
        return fields


#: The configuration :func:`get_reference_classifier` uses when given none (and the protocol
#: sets no ``classifier`` options).
DEFAULT_CONFIG = ClassifierConfig()


def config_for(protocol: Any) -> ClassifierConfig:
    """The protocol's classifier options (``protocol.classifier``) over :data:`DEFAULT_CONFIG`:
    the smoke protocol bounds the training set and probes the weight-free ``mel`` embedding, so
    that a cold smoke run takes seconds."""
    options = getattr(protocol, "classifier", None)
    changes: dict[str, Any] = {}
    if options is not None:
        if int(getattr(options, "max_train_per_class", 0) or 0):
            changes["max_train_per_class"] = int(options.max_train_per_class)
        if getattr(options, "probe_embedder", None):
            changes["probe_embedder"] = str(options.probe_embedder)
    return replace(DEFAULT_CONFIG, **changes) if changes else DEFAULT_CONFIG


# --- the two models ------------------------------------------------------------------------

def _check_clips(clips: np.ndarray) -> np.ndarray:
    arr = np.asarray(clips)
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"reference classifier: expected clips of shape (n_clips, n_samples), "
                         f"got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"reference classifier: expected float audio, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"reference classifier: {int(bad.sum())} clip(s) contain NaN or inf "
                         f"(first at row {int(np.flatnonzero(bad)[0])})")
    return arr


class _Probe:
    """Standardise, then multinomial logistic regression; held as plain arrays."""

    def __init__(self, params: dict[str, np.ndarray], n_classes: int, embedder: str):
        self.mean, self.scale = params["mean"], params["scale"]
        self.coef, self.intercept = params["coef"], params["intercept"]
        self.class_ids = params["class_ids"].astype(np.int64)
        self.n_classes, self.embedder = n_classes, embedder

    @staticmethod
    def fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> dict[str, np.ndarray]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(x)
        lr = LogisticRegression(C=c, max_iter=5000, random_state=seed).fit(scaler.transform(x), y)
        return {"mean": scaler.mean_, "scale": scaler.scale_, "coef": lr.coef_,
                "intercept": lr.intercept_, "class_ids": lr.classes_.astype(np.int64)}

    def features_from_embedding(self, emb: np.ndarray) -> np.ndarray:
        emb = check_embeddings(emb, name=f"{self.embedder} embeddings", min_rows=1,
                               dim=self.mean.shape[0])
        return (emb - self.mean) / self.scale

    def proba_from_features(self, z: np.ndarray) -> np.ndarray:
        logits = z @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:                  # sklearn's binary case: one logit
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            seen = np.stack([1.0 - p1, p1], axis=1)
        else:
            logits = logits - logits.max(axis=1, keepdims=True)
            seen = np.exp(logits)
            seen /= seen.sum(axis=1, keepdims=True)
        out = np.zeros((z.shape[0], self.n_classes))
        out[:, self.class_ids] = seen
        return out


class _LogMel(nn.Module):
    """Clips at any rate → peak-normalised log-mel (batch, 1, 48, frames) at 16 kHz."""

    def __init__(self, sample_rate: int):
        super().__init__()
        import torchaudio

        self.sample_rate = int(sample_rate)
        self.resample = (torchaudio.transforms.Resample(self.sample_rate, CNN_SAMPLE_RATE)
                         if self.sample_rate != CNN_SAMPLE_RATE else nn.Identity())
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=CNN_SAMPLE_RATE, n_fft=CNN_N_FFT, hop_length=CNN_HOP, n_mels=CNN_N_MELS)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        audio = self.resample(audio)
        # Class identity does not depend on level: every clip is scaled to peak 1.
        peak = audio.abs().amax(dim=1, keepdim=True).clamp_min(1e-8)
        return torch.log(LOG_FLOOR + self.mel(audio / peak)).unsqueeze(1)


class _MelCNN(nn.Module):
    def __init__(self, n_classes: int, channels: tuple[int, ...]):
        super().__init__()
        blocks, c_in = [], 1
        for i, c_out in enumerate(channels):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU()]
            if i < len(channels) - 1:
                blocks.append(nn.MaxPool2d(2))
            c_in = c_out
        self.trunk = nn.Sequential(*blocks)
        self.norm = nn.BatchNorm2d(1)                # learns the log-mel's offset and scale
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(c_in, n_classes))

    def features(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.norm(logmel)).mean(dim=(2, 3))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(logmel))


class _CNN:
    def __init__(self, state: dict[str, torch.Tensor], n_classes: int, channels: tuple[int, ...],
                 sample_rate: int, device: torch.device):
        self.device = device
        self.front = _LogMel(sample_rate).to(device)
        self.net = _MelCNN(n_classes, channels)
        self.net.load_state_dict(state)
        self.net.to(device).eval()

    def _batches(self, clips: np.ndarray, batch: int = 256):
        with torch.inference_mode():
            for i in range(0, len(clips), batch):
                x = torch.from_numpy(clips[i:i + batch]).to(self.device)
                yield self.front(x)

    def features(self, clips: np.ndarray) -> np.ndarray:
        out = [self.net.features(m).double().cpu() for m in self._batches(clips)]
        return torch.cat(out).numpy()

    def predict_proba(self, clips: np.ndarray) -> np.ndarray:
        out = [torch.softmax(self.net(m).double(), dim=1).cpu() for m in self._batches(clips)]
        return torch.cat(out).numpy()


# --- the public object ---------------------------------------------------------------------

@dataclass
class ReferenceClassifier:
    """A trained reference classifier bound to an embedding function (the probe needs one)."""

    classes: list[str]
    test_accuracy: float
    kind: str                                   # "probe" | "cnn"
    key: str
    summary: dict[str, Any]                     # candidates' accuracies and times, sizes, path
    _model: Any = field(repr=False)
    _embed: Callable[[str, np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    def _probe_features(self, clips: np.ndarray) -> np.ndarray:
        if self._embed is None:
            raise RuntimeError("the probe classifier needs an embedding function; get it through "
                               "get_reference_classifier(ctx)")
        return self._model.features_from_embedding(self._embed(self._model.embedder, clips))

    def features(self, clips: np.ndarray) -> np.ndarray:
        """(N, F) float64: the probe's standardised embedding, or the CNN's pooled features."""
        clips = _check_clips(clips)
        if self.kind == "probe":
            return np.asarray(self._probe_features(clips), dtype=np.float64)
        return self._model.features(clips)

    def predict_proba(self, clips: np.ndarray) -> np.ndarray:
        """(N, C) class probabilities, columns in the order of :attr:`classes`."""
        clips = _check_clips(clips)
        if self.kind == "probe":
            return self._model.proba_from_features(self._probe_features(clips))
        return self._model.predict_proba(clips)

    def describe(self) -> dict[str, Any]:
        """What a metric puts in its details about the judge it used."""
        return {"classifier_kind": self.kind, "classifier_test_accuracy": self.test_accuracy,
                "classifier_key": self.key, "classifier_candidates": self.summary["candidates"]}


def classifier_key(ctx: ScoreContext, config: ClassifierConfig | None = None) -> str:
    """Hash of everything a trained classifier depends on (20 hex digits)."""
    config = config or config_for(ctx.protocol)
    h = hashlib.sha256()
    meta = {"version": CLASSIFIER_VERSION, "config": config.key_fields(), "classes": list(ctx.classes),
            "sample_rate": int(ctx.sample_rate)}
    h.update(json.dumps(meta, sort_keys=True).encode())
    for arr in (ctx.real_train, ctx.real_train_labels, ctx.real_test, ctx.real_test_labels):
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:20]


def artefact_path(ctx: ScoreContext, key: str) -> Path | None:
    return None if ctx.artefacts_dir is None else Path(ctx.artefacts_dir) / f"classifier-{key}.pt"


# One trained classifier per key in this process, and the key of each live context.
_BY_KEY: dict[str, dict[str, Any]] = {}
_KEY_OF_CONTEXT: dict[int, tuple[weakref.ref, str, str]] = {}


def clear_memory() -> None:
    """Forget the classifiers held in this process (the files stay)."""
    _BY_KEY.clear()
    _KEY_OF_CONTEXT.clear()


def get_reference_classifier(ctx: ScoreContext,
                             config: ClassifierConfig | None = None) -> ReferenceClassifier:
    """The protocol's reference classifier for ``ctx``: from memory, from its artefact, or trained
    now (and stored atomically when ``ctx.artefacts_dir`` is set)."""
    config = config or config_for(ctx.protocol)
    sig = json.dumps(asdict(config), sort_keys=True)
    memo = _KEY_OF_CONTEXT.get(id(ctx))
    if memo is not None and memo[0]() is ctx and memo[1] == sig:
        key = memo[2]
    else:
        key = classifier_key(ctx, config)
        for k in [k for k, (ref, _, _) in _KEY_OF_CONTEXT.items() if ref() is None]:
            del _KEY_OF_CONTEXT[k]
        _KEY_OF_CONTEXT[id(ctx)] = (weakref.ref(ctx), sig, key)
    payload = _BY_KEY.get(key)
    path = artefact_path(ctx, key)
    if payload is None and path is not None and path.exists():
        payload = _load(path, key)
    if payload is None:
        payload = train_reference_classifier(ctx, config, key)
        if path is not None:
            atomic_torch_save(payload, path)
            atomic_write_json(path.with_suffix(".json"), payload["summary"])
            log.info("reference classifier %s stored at %s", key, path)
    if path is not None:
        payload["summary"]["path"] = str(path)
    _BY_KEY[key] = payload
    return _bind(payload, ctx)


def _load(path: Path, key: str) -> dict[str, Any] | None:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # an unreadable artefact is replaced, and the log says so
        log.warning("reference classifier %s is unreadable (%s); retraining", path, err)
        return None
    if payload.get("key") != key or payload.get("version") != CLASSIFIER_VERSION:
        log.warning("reference classifier %s has key %s / version %s, expected %s / %s; "
                    "retraining", path, payload.get("key"), payload.get("version"), key,
                    CLASSIFIER_VERSION)
        return None
    return payload


def _bind(payload: dict[str, Any], ctx: ScoreContext) -> ReferenceClassifier:
    classes = list(payload["classes"])
    if payload["kind"] == "probe":
        p = payload["probe"]
        model: Any = _Probe({k: v.numpy() for k, v in p["params"].items()}, len(classes),
                            p["embedder"])
    else:
        c = payload["cnn"]
        model = _CNN(c["state"], len(classes), tuple(c["channels"]), int(payload["sample_rate"]),
                     ctx.device)
    return ReferenceClassifier(classes=classes, test_accuracy=float(payload["test_accuracy"]),
                               kind=payload["kind"], key=payload["key"],
                               summary=payload["summary"], _model=model, _embed=ctx.embed)


# --- training ------------------------------------------------------------------------------

def _labels(labels: np.ndarray, n_rows: int, n_classes: int, name: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n_rows,):
        raise ValueError(f"reference classifier: {name} labels have shape {y.shape}, "
                         f"expected ({n_rows},)")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"reference classifier: {name} labels must be class ids in "
                         f"[0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return y


def first_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Sorted row indices of the first ``k`` rows of every class (the split's own order)."""
    keep = [np.flatnonzero(labels == c)[:k] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def train_reference_classifier(ctx: ScoreContext, config: ClassifierConfig,
                               key: str) -> dict[str, Any]:
    """Train every candidate on ``ctx.real_train``, score on ``ctx.real_test``, keep the best.

    A candidate that cannot run here (its embedder unavailable) is recorded with the reason; if
    none can, the error is raised.
    """
    n_classes = len(ctx.classes)
    train = _check_clips(ctx.real_train)
    test = _check_clips(ctx.real_test)
    y_train = _labels(ctx.real_train_labels, len(train), n_classes, "real train")
    y_test = _labels(ctx.real_test_labels, len(test), n_classes, "real test")
    n_available = len(train)
    if config.max_train_per_class:
        keep = first_per_class(y_train, config.max_train_per_class)
        train, y_train = train[keep], y_train[keep]
    if np.unique(y_train).size < 2:
        raise ValueError("reference classifier: the real training split has fewer than 2 "
                         "classes; there is nothing to classify")
    results: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, Any]] = {}
    for kind in config.candidates:
        t0 = time.perf_counter()
        try:
            if kind == "probe":
                model, acc = _train_probe(ctx, config, train, y_train, test, y_test)
            else:
                model, acc = _train_cnn(ctx, config, train, y_train, test, y_test)
        except EmbedderUnavailable as err:
            results[kind] = {"error": f"{type(err).__name__}: {err}"}
            continue
        results[kind] = {"test_accuracy": acc, "train_seconds": round(time.perf_counter() - t0, 3)}
        models[kind] = model
        log.info("reference classifier candidate %s: test accuracy %.3f in %.1f s", kind, acc,
                 results[kind]["train_seconds"])
    if not models:
        raise RuntimeError(f"no reference classifier candidate could be trained: {results}")
    chosen = max(models, key=lambda k: (results[k]["test_accuracy"], -config.candidates.index(k)))
    summary = {"key": key, "version": CLASSIFIER_VERSION, "chosen": chosen,
               "test_accuracy": results[chosen]["test_accuracy"], "candidates": results,
               "n_train": int(len(train)), "n_train_available": int(n_available),
               "n_test": int(len(test)), "classes": list(ctx.classes),
               "sample_rate": int(ctx.sample_rate), "config": asdict(config)}
    return {"key": key, "version": CLASSIFIER_VERSION, "kind": chosen,
            "classes": list(ctx.classes), "sample_rate": int(ctx.sample_rate),
            "test_accuracy": results[chosen]["test_accuracy"], "summary": summary,
            chosen: models[chosen]}


def _train_probe(ctx, config, train, y_train, test, y_test) -> tuple[dict[str, Any], float]:
    name = config.probe_embedder
    x_train = check_embeddings(ctx.embed(name, train), name=f"{name} embeddings of real train")
    x_test = check_embeddings(ctx.embed(name, test), name=f"{name} embeddings of real test",
                              min_rows=1, dim=x_train.shape[1])
    params = _Probe.fit(x_train, y_train, config.probe_c, config.seed)
    probe = _Probe(params, len(ctx.classes), name)
    pred = probe.proba_from_features(probe.features_from_embedding(x_test)).argmax(axis=1)
    model = {"embedder": name,
             "params": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}}
    return model, float((pred == y_test).mean())


def _train_cnn(ctx, config, train, y_train, test, y_test) -> tuple[dict[str, Any], float]:
    device = ctx.device
    n_classes = len(ctx.classes)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        front = _LogMel(ctx.sample_rate).to(device)
        with torch.inference_mode():
            mels = torch.cat([front(torch.from_numpy(train[i:i + 256]).to(device))
                              for i in range(0, len(train), 256)])
        net = _MelCNN(n_classes, config.cnn_channels).to(device)
        steps_per_epoch = -(-len(train) // config.cnn_batch_size)
        opt = torch.optim.AdamW(net.parameters(), lr=config.cnn_lr, weight_decay=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.cnn_lr,
                                                    total_steps=config.cnn_epochs * steps_per_epoch)
        labels = torch.from_numpy(y_train).to(device)
        floor = float(np.log(LOG_FLOOR))
        net.train()
        for _ in range(config.cnn_epochs):
            order = torch.randperm(len(train), generator=gen)
            for i in range(0, len(train), config.cnn_batch_size):
                idx = order[i:i + config.cnn_batch_size]
                batch = mels[idx.to(device)].clone()
                shift = int(torch.randint(0, config.cnn_max_shift_frames + 1, (1,), generator=gen))
                if shift:   # a late onset: silence (the log floor) in front, the tail cut
                    batch = torch.cat([torch.full_like(batch[..., :shift], floor),
                                       batch[..., :-shift]], dim=-1)
                loss = nn.functional.cross_entropy(net(batch), labels[idx.to(device)])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    cnn = _CNN(state, n_classes, config.cnn_channels, ctx.sample_rate, device)
    acc = float((cnn.predict_proba(test).argmax(axis=1) == y_test).mean())
    return {"state": state, "channels": list(config.cnn_channels)}, acc
