"""The one registry: baselines, embedders, metrics and dataset sources, found by name.

Each kind has a table of built-ins and an entry-point group that installed packages add to
(``drumbench.baselines``, ``drumbench.embedders``, ``drumbench.metrics``, ``drumbench.sources``).
Everything stays a lazy ``"module:attr"`` string until it is asked for, so listing names never
imports torch models or frechet-audio-distance. Unknown names get a "did you mean" error. The
suite's baseline list, ``drumbench ls`` and the tests' parameter lists all read this module.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any


@dataclass(frozen=True)
class Kind:
    group: str                 # the entry-point group installed packages register under
    what: str                  # the singular noun, for messages
    builtins: dict[str, str]   # name → "module:attr"


KINDS: dict[str, Kind] = {
    "baselines": Kind("drumbench.baselines", "baseline", {
        "real": "baselines.references.real:RealClips",
        "noise": "baselines.references.noise:DecayingNoise",
        "vae": "baselines.vae.baseline:VAE",
        "aae": "baselines.aae.baseline:AAE",
        "vae_templates": "baselines.vae.baseline:VAETemplates",
        "aae_templates": "baselines.aae.baseline:AAETemplates",
        "codec_latent": "baselines.codec_latent.baseline:CodecLatent",
        "drumgan": "baselines.drumgan.baseline:DrumGAN",
        "ddsp": "baselines.ddsp.baseline:DDSP",
    }),
    "embedders": Kind("drumbench.embedders", "embedder", {
        "aisfx": "bench.metrics.embedders.aisfx:AisfxEmbedder",
        "mel": "bench.metrics.embedders.mel:MelStatsEmbedder",
        "mfcc": "bench.metrics.embedders.mfcc:MfccStatsEmbedder",
        "vggish": "bench.metrics.embedders.hub:VggishEmbedder",
        "pann": "bench.metrics.embedders.hub:PannEmbedder",
        "clap": "bench.metrics.embedders.hub:ClapEmbedder",
        "encodec": "bench.metrics.embedders.hub:EncodecEmbedder",
    }),
    # a metric entry is a Metric subclass or a bench.api.metric.MetricFamily (several rows)
    "metrics": Kind("drumbench.metrics", "metric", {
        "fad": "bench.metrics.fad:FAD",
        "fadinf": "bench.metrics.fad:FADInf",
        "kad": "bench.metrics.kad:KAD",
        "prdc": "bench.metrics.fidelity:PRDC",
        "memorization": "bench.metrics.memorization:Memorization",
        "class_accuracy": "bench.metrics.class_metrics:ClassAccuracy",
        "inception_score": "bench.metrics.class_metrics:InceptionScore",
        "kid": "bench.metrics.class_metrics:KID",
        "class_kl": "bench.metrics.class_metrics:ClassKL",
        "recon": "bench.metrics.recon:RECON",
        "ppl": "bench.metrics.latent:PPL",
        "interp_evenness": "bench.metrics.latent:InterpolationEvenness",
        "descriptor_linearity": "bench.metrics.latent:DescriptorLinearity",
        "latency": "bench.metrics.latency:Latency",
        "params": "bench.metrics.latency:ParamCount",
    }),
    "sources": Kind("drumbench.sources", "dataset source", {
        "synthkit": "bench.data.sources.synthkit:SynthKitSource",
        "hydrogen": "bench.data.sources.hydrogen:HydrogenSource",
        "folder": "bench.data.sources.folder:FolderSource",
        "freesound_oneshot": "bench.data.sources.freesound_oneshot:FreesoundOneShotSource",
        "fsd50k": "bench.data.sources.fsd50k:FSD50KSource",
        "dcase2023_t7": "bench.data.sources.dcase2023_t7:Dcase2023T7Source",
    }),
}


class UnknownName(KeyError, ValueError):
    """A name that no table or installed package registers (the message says what exists)."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise UnknownName(did_you_mean(kind, KINDS, "registry kind"))
    return KINDS[kind]


def _plugins(kind: str) -> dict[str, tuple[str, str]]:
    """name → ("module:attr", distribution name) for the installed packages' entry points."""
    found: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=_kind(kind).group):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
        found.setdefault(ep.name, (ep.value, dist))
    return found


def available(kind: str) -> dict[str, str]:
    """name → "module:attr" for one kind; a plugin cannot replace a built-in of the same name."""
    found = dict(_kind(kind).builtins)
    for name, (value, _) in _plugins(kind).items():
        found.setdefault(name, value)
    return dict(sorted(found.items()))


def origin(kind: str, name: str) -> str:
    """Where ``name`` comes from: ``"built-in"`` or the distribution that registers it."""
    if name in _kind(kind).builtins:
        return "built-in"
    plugins = _plugins(kind)
    if name in plugins:
        return plugins[name][1]
    raise UnknownName(did_you_mean(name, available(kind), _kind(kind).what))


def did_you_mean(name: str, choices: Any, what: str) -> str:
    """``unknown <what> 'x'. Did you mean 'y'? Available: …`` for any iterable of names."""
    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {what} {name!r}.{hint} Available: {', '.join(choices)}"


def import_string(spec: str) -> Any:
    """Import ``"pkg.module:Attr"`` (or ``"pkg.module.Attr"``)."""
    module_name, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:Attr', got {spec!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from err


def resolve(kind: str, name: str) -> Any:
    """The object registered as ``name`` (or a literal ``module:attr``)."""
    table = available(kind)
    if name in table:
        return import_string(table[name])
    if ":" in name:
        return import_string(name)
    raise UnknownName(did_you_mean(name, table, _kind(kind).what))


def embedder(name: str) -> Any:
    """An embedder instance by name."""
    return resolve("embedders", name)()


def default_suite() -> list[str]:
    """The baselines ``drumbench suite`` runs when not told otherwise: the reference rows
    (``meta.reference``) first, then every registered baseline that is not an opt-in variant
    (``meta.variant_of``), in registry order (built-ins, then plugins)."""
    rows = []
    for name in available("baselines"):
        try:
            meta = resolve("baselines", name).meta
        except Exception:  # noqa: BLE001 - a broken plugin stays in: its run fails with the reason
            rows.append((True, name))
            continue
        if meta.variant_of is None:
            rows.append((not meta.reference, name))
    builtin_order = list(KINDS["baselines"].builtins)
    rank = {n: i for i, n in enumerate(builtin_order)}
    return [name for _, name in sorted(rows, key=lambda r: (r[0], rank.get(r[1], len(rank)), r[1]))]
