"""vggish, pann, clap, encodec: frechet-audio-distance's four models, loaded by the package, run by us.

Why not the package's own ``get_embeddings``: it drops the rest of a set when one clip fails (the
exception is printed and swallowed), returns no VGGish frame for clips under 0.96 s, and flattens
PANN's 2048-d vectors into scalars (its issue #37). So the package only loads each model
(``FrechetAudioDistance(model_name=...).model``, with its defaults: VGGish without PCA and without
the last ReLU, PANN Cnn14_16k, CLAP 630k-audioset without fusion, EnCodec 24 kHz), and here we pad
short clips (with a note), batch, keep one vector per clip, and let every error through.

Weights come from the network on first use (torch.hub, Zenodo, Hugging Face). Without a network,
``import frechet_audio_distance`` alone imports laion_clap, which asks the Hugging Face hub for
three tokenizers and retries for minutes. So before importing anything we look for the files on
disk and raise :class:`EmbedderUnavailable` at once, naming each missing path and how to fetch it.
When everything is on disk we switch the Hugging Face libraries to offline mode (nothing more is
needed from the network) and import the package.

The weights are not on the development machine: only the fail-fast path is tested there; the
loading and embedding code below follows the package's and the models' sources.
"""
from __future__ import annotations

import abc
import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import torch

from bench.api.embedder import Embedder, Embedding, EmbedderUnavailable
from bench.device import resolve_device
from bench.metrics.embedders.common import check_clips, pad_to

PACKAGE = "frechet_audio_distance"


def torch_hub_dir() -> Path:
    """torch.hub's folder ($TORCH_HOME/hub, default ~/.cache/torch/hub), where the package keeps weights."""
    return Path(torch.hub.get_dir())


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache, read from the environment now (as huggingface_hub would at import)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def hf_cached_file(repo_id: str, filename: str) -> Path | None:
    """The cached snapshot file of ``repo_id`` (main revision first), or None."""
    repo = hf_hub_cache() / f"models--{repo_id.replace('/', '--')}"
    ref = repo / "refs" / "main"
    if ref.is_file():
        candidate = repo / "snapshots" / ref.read_text().strip() / filename
        if candidate.is_file():
            return candidate
    snapshots = repo / "snapshots"
    if snapshots.is_dir():
        for snapshot in sorted(snapshots.iterdir()):
            if (snapshot / filename).is_file():
                return snapshot / filename
    return None


