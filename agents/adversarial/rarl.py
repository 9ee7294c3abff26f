"""RARL: robust adversarial reinforcement learning (Pinto et al. 2017).

A protagonist and an adversary, both the ``ppo`` agent (``PPOAgent.part``), are trained in alternation on
one vectorized MuJoCo scenario: the adversary observes what the protagonist
observes and applies forces (``force_scale`` newtons per unit action, x/y/z) to
the centres of mass of ``adversary_bodies`` through ``data.xfrc_applied``; its
reward is the negative of the protagonist's. Each round trains the
protagonist for ``total_steps / rounds`` steps (the declared budget) against the frozen (sampling)
adversary, then the adversary for as many steps against the frozen protagonist.
Both players take ``ppo``'s config for the scenario (its defaults and
``agents/defaults/ppo.yaml``'s entry, as nominal PPO does, so a comparison
isolates the adversary), then any overrides of a PPO key (``PART_KEYS``), which
reach both players; ``DEFAULTS`` holds RARL's own fields. Acting (and evaluation) uses the protagonist alone; the trained adversary is
available in evaluation as the ``adversary_forces`` layer
(``scenarios.layers.adversary_policy``). SB3 has no two-player training loop,
hence this ~150-line driver over two PPO agents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from agents.ppo_views import PPOViews
from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, ProgressFn, require_single_agent
from agents.checkpoint import save_meta
from agents.sb3_agent import PART_KEYS, part_values, ppo_part, ppo_part_defaults
from agents.sb3_vecenv import ScenarioCopies
from scenarios import Scenario, UserError
from scenarios.errors import wrap_seed
from scenarios.layers.mujoco_model import require_mujoco
from agents.observations import accepts_unbatched

AGENT = "agent_0"
DEFAULTS: dict[str, Any] = {"adversary_bodies": ["torso"], "force_scale": 3.0, "rounds": 10}
"""RARL's own fields; the PPO ones (``PART_KEYS``) are the ``ppo`` agent's."""


class TwoPlayer:
    """One vectorized scenario stepped by a protagonist and an adversary (forces on bodies)."""

    def __init__(self, vec: Any, bodies: list[int], force_scale: float) -> None:
        self.vec, self.bodies, self.scale = vec, bodies, force_scale
        self.handles = [require_mujoco(c, "rarl") for c in vec.copies]
        self.obs = vec.reset()[0][AGENT]

    def step(self, proto: np.ndarray, adv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Apply the adversary's forces, step with the protagonist's actions, remove the forces."""
        forces = np.asarray(adv, np.float64).reshape(len(adv), len(self.bodies), 3) * self.scale
        for i, h in enumerate(self.handles):
            for k, b in enumerate(self.bodies):
                h.data.xfrc_applied[b, :3] += forces[i, k]
        obs, rew, term, trunc, infos = self.vec.step({AGENT: proto})
        for i, h in enumerate(self.handles):
            if "episode" not in infos[i]:  # a reset already cleared xfrc_applied
                for k, b in enumerate(self.bodies):
                    h.data.xfrc_applied[b, :3] -= forces[i, k]
        self.obs = obs[AGENT]
        return self.obs, rew[AGENT], term[AGENT] | trunc[AGENT], infos


class RoleVecEnv(ScenarioCopies, VecEnv):
    """One player's SB3 view of the two-player scenario; the other player acts from its model."""

    def __init__(self, game: TwoPlayer, role: str, obs_space: spaces.Space, act_space: spaces.Space) -> None:
        self.game, self.role = game, role  # before VecEnv.__init__, which reads render_mode through get_attr
        self.copies = game.vec.copies
        super().__init__(game.vec.num_envs, obs_space, act_space)
        self.other: Any = None
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Continue from the game's current observations (episodes run across rounds)."""
        return self.game.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        """Store this player's actions."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Step the game with the other player's sampled actions; the adversary's reward is negated."""
        assert self._actions is not None
        other, _ = self.other.predict(self.game.obs, deterministic=False)
        proto, adv = (self._actions, other) if self.role == "protagonist" else (other, self._actions)
        obs, rew, done, infos = self.game.step(np.clip(proto, -np.inf, np.inf), np.clip(adv, -1, 1))
        out = []
        for i, info in enumerate(infos):
            entry: dict[str, Any] = {}
            if "episode" in info:
                ep = info["episode"]
                entry["terminal_observation"] = info["final_observation"][AGENT]
                entry["TimeLimit.truncated"] = bool(ep["truncated"])
                r = ep["returns"][AGENT]
                entry["episode"] = {"r": r if self.role == "protagonist" else -r, "l": ep["length"], "t": 0.0}
            out.append(entry)
        sign = 1.0 if self.role == "protagonist" else -1.0
        return obs.copy(), (sign * rew).astype(np.float32), done, out

    def close(self) -> None:
        """The driver closes the scenario."""


