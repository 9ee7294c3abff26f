"""Tuned defaults as data (``agents/defaults/<agent>.yaml``) and validated overrides.

Each file has a ``default:`` mapping and optional per-scenario mappings keyed by
scenario id, as rl-baselines3-zoo's hyperparameter files do. Overrides from
code or ``--set key=value`` on the CLI are checked against the valid names.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import yaml

from scenarios import yaml_loader
from scenarios.errors import UserError
from scenarios.errors import suggest

DEFAULTS = Path(__file__).parent / "defaults"


@functools.cache
def _defaults_file(agent: str) -> dict[str, Any]:
    """``agents/defaults/<agent>.yaml`` parsed once per process (``agents.make`` and the agent both read it)."""
    file = DEFAULTS / f"{agent}.yaml"
    return (yaml_loader.load(file.read_text()) or {}) if file.is_file() else {}


def tuned_defaults(agent: str, scenario_id: str) -> dict[str, Any]:
    """The agent's defaults merged with its entry for ``scenario_id`` (if any); a fresh dict each call.
    A method built around another agent (RARL, ADR, GAIL/AIRL, adv_ppo around ``ppo``: the index's
    ``composes``) starts from that agent's tuned values for the names it shares with it.

    An agent with another's hyperparameters (fast_ppo, fast_sac: the index's ``defaults_from``) reads that
    agent's file as its own (tuned entries and search space).

    >>> tuned_defaults("rarl", "mujoco/InvertedPendulum-v5")["batch_size"]  # ppo.yaml's entry
    256
    >>> tuned_defaults("fast_sac", "classic/Pendulum-v1") == tuned_defaults("sac", "classic/Pendulum-v1")
    True
    """
    data = _defaults_file(defaults_source(agent))
    own = {**data.get("default", {}), **data.get(scenario_id, {})}
    base = _composes(agent)
    if base:
        from agents import index

        names = set(index.entry(agent)["hyperparameters"])
        own = {**{k: v for k, v in tuned_defaults(base, scenario_id).items() if k in names}, **own}
    return copy.deepcopy(own)


@functools.cache
def defaults_source(agent: str) -> str:
    """Whose ``agents/defaults/<name>.yaml`` holds ``agent``'s tuned entries and search space: its own, or that of
    the agent it shares every hyperparameter name with (``defaults_from``: fast_ppo reads ppo.yaml)."""
    from agents import index

    return index.read().get(agent, {}).get("defaults_from") or agent


@functools.cache
def _composes(agent: str) -> str | None:
    from agents import index

    return index.read().get(agent, {}).get("composes")


def resolve(agent: str, scenario_id: str, overrides: dict[str, Any], valid: set[str],
            base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The hyperparameters a learner reads: ``base`` (the learner's own defaults), then the tuned
    defaults for ``scenario_id``, then ``overrides`` (unknown names refused with the valid ones
    listed), every value in its declared type (``config.typed``: ints for integer fields, floats
    for number fields, schedules, lists and None as they are). Every learner merges here, once.

    >>> h = resolve("mappo", "mpe/simple_spread-v3", {"n_envs": 4.0}, {"n_envs"}, base={"gamma": 1})
    >>> h["gamma"], h["n_envs"]
    (1.0, 4)
    """
    from agents import config

    check_names(agent, overrides, valid)
    return config.typed(agent, {**(base or {}), **tuned_defaults(agent, scenario_id), **overrides})


def schedule(value: Any, name: str, agent: str) -> tuple[float, bool]:
    """(start, linear) of a number or a ``lin_<x>`` schedule (x decayed linearly to 0 over the
    budget); ``agent`` names the learner in a refusal. Every own learner that takes a schedule
    reads it here.

    >>> schedule("lin_3e-4", "learning_rate", "ppo"), schedule(0.2, "clip_range", "ppo")
    ((0.0003, True), (0.2, False))
    """
    if isinstance(value, str) and value.startswith("lin_"):
        return float(value[4:]), True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), False
    raise UserError(f"{agent}: {name} must be a number or lin_<number>, got {value!r}")


def every_steps(value: Any, agent: str) -> int:
    """``train_freq`` in environment steps: an integer, or SB3's list form ``[N, step]``. The own
    learners train on a step count; ``[N, episode]`` is refused there by the catalog
    (``lists: [step]``) before this is reached, and here in one line otherwise.

    >>> every_steps(4, "qmix"), every_steps([2, "step"], "qmix")
    (4, 2)
    """
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and value[1] == "step" and isinstance(value[0], int) and value[0] >= 1:
            return value[0]
        raise UserError(f"{agent}: hyperparameter train_freq must be an integer >= 1 (or a list [N, step]), got {list(value)!r}")
    return value


