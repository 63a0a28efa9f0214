"""Progress bars for the long loops (training steps, generation, embedding).

One place decides when bars show: never under ``CI=true`` (logs stay readable), otherwise only
when stderr is a terminal (tqdm's ``disable=None``), so parallel jobs writing to files or pipes
do not fill them with carriage returns.
"""
from __future__ import annotations

import os
from typing import Any

from tqdm.auto import tqdm


def quiet() -> bool:
    """True under CI (``CI=true``/``1``), where bars are never drawn."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def bar(total: int | None = None, desc: str = "", **kwargs: Any) -> tqdm:
    """A tqdm bar that is off under CI and when stderr is not a terminal."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(total=total, desc=desc, disable=True if quiet() else None, **kwargs)
