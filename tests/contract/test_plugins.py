"""Third-party plugins: entry points, the scaffold, and `drumbench ls`."""
from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint

import pytest

from bench import registry
from bench.cli import main as cli_main
from bench.scaffold import main as scaffold_main
from bench.validate import load_config, run_conformance


def test_entry_point_baselines_are_found(monkeypatch):
    ep = EntryPoint(name="mynoise", value="baselines.references.noise:DecayingNoise",
                    group="drumbench.baselines")
    real_entry_points = registry.entry_points

    def fake(group):
        return [ep] if group == "drumbench.baselines" else real_entry_points(group=group)
    monkeypatch.setattr(registry, "entry_points", fake)
    assert "mynoise" in registry.available("baselines")
    assert registry.resolve("baselines", "mynoise").meta.name == "noise"
    assert "vae" in registry.available("baselines")  # built-ins stay


def test_scaffolded_baseline_passes_the_conformance_kit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert scaffold_main(["snaregen", "--dir", "plugins"]) == 0
    (tmp_path / "plugins" / "__init__.py").write_text("")
    importlib.invalidate_caches()
    cls = registry.resolve("baselines", "plugins.snaregen.baseline:Snaregen")
    kwargs = load_config(tmp_path / "plugins" / "snaregen" / "snaregen.yaml", cls)
    assert kwargs == {"hidden": 32, "lr": 0.001}
    checks = run_conformance(cls, kwargs)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert scaffold_main(["snaregen", "--dir", "plugins"]) == 2  # refuses to overwrite
    assert scaffold_main(["not-valid", "--dir", "plugins"]) == 2
    sys.modules.pop("plugins.snaregen.baseline", None)


def test_ls_lists_every_group(capsys):
    assert cli_main(["ls"]) == 0
    out = capsys.readouterr().out
    for word in ("vae", "aae", "synthkit", "hydrogen", "quick", "full", "fad", "aisfx", "mel"):
        assert word in out
    # the pretrained-codec variants have configs but no registry row of their own: still listed
    other = next(line for line in out.splitlines() if line.strip().startswith("other configs:"))
    assert "codec_latent_encodec" in other and "codec_latent_dac" in other and "vae_smoke" not in other


def test_unknown_command_suggests(capsys):
    assert cli_main(["reprot"]) == 2
    assert "report" in capsys.readouterr().err


@pytest.mark.parametrize("spec,msg", [("fda:mel", "Did you mean 'fad'"), ("fad", "needs an embedder"),
                                      ("latency:mel", "takes no argument")])
def test_metric_specs_are_checked(spec, msg):
    from bench.metrics.catalog import UnknownMetric, build_metrics

    with pytest.raises(UnknownMetric, match=msg):
        build_metrics([spec])