def use_hub_offline() -> None:
    """Keep transformers / huggingface_hub off the network (all files are local by now).

    An explicit HF_HUB_OFFLINE=0 from the user is respected. huggingface_hub reads the variable
    when first imported, so an already imported module is told directly.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and os.environ["HF_HUB_OFFLINE"] == "1":
        constants.HF_HUB_OFFLINE = True


class HubEmbedder(Embedder):
    """One frechet-audio-distance model. Subclasses say which files it needs and how to run a batch."""

    model_name: str                  # FrechetAudioDistance's model_name
    packages: tuple[str, ...] = (PACKAGE,)
    batch_size: int = 32

    def __init__(self, device: str | torch.device = "auto", batch_size: int | None = None) -> None:
        self.device = resolve_device(device)
        if batch_size is not None:
            self.batch_size = int(batch_size)
        self._model = None

    # --- what must be on disk -------------------------------------------------------------
    @abc.abstractmethod
    def required_files(self) -> list[tuple[str, list[Path], str]]:
        """(what, candidate paths — any one will do, where to fetch it from)."""

    def missing(self) -> list[str]:
        """One line per missing package or file; empty when the model can load offline."""
        lines = [f"python package {pkg!r} (pip install frechet-audio-distance)"
                 for pkg in self.packages if importlib.util.find_spec(pkg) is None]
        for what, paths, source in self.required_files():
            if not any(p.is_file() for p in paths):
                where = " or ".join(str(p) for p in paths)
                lines.append(f"{what}: {where}  (from {source})")
        return lines

    def require(self) -> None:
        """Raise :class:`EmbedderUnavailable` naming every missing file; touches no network."""
        missing = self.missing()
        if missing:
            listing = "\n".join(f"  - {line}" for line in missing)
            raise EmbedderUnavailable(
                f"embedder {self.name!r} is unavailable: its weights are not on this machine.\n"
                f"Missing:\n{listing}\n"
                f"Put the files at those paths (torch.hub's folder is $TORCH_HOME/hub, now {torch_hub_dir()}; "
                f"the Hugging Face cache is $HF_HOME/hub, now {hf_hub_cache()}), or fetch them once on a "
                f"machine with network access and copy the folders over:\n"
                f"  python -c 'from frechet_audio_distance import FrechetAudioDistance; "
                f"FrechetAudioDistance(model_name=\"{self.model_name}\", sample_rate={self.sample_rate})'")

    # --- loading and running --------------------------------------------------------------
    def _load(self):
        if self._model is None:
            self.require()
            use_hub_offline()
            from frechet_audio_distance import FrechetAudioDistance

            fad = FrechetAudioDistance(model_name=self.model_name, sample_rate=self.sample_rate, **self._fad_kwargs())
            self._model = self._prepare(fad.model)
        return self._model

    def _fad_kwargs(self) -> dict:
        return {}

    def _prepare(self, model):
        return model.to(self.device).eval()

    @abc.abstractmethod
    def _embed_batch(self, model, clips: np.ndarray) -> tuple[torch.Tensor, list[str]]:
        """Embeddings of one batch and notes for the result's details (e.g. padding)."""

    def embed(self, audio: np.ndarray) -> Embedding:
        audio = check_clips(audio, self.name)
        model = self._load()
        audio, notes = pad_to(audio, round(self.min_seconds * self.sample_rate), self.sample_rate, self.name)
        out = []
        with torch.no_grad():     # not inference_mode: third-party models may keep tensors around
            for i in range(0, len(audio), self.batch_size):
                vectors, batch_notes = self._embed_batch(model, audio[i:i + self.batch_size])
                out.append(vectors.double().cpu())
                notes += [note for note in batch_notes if note not in notes]
        vectors = torch.cat(out).numpy()
        if vectors.shape != (len(audio), self.dim):
            raise RuntimeError(f"{self.name}: expected embeddings of shape {(len(audio), self.dim)}, got {vectors.shape}")
        return Embedding(vectors=vectors, notes=notes)


class VggishEmbedder(HubEmbedder):
    """VGGish (Hershey et al. 2017) via torch.hub harritaylor/torchvggish: 128-d, mean over its 0.96 s examples."""

    name = "vggish"
    version = "1"
    model_name = "vggish"
    sample_rate = 16000
    dim = 128
    # torchvggish frames 25 ms windows every 10 ms and needs 96 frames: 400 + 95 · 160 samples.
    min_seconds = 15600 / 16000

    def required_files(self):
        hub = torch_hub_dir()
        release = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
        return [
            ("torch.hub clone of harritaylor/torchvggish", [hub / "harritaylor_torchvggish_master" / "hubconf.py"],
             "https://github.com/harritaylor/torchvggish (unpacked as that folder)"),
            ("VGGish weights", [hub / "checkpoints" / "vggish-10086976.pth"], release + "vggish-10086976.pth"),
            ("VGGish PCA parameters (loaded by the constructor)",
             [hub / "checkpoints" / "vggish_pca_params-970ea276.pth"], release + "vggish_pca_params-970ea276.pth"),
        ]

    def _fad_kwargs(self):
        return {"use_pca": False, "use_activation": False}

    def _prepare(self, model):
        model = super()._prepare(model)
        model.device = self.device
        model.postprocess = False
        model.preprocess = False      # we make its log-mel examples ourselves, clip by clip
        return model

    def _embed_batch(self, model, clips):
        examples = [model._preprocess(clip.astype(np.float64), self.sample_rate).detach() for clip in clips]
        counts = [len(e) for e in examples]
        if min(counts) == 0:
            raise RuntimeError(f"vggish returned no example for clips of {clips.shape[1]} samples")
        frames = model(torch.cat(examples).to(self.device))                    # (Σ examples, 128)
        vectors = torch.stack([chunk.mean(dim=0) for chunk in frames.split(counts)])
        notes = []
        if max(counts) > 1:
            notes.append(f"vggish: clips of {clips.shape[1] / self.sample_rate:.2f} s give {max(counts)} "
                         f"examples of 0.96 s each; their embeddings are averaged")
        return vectors, notes


