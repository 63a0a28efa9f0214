"""The site as a folder: self-contained, shareable, rebuildable; spectrograms and timing."""
from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from tests.report.report_fixtures import FABRICATED_ONLY
import soundfile as sf

from bench.report.media import MediaStore
from bench.perf import bench_report
from bench.report.site import build_report
from bench.report.spectrogram import _mel_filters, log_mel, spectrogram_png
from bench.testing.fake_runs import default_baselines, fabricate_runs



class Links(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v:
                self.refs.append(v)


def _dangling(site: Path) -> list[str]:
    bad = []
    for page in [site / "index.html", *sorted((site / "baselines").glob("*.html"))]:
        for ref in Links(page.read_text()).refs:
            url = urlparse(ref)
            if url.scheme or ref.startswith("/"):
                if url.scheme != "data":
                    bad.append(f"{page.name}: absolute {ref}")
                continue
            if not url.path:                       # same-page anchor
                continue
            target = (page.parent / unquote(url.path)).resolve()
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                bad.append(f"{page.name}: {ref}")
    return bad


def test_site_is_self_contained_and_survives_a_move(built_report: Path, report_runs_dir: Path,
                                                    tmp_path: Path) -> None:
    site = built_report.parent
    assert _dangling(site) == []
    moved = tmp_path / "shared"
    shutil.copytree(site, moved)
    hidden = report_runs_dir.with_name(report_runs_dir.name + "-hidden")
    report_runs_dir.rename(hidden)                 # nothing may point back at the runs
    try:
        assert _dangling(moved) == []
    finally:
        hidden.rename(report_runs_dir)


@FABRICATED_ONLY
def test_baseline_pages_have_what_a_listener_needs(built_report: Path, report_runs_dir: Path) -> None:
    pages = {p: p.read_text() for p in (built_report.parent / "baselines").glob("*.html")}
    aae = [h for p, h in pages.items() if p.name.split("-")[1] == "aae"]
    ddsp = [h for p, h in pages.items() if p.name.split("-")[1] == "ddsp"]
    assert len(aae) == 2 and len(ddsp) == 2                    # one page per dataset
    for html in aae:                                           # latent, conditional, one failed seed
        tags = Links(html).tags
        assert "Latent interpolation" in html and "Confusion matrix" in html
        assert tags.count("audio") >= 3 * 3 * 2 + 2 * 4        # gen + real per class, strips
        assert "loss became NaN" in html and "traceback" in html
        assert "training and validation curves" in html
        assert "0123456789ab" in html and "torch" in html       # provenance
    for html in ddsp:                                          # no latent: no strip
        assert "Latent interpolation" not in html
        assert "NaN embeddings" in html                        # the failed metric's reason


@FABRICATED_ONLY
def test_index_marks_reference_best_failed_and_skipped(built_report: Path) -> None:
    html = built_report.read_text()
    assert html.count('<table class="board sortable leaderboard"') == 2
    assert 'class="reference"' in html and 'class="model"' in html
    assert 'class="ok best"' in html
    assert 'class="failed"' in html and 'class="skipped"' in html
    assert "needs capability" in html and "NaN embeddings" in html      # reasons on hover
    assert "↓" in html and "↑" in html and 'id="legend"' in html


def test_refuses_a_foreign_folder_and_rebuilds_its_own(tmp_path: Path, report_runs_dir: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        build_report(report_runs_dir, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    (tmp_path / "empty_runs").mkdir()
    with pytest.raises(FileNotFoundError, match="no runs under"):
        build_report(tmp_path / "empty_runs", tmp_path / "out")


def test_rebuild_keeps_cached_spectrograms_and_prunes_stale_media(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    fabricate_runs(runs, baselines=default_baselines(3)[2:], seeds=(0,),
                   datasets={"d": ["kick", "snare"]}, listen_root=tmp_path / "listen",
                   clips_per_class=2, clip_seconds=0.1, interp_paths=1, interp_steps=2)
    site = tmp_path / "site"
    build_report(runs, site)
    spec = sorted((site / "media" / "spec").glob("*.png"))
    assert len(spec) == 2 * 2 + 4 * 2 + 2        # generated, real (4 listen clips) per class, strip
    mtimes = {p: p.stat().st_mtime_ns for p in spec}
    stale = site / "media" / "audio" / "0000stale.wav"
    stale.write_bytes(b"RIFF")
    build_report(runs, site)
    assert not stale.exists()
    assert {p: p.stat().st_mtime_ns for p in spec} == mtimes      # not redrawn
    assert _dangling(site) == []


def test_same_audio_is_stored_and_drawn_once(tmp_path: Path) -> None:
    x = np.sin(np.linspace(0, 200, 4000)).astype(np.float32) * np.exp(-np.linspace(0, 5, 4000))
    a, b = tmp_path / "a.wav", tmp_path / "b" / "same.wav"
    b.parent.mkdir()
    sf.write(a, x, 16000)
    sf.write(b, x, 16000)
    store = MediaStore(tmp_path / "site")
    ca, cb = store.clip(a, "a.wav"), store.clip(b, "b/same.wav")
    assert ca.audio == cb.audio and ca.spec == cb.spec and ca.name != cb.name
    assert len(list(store.audio_dir.iterdir())) == 1
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        store.clip(tmp_path / "missing.wav", "x")


def test_mel_filters_match_torchaudio() -> None:
    from torchaudio.functional import melscale_fbanks

    for sr, n_fft, n_mels in [(16000, 512, 80), (44100, 1024, 64)]:
        ref = melscale_fbanks(n_fft // 2 + 1, 0.0, sr / 2, n_mels, sr, norm="slaney",
                              mel_scale="slaney").numpy()
        assert np.allclose(_mel_filters(sr, n_fft, n_mels), ref, atol=1e-6)


def test_spectrogram_puts_a_low_tone_at_the_bottom(tmp_path: Path) -> None:
    from PIL import Image

    sr = 16000
    t = np.arange(sr // 2) / sr
    db = log_mel(np.sin(2 * np.pi * 100 * t), sr)
    assert db.shape[0] == 80 and db[:10].mean() > db[-10:].mean() + 30
    wav = tmp_path / "low.wav"
    sf.write(wav, (0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32), sr)
    png = spectrogram_png(wav, tmp_path / "spec")
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape[0] == 80 and img[-10:].mean() > img[:10].mean()   # bright at the bottom
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(ValueError, match="bad.wav"):
        spectrogram_png(bad, tmp_path / "spec")


def test_bench_report_times_a_small_build(tmp_path: Path) -> None:
    result = bench_report(tmp_path, n_baselines=3, n_seeds=2, n_datasets=1, clips_per_class=2,
                          rebuild=False)
    assert result["runs"] == 6 and result["rows"] == 3 and result["pages"] == 4
    assert result["seconds"] > 0 and result["figures"] > 0 and result["spectrograms"] > 0
    assert Path(result["index"]).is_file()