POLICY_COUNTS = ("n_critics", "n_quantiles")
"""``policy_kwargs`` entries that count networks or outputs: whole numbers >= 1."""


def check_policy_counts(agent: str, policy_kwargs: dict[str, Any]) -> None:
    """Refuse a ``policy_kwargs`` count (``n_critics``, ``n_quantiles``) that is not an integer >= 1, in
    one line (zero critics reached the optimizer as an empty parameter list).

    >>> check_policy_counts("sac", {"n_critics": 2})
    """
    for key in POLICY_COUNTS:
        value = policy_kwargs.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UserError(f"{agent}: policy_kwargs {key} must be an integer >= 1, got {value!r}")


LOG_STD = (-20.0, 20.0)
"""The range of ``log_std_init`` (``agents/fields.yaml``'s, also inside ``policy_kwargs``)."""


def _widths(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in value)


def _whole(arch: Any) -> Any:
    """``net_arch`` with integral floats as ints (``[64.0]`` as ``[64]``, as a top-level ``net_arch`` is read)."""
    if isinstance(arch, dict):
        return {k: _whole(v) for k, v in arch.items()}
    if isinstance(arch, (list, tuple)):
        return [int(w) if isinstance(w, float) and w.is_integer() else w for w in arch]
    return arch


def check_policy_kwargs(agent: str, policy_kwargs: Any) -> None:
    """Refuse, in one line, a ``policy_kwargs`` entry whose value cannot be what its name says: counts
    (``check_policy_counts``), ``net_arch`` (widths >= 1, or a mapping of such lists: ``{pi: [..], vf: [..]}``),
    ``log_std_init`` (a number in [-20, 20]) and the boolean switches. Other entries pass (SB3 takes
    more; the learners that take fewer refuse the rest by name). ``check_values`` runs it, so a bad
    value is refused before anything is built (a width of 0 divided by zero, ``"abc"`` reached NumPy,
    ``ortho_init: "no"`` read as true).

    >>> check_policy_kwargs("ppo", {"net_arch": {"pi": [64], "vf": [64]}, "log_std_init": -2, "ortho_init": False})
    >>> check_policy_kwargs("ppo", {"net_arch": [64, 0]})
    Traceback (most recent call last):
    ...
    scenarios.errors.UserError: ppo: policy_kwargs net_arch must be a list of widths >= 1 (or a mapping of such lists, e.g. {pi: [64], vf: [64]}), got [64, 0]
    """
    if not isinstance(policy_kwargs, dict):
        return
    check_policy_counts(agent, policy_kwargs)
    if "net_arch" in policy_kwargs:
        arch = policy_kwargs["net_arch"]
        if not (_widths(arch) or isinstance(arch, dict) and all(_widths(v) for v in arch.values())):
            raise UserError(f"{agent}: policy_kwargs net_arch must be a list of widths >= 1 (or a mapping of such "
                            f"lists, e.g. {{pi: [64], vf: [64]}}), got {arch!r}")
    if "log_std_init" in policy_kwargs:
        value = policy_kwargs["log_std_init"]
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not LOG_STD[0] <= value <= LOG_STD[1]):
            raise UserError(f"{agent}: policy_kwargs log_std_init must be a number in [{LOG_STD[0]:g}, {LOG_STD[1]:g}], got {value!r}")
    for key in ("ortho_init", "share_features_extractor", "squash_output", "full_std", "use_expln"):
        if key in policy_kwargs and not isinstance(policy_kwargs[key], bool):
            raise UserError(f"{agent}: policy_kwargs {key} must be a boolean (true/false), got {policy_kwargs[key]!r}")


NOISE_TYPES = ("normal", "ornstein_uhlenbeck")


def check_action_noise(agent: str, noise: Any) -> None:
    """Refuse, in one line, an ``action_noise`` mapping other than ``{type: normal|ornstein_uhlenbeck,
    std: S}`` with S a finite number >= 0 (``std: x`` reached ``float``, an unknown key such as ``sigma``
    was ignored for the default 0.1).

    >>> check_action_noise("td3", {"type": "normal", "std": 0.2})
    >>> check_action_noise("td3", {"sigma": 0.2})
    Traceback (most recent call last):
    ...
    scenarios.errors.UserError: td3: action_noise takes the keys type and std, got sigma (valid: {type: normal|ornstein_uhlenbeck, std: a number >= 0})
    """
    if not isinstance(noise, dict):
        return
    valid = "(valid: {type: normal|ornstein_uhlenbeck, std: a number >= 0})"
    unknown = sorted(set(noise) - {"type", "std"})
    if unknown:
        raise UserError(f"{agent}: action_noise takes the keys type and std, got {', '.join(map(str, unknown))} {valid}")
    if noise.get("type", "normal") not in NOISE_TYPES:
        raise UserError(f"{agent}: unknown action_noise type {noise['type']!r} {valid}")
    std = noise.get("std", 0.1)
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not 0 <= std < float("inf"):
        raise UserError(f"{agent}: action_noise std must be a finite number >= 0, got {std!r} {valid}")


