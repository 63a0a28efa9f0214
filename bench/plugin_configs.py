"""Config folders of installed plugin packages, made visible to Hydra.

One registration is enough: a package that registers anything under a ``drumbench.*`` entry-point
group (``drumbench.baselines`` above all) and ships a ``conf/`` folder in its top-level package
(``mydrum/conf/baseline/mydrum.yaml``) has that folder on Hydra's search path, so ``drumbench
run baseline=mydrum`` needs no ``hydra.searchpath`` override.

Why a search-path plugin registered in code rather than a ``hydra_plugins/`` namespace package:
Hydra finds namespace plugins by walking ``hydra_plugins.__path__``, which PEP 660 editable
installs (``pip install -e``, setuptools >= 64) do not expose (hydra issue #2359); drumbench
itself is installed that way. The folder is found with ``importlib.util.find_spec`` on the
top-level package, which imports nothing, and added as ``file://``, so ``conf/`` needs no
``__init__.py``.
"""
from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from bench import registry

BUILTIN_CONF = Path(__file__).resolve().parent / "conf"
#: Top-level packages whose configs are drumbench's own (already on the search path).
OWN_PACKAGES = ("bench", "baselines")


def _package_dir(module: str) -> Path | None:
    """Folder of an importable top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def plugin_config_modules() -> dict[str, Path]:
    """Top-level package → its ``conf/`` folder, for every installed package that registers an
    entry point in a ``drumbench.*`` group and ships one (sorted by package name)."""
    found: dict[str, Path] = {}
    for kind in registry.KINDS.values():
        for ep in entry_points(group=kind.group):
            top = ep.value.split(":")[0].split(".")[0]
            if top in OWN_PACKAGES or top in found:
                continue
            folder = _package_dir(top)
            if folder is not None and (folder / "conf").is_dir():
                found[top] = folder / "conf"
    return dict(sorted(found.items()))


def config_dirs() -> list[tuple[str, Path]]:
    """(origin, folder) for every config root, drumbench's own first."""
    return [("built-in", BUILTIN_CONF), *plugin_config_modules().items()]


def group_options(group: str) -> dict[str, str]:
    """Config name → origin (``built-in`` or the package) for one config group, e.g.
    ``baseline``. The first root that has a name wins, as on Hydra's search path."""
    names: dict[str, str] = {}
    for where, root in config_dirs():
        for path in sorted((root / group).glob("*.yaml")):
            names.setdefault(path.stem, where)
    return dict(sorted(names.items()))


def find_config(group: str, name: str) -> Path | None:
    """The YAML file Hydra would load for ``<group>=<name>``, or None."""
    for _, root in config_dirs():
        path = root / group / f"{name}.yaml"
        if path.is_file():
            return path
    return None


class PluginConfigSearchPath(SearchPathPlugin):
    """Appends each plugin package's ``conf/`` folder after drumbench's own."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for module, folder in plugin_config_modules().items():
            search_path.append(provider=f"drumbench-plugin:{module}", path=f"file://{folder}")


def register_with_hydra() -> None:
    """Make every later Hydra app and ``compose`` in this process see plugin configs."""
    from hydra.core.plugins import Plugins

    Plugins.instance().register(PluginConfigSearchPath)
