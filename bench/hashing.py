"""Short content hashes for names: data folders, run signatures, page and anchor ids.

One definition, so that the same object always gets the same name wherever it is named: the
SHA-256 of the object's canonical JSON (sorted keys; a string hashes as its JSON string).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any


def short_hash(obj: Any, n: int = 10) -> str:
    """The first ``n`` hex digits of the SHA-256 of ``obj`` as sorted-key JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]
