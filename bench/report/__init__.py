"""The static leaderboard site: ``build_report(runs_dir, out_dir)`` (see :mod:`bench.report.site`)."""
from bench.report.site import build_report

__all__ = ["build_report"]
