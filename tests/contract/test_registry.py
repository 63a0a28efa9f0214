"""The one registry: four kinds, built-ins and entry points alike, "did you mean", the suite's list.

The outside package here is real installed metadata: a ``*.dist-info`` folder with an
``entry_points.txt`` on ``sys.path``, which is what ``pip install`` leaves behind.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import registry
from bench.api.metric import MetricFamily, ScoreContext
from bench.metrics.catalog import UnknownMetric, build_metrics, check_specs

REPO = Path(__file__).resolve().parents[2]
DIST = "mydrumext"

PLUGIN_CODE = '''
import numpy as np
from bench.api.metric import Metric, MetricValue
from bench.data.sources.folder import FolderSource


class LoudnessGap(Metric):
    """|mean RMS of generated clips - mean RMS of real test clips|."""
    name = "loudness_gap"
    version = "1"
    higher_is_better = False

    def compute(self, ctx):
        rms = lambda x: float(np.sqrt((np.asarray(x, dtype=np.float64) ** 2).mean(axis=1)).mean())
        return MetricValue(abs(rms(ctx.generated) - rms(ctx.real_test)), n=len(ctx.generated))


class PrefixedSource(FolderSource):
    """Labels from the file name's prefix: kick_01.wav is a kick."""
    name = "prefixed"

    def label_for(self, rel):
        stem = rel.rsplit("/", 1)[-1]
        return (stem.split("_")[0], "") if "_" in stem else (None, "no '<label>_' prefix")
'''


@pytest.fixture()
def outside_package(tmp_path, monkeypatch):
    """``mydrumext``, installed the way pip leaves a package: code + dist-info with entry points."""
    site = tmp_path / "site"
    (site / "mydrumext").mkdir(parents=True)
    (site / "mydrumext" / "__init__.py").write_text("")
    (site / "mydrumext" / "ext.py").write_text(textwrap.dedent(PLUGIN_CODE))
    info = site / f"{DIST}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[drumbench.metrics]\nloudness_gap = mydrumext.ext:LoudnessGap\n\n"
        "[drumbench.sources]\nprefixed = mydrumext.ext:PrefixedSource\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_every_kind_has_builtins_that_resolve_to_objects_of_that_name():
    assert set(registry.KINDS) == {"baselines", "embedders", "metrics", "sources"}
    for name in registry.KINDS["baselines"].builtins:
        assert registry.resolve("baselines", name).meta.name == name
    for name in registry.KINDS["embedders"].builtins:
        assert registry.resolve("embedders", name).name == name
    for name in registry.KINDS["sources"].builtins:
        assert registry.resolve("sources", name).name == name
    for name in registry.KINDS["metrics"].builtins:
        assert MetricFamily.of(registry.resolve("metrics", name)).members


@pytest.mark.parametrize("kind,typo,meant", [("baselines", "vea", "vae"), ("embedders", "aisxf", "aisfx"),
                                              ("metrics", "kadd", "kad"), ("sources", "hydorgen", "hydrogen")])
def test_unknown_names_say_what_was_meant(kind, typo, meant):
    with pytest.raises(registry.UnknownName, match=f"Did you mean '{meant}'"):
        registry.resolve(kind, typo)


def test_the_default_suite_is_references_first_and_leaves_variants_out():
    suite = registry.default_suite()
    refs = [n for n in suite if registry.resolve("baselines", n).meta.reference]
    assert refs == suite[:len(refs)] and set(refs) == {"real", "noise"}
    assert {"vae", "aae"} <= set(suite)
    for name in registry.available("baselines"):
        meta = registry.resolve("baselines", name).meta
        assert (name in suite) == (meta.variant_of is None)
    variants = [n for n in registry.available("baselines") if n not in suite]
    assert {"vae_templates", "aae_templates"} <= set(variants)
    for name in variants:  # a variant names what it adds, so the leaderboard can say so
        assert registry.resolve("baselines", name).meta.devices


def test_an_outside_package_registers_a_metric_and_a_source_by_entry_point(outside_package, tmp_path):
    assert registry.origin("metrics", "loudness_gap") == DIST
    assert registry.origin("sources", "prefixed") == DIST
    assert registry.origin("metrics", "fad") == "built-in"

    # the metric: a protocol spec builds and computes it like a built-in one
    check_specs(["loudness_gap", "fad:mel"])
    with pytest.raises(UnknownMetric, match="takes no argument"):
        check_specs(["loudness_gap:mel"])
    (metric,) = build_metrics(["loudness_gap"])
    loud, quiet = np.full((4, 100), 0.5), np.full((3, 100), 0.1)
    labels = np.zeros(4, dtype=np.int64)
    ctx = ScoreContext(generated=loud, generated_labels=labels, real_test=quiet,
                       real_test_labels=labels[:3], real_train=quiet, real_train_labels=labels[:3],
                       classes=["kick"], sample_rate=8000, protocol=None, embed=lambda n, x: x)
    assert metric.compute(ctx).value == pytest.approx(0.4)

    # the source: `drumbench data` scans a folder through it, in a fresh process
    root = tmp_path / "hits"
    root.mkdir()
    t = np.arange(4000) / 8000
    for label, f0 in (("kick", 60.0), ("snare", 200.0)):
        for k in range(3):
            sf.write(root / f"{label}_{k}.wav", 0.5 * np.sin(2 * np.pi * f0 * (k + 1) * t) * np.exp(-8 * t), 8000)
    sf.write(root / "unlabelled.wav", 0.5 * np.sin(2 * np.pi * 90 * t), 8000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(outside_package), str(REPO)])}
    cmd = [sys.executable, "-m", "bench.cli", "data", "dataset=folder", "dataset.source=prefixed",
           f"dataset.root={root}", f"data_dir={tmp_path / 'data'}"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "quarantined unlabelled.wav: no '<label>_' prefix" in out.stdout
    manifest = next((tmp_path / "data").glob("*/manifest.jsonl")).read_text()
    assert manifest.count('"label": "kick"') == 3 and manifest.count('"label": "snare"') == 3

    ls = subprocess.run([sys.executable, "-m", "bench.cli", "ls"], capture_output=True, text=True,
                        env=env, cwd=tmp_path, timeout=120)
    assert ls.returncode == 0, ls.stderr[-2000:]
    assert f"loudness_gap ({DIST})" in ls.stdout and f"prefixed ({DIST})" in ls.stdout
