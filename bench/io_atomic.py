"""Atomic file writes: a temp file in the same folder, then ``os.replace``.

No reader ever sees a half-written result file, and a crash leaves the previous version intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any


def _atomic(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """For writers that take an open binary file: flushed to disk before the rename."""
    def write_file(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write_with(path, write_file)


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return _atomic(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows)
    return atomic_write_text(path, text)


def atomic_torch_save(obj: Any, path: Path) -> Path:
    import torch

    return _atomic(path, lambda fh: torch.save(obj, fh))


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> Path:
    """For writers that want a path (soundfile, numpy, matplotlib): write to a temp path, rename.

    The temp name is unique per call (the suffix kept, so writers can infer the format): parallel
    jobs that write the same shared file, such as the listening clips, never rename each other's
    temp file away."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