class RARL(PPOViews):
    """Robust adversarial RL: PPO protagonist vs a PPO adversary applying forces to bodies."""

    name: ClassVar[str] = "rarl"
    capabilities = Capabilities(discrete_actions=False, multi_agent="single", learning="on-policy")

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``: RARL's own and every ``PART_KEYS`` name."""
        return set(DEFAULTS) | set(PART_KEYS)

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Every hyperparameter's default (the PPO ones from ``ppo``); its type is the one ``agents.make`` checks values against."""
        return {**ppo_part_defaults(), **DEFAULTS}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> list[int]:
        """Refuse, in one line, what the constructor refuses about ``scenario`` with config ``h``: more than one
        agent, a source without MuJoCo, ``adversary_bodies`` the model does not have (the default ``torso`` on
        InvertedPendulum), a force_scale <= 0; ``agents.registry.check_fits`` runs it before a study's jobs.
        Returns the adversary bodies' ids."""
        require_single_agent(cls.name, scenario)
        h = {**DEFAULTS, **{k: v for k, v in h.items() if v is not None}}
        handle = require_mujoco(scenario, cls.name)
        bodies = [str(b) for b in h["adversary_bodies"]]
        ids = [int(i) for i in handle.ids("body", bodies, "rarl adversary_bodies")]
        if h["force_scale"] <= 0:
            raise UserError(f"force_scale must be > 0 (got {h['force_scale']})")
        return ids

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        resolved = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), DEFAULTS)
        own = {k: v for k, v in resolved.items() if k not in PART_KEYS}
        self.hparams = h = {**DEFAULTS, **own}
        self.body_ids = self.check_scenario(scenario, h)
        self.adv_space = spaces.Box(-1.0, 1.0, (3 * len(self.body_ids),), np.float32)
        obs_space = scenario.observation_space(AGENT)
        self.protagonist = ppo_part(scenario, obs_space, scenario.action_space(AGENT), seed, resolved)
        self.adversary = ppo_part(scenario, obs_space, self.adv_space, None if seed is None else wrap_seed(seed + 1), resolved)
        h.update(part_values(self.protagonist))  # both players hold the same config
        self.steps_trained = 0
        self._game: TwoPlayer | None = None

    def _models(self) -> tuple[RoleVecEnv, RoleVecEnv]:
        """Start the two-player game and attach each player's role env (building the models on the first call)."""
        h = self.hparams
        vec = self.scenario.vector(h["n_envs"], seed=self.seed, backend="gymnasium")
        self._game = TwoPlayer(vec, self.body_ids, h["force_scale"])
        obs_space, act_space = self.scenario.observation_space(AGENT), self.scenario.action_space(AGENT)
        penv = RoleVecEnv(self._game, "protagonist", obs_space, act_space)
        aenv = RoleVecEnv(self._game, "adversary", obs_space, self.adv_space)
        self.protagonist.attach(penv)
        self.adversary.attach(aenv)
        penv.other, aenv.other = self.adversary.model, self.protagonist.model
        return penv, aenv

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Alternations of ``total_steps / rounds`` steps per player (``total_steps``: the declared
        budget, default the first call's steps), so ``rounds`` alternations span the budget and a
        second call continues the alternation where the first stopped."""
        h = self.hparams
        total = h.get("total_steps") or self.steps_trained + steps  # the budget this call would declare
        if steps > 0 and total < h["rounds"]:  # rounds of under one step: each learn(1) ran a whole PPO rollout
            raise UserError(f"rarl: rounds {h['rounds']} is more than the budget of {total} steps, so a round would "
                            f"train under one step (valid: rounds <= {total}, or a larger budget)")
        if self._game is None:
            self._models()
        budget = declare_budget(h, self.steps_trained, steps)
        for player in (self.protagonist, self.adversary):  # each trains total_steps: its schedules run over them
            player.hparams["total_steps"] = h.get("total_steps")
        per = max(1, budget // h["rounds"])
        done = 0
        while done < steps:
            chunk = min(per, steps - done)
            self.protagonist.learn(chunk)
            self.adversary.learn(chunk)
            done += chunk
            if progress:
                progress(done, steps)
        self.steps_trained += steps

    @property
    def ppo(self) -> Any:
        """The protagonist: the policy RARL trains for (attacks and evaluation see it)."""
        return self.protagonist

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The protagonist's actions."""
        self._require_trained()
        a = self.protagonist.act({AGENT: np.asarray(obs[AGENT])}, deterministic=deterministic)[AGENT]
        return {AGENT: np.asarray(a, np.float32)}

    def save(self, path: str | Path) -> Path:
        """Write ``model.zip`` (protagonist), ``adversary.zip`` and ``agent.json``."""
        if self.protagonist.model is None or self.adversary.model is None:
            raise UserError(f"{self.name} has nothing to save: call learn() first")
        path = Path(path)
        self.protagonist.write_model(path, "model")
        self.adversary.write_model(path, "adversary")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> RARL:
        """Restore both players."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.protagonist.read_model(path, "model")
        agent.adversary.read_model(path, "adversary")
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
