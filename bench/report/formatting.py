"""How numbers are printed in every table (HTML, Markdown, LaTeX): one rule, one place.

A mean with a CI is printed to the CI's second significant digit (``3.142 ± 0.051``), so a
reader never sees more precision than the seeds support; a bare value gets three significant
digits.
"""
from __future__ import annotations

import math


def _decimals_for(x: float, significant: int) -> int:
    if x == 0 or not math.isfinite(x):
        return 0
    return max(0, min(6, significant - 1 - math.floor(math.log10(abs(x)))))


def format_value(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    if v != 0 and (abs(v) < 1e-4 or abs(v) >= 1e6):
        return f"{v:.3g}"
    return f"{v:.{_decimals_for(v, 3)}f}"


def half_width(lo: float | None, hi: float | None) -> float | None:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return abs(hi - lo) / 2.0


def format_mean_ci(mean: float | None, lo: float | None, hi: float | None,
                   pm: str = "±") -> str:
    """``mean ± half-width`` with the precision set by the CI; just the mean without a CI."""
    if mean is None or not math.isfinite(mean):
        return "—"
    half = half_width(lo, hi)
    if not half:
        return format_value(mean)
    if abs(mean) >= 1e6 or half < 1e-6:
        return f"{mean:.3g} {pm} {half:.2g}"
    d = _decimals_for(half, 2)
    return f"{mean:.{d}f} {pm} {half:.{d}f}"


def format_interval(lo: float | None, hi: float | None) -> str:
    if half_width(lo, hi) is None:
        return ""
    return f"[{format_value(lo)}, {format_value(hi)}]"
