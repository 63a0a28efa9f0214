"""A mistake on the command line is one line on stderr and exit status 2, never a traceback."""
from __future__ import annotations

import pytest

from bench.cli import main as cli_main


@pytest.mark.parametrize("argv,expect", [
    (["validate", "nosie"], ["unknown baseline 'nosie'.", "Did you mean 'noise'?", "Available:"]),
    (["validate", "nowhere.at_all:Thing"], ["cannot import 'nowhere.at_all:Thing'"]),
    (["validate", "bench.validate:NoSuchClass"], ["has no attribute 'NoSuchClass'"]),
    (["run", "baseline=vea"], ["unknown baseline config 'vea'.", "Did you mean 'vae'"]),
    (["run", "protocol=quik"], ["unknown protocol config 'quik'.", "Did you mean 'quick'?"]),
    (["run", "baseline=vae_smoke", "baseline.widht=3"],
     ["unknown config key 'baseline.widht': baseline 'vae_smoke' has no key 'widht'.",
      "Valid keys: ", "latent_dim", "+baseline.widht=VALUE"]),
    (["run", "protocol.sample_rat=8000"],
     ["has no key 'sample_rat'. Did you mean 'sample_rate'?", "Valid keys: ", "clip_seconds"]),
    (["run", "seed=x"], ["bad value for seed:", "could not be converted to Integer"]),
    (["run", "-m", "baseline=noise,vea"], ["unknown baseline config 'vea'."]),
    (["run", "baseline=[a"], ["cannot parse the override"]),
    (["data", "dataset=hydrgen"], ["unknown dataset config 'hydrgen'.", "Did you mean 'hydrogen'?"]),
])
def test_user_errors_are_one_line_and_exit_2(argv, expect, capsys):
    assert cli_main(argv) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out
    for piece in expect:
        assert piece in lines[0], lines[0]


def test_a_baseline_config_without_keys_says_so(capsys):
    assert cli_main(["run", "baseline=noise", "baseline.widht=3"]) == 2
    err = capsys.readouterr().err
    assert "baseline 'noise' has no key 'widht'. It has no keys to set." in err


def test_a_bug_is_not_dressed_up_as_a_user_error(monkeypatch):
    import bench.validate

    def broken(argv):
        raise ZeroDivisionError("a bug in drumbench")
    monkeypatch.setattr(bench.validate, "main", broken)
    with pytest.raises(ZeroDivisionError):
        cli_main(["validate", "noise"])
