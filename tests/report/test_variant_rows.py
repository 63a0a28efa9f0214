"""An opt-in variant row is named as such on the leaderboard and on its own page."""
from __future__ import annotations

from dataclasses import replace

from bench.report.site import build_report
from bench.testing.fake_runs import default_baselines, fabricate_runs

DEVICE = "per-class k-means spectral templates of the training split"


def test_a_variant_row_says_what_it_adds_and_a_default_row_does_not(tmp_path):
    pool = {b.name: b for b in default_baselines(7)}
    variant = replace(pool["vae"], name="vae_templates", quality=0.2, variant_of="vae", devices=(DEVICE,))
    fabricate_runs(tmp_path / "runs", baselines=[pool["real"], pool["noise"], pool["vae"], variant],
                   seeds=(0,), datasets={"synthkit": ["kick", "snare"]},
                   listen_root=tmp_path / "listen", clips_per_class=2, clip_seconds=0.25, interp_steps=4)
    index = build_report(tmp_path / "runs", tmp_path / "site")
    html = index.read_text()
    rows = {name: html[html.index(f'data-baseline="{name}"'):].split("</tr>", 1)[0]
            for name in ("vae", "vae_templates")}
    assert "variant of vae" in rows["vae_templates"] and DEVICE in rows["vae_templates"]
    assert "variant of" not in rows["vae"]
    pages = {p.name: p.read_text() for p in (tmp_path / "site" / "baselines").glob("*.html")}
    variant_pages = [t for t in pages.values() if "opt-in variant of vae" in t]
    assert len(variant_pages) == 1 and DEVICE in variant_pages[0] and "vae_templates" in variant_pages[0]
