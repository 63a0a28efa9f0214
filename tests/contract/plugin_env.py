"""A throwaway place to ``pip install -e`` a plugin package from a test, with real metadata.

The test venv is shared, so nothing is installed into it: ``PIP_TARGET`` sends pip's editable
install (its ``.dist-info`` with the entry points, its ``.pth`` and finder) into ``<tmp>/site``,
and a ``sitecustomize.py`` there runs ``site.addsitedir`` on it, so every Python started with
``PYTHONPATH=<tmp>/site`` processes that ``.pth`` as it would in site-packages. The commands
themselves (``pip install -e mydrum``, ``drumbench ...``) run unchanged.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
SITECUSTOMIZE = "import os, site\nsite.addsitedir(os.path.dirname(os.path.abspath(__file__)))\n"


def plugin_env(tmp: Path) -> dict[str, str]:
    site = tmp / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp / "home").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp / "home"),
        "PYTHONPATH": str(site),
        "PIP_TARGET": str(site),
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",   # pip's inverted spelling: 0 turns isolation off
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def sh(script: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """``bash -e`` on ``script``; stdout and stderr together."""
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
