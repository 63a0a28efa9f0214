"""Readable figures: one colour per baseline in every chart, distances on a log axis with the
reference rows as lines, and the classifier's metrics side by side in the table."""
from __future__ import annotations

import json
from pathlib import Path

from bench.api.results import MetricRecord
from bench.report.aggregate import build_groups
from bench.report.collect import find_runs
from bench.report.figures import (bar_chart, baseline_palette, is_distance, quality_vs_latency,
                                  read_figure_info)
from bench.testing.fake_runs import FakeBaseline, fabricate_runs


def test_a_baseline_has_one_colour_in_every_figure(built_report: Path,
                                                   report_runs_dir: Path) -> None:
    """Read back the colours each PNG's artists were drawn with: across all charts of the
    report (bars, scatter, training curves, every group) each baseline has exactly one colour,
    no two baselines share one, and its leaderboard swatch shows that colour."""
    site = built_report.parent
    seen: dict[str, set[str]] = {}
    for png in sorted((site / "figures").glob("*.png")):
        for baseline, colour in read_figure_info(png)["colours"].items():
            seen.setdefault(baseline, set()).add(colour)
    assert set(seen) == {run.baseline.name for run in find_runs(report_runs_dir)}
    assert {b: len(c) for b, c in seen.items()} == {b: 1 for b in seen}
    colours = [next(iter(c)) for c in seen.values()]
    assert len(set(colours)) == len(colours)
    html = built_report.read_text()
    for colour in colours:
        assert f"background-color: {colour}" in html


def test_palette_is_stable_and_greys_the_reference_rows(tmp_path: Path) -> None:
    fabricate_runs(tmp_path / "runs", baselines=[
        FakeBaseline("real", 0.0, 0.0, reference=True, losses=()),
        FakeBaseline("zeta", 0.3, 1.0), FakeBaseline("alpha", 0.5, 1.0)], seeds=(0,),
        datasets={"a": ["kick", "snare"], "b": ["kick", "hihat"]}, listen_root=tmp_path / "l",
        clips_per_class=1, clip_seconds=0.05, interp_paths=1, interp_steps=2)
    groups = build_groups(find_runs(tmp_path / "runs"))
    palette = baseline_palette(groups)
    assert palette == baseline_palette(groups[::-1])         # not the order rows come in
    assert palette["alpha"] != palette["zeta"]
    r, g, b = (int(palette["real"][i:i + 2], 16) for i in (1, 3, 5))
    assert r == g == b                                          # grey


def test_distance_charts_use_a_log_axis_and_draw_references_as_lines(tmp_path: Path) -> None:
    """A floor ~400× above the models must not flatten them: log x, and the reference rows
    become lines (recorded among the colours) instead of bars."""
    fabricate_runs(tmp_path / "runs", baselines=[
        FakeBaseline("real", 0.0, 0.0, reference=True, losses=()),
        FakeBaseline("noise", 1.0, 0.1, capabilities=("sample",), reference=True, losses=()),
        FakeBaseline("vae", 0.35, 2.0), FakeBaseline("aae", 0.3, 2.0)], seeds=(0, 1),
        datasets={"d": ["kick", "snare"]}, listen_root=tmp_path / "l", clips_per_class=1,
        clip_seconds=0.05, interp_paths=1, interp_steps=2)
    (group,) = build_groups(find_runs(tmp_path / "runs"))
    palette = baseline_palette([group])
    fad = next(c for c in group.columns if c.metric == "fad_mel")
    acc = next(c for c in group.columns if c.metric == "class_accuracy")
    assert is_distance(fad) and not is_distance(acc)
    info = read_figure_info(bar_chart(group, fad, tmp_path / "fad.png", palette))
    assert info["xscale"] == "log"
    assert set(info["colours"]) == {"real", "noise", "vae", "aae"}
    assert read_figure_info(bar_chart(group, acc, tmp_path / "acc.png", palette))["xscale"] == "linear"
    latency = next(c for c in group.columns if c.metric == "latency_ms")
    scatter = read_figure_info(quality_vs_latency(group, fad, latency, tmp_path / "q.png", palette))
    assert scatter["yscale"] == "log" and scatter["xscale"] == "log"
    # an unbiased distance below zero (KAD of real vs real) cannot sit on a log axis: symlog
    for path in (tmp_path / "runs").rglob("metrics/fad_mel.json"):
        if "real@" in str(path):
            rec = MetricRecord.from_json(json.loads(path.read_text()))
            rec.value, rec.ci95 = -0.1, None
            rec.write(path.parents[1])
    (group,) = build_groups(find_runs(tmp_path / "runs"))
    fad = next(c for c in group.columns if c.metric == "fad_mel")
    assert read_figure_info(bar_chart(group, fad, tmp_path / "fad2.png", palette))["xscale"] == "symlog"


def test_classifier_metrics_sit_together_in_the_table(tmp_path: Path) -> None:
    fabricate_runs(tmp_path / "runs", baselines=[FakeBaseline("m", 0.3, 1.0)], seeds=(0,),
                   datasets={"d": ["kick", "snare"]}, listen_root=tmp_path / "l",
                   clips_per_class=1, clip_seconds=0.05, interp_paths=1, interp_steps=2)
    (run_json,) = (tmp_path / "runs").rglob("run.json")
    for name, higher in (("inception_score", True), ("kid_classifier", False),
                         ("class_kl", False), ("precision_mel", True)):
        MetricRecord(metric=name, version="1", higher_is_better=higher, status="ok",
                     value=1.0).write(run_json.parent)
    (group,) = build_groups(find_runs(tmp_path / "runs"))
    order = [c.metric for c in group.columns]
    i = order.index("class_accuracy")
    assert order[i:i + 4] == ["class_accuracy", "inception_score", "kid_classifier", "class_kl"]
    assert order.index("fad_mel") < i < order.index("precision_mel")


def test_a_zero_distance_is_drawn(tmp_path: Path) -> None:
    """Zero (identical sets) is a legal distance: the chart falls back to symlog, not an error."""
    fabricate_runs(tmp_path / "runs", baselines=[FakeBaseline("a", 0.3, 1.0),
                                                 FakeBaseline("b", 0.5, 1.0)], seeds=(0,),
                   datasets={"d": ["kick"]}, listen_root=tmp_path / "l", clips_per_class=1,
                   clip_seconds=0.05, interp_paths=1, interp_steps=2)
    path = sorted((tmp_path / "runs").rglob("metrics/fad_mel.json"))[0]
    rec = MetricRecord.from_json(json.loads(path.read_text()))
    rec.value, rec.ci95 = 0.0, None
    rec.write(path.parents[1])
    (group,) = build_groups(find_runs(tmp_path / "runs"))
    fad = next(c for c in group.columns if c.metric == "fad_mel")
    info = read_figure_info(bar_chart(group, fad, tmp_path / "z.png", baseline_palette([group])))
    assert info["xscale"] == "symlog"