class PannEmbedder(HubEmbedder):
    """PANN Cnn14_16k (Kong et al. 2020): the 2048-d ``embedding`` per clip, kept as a vector."""

    name = "pann"
    version = "1"
    model_name = "pann"
    sample_rate = 16000
    dim = 2048
    # Five 2×2 poolings over 10 ms frames need 32 frames: 31 · 160 samples, rounded up.
    min_seconds = 0.32
    checkpoint = "Cnn14_16k_mAP%3D0.438.pth"     # the literal file name the package writes

    def required_files(self):
        return [("PANN Cnn14_16k checkpoint", [torch_hub_dir() / self.checkpoint],
                 f"https://zenodo.org/record/3987831/files/{self.checkpoint}")]

    def _embed_batch(self, model, clips):
        out = model(torch.from_numpy(clips).to(self.device), None)
        return out["embedding"], []


class ClapEmbedder(HubEmbedder):
    """LAION-CLAP 630k-audioset (HTSAT-tiny, no fusion): 512-d audio embedding at 48 kHz."""

    name = "clap"
    version = "1"
    model_name = "clap"
    packages = (PACKAGE, "laion_clap")
    sample_rate = 48000
    dim = 512
    min_seconds = 0.0
    batch_size = 16
    checkpoint = "630k-audioset-best.pt"
    window = 480000                                  # laion_clap's 10 s input

    def required_files(self):
        hf = "https://huggingface.co/roberta-base (e.g. RobertaModel.from_pretrained('roberta-base'))"
        weights = [p for p in (hf_cached_file("roberta-base", "model.safetensors"),
                               hf_cached_file("roberta-base", "pytorch_model.bin")) if p is not None]
        config = hf_cached_file("roberta-base", "config.json")
        snapshot = hf_hub_cache() / "models--roberta-base" / "snapshots" / "<revision>"
        return [
            ("CLAP checkpoint", [torch_hub_dir() / self.checkpoint],
             f"https://huggingface.co/lukewys/laion_clap/resolve/main/{self.checkpoint}"),
            ("roberta-base config (CLAP's text branch is built from it)",
             [config or snapshot / "config.json"], hf),
            ("roberta-base weights", weights or [snapshot / "model.safetensors", snapshot / "pytorch_model.bin"], hf),
        ]

    def _embed_batch(self, model, clips):
        notes = []
        if clips.shape[1] > self.window:
            # laion_clap would crop a random 10 s (rand_trunc); a fixed crop keeps embed() pure.
            clips = clips[:, :self.window]
            notes.append("clap: clips longer than 10 s cut to their first 10 s")
        else:
            notes.append(f"clap: clips of {clips.shape[1] / self.sample_rate:.2f} s are repeated to fill "
                         f"CLAP's 10 s window, then zero-padded (laion_clap's repeatpad)")
        vectors = model.get_audio_embedding_from_data(torch.from_numpy(clips), use_tensor=True)
        return vectors, notes


class EncodecEmbedder(HubEmbedder):
    """EnCodec 24 kHz (Défossez et al. 2022): encoder output before quantisation, 128-d, mean over frames."""

    name = "encodec"
    version = "1"
    model_name = "encodec"
    packages = (PACKAGE, "encodec")
    sample_rate = 24000
    dim = 128
    min_seconds = 320 / 24000                        # one 75 Hz encoder frame
    checkpoint = "encodec_24khz-d7cc33bc.th"

    def required_files(self):
        return [("EnCodec 24 kHz checkpoint", [torch_hub_dir() / "checkpoints" / self.checkpoint],
                 f"https://dl.fbaipublicfiles.com/encodec/v0/{self.checkpoint}")]

    def _embed_batch(self, model, clips):
        frames = model.encoder(torch.from_numpy(clips).to(self.device)[:, None, :])    # (b, 128, frames)
        return frames.mean(dim=-1), [f"encodec: {frames.shape[-1]} encoder frames per clip (75 Hz), averaged"]
