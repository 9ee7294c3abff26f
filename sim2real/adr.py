"""Automatic domain randomization (ADR, OpenAI et al. 2019): a curriculum around the ``ppo`` agent.

Each randomized parameter (``body_mass:<body>``, ``friction:<geom>``,
``damping:<joint>``, ``armature:<joint>``, ``frictionloss:<joint>``,
``gain:<actuator>``, or ``kind:*``, as in ``sim2real.sysid``) has a range of scale factors, starting at ``initial`` (often
[1, 1]: the nominal model). Training alternates: PPO learns ``chunk`` steps
with every parameter drawn uniformly from its range at each reset, except that
a share ``boundary_prob`` of the draws (split evenly over the parameters) sits
exactly on a boundary, as in OpenAI's boundary sampling: the policy trains
where the ranges are decided. Then, for each parameter and each boundary, the
policy is evaluated for ``boundary_episodes`` episodes with that parameter
pinned at the boundary (the others drawn uniformly). A boundary whose mean return reaches ``t_high``
moves outwards by ``delta`` (within ``limits``); one below ``t_low`` moves
inwards (never past the initial range). The ranges are saved with the
checkpoint (``adr.json``) and in its ``agent.json``.

The learner is the ``ppo`` agent itself (``agents.sb3_agent.ppo_part``): its config is
``ppo``'s for the scenario (defaults, ``agents/defaults/ppo.yaml``'s entry) with any
override of a PPO key, and ADR only changes the scenario it trains on between chunks
(``attach``); its schedules run over the declared budget ``total_steps``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from agents.budget import declare_budget
from agents.ppo_views import PPOViews
from agents import hyperparams
from agents.base import Capabilities, ProgressFn, require_single_agent
from agents.checkpoint import save_meta
from agents.sb3_agent import PART_KEYS, part_values, ppo_part, ppo_part_defaults
from agents.sb3_vecenv import SB3VecEnv
from scenarios import Scenario, UserError
from scenarios.errors import wrap_seed
from scenarios import make as make_scenario
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {
    "parameters": ["body_mass:torso"], "initial": [1.0, 1.0], "limits": [0.2, 3.0], "delta": 0.1, "t_low": 0.0,
    "t_high": 0.0, "chunk": 10_000, "boundary_episodes": 5, "boundary_prob": 0.5,
}
"""ADR's own fields; the PPO ones (``PART_KEYS``) are the ``ppo`` agent's."""


def dynamics_entry(name: str, low: float, high: float, boundary_prob: float = 0.0) -> dict[str, Any]:
    """A dynamics-layer parameter entry drawing the scale of ``name`` uniformly in [low, high].

    ``boundary_prob``: the share of draws placed exactly on ``low`` or ``high``.
    """
    from sim2real.sysid import KINDS, layer_field

    kind = name.partition(":")[0]
    if kind not in KINDS:
        raise UserError(f"unknown ADR parameter kind '{kind}' in '{name}' (valid: {', '.join(KINDS)})")
    entry: dict[str, Any] = {"distribution": "uniform", "low": float(low), "high": float(high), "shared": True,
                             "boundary_prob": float(boundary_prob) if low < high else 0.0}
    entry.update(layer_field(name))
    return entry


def ranged_scenario(scenario: Scenario, ranges: dict[str, list[float]], boundary_prob: float,
                    pinned: tuple[str, float] | None = None) -> Scenario:
    """``scenario`` with a dynamics layer over ``ranges``: for training (boundary sampling) or with one
    parameter ``pinned``; a parameter the scenario cannot take is a one-line UserError."""
    params = []
    share = 0.0 if pinned is not None else boundary_prob / len(ranges)
    for name, (lo, hi) in ranges.items():
        if pinned is not None and pinned[0] == name:
            lo = hi = pinned[1]
        params.append(dynamics_entry(name, lo, hi, share))
    layer = {"type": "dynamics", "params": {"mode": "reset", "parameters": params}}
    data = scenario.spec.model_dump()
    shown = ", ".join(f"{n} [{lo:g}, {hi:g}]" for n, (lo, hi) in ranges.items())
    what = f"pinned {pinned[0]} = {pinned[1]:g}; " if pinned is not None else ""
    return make_scenario({**data, "layers": [*data["layers"], layer], "description": f"ADR ranges: {what}{shown}"})


class ADR(PPOViews):
    """PPO trained under automatically widening (or narrowing) domain randomization."""

    name: ClassVar[str] = "adr"
    capabilities = Capabilities(discrete_actions=False, multi_agent="single", learning="on-policy")

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``: ADR's own and every ``PART_KEYS`` name."""
        return set(DEFAULTS) | set(PART_KEYS)

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (the PPO ones from ``ppo``); its type is the one ``agents.make`` checks values against."""
        return {**ppo_part_defaults(), **DEFAULTS}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, what the constructor refuses about ``scenario`` with config ``h``: more than one
        agent, inconsistent ranges, and ``parameters`` the scenario cannot randomize (a source without MuJoCo,
        the default ``body_mass:torso`` on InvertedPendulum); ``agents.registry.check_fits`` runs it before a
        study's jobs."""
        require_single_agent(cls.name, scenario)
        h = {**DEFAULTS, **{k: v for k, v in h.items() if k in DEFAULTS and v is not None}}
        lo, hi = (float(x) for x in h["initial"])
        limits = tuple(float(x) for x in h["limits"])
        if not (0 < limits[0] <= lo <= hi <= limits[1]):
            raise UserError(f"adr needs 0 < limits[0] <= initial low <= initial high <= limits[1] (got initial {h['initial']}, limits {h['limits']})")
        if not 0.0 <= h["boundary_prob"] <= 1.0:
            raise UserError(f"adr boundary_prob must be in [0, 1] (got {h['boundary_prob']})")
        ranged_scenario(scenario, {str(p): [lo, hi] for p in h["parameters"]}, h["boundary_prob"])  # unknown bodies, kinds

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        resolved = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        self.hparams = h = {**DEFAULTS, **{k: v for k, v in resolved.items() if k not in PART_KEYS}}
        self.check_scenario(scenario, h)
        lo, hi = (float(x) for x in h["initial"])
        self.limits = tuple(float(x) for x in h["limits"])
        self.ranges: dict[str, list[float]] = {str(p): [lo, hi] for p in h["parameters"]}
        self.ppo = ppo_part(scenario, scenario.observation_space(AGENT), scenario.action_space(AGENT), seed, resolved)
        h.update(part_values(self.ppo))
        self.steps_trained = 0
        self.history: list[dict[str, Any]] = []

    def _spec(self, ranges: dict[str, list[float]], pinned: tuple[str, float] | None = None) -> Scenario:
        """The scenario with ``ranges``: for training (boundary sampling) or with one parameter ``pinned``."""
        return ranged_scenario(self.scenario, ranges, self.hparams["boundary_prob"], pinned)

    def training_scenario(self) -> Scenario:
        """The scenario the next training chunk runs on: current ranges, with boundary sampling (its
        ``spec.description`` lists them: ``ADR ranges: body_mass:torso [0.9, 1.2], ...``)."""
        return self._spec(self.ranges)

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Alternate PPO chunks and boundary evaluations until ``steps`` environment steps. Each chunk
        trains on copies of the current training scenario seeded by the steps trained before it, so
        a second call continues the sequence of chunks instead of replaying the first's."""
        h = self.hparams
        declare_budget(h, self.steps_trained, steps)
        self.ppo.hparams["total_steps"] = h.get("total_steps")
        done = 0
        while done < steps:
            chunk = min(h["chunk"], steps - done)
            at = self.steps_trained + done
            vec = self.training_scenario().vector(h["n_envs"], seed=None if self.seed is None else wrap_seed(self.seed + at))
            previous = self.ppo.model.get_env() if self.ppo.model is not None else None
            self.ppo.attach(SB3VecEnv(vec))
            if previous is not None:
                previous.close()  # the last chunk's copies
            self.ppo.learn(chunk)
            done += chunk
            self._update_ranges(self.steps_trained + done)
            if progress:
                progress(done, steps)
        if self.ppo.model is not None and self.ppo.model.get_env() is not None:
            self.ppo.model.get_env().close()  # the next chunk trains on fresh copies: nothing to keep (or save)
            self.ppo.model.env = None
        self.steps_trained += done

    def _update_ranges(self, steps: int) -> None:
        from testbed.harness import evaluate  # testbed imports agents, which registers this class

        h = self.hparams
        delta, t_low, t_high = h["delta"], h["t_low"], h["t_high"]
        lo0, hi0 = (float(x) for x in h["initial"])
        row: dict[str, Any] = {"steps": steps}
        for name in list(self.ranges):
            for side in (0, 1):
                value = self.ranges[name][side]
                sc = self._spec(self.ranges, pinned=(name, value))
                perf = float(np.mean([r.team_return for r in evaluate(self, sc, episodes=h["boundary_episodes"], seed=7_000)]))
                row[f"{name}[{side}]"] = perf
                step = delta if perf >= t_high else (-delta if perf < t_low else 0.0)
                if side == 0:  # rounded: repeated +-delta must land on 0.7, not 0.7000000000000001
                    self.ranges[name][0] = round(float(np.clip(value - step, self.limits[0], lo0)), 9)
                else:
                    self.ranges[name][1] = round(float(np.clip(value + step, hi0, self.limits[1])), 9)
        row["ranges"] = {k: list(v) for k, v in self.ranges.items()}
        self.history.append(row)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The PPO policy's actions."""
        self._require_trained()
        a = self.ppo.act({AGENT: np.asarray(obs[AGENT])}, deterministic=deterministic)[AGENT]
        return {AGENT: np.asarray(a, np.float32)}

    def save(self, path: str | Path) -> Path:
        """Write ``model.zip``, ``adr.json`` (the ranges and their history) and ``agent.json``."""
        if self.ppo.model is None:
            raise UserError(f"{self.name} has nothing to save: call learn() first")
        path = Path(path)
        self.ppo.write_model(path)
        (path / "adr.json").write_text(json.dumps({"ranges": self.ranges, "history": self.history}, indent=2))
        save_meta(self, path)
        meta = json.loads((path / "agent.json").read_text())
        meta["adr_ranges"] = self.ranges
        (path / "agent.json").write_text(json.dumps(meta, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> ADR:
        """Restore the policy and the ranges."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.ppo.read_model(path)
        saved = json.loads((path / "adr.json").read_text())
        agent.ranges, agent.history = saved["ranges"], saved["history"]
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