def gradient_count(value: int, collected: int) -> int:
    """The gradient steps of one training round: ``value``, or with ``-1`` (SB3's meaning) as many
    as the environment steps ``collected`` since the last round (``train_freq`` x copies).

    >>> gradient_count(2, 32), gradient_count(-1, 32)
    (2, 32)
    """
    return value if value >= 0 else collected


def check_names(agent: str, overrides: dict[str, Any], valid: set[str]) -> None:
    """Refuse an override whose name is not in ``valid``, in one line listing the valid ones."""
    for key in overrides:
        if key not in valid:
            raise UserError(
                f"unknown hyperparameter '{key}' for {agent}{suggest(key, valid)} (valid: {', '.join(sorted(valid))})"
            )


SCHEDULED = re.compile(r"^lin_[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
"""A linear schedule from a start value (``lin_3e-4``), accepted where a float is."""
TUPLE_KEYS = {"train_freq"}
"""Integers that may also be SB3's ``[n, "step" | "episode"]`` form."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string" if isinstance(value, str) else f"of type {type(value).__name__}"


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as the Python numbers, booleans and lists they hold
    (``np.int64(32)`` from a grid or ``np.arange`` was refused as "not an integer ... (a string)").

    >>> import numpy as np
    >>> plain(np.int64(32)), plain(np.bool_(True)), plain(np.array([64, 64])), plain({"net_arch": np.array([8])})
    (32, True, [64, 64], {'net_arch': [8]})
    """
    import numpy as np

    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def check_values(agent: str, values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Check each value against the type of its default and return them coerced: an integral
    number where an integer is expected becomes an int, an integer where a float is expected a
    float. A mismatch is one UserError line naming the key, the expected kind and the value.

    Keys without a default (``None``) or unknown here are passed through unchanged (unknown
    names are refused by ``resolve`` with the valid ones listed).

    >>> check_values("ppo", {"learning_rate": 1, "n_steps": 256.0}, {"learning_rate": 3e-4, "n_steps": 2048})
    {'learning_rate': 1.0, 'n_steps': 256}
    """
    values = {key: plain(value) for key, value in values.items()}
    out = dict(values)
    for key, value in values.items():
        default = defaults.get(key)
        if default is None or value is None:
            continue
        bad = None
        if isinstance(default, bool):
            if not isinstance(value, bool):
                bad = "a boolean (true/false)"
        elif isinstance(default, int):
            if isinstance(value, float) and value.is_integer():
                out[key] = int(value)
            elif key in TUPLE_KEYS and isinstance(value, (list, tuple)):
                pass
            elif isinstance(value, bool) or not isinstance(value, int):
                bad = "an integer"
        elif isinstance(default, float):
            if isinstance(value, int) and not isinstance(value, bool):
                out[key] = float(value)
            elif isinstance(value, str) and SCHEDULED.match(value):
                pass
            elif isinstance(value, bool) or not isinstance(value, float):
                bad = "a number (or lin_<number> for a linear schedule)"
        elif isinstance(default, str):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                bad = "a string or a number"
        elif isinstance(default, (list, tuple)) and not isinstance(value, (list, tuple)):
            bad = "a list"
        elif isinstance(default, dict) and not isinstance(value, dict):
            bad = "a mapping"
        if bad:
            raise UserError(f"{agent}: hyperparameter {key} must be {bad}, got {value!r} ({_kind(value)}; default {default!r})")
    from agents import config

    config.check(agent, out)  # ranges and choices (agents/fields.yaml)
    pk = out.get("policy_kwargs")
    if isinstance(pk, dict) and "net_arch" in pk:
        out["policy_kwargs"] = pk = {**pk, "net_arch": _whole(pk["net_arch"])}
    check_policy_kwargs(agent, pk)
    check_action_noise(agent, out.get("action_noise"))
    return out


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Parse CLI ``key=value`` strings; values are read as YAML (numbers, lists, dicts)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects key=value, got '{item}'")
        try:
            out[key.strip()] = yaml_loader.load(value)
        except yaml.YAMLError:
            raise UserError(f"--set {key}: cannot parse value '{value}'") from None
    return out
