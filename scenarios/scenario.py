"""Scenario: one copy of a source env under a spec, in the parallel (dict per agent) API.

A single-agent task is the one-agent case (agent id ``agent_0``). The
Gymnasium, PettingZoo and vectorized faces are thin adapters over this class.
The scenario owns the time limit: an episode is truncated after
``time_limit`` steps for every agent still live (the source is built with the
same limit, so the two agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym

from scenarios.errors import UserError, check_seed
import numpy as np

from scenarios.layers import build_layers
from scenarios.layers.stack import LayerStack
from scenarios.sources import build_source
from scenarios.spec import ScenarioSpec

if TYPE_CHECKING:
    from scenarios.batch import BatchVectorScenario
    from scenarios.gymnasium_face import GymnasiumFace
    from scenarios.pettingzoo_face import PettingZooFace
    from scenarios.vector import VectorScenario


class Scenario:
    """One running copy of a scenario: source env, time limit and its stack of layers.

    >>> import scenarios
    >>> sc = scenarios.make("classic/CartPole-v1", seed=0)
    >>> obs, infos = sc.reset()
    >>> sc.agents
    ['agent_0']
    """

    def __init__(self, spec: ScenarioSpec, seed: int | None = None) -> None:
        check_seed(seed)
        layers = build_layers(spec.layers)
        self.spec = spec
        self.id = spec.id
        self.seed = seed
        self.source = build_source(spec.source, spec.kwargs, spec.time_limit)
        self.possible_agents: list[str] = list(self.source.possible_agents)
        self._obs_spaces = {a: self.source.observation_space(a) for a in self.possible_agents}
        self._act_spaces = {a: self.source.action_space(a) for a in self.possible_agents}
        own = getattr(self.source, "default_time_limit", None)
        if spec.time_limit is not None and own is not None and own > spec.time_limit:
            raise UserError(f"scenario '{spec.id}': the source's own episode length {own} (a kwarg such as max_cycles) "
                            f"is longer than time_limit {spec.time_limit}, which ends episodes first; "
                            f"set time_limit={own} instead (it sets the source's length too)")
        limits = [x for x in (spec.time_limit, own) if x is not None]
        self.time_limit: int | None = min(limits) if limits else None
        """Steps before truncation: the earlier of the spec's and the source's own (a shorter source kwarg such as
        mpe2's ``max_cycles`` ends every face's episodes there; a longer one is refused above)."""
        self.agents: list[str] = []
        self.t = 0
        self._seeded = False
        self.params: dict[str, Any] = {}
        """Values the layers sampled for the current episode (empty without layers)."""
        self._physics: Any = None
        self.stack = LayerStack(layers, self, self._obs_spaces)  # each layer sees the spaces left by those before it
        self.layers = self.stack.layers
        self.has_cost = self.stack.has_cost

    num_copies = 1
    """A scenario is one copy (layers size their per-copy state from this)."""

    @property
    def physics(self) -> Any:
        """Per-copy MuJoCo access for layers (``scenarios.layers.physics``), or None for non-MuJoCo sources."""
        if self._physics is None:
            from scenarios.layers.mujoco_model import find_mujoco
            from scenarios.layers.physics import SinglePhysics

            handle = find_mujoco(self)
            self._physics = False if handle is None else SinglePhysics(handle)
        return self._physics or None

    @property
    def render_mode(self) -> str | None:
        """The source's render mode (set with the ``render_mode`` source kwarg), or None."""
        return getattr(self.source, "render_mode", None)

    @property
    def render_modes(self) -> list[str]:
        """Render modes the source supports."""
        return list(getattr(self.source, "metadata", {}).get("render_modes", []))

    def render(self) -> Any:
        """The source's rendering in its ``render_mode`` (an RGB array for ``rgb_array``)."""
        if self.render_mode is None:
            raise UserError(f"{self.id} was made without render_mode (valid: {', '.join(self.render_modes) or 'none'})")
        return self.source.render()

    @property
    def num_agents(self) -> int:
        """Number of agents the scenario can have."""
        return len(self.possible_agents)

    @property
    def unwrapped(self) -> Any:
        """The innermost source env (a Gymnasium env's ``.unwrapped``; physics lives here)."""
        env = getattr(self.source, "env", self.source)
        return getattr(env, "unwrapped", env)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """The source's goal-conditioned reward, batched over leading dimensions (Gymnasium-Robotics'
        ``compute_reward``), for hindsight relabelling; layers that change rewards are not applied."""
        fn = getattr(self.unwrapped, "compute_reward", None)
        if fn is None:
            raise UserError(f"{self.id} is not goal-conditioned: its source has no compute_reward")
        return fn(achieved_goal, desired_goal, info)

    def observation_space(self, agent: str) -> gym.Space:
        """The observation space of ``agent``."""
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gym.Space:
        """The action space of ``agent``."""
        return self._act_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode; the first reset without a seed uses the scenario's seed."""
        check_seed(seed)
        if seed is None and not self._seeded:
            seed = self.seed
        stack = self.stack
        if stack:
            stack.seed(_ONE, [seed])
            stack.before_reset(_ONE)
        self._seeded = True
        obs, infos = self.source.reset(seed=seed, options=options)
        self.agents = list(self.source.agents)
        self.t = 0
        infos = {a: infos.get(a, {}) for a in obs}
        if stack:
            params = stack.start_episode(_ONE)[0]
            obs = stack.observe(obs, _ONE, single=True)
            self.params = params
            for a in infos:
                infos[a]["layers"] = params
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the live agents; returns obs, rewards, terminated, truncated, infos dicts."""
        if not self.agents:
            raise RuntimeError(f"{self.id}: step() called with no live agents; call reset() first")
        try:
            acts = {a: actions[a] for a in self.agents}
        except KeyError:
            missing = [a for a in self.agents if a not in actions]
            raise ValueError(f"{self.id}: no action for live agent(s) {missing}") from None
        t = self.t + 1
        stack = self.stack
        if not stack:
            obs, rew, term, trunc, infos = self.source.step(acts)
            self.t = t
            if self.time_limit is not None and t >= self.time_limit:
                trunc = {a: bool(trunc.get(a, False) or not term.get(a, False)) for a in obs}
        else:
            obs, rew, term, trunc, infos = self._layered_step(stack, t, acts)
        if True in term.values() or True in trunc.values():
            self.agents = [a for a in self.agents if not (term.get(a, False) or trunc.get(a, False))]
        return obs, rew, term, trunc, infos

    def _layered_step(self, stack: LayerStack, t: int, acts: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        hooks = stack.hooks
        stepped = None
        tt = _steps(t)
        if hooks["before_step"]:  # schedules advance first, so step t's transforms use step t's values
            stepped = stack.before_step(_ONE, tt)[0]  # type: ignore[index]
        acts = stack.act(acts, _ONE, single=True)
        obs, rew, term, trunc, infos = self.source.step(acts)
        self.t = t
        if self.time_limit is not None and t >= self.time_limit:
            trunc = {a: bool(trunc.get(a, False) or not term.get(a, False)) for a in obs}
        if hooks["after_step"]:
            stack.after_step(_ONE, tt, [infos])
        obs = stack.observe(obs, _ONE, single=True)
        if hooks["reward"]:
            done = {a: np.array([bool(term.get(a, False) or trunc.get(a, False))]) for a in rew}
            rew = {a: float(r) for a, r in stack.reward(dict(rew), done, _ONE, single=True).items()}
        if stepped:
            for a in infos:
                infos[a]["layers"] = stepped
        return obs, rew, term, trunc, infos

    def __reduce__(self) -> tuple[type[Scenario], tuple[ScenarioSpec, int | None]]:
        """Pickle as its recipe (spec and seed): unpickling builds a fresh copy whose layers bind
        to its own source, as Gymnasium's MuJoCo envs (``EzPickle``) are rebuilt from their
        arguments; the episode in progress is not carried over."""
        return (Scenario, (self.spec, self.seed))

    def close(self) -> None:
        """Release the source env."""
        self.source.close()

    def describe(self) -> dict[str, Any]:
        """The resolved definition: spec fields plus the effective time limit and spaces."""
        return {
            **self.spec.model_dump(),
            "time_limit": self.time_limit,
            "agents": {
                a: {"observation": str(self._obs_spaces[a]), "action": str(self._act_spaces[a])}
                for a in self.possible_agents
            },
        }

    def as_gymnasium(self) -> GymnasiumFace:
        """A Gymnasium Env over this scenario (one-agent scenarios only)."""
        from scenarios.gymnasium_face import GymnasiumFace

        return GymnasiumFace(self)

    def as_pettingzoo(self) -> PettingZooFace:
        """A PettingZoo ParallelEnv over this scenario."""
        from scenarios.pettingzoo_face import PettingZooFace

        return PettingZooFace(self)

    def vector(
        self, num_envs: int, seed: int | None = None, autoreset: bool = True, backend: str = "auto"
    ) -> VectorScenario | BatchVectorScenario:
        """``num_envs`` fresh copies of this scenario's spec, stepped as one batch.

        ``backend``: ``"batch"`` (MuJoCo tasks on ``mujoco.batch``, mpe2's particle
        worlds as arrays), ``"gymnasium"`` (copies of the source env), or ``"auto"``:
        batch where it supports the scenario, the source's copies otherwise.
        """
        from scenarios.batch import batch_unsupported, make_batch
        from scenarios.vector import VectorScenario

        if backend not in ("auto", "batch", "gymnasium"):
            raise UserError(f"unknown backend '{backend}' (valid: auto, batch, gymnasium)")
        seed = self.seed if seed is None else seed
        check_seed(seed)
        if backend == "batch" or (backend == "auto" and batch_unsupported(self.spec) is None):
            return make_batch(self.spec, num_envs, seed=seed, autoreset=autoreset)
        return VectorScenario(self.spec, num_envs, seed=seed, autoreset=autoreset)

    def __repr__(self) -> str:
        return f"Scenario({self.id!r}, agents={self.possible_agents})"


_ONE = np.zeros(1, np.int64)
_STEPS = np.arange(100_001, dtype=np.int64)


def _steps(t: int) -> np.ndarray:
    """Step ``t`` as a one-copy array (a slice of a shared range: np.array([t]) costs ~0.4 us a step)."""
    return _STEPS[t : t + 1] if t < len(_STEPS) else np.array([t])
