"""What each page shows, as plain data for the templates (no HTML is written here).

The leaderboard context is one table per group; a baseline page gathers, from its run folders,
the clips to listen to (generated per class next to real clips of that class), the latent
interpolation strips, the figures, the metadata, the resolved config and the provenance.
"""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.io_atomic import read_jsonl
from bench.report.aggregate import Cell, Column, Group, Row
from bench.hashing import short_hash
from bench.report.collect import CollectedRun
from bench.report.formatting import format_interval, format_mean_ci, format_value
from bench.report.media import Clip, MediaStore

#: How many players a class gets on a baseline page (generated and real each).
CLIPS_PER_CLASS = 4
#: How many interpolation paths a baseline page shows.
MAX_INTERP_PATHS = 4
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return s or "x"


def page_stem(group_index: int, group: Group, row: Row) -> str:
    return f"g{group_index:02d}-{slug(row.label)}-{short_hash(group.key.id + row.key.id, 7)}"


# --- leaderboard -------------------------------------------------------------------------------
def _cell_view(col: Column, cell: Cell) -> dict[str, Any]:
    classes = [cell.status]
    if cell.best:
        classes.append("best")
    if cell.status == "ok":
        text = format_mean_ci(cell.mean, cell.lo, cell.hi)
        tip = [f"{col.key}: mean {format_value(cell.mean)}"]
        if cell.lo is not None:
            tip.append(f"95% CI {format_interval(cell.lo, cell.hi)} ({cell.ci_source})")
        if cell.seed_values:
            tip.append("seeds: " + ", ".join(f"{s}: {format_value(v)}"
                                             for s, v in sorted(cell.seed_values.items())))
        if cell.rank is not None:
            tip.append(f"rank {cell.rank}" + (" (best)" if cell.best else ""))
        if cell.reason:
            tip.append(cell.reason)
            classes.append("partial")
        sort_value = repr(cell.mean)
    else:
        text = {"failed": "failed", "skipped": "skipped"}.get(cell.status, "—")
        tip = [cell.reason or cell.status]
        sort_value = ""
    return {"text": text, "title": "\n".join(tip), "classes": " ".join(classes),
            "value": sort_value, "n": cell.n, "n_runs": cell.n_runs,
            "partial": cell.status == "ok" and cell.n < cell.n_runs}


def _seeds_view(row: Row) -> dict[str, Any]:
    ok, total = len(row.ok_seeds), len(row.seeds)
    lines = [f"seeds with results: {', '.join(map(str, row.ok_seeds)) or 'none'}"]
    for run in row.runs:
        if run.status != "ok":
            err = run.error or {}
            lines.append(f"seed {run.seed}: {run.status}"
                         + (f" in {err.get('stage')}: {err.get('message')}" if err else ""))
    return {"text": str(ok) if ok == total else f"{ok}/{total}", "value": ok,
            "title": "\n".join(lines), "failed": ok < total}


