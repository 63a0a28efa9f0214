"""Metric specs → metric instances.

A protocol lists metrics as specs: ``"fad:aisfx"`` is the FAD metric on the aisfx embedder,
``"prdc:mel"`` expands to precision, recall, density and coverage on mel, ``"latency"`` has no
argument. Options from the ``metric`` config group are passed to a metric's constructor by its
base name (``metric.prdc.k=3``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.api.metric import Metric
from bench.registry import did_you_mean, import_string

#: base name → (import strings, whether it takes an embedder argument)
METRICS: dict[str, tuple[tuple[str, ...], bool]] = {
    "fad": (("bench.metrics.fad:FAD",), True),
    "fadinf": (("bench.metrics.fad:FADInf",), True),
    "kad": (("bench.metrics.kad:KAD",), True),
    "prdc": (("bench.metrics.fidelity:Precision", "bench.metrics.fidelity:Recall",
              "bench.metrics.fidelity:Density", "bench.metrics.fidelity:Coverage"), True),
    "memorization": (("bench.metrics.memorization:Memorization",), True),
    "class_accuracy": (("bench.metrics.class_metrics:ClassAccuracy",), False),
    "inception_score": (("bench.metrics.class_metrics:InceptionScore",), False),
    "kid": (("bench.metrics.class_metrics:KID",), False),
    "class_kl": (("bench.metrics.class_metrics:ClassKL",), False),
    "ppl": (("bench.metrics.latent:PerceptualPathLength",), False),
    "interp_evenness": (("bench.metrics.latent:InterpolationEvenness",), False),
    "descriptor_linearity": (("bench.metrics.latent:DescriptorLinearity",), False),
    "latency": (("bench.metrics.latency:Latency",), False),
    "params": (("bench.metrics.latency:ParamCount",), False),
    "recon": (("bench.metrics.recon:MRSTFTDistance", "bench.metrics.recon:LogSpectralDistance",
               "bench.metrics.recon:OnsetError"), False),
}


class UnknownMetric(ValueError):
    pass


def parse_spec(spec: str) -> tuple[str, str | None]:
    base, _, arg = spec.partition(":")
    return base.strip(), (arg.strip() or None)


def check_specs(specs: list[str]) -> None:
    for spec in specs:
        base, arg = parse_spec(spec)
        if base not in METRICS:
            raise UnknownMetric(did_you_mean(base, METRICS, "metric"))
        if METRICS[base][1] and arg is None:
            raise UnknownMetric(f"metric {base!r} needs an embedder: write '{base}:<embedder>', e.g. '{base}:mel'")
        if not METRICS[base][1] and arg is not None and base != "ppl":
            raise UnknownMetric(f"metric {base!r} takes no argument (got {spec!r})")


def build_metrics(specs: list[str], options: Mapping[str, Any] | None = None) -> list[Metric]:
    """Instantiate every spec; ``ppl`` takes ``lerp``/``slerp`` (both when no argument)."""
    check_specs(specs)
    options = dict(options or {})
    out: list[Metric] = []
    for spec in specs:
        base, arg = parse_spec(spec)
        paths, takes_embedder = METRICS[base]
        kwargs = dict(options.get(base, {}))
        for path in paths:
            cls = import_string(path)
            if takes_embedder:
                out.append(cls(arg, **kwargs))
            elif base == "ppl":
                out.extend(cls(method=m, **kwargs) for m in ([arg] if arg else ["lerp", "slerp"]))
            else:
                out.append(cls(**kwargs))
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UnknownMetric(f"metrics listed twice: {dupes}")
    return out
