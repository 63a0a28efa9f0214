"""Run files → long table → groups, rows and cells (mean, CI over seeds, best, failures)."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench.api.results import MetricRecord
from bench.report.aggregate import build_groups, t_interval
from bench.report.collect import RunFileError, find_runs, long_table
from bench.testing.fake_runs import FakeBaseline, fabricate_run, fabricate_runs, write_listen_clips

CLASSES = ["kick", "snare"]


def _runs(root: Path, baselines: list[FakeBaseline], seeds=(0, 1, 2), **kw) -> Path:
    runs_dir = root / "runs"
    fabricate_runs(runs_dir, baselines=baselines, seeds=seeds, datasets={"ds": CLASSES},
                   listen_root=root / "listen", clips_per_class=1, clip_seconds=0.1,
                   interp_paths=1, interp_steps=2, **kw)
    return runs_dir


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agg")
    return _runs(root, [
        FakeBaseline("real", 0.0, 0.0, reference=True, losses=()),
        FakeBaseline("good", 0.2, 5.0, ("sample", "conditional")),
        FakeBaseline("fast", 0.5, 0.5, ("sample", "conditional"), failed_seeds=(2,)),
        FakeBaseline("broken", 0.6, 1.0, ("sample",), failing_metric="kad_aisfx"),
    ])


def _row(groups, name):
    return next(r for g in groups for r in g.rows if r.key.baseline == name)


def test_long_table_has_one_row_per_run_and_metric(small_runs: Path) -> None:
    runs = find_runs(small_runs)
    assert len(runs) == 4 * 3
    long = long_table(runs)
    expected = sum(max(1, len(r.metrics)) for r in runs)
    assert len(long) == expected
    failed_run = long[(long.baseline == "fast") & (long.seed == 2)]
    assert list(failed_run.run_status) == ["failed"] and failed_run.metric.isna().all()
    ok = long[long.status == "ok"]
    assert ok.value.notna().all() and ok.value.dtype == np.float64


def test_t_interval_matches_scipy() -> None:
    x = np.array([1.0, 1.4, 0.9, 1.2])
    lo, hi = t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert lo == pytest.approx(ref[0]) and hi == pytest.approx(ref[1])


def test_cells_mean_ci_over_seeds_and_best(small_runs: Path) -> None:
    runs = find_runs(small_runs)
    (group,) = build_groups(runs)
    good = _row([group], "good")
    cell = good.cells["fad_mel"]
    seeds = [r.metrics["fad_mel"].value for r in good.runs]
    assert cell.n == 3 and cell.mean == pytest.approx(np.mean(seeds))
    assert (cell.lo, cell.hi) == pytest.approx(t_interval(np.array(seeds)))
    # best is the lowest fad among models; the reference row (real, lower still) is not ranked
    real = _row([group], "real")
    assert real.reference and real.cells["fad_mel"].mean < cell.mean
    assert cell.best and cell.rank == 1 and not real.cells["fad_mel"].best
    assert real.cells["fad_mel"].rank is None
    # latency: lower is better, so the fast baseline wins
    assert _row([group], "fast").cells["latency_ms"].best
    assert not good.cells["latency_ms"].best and good.cells["latency_ms"].rank == 3


def test_failed_skipped_and_partial_cells_say_why(small_runs: Path) -> None:
    (group,) = build_groups(find_runs(small_runs))
    broken = _row([group], "broken")
    kad = broken.cells["kad_aisfx"]
    assert kad.status == "failed" and "NaN embeddings" in kad.reason and kad.mean is None
    acc = broken.cells["class_accuracy"]
    assert acc.status == "skipped" and "conditional" in acc.reason
    fast = _row([group], "fast")
    assert fast.ok_seeds == [0, 1] and fast.seeds == [0, 1, 2]
    fad = fast.cells["fad_mel"]
    assert fad.status == "ok" and fad.n == 2 and fad.n_runs == 3
    assert "seed 2" in fad.reason and "loss became NaN" in fad.reason


def test_one_seed_uses_the_metrics_own_ci(tmp_path: Path) -> None:
    runs_dir = _runs(tmp_path, [FakeBaseline("solo", 0.3, 1.0)], seeds=(0,))
    (group,) = build_groups(find_runs(runs_dir))
    (row,) = group.rows
    rec = row.runs[0].metrics["fad_mel"]
    cell = row.cells["fad_mel"]
    assert cell.n == 1 and [cell.lo, cell.hi] == rec.ci95 and "own" in cell.ci_source
    assert row.cells["ppl_lerp"].status == "skipped"
    assert row.cells["latency_ms"].lo is None           # no CI anywhere: only the mean


def test_groups_are_never_mixed(tmp_path: Path) -> None:
    b = FakeBaseline("m", 0.3, 1.0)
    listen = write_listen_clips(tmp_path / "listen", CLASSES, sample_rate=8000, n=800)
    common = dict(listen_dir=listen, clips_per_class=1, sample_rate=8000, clip_seconds=0.1)
    fabricate_run(tmp_path / "runs", b, seed=0, dataset="a", classes=CLASSES, **common)
    fabricate_run(tmp_path / "runs", b, seed=0, dataset="b", classes=CLASSES, **common)
    fabricate_run(tmp_path / "runs", b, seed=0, dataset="a", classes=CLASSES,
                  protocol_version="2", **common)
    # same dataset name, different manifest (another class list): its own group too
    fabricate_run(tmp_path / "runs", b, seed=0, dataset="a", classes=["kick"], **common)
    groups = build_groups(find_runs(tmp_path / "runs"))
    assert len(groups) == 4
    for g in groups:
        for r in g.rows:
            assert {run.group for run in r.runs} == {g.key}


def test_two_signatures_of_one_baseline_are_two_labelled_rows(tmp_path: Path) -> None:
    a = FakeBaseline("vae", 0.3, 1.0, config={"latent_dim": 8})
    b = FakeBaseline("vae", 0.4, 1.0, config={"latent_dim": 16})
    runs_dir = _runs(tmp_path, [a, b], seeds=(0, 1))
    (group,) = build_groups(find_runs(runs_dir))
    assert len(group.rows) == 2
    labels = sorted(r.label for r in group.rows)
    sigs = sorted(r.key.signature[:7] for r in group.rows)
    assert labels == sorted(f"vae · {s}" for s in sigs)
    assert all(len(r.runs) == 2 for r in group.rows)


def test_unknown_metric_is_a_generic_column(small_runs: Path, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(small_runs, runs_dir)
    for i, run_json in enumerate(sorted(runs_dir.rglob("run.json"))):
        MetricRecord(metric="zz_new", version="3", higher_is_better=True, status="ok",
                     value=float(i)).write(run_json.parent)
    (group,) = build_groups(find_runs(runs_dir))
    col = next(c for c in group.columns if c.key == "zz_new")
    assert col.higher_is_better and col.arrow == "↑" and group.columns[-1] is col
    best = [r for r in group.rows if r.cells["zz_new"].best]
    assert len(best) == 1 and not best[0].reference
    assert best[0].cells["zz_new"].mean == max(
        r.cells["zz_new"].mean for r in group.rows if not r.reference)


def test_bad_run_files_name_the_file(tmp_path: Path, small_runs: Path) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(small_runs, runs_dir)
    victim = sorted(runs_dir.rglob("run.json"))[0]
    victim.write_text("{not json")
    with pytest.raises(RunFileError, match=str(victim)):
        find_runs(runs_dir)
    victim.write_text(json.dumps({"schema": 99}))
    with pytest.raises(RunFileError, match="schema 99"):
        find_runs(runs_dir)
    victim.write_text(json.dumps({"schema": 1, "status": "ok", "seed": 0}))
    with pytest.raises(RunFileError, match="missing key 'signature'"):
        find_runs(runs_dir)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_runs(tmp_path / "nowhere")


def test_bad_metric_file_names_the_file(tmp_path: Path, small_runs: Path) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(small_runs, runs_dir)
    metric = sorted(runs_dir.rglob("metrics/fad_mel.json"))[0]
    rec = json.loads(metric.read_text())
    metric.write_text(json.dumps({**rec, "status": "great"}))
    with pytest.raises(RunFileError, match=f"{metric}: unknown metric status 'great'"):
        find_runs(runs_dir)
    metric.write_text(json.dumps({"metric": "fad_mel", "status": "ok"}))
    with pytest.raises(RunFileError, match=f"{metric}: not a metric record.*higher_is_better"):
        find_runs(runs_dir)


def test_running_runs_are_listed_not_scored(tmp_path: Path) -> None:
    runs_dir = _runs(tmp_path, [FakeBaseline("m", 0.3, 1.0)], seeds=(0, 1))
    run_json = sorted(runs_dir.rglob("run.json"))[1]
    rec = json.loads(run_json.read_text())
    rec["status"] = "running"
    run_json.write_text(json.dumps(rec))
    (group,) = build_groups(find_runs(runs_dir))
    assert [r.seed for r in group.running] == [1]
    assert group.rows[0].seeds == [0] and group.rows[0].cells["fad_mel"].n == 1


def test_non_finite_values_are_failures_not_numbers(tmp_path: Path) -> None:
    runs_dir = _runs(tmp_path, [FakeBaseline("m", 0.3, 1.0)], seeds=(0, 1))
    for f in runs_dir.rglob("metrics/fad_mel.json"):
        rec = json.loads(f.read_text())
        rec["value"] = math.nan
        f.write_text(json.dumps(rec))
    (group,) = build_groups(find_runs(runs_dir))
    cell = group.rows[0].cells["fad_mel"]
    assert cell.status == "failed" and "non-finite" in cell.reason and cell.mean is None


def test_bar_chart_accepts_an_interval_that_excludes_the_mean(tmp_path):
    """A bootstrap CI can lie wholly above the point estimate (FAD's does): the figure renders."""
    import json

    from bench.report.aggregate import build_groups
    from bench.report.collect import find_runs
    from bench.report.figures import bar_chart, baseline_palette
    from bench.testing.fake_runs import fabricate_runs

    fabricate_runs(tmp_path / "runs", n_baselines=2, seeds=(0,), n_datasets=1)
    shifted = 0
    for path in (tmp_path / "runs").rglob("metrics/*.json"):
        rec = json.loads(path.read_text())
        if rec.get("status") == "ok" and rec.get("value") is not None:
            rec["ci95"] = [rec["value"] + 1.0, rec["value"] + 2.0]
            path.write_text(json.dumps(rec))
            shifted += 1
    assert shifted
    group = build_groups(find_runs(tmp_path / "runs"))[0]
    palette = baseline_palette([group])
    drawn = [bar_chart(group, col, tmp_path / f"bar{i}.png", palette)
             for i, col in enumerate(group.columns)]
    assert any(p is not None and p.stat().st_size > 0 for p in drawn)
