"""Metric specs → metric instances, through the registry's ``metrics`` kind.

A protocol lists metrics as specs: ``"fad:aisfx"`` is the FAD metric on the aisfx embedder,
``"prdc:mel"`` expands to precision, recall, density and coverage on mel, ``"latency"`` has no
argument. Options from the ``metric`` config group are passed to a metric's constructor by its
base name (``metric.prdc.k=3``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench import registry
from bench.api.metric import Metric, MetricFamily


class UnknownMetric(ValueError):
    pass


def parse_spec(spec: str) -> tuple[str, str | None]:
    base, _, arg = spec.partition(":")
    return base.strip(), (arg.strip() or None)


def family(base: str) -> MetricFamily:
    if base not in registry.available("metrics"):
        raise UnknownMetric(registry.did_you_mean(base, registry.available("metrics"), "metric"))
    return MetricFamily.of(registry.resolve("metrics", base))


def check_specs(specs: list[str]) -> None:
    for spec in specs:
        base, arg = parse_spec(spec)
        try:
            family(base).check(base, arg)
        except UnknownMetric:
            raise
        except ValueError as err:
            raise UnknownMetric(str(err)) from err


def build_metrics(specs: list[str], options: Mapping[str, Any] | None = None) -> list[Metric]:
    """Instantiate every spec (options by base name); a result name listed twice is an error."""
    check_specs(specs)
    options = dict(options or {})
    out: list[Metric] = []
    for spec in specs:
        base, arg = parse_spec(spec)
        out.extend(family(base).build(base, arg, dict(options.get(base, {}))))
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UnknownMetric(f"metrics listed twice: {dupes}")
    return out
