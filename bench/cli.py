"""``drumbench``: run | suite | report | data | ls | validate | new-baseline | perf."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("drumbench")

HELP = """drumbench — benchmark harness for neural drum / one-shot synthesis

  drumbench run [hydra overrides]         one run, e.g. baseline=vae dataset=synthkit protocol=quick seed=0
                                          (-m for sweeps: -m baseline=real,noise seed=0,1)
  drumbench suite [--baselines a,b] [overrides]   every baseline × protocol seeds, then the report
                                          (hydra/launcher=joblib | submitit_local | submitit_slurm)
  drumbench report RUNS_DIR -o OUT_DIR    static HTML leaderboard from run files
  drumbench data [overrides] [--rescan]   build/inspect a dataset manifest (quarantine listed)
  drumbench data download NAME DEST       fetch a seed dataset (checksummed)
  drumbench ls                            baselines, datasets, protocols, metrics, embedders
  drumbench validate NAME|module:Class [--config baseline.yaml]   conformance kit for a plugin
  drumbench new-baseline NAME [--dir DIR | --package DIR]   scaffold an in-tree baseline, or an
                                          installable package (pip install -e DIR)
  drumbench perf [-o reports/perf.json]   speed/memory benchmarks as JSON
"""


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")


def cmd_run(argv: list[str]) -> int:
    from bench.runner import app

    if "-m" in argv or "--multirun" in argv:  # a sweep: every job's outcome, then a summary
        from bench.runner.launch import summary_table, sweep

        result = sweep([a for a in argv if a not in ("-m", "--multirun")])
        print(summary_table(result))
        return 0 if result.ok else 1
    sys.argv = ["drumbench-run", *argv]
    app.main()
    return 0


def cmd_suite(argv: list[str]) -> int:
    from bench.runner.suite import run_suite

    parser = argparse.ArgumentParser(prog="drumbench suite")
    parser.add_argument("--baselines", default=None, help="comma-separated (default: all built-in)")
    parser.add_argument("--report", default=None, help="output folder (default reports/<protocol>-<dataset>)")
    args, overrides = parser.parse_known_args(argv)
    baselines = args.baselines.split(",") if args.baselines else None
    result = run_suite(overrides, baselines=baselines, report_dir=args.report)  # prints the summary
    print(f"leaderboard: {result.index}")
    return 0 if result.sweep.ok else 1


def cmd_report(argv: list[str]) -> int:
    from bench.report.site import build_report

    parser = argparse.ArgumentParser(prog="drumbench report")
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if not args.runs_dir.is_dir():
        print(f"error: runs folder {args.runs_dir} does not exist", file=sys.stderr)
        return 2
    index = build_report(args.runs_dir, args.out, title=args.title)
    print(index)
    return 0


def cmd_data(argv: list[str]) -> int:
    if argv[:1] == ["download"]:
        from bench.data.sources.download import download

        parser = argparse.ArgumentParser(prog="drumbench data download")
        parser.add_argument("name")
        parser.add_argument("dest", type=Path)
        args = parser.parse_args(argv[1:])
        print(download(args.name, args.dest))
        return 0
    from bench.data.build import prepare_manifest
    from bench.runner.app import compose

    rescan = "--rescan" in argv
    cfg = compose([a for a in argv if a != "--rescan"])
    manifest = prepare_manifest(cfg.dataset, Path(cfg.data_dir), rescan=rescan)
    print(f"{cfg.dataset.name}: {manifest.summary()}")
    print(f"manifest: {manifest.folder / 'manifest.jsonl'} (hash {manifest.hash[:12]})")
    for q in manifest.quarantined:
        print(f"  quarantined {q.path}: {q.reason}")
    return 0


def cmd_ls(argv: list[str]) -> int:
    """Every registered name of the four kinds, with where it comes from; configs beside them."""
    from bench import registry
    from bench.runner.app import config_options

    configs = {group: config_options(group) for group in ("baseline", "dataset", "protocol")}
    print("baselines (name  origin  kind  configs):")
    for name in registry.available("baselines"):
        try:
            meta = registry.resolve("baselines", name).meta
            kind = ("reference" if meta.reference else
                    f"variant of {meta.variant_of}" if meta.variant_of else "default suite")
        except Exception as err:  # a broken plugin is listed with why, not hidden
            kind = f"cannot import: {type(err).__name__}: {err}"
        own = [c for c in (name, f"{name}_smoke") if c in configs["baseline"]]
        print(f"  {name:<16} {registry.origin('baselines', name):<12} {kind:<22} "
              f"{', '.join(own) or '(no config: baseline.name=' + name + ')'}")
    claimed = {c for name in registry.available("baselines") for c in (name, f"{name}_smoke")}
    others = [c for c in configs["baseline"] if c not in claimed and not c.endswith("_schema")]
    if others:  # configs that name their class by module path (opt-in variants such as pretrained codecs)
        print(f"  other configs: {', '.join(others)}")
    for kind, title in (("embedders", "embedders"), ("metrics", "metrics"), ("sources", "dataset sources")):
        shown = [n if registry.origin(kind, n) == "built-in" else f"{n} ({registry.origin(kind, n)})"
                 for n in registry.available(kind)]
        print(f"{title + ':':<17}{', '.join(shown)}")
    print(f"{'datasets:':<17}{', '.join(c for c in configs['dataset'] if not c.endswith('_schema'))}")
    print(f"{'protocols:':<17}{', '.join(c for c in configs['protocol'] if not c.endswith('_schema'))}")
    return 0


def cmd_validate(argv: list[str]) -> int:
    from bench.validate import main as validate_main

    return validate_main(argv)


def cmd_new_baseline(argv: list[str]) -> int:
    from bench.scaffold import main as scaffold_main

    return scaffold_main(argv)


def cmd_perf(argv: list[str]) -> int:
    from bench.perf import main as perf_main

    return perf_main(argv)


COMMANDS = {"run": cmd_run, "suite": cmd_suite, "report": cmd_report, "data": cmd_data,
            "ls": cmd_ls, "validate": cmd_validate, "new-baseline": cmd_new_baseline,
            "perf": cmd_perf}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(HELP)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        from bench.registry import did_you_mean

        print(f"error: {did_you_mean(command, list(COMMANDS), 'command')}", file=sys.stderr)
        return 2
    _setup_logging()
    from bench.cli_errors import check_run_overrides, explain

    try:
        if command == "run":
            check_run_overrides(rest)   # Hydra's app would report a typo its own way (exit 1)
        return COMMANDS[command](rest) or 0
    except Exception as err:
        message = explain(err, rest)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
