"""Mistakes a user types (unknown names, bad overrides, unknown config keys) as one clear line.

``drumbench`` prints the message from :func:`explain` and exits 2, with no traceback; anything
:func:`explain` does not recognise is a bug and keeps its traceback. ``drumbench run`` hands its
arguments to Hydra's own app, which reports errors itself (exit 1, Hydra's wording), so
:func:`check_run_overrides` composes the configuration first, once per choice of a sweep.
"""
from __future__ import annotations

import difflib
import re
from typing import Any

#: Config keys of the baseline group that are not constructor arguments.
BASELINE_META_KEYS = ("_target_", "name")


class UsageError(Exception):
    """A mistake in the command line: printed as ``error: <message>``, exit status 2."""


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0].lstrip("+")


def _node_keys(overrides: list[str], dotted: str) -> tuple[list[str], str]:
    """Keys of the config node that holds ``dotted`` (composed without the failing override),
    and a name for that node."""
    from omegaconf import DictConfig, OmegaConf

    from bench.runner.app import compose

    parent, _, _ = dotted.rpartition(".")
    keep = [o for o in overrides if _override_key(o) != dotted]
    try:
        cfg = compose(keep)
    except Exception:  # the rest is broken too: name the key without the list
        return [], parent or "the run config"
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if not isinstance(node, DictConfig):
        return [], parent or "the run config"
    keys = [str(k) for k in node.keys()]
    where = parent or "the run config"
    if parent.split(".")[0] == "baseline":
        keys = [k for k in keys if k not in BASELINE_META_KEYS]
        choice = next((o.split("=", 1)[1] for o in keep if o.startswith("baseline=")), None)
        where = f"baseline {choice!r}" if choice else "baseline"
    elif not parent:
        keys = [k for k in keys if k != "hydra"]
    return sorted(keys), where


def _unknown_key(overrides: list[str], dotted: str) -> str:
    keys, where = _node_keys(overrides, dotted)
    leaf = dotted.rpartition(".")[2]
    close = difflib.get_close_matches(leaf, keys, n=3, cutoff=0.7)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    msg = f"unknown config key {dotted!r}: {where} has no key {leaf!r}.{hint}"
    msg += f" Valid keys: {', '.join(keys)}." if keys else " It has no keys to set."
    if dotted.startswith("baseline."):
        msg += (f" (A constructor argument the config does not list is passed with "
                f"+{dotted}=VALUE.)")
    return msg


def _missing_config(err: Any) -> str:
    """``baseline=mydrun`` → unknown baseline 'mydrun'. Did you mean 'mydrum'? Available: …"""
    from bench.registry import did_you_mean

    missing = str(getattr(err, "missing_cfg_file", "") or "")
    options = [o for o in (getattr(err, "options", None) or []) if not o.endswith("_schema")]
    group, _, name = missing.rpartition("/")
    if group and options:
        return did_you_mean(name, options, f"{group} config")
    return _first_line(str(err))


def explain(err: BaseException, overrides: list[str] | None = None) -> str | None:
    """One line for a mistake the user made, or None when ``err`` is not one."""
    from hydra.errors import (ConfigCompositionException, MissingConfigException,
                              OverrideParseException)
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    from bench.registry import UnknownName

    overrides = list(overrides or [])
    if isinstance(err, (UsageError, UnknownName)):
        return str(err)
    if isinstance(err, MissingConfigException):
        return _missing_config(err)
    if isinstance(err, OverrideParseException):
        return f"cannot parse the override: {_first_line(str(err))} " \
               "(grammar: https://hydra.cc/docs/advanced/override_grammar/basic/)"
    if isinstance(err, ConfigCompositionException):
        cause = err.__cause__
        m = re.search(r"Could not override '([^']+)'", str(err))
        if m and isinstance(cause, (ConfigAttributeError, ConfigKeyError)):
            return _unknown_key(overrides, m.group(1))
        if isinstance(cause, ValidationError):
            key = getattr(cause, "full_key", None)
            return f"bad value for {key or 'an override'}: {_first_line(str(cause))}"
        if isinstance(cause, MissingConfigException):
            return _missing_config(cause)
        return _first_line(str(err)) + (f": {_first_line(str(cause))}" if cause else "")
    return None


def _choices(override: Any) -> list[str] | None:
    """The values a sweep override expands to (None for sweeps only Hydra can expand)."""
    try:
        return [f"{override.get_key_element()}={v}" for v in override.sweep_string_iterator()]
    except Exception:  # glob() and interval() need Hydra's sweeper
        return None


def check_run_overrides(argv: list[str]) -> None:
    """Compose the configuration ``drumbench run argv`` asks for, raising what Hydra would.

    Flags (``-m``, ``--cfg job``) are left to Hydra; ``hydra.*`` overrides other than
    ``hydra.searchpath`` are Hydra's own and not composed here. A sweep is checked value by
    value, the other overrides at their first value.
    """
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from bench.runner.app import compose

    args, _ = get_args_parser().parse_known_args(argv)
    if args.help or args.hydra_help or args.info or args.shell_completion:
        return
    raw = [o for o in args.overrides
           if not (o.lstrip("+~").startswith(("hydra.", "hydra/")) and
                   not o.lstrip("+~").startswith("hydra.searchpath"))]
    parsed = OverridesParser.create().parse_overrides(raw)
    first: list[str] = []
    sweeps: list[tuple[int, list[str]]] = []
    for i, (text, ov) in enumerate(zip(raw, parsed)):
        if ov.is_sweep_override():
            values = _choices(ov)
            if not values:
                return  # glob()/interval(): only the sweeper knows the values
            first.append(values[0])
            sweeps.append((i, values))
        else:
            first.append(text)
    combos = [first] + [[*first[:i], value, *first[i + 1:]] for i, values in sweeps
                        for value in values[1:]]
    for overrides in combos:
        try:
            compose(overrides)
        except Exception as err:
            msg = explain(err, overrides)
            if msg is None:
                raise
            raise UsageError(msg) from err
