"""Checkpoint metadata: what an agent was trained on, so loading can refuse a mismatch.

A checkpoint is a folder: ``agent.json`` (agent name, hyperparameters, seed,
steps trained, the scenario spec, each agent's space signature, library
versions) plus whatever files the agent itself writes (``model.zip``...).
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenarios import UserError

if TYPE_CHECKING:
    from gymnasium import spaces

    from scenarios import Scenario

META = "agent.json"
_PACKAGES = ("testbed", "numpy", "torch", "gymnasium", "pettingzoo", "mujoco", "stable-baselines3", "mpe2", "gymnasium-robotics")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide a run's numbers."""
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def space_signature(space: spaces.Space) -> dict[str, Any]:
    """The parts of a space a trained policy depends on: type, shape, dtype, size, and for a ``Dict`` (a
    goal-conditioned observation) each entry's own signature (``Dict`` has no shape or dtype of its own:
    FetchReach's and FetchPush's observations differed only there)."""
    import numpy as np
    from gymnasium import spaces

    sig: dict[str, Any] = {"type": type(space).__name__, "shape": list(space.shape or ()), "dtype": str(space.dtype)}
    if isinstance(space, spaces.Discrete):
        sig["n"] = int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        sig["nvec"] = [int(v) for v in np.asarray(space.nvec).ravel()]
    if isinstance(space, spaces.Dict):
        sig["spaces"] = {k: space_signature(v) for k, v in sorted(space.spaces.items())}
    return sig


LATER_KEYS = ("nvec", "spaces")
"""Signature entries added after checkpoints were first written: one that a stored signature lacks is
not compared, so checkpoints saved before keep loading where they loaded."""


def _comparable(now: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """``now`` without the ``LATER_KEYS`` that the stored signature ``trained`` does not have."""
    return {k: v for k, v in now.items() if k not in LATER_KEYS or k in trained}


def scenario_signature(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Per-agent observation and action space signatures of a scenario."""
    return {
        a: {"observation": space_signature(scenario.observation_space(a)), "action": space_signature(scenario.action_space(a))}
        for a in scenario.possible_agents
    }


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write ``agent.json`` into the checkpoint folder."""
    path.mkdir(parents=True, exist_ok=True)
    (path / META).write_text(json.dumps(meta, indent=2, default=str))


def save_meta(agent: Any, path: str | Path) -> Path:
    """Write an agent's ``agent.json``: name, hyperparameters, seed, steps, scenario, spaces, versions."""
    path = Path(path)
    write_meta(path, {
        "agent": agent.name, "hparams": getattr(agent, "hparams", {}), "seed": agent.seed,
        "steps": getattr(agent, "steps_trained", 0), "scenario": agent.scenario.spec.model_dump(),
        "spaces": scenario_signature(agent.scenario), "versions": library_versions(),
    })
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint's ``agent.json``; a missing or unreadable one is a UserError."""
    path = Path(path)
    file = path / META
    if not path.exists():
        raise UserError(f"checkpoint not found: {path}")
    if not file.is_file():
        raise UserError(f"{path} is not a checkpoint folder (no {META})")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"corrupt checkpoint metadata {file}: {exc}") from None


def check_compatible(meta: dict[str, Any], scenario: Scenario, where: str) -> None:
    """Refuse a scenario whose agents or spaces differ from the ones the checkpoint was trained on."""
    trained = meta["spaces"]
    now = scenario_signature(scenario)
    if sorted(trained) != sorted(now):
        raise UserError(f"checkpoint {where} was trained for agents {sorted(trained)} but {scenario.id} has {sorted(now)}")
    for agent, sig in now.items():
        for kind in ("observation", "action"):
            if trained[agent][kind] != _comparable(sig[kind], trained[agent][kind]):
                raise UserError(f"checkpoint {where} does not fit {scenario.id}: {agent} {kind} space was "
                                f"{_described(trained[agent][kind])}, scenario has {_described(sig[kind])}")


def _described(sig: dict[str, Any]) -> str:
    """A space signature as text: ``Discrete(16) int64``, ``Box(3,) float32``, ``Dict(observation: Box(10,) float64, ...)``."""
    if "spaces" in sig:
        return f"{sig['type']}({', '.join(f'{k}: {_described(v)}' for k, v in sig['spaces'].items())})"
    size = f"({sig['n']})" if "n" in sig else str(tuple(sig["nvec"])) if "nvec" in sig else str(tuple(sig["shape"]))
    return f"{sig['type']}{size} {sig['dtype']}"


def stats_arrays(stats: dict[str, Any]) -> dict[str, Any]:
    """Running mean/variance statistics (SB3's ``RunningMeanStd``, or None) as arrays ``KEY_mean``, ``KEY_var``,
    ``KEY_count`` for ``np.savez``."""
    import numpy as np

    out: dict[str, Any] = {}
    for key, s in stats.items():
        if s is not None:
            out.update({f"{key}_mean": s.mean, f"{key}_var": s.var, f"{key}_count": np.array(s.count)})
    return out


def restore_stats(data: Any, stats: dict[str, Any]) -> None:
    """Restore ``stats_arrays``' output (``data``: an open npz) into the statistics objects given."""
    for key, s in stats.items():
        if s is not None and f"{key}_mean" in data:
            s.mean, s.var = data[f"{key}_mean"].copy(), data[f"{key}_var"].copy()
            s.count = float(data[f"{key}_count"])


def save_generator(rng: Any, path: Path) -> None:
    """A NumPy generator's state as JSON."""
    path.write_text(json.dumps(rng.bit_generator.state))


def load_generator(rng: Any, path: Path) -> None:
    """Restore ``save_generator``'s state into ``rng``."""
    rng.bit_generator.state = json.loads(path.read_text())
