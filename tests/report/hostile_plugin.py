"""A real baseline plugin whose name is a script tag: the report must print it as text."""
from __future__ import annotations

from bench.api.baseline import BaselineMeta
from baselines.references.noise import DecayingNoise
from tests.report.report_fixtures import XSS_NAME, XSS_PAYLOAD


class ScriptNamedNoise(DecayingNoise):
    meta = BaselineMeta(name=XSS_NAME, version="1", capabilities=frozenset({"sample", "conditional"}),
                        description=XSS_PAYLOAD)
    reference = False