def leaderboard_context(groups: list[Group], stems: dict[tuple[int, int], str],
                        figures: dict[int, dict[str, Any]],
                        palette: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The tables of the index page; ``palette`` (baseline → colour) gives each row the swatch
    of the colour its baseline has in the figures."""
    out = []
    for gi, g in enumerate(groups):
        rows = []
        for ri, r in enumerate(g.rows):
            rows.append({
                "label": r.label, "baseline": r.key.baseline, "version": r.key.baseline_version,
                "signature": r.key.signature, "reference": r.reference,
                "variant_of": r.meta.variant_of, "devices": list(r.meta.devices),
                "colour": (palette or {}).get(r.key.baseline),
                "href": f"baselines/{stems[(gi, ri)]}.html", "index": ri,
                "seeds": _seeds_view(r),
                "cells": [_cell_view(c, r.cells[c.key]) for c in g.columns],
            })
        out.append({
            "index": gi, "id": f"group-{gi}", "key": g.key, "columns": g.columns, "rows": rows,
            "classes": g.classes, "figures": figures.get(gi, {}),
            "running": [{"baseline": run.row.baseline, "seed": run.seed} for run in g.running],
            "n_runs": sum(len(r.runs) for r in g.rows),
        })
    return out


def legend(groups: list[Group]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for g in groups:
        for c in g.columns:
            if c.key not in seen:
                seen[c.key] = {"key": c.key, "anchor": metric_anchor(c.key), "title": c.title,
                               "definition": c.definition, "arrow": c.arrow,
                               "direction": c.direction, "version": c.version}
    return list(seen.values())


def metric_anchor(key: str) -> str:
    return f"metric-{slug(key)}-{short_hash(key, 5)}"


# --- baseline page -----------------------------------------------------------------------------
def _manifest(path: Path) -> list[dict[str, Any]]:
    try:
        rows = read_jsonl(path)
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON lines ({exc})") from exc
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("path"), str):
            raise ValueError(f"{path}: line {i + 1} has no 'path'")
    return rows


def _sample_file(run: CollectedRun, rel: str, manifest: Path) -> Path:
    return _inside(run.samples_dir, rel, manifest)


def _inside(folder: Path, rel: str, manifest: Path) -> Path:
    """``folder/rel``, refusing paths that leave ``folder`` or name a missing file."""
    p = (folder / rel).resolve()
    if not p.is_relative_to(folder.resolve()):
        raise ValueError(f"{manifest}: path {rel!r} points outside {folder}")
    if not p.is_file():
        raise FileNotFoundError(f"{manifest}: lists {rel!r} but {p} does not exist")
    return p


def _listen_run(row: Row) -> CollectedRun | None:
    """The seed whose clips the page plays: the first ok seed with a samples manifest."""
    for run in row.runs:
        if run.status == "ok" and (run.samples_dir / "manifest.jsonl").is_file():
            return run
    return None


def _real_dir(run: CollectedRun, runs_dir: Path) -> Path | None:
    raw = run.record.real_samples
    if not raw:
        return None
    p = Path(raw)
    candidates = [p] if p.is_absolute() else [run.run_dir / p, runs_dir / p, Path.cwd() / p]
    return next((c for c in candidates if c.is_dir()), None)


def _real_clips(real_dir: Path | None, media: MediaStore) -> dict[str, list[Clip]]:
    out: dict[str, list[Clip]] = {}
    if real_dir is None:
        return out
    manifest = real_dir / "manifest.jsonl"
    if manifest.is_file():  # the runner's listening clips: labels from their manifest
        for item in _manifest(manifest):
            clips = out.setdefault(str(item["label"]), [])
            if len(clips) < CLIPS_PER_CLASS:
                clips.append(media.clip(_inside(real_dir, item["path"], manifest), item["path"]))
        return out
    folders = {p.name: p for p in sorted(real_dir.iterdir()) if p.is_dir()}
    for name, folder in folders.items():
        wavs = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
        out[name] = [media.clip(w, f"{name}/{w.name}") for w in wavs[:CLIPS_PER_CLASS]]
    return out


def listen_context(row: Row, classes: list[str], media: MediaStore, runs_dir: Path) -> dict[str, Any]:
    run = _listen_run(row)
    real_dir = next((d for d in (_real_dir(r, runs_dir) for r in row.runs) if d is not None), None)
    real = _real_clips(real_dir, media)
    generated: dict[str, list[Clip]] = defaultdict(list)
    unconditional: list[Clip] = []
    if run is not None:
        manifest = run.samples_dir / "manifest.jsonl"
        for item in sorted(_manifest(manifest), key=lambda m: m["path"]):
            conditional = item.get("conditional", True) and item.get("label_id", 0) != -1 \
                and item.get("label") not in (None, "?")
            target = generated[str(item["label"])] if conditional else unconditional
            if len(target) < CLIPS_PER_CLASS:
                target.append(media.clip(_sample_file(run, item["path"], manifest), item["path"]))
    order = list(classes) + [c for c in list(generated) + list(real) if c not in classes]
    per_class = [{"label": c, "generated": generated.get(c, []), "real": real.get(c, [])}
                 for c in order if c in generated or c in real]
    return {"seed": run.seed if run else None, "per_class": per_class,
            "unconditional": unconditional, "has_real": bool(real)}


def interpolation_context(row: Row, media: MediaStore) -> list[dict[str, Any]]:
    run = _listen_run(row)
    if run is None:
        return []
    manifest = run.samples_dir / "interp" / "manifest.jsonl"
    if not manifest.is_file():
        return []
    paths: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in _manifest(manifest):
        paths[int(item.get("path_index", 0))].append(item)
    out = []
    for index in sorted(paths)[:MAX_INTERP_PATHS]:
        steps = sorted(paths[index], key=lambda m: (m.get("step", 0), m["path"]))
        first = steps[0]
        out.append({
            "index": index, "method": first.get("method", ""),
            "from_label": first.get("from_label", ""), "to_label": first.get("to_label", ""),
            "steps": [{"t": f"{float(s['t']):.3g}" if isinstance(s.get("t"), (int, float))
                       else str(s.get("step", "")),
                       "clip": media.clip(_sample_file(run, s["path"], manifest), s["path"])}
                      for s in steps],
        })
    return out


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def _fmt_scalar(v: Any) -> str:
    if isinstance(v, float) and not isinstance(v, bool):
        return format_value(v) if math.isfinite(v) else str(v)
    return str(v)


def scores_context(group: Group, row: Row) -> list[dict[str, Any]]:
    """Per metric: the aggregated cell and each seed's record (value, CI, n, scalar details)."""
    out = []
    for c in group.columns:
        cell = _cell_view(c, row.cells[c.key])
        seeds = []
        for run in row.runs:
            rec = run.metrics.get(c.metric)
            if rec is None or str(rec.version) != c.version:
                seeds.append({"seed": run.seed, "status": "missing", "value": "—", "ci": "",
                              "n": "", "details": [], "reason": "not recorded"})
                continue
            details = [(k, _fmt_scalar(v)) for k, v in sorted((rec.details or {}).items())
                       if _scalar(v)]
            value = rec.value if isinstance(rec.value, (int, float)) else None
            ci = rec.ci95 if isinstance(rec.ci95, (list, tuple)) and len(rec.ci95) == 2 else None
            seeds.append({"seed": run.seed, "status": rec.status, "value": format_value(value),
                          "ci": format_interval(*ci) if ci else "", "n": rec.n if rec.n else "",
                          "details": details, "reason": rec.reason or "",
                          "embedder": rec.embedder or "", "seconds": format_value(rec.seconds)})
        out.append({"column": c, "cell": cell, "seeds": seeds, "anchor": metric_anchor(c.key)})
    return out


def _config_text(row: Row) -> tuple[str, bool]:
    configs = [run.record.config for run in row.runs]
    strip = lambda c: {k: v for k, v in c.items() if k != "seed"}   # noqa: E731
    differ = any(strip(c) != strip(configs[0]) for c in configs[1:])
    return json.dumps(configs[0], indent=2, sort_keys=True, default=str), differ


def provenance_context(row: Row) -> dict[str, Any]:
    seeds = []
    packages: dict[str, set[str]] = defaultdict(set)
    for run in row.runs:
        prov = run.record.provenance
        for k, v in (prov.get("packages") or {}).items():
            packages[str(k)].add(str(v))
        stages = run.record.stages
        fit = (stages.get("fit") or {}).get("summary") or {}
        seeds.append({
            "seed": run.seed, "status": run.status,
            "git_sha": str(prov.get("git_sha") or "")[:12], "device": prov.get("device", ""),
            "python": prov.get("python", ""), "platform": prov.get("platform", ""),
            "threads": prov.get("torch_threads", ""), "started": prov.get("started", ""),
            "finished": prov.get("finished", ""),
            "stages": [(name, (stages.get(name) or {}).get("status", ""),
                        format_value((stages.get(name) or {}).get("seconds")))
                       for name in ("fit", "generate", "score") if name in stages],
            "fit": {k: _fmt_scalar(fit[k]) if k in fit else "" for k in   # "": fit never finished
                    ("steps", "wall_s", "stopped_because", "best_step", "best_value")},
            "error": run.error,
            "run_dir": str(run.run_dir),
        })
    return {"seeds": seeds,
            "packages": sorted((k, ", ".join(sorted(v))) for k, v in packages.items())}


def baseline_context(group: Group, row: Row, *, media: MediaStore, runs_dir: Path,
                     figures: dict[str, str | None]) -> dict[str, Any]:
    meta = row.meta
    config, config_differs = _config_text(row)
    first = row.runs[0]
    return {
        "row": row, "label": row.label, "group": group.key, "reference": row.reference,
        "meta": {"name": meta.name, "version": meta.version,
                 "capabilities": [str(c) for c in meta.capabilities],
                 "citation": meta.citation, "description": meta.description,
                 "variant_of": meta.variant_of, "devices": list(meta.devices)},
        "signature": row.key.signature, "seeds": row.seeds, "ok_seeds": row.ok_seeds,
        "dataset": {"name": first.dataset.name, "classes": group.classes,
                    "counts": first.dataset.counts, "manifest_hash": first.dataset.manifest_hash},
        "protocol": {"name": first.protocol.get("name"), "version": first.protocol.get("version"),
                     "sample_rate": first.protocol.get("sample_rate"),
                     "clip_seconds": first.protocol.get("clip_seconds")},
        "scores": scores_context(group, row),
        "listen": listen_context(row, group.classes, media, runs_dir),
        "interpolation": interpolation_context(row, media),
        "figures": figures,
        "config": config, "config_differs": config_differs,
        "provenance": provenance_context(row),
    }
