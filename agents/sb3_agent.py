"""Stable-Baselines3 algorithms behind the agents protocol.

One small class serves every SB3 / sb3-contrib algorithm: it builds our
``SB3VecEnv`` over the scenario's vectorized face (correct truncation), can
normalize observations and rewards with ``VecNormalize`` (statistics saved with
the checkpoint and applied in ``act``), and validates hyperparameters against
the algorithm's own constructor. Extra keys we add:

- ``n_envs`` - scenario copies stepped together (default 8);
- ``normalize`` - VecNormalize observations and rewards (default false);
- ``torch_threads`` - torch intra-op threads (default 1: measured ~30x faster
  than the default for small networks on this 2-core machine);
- ``policy`` - SB3 policy name (default ``MlpPolicy``);
- ``backend`` - vectorized face: ``auto`` (default: the batched MuJoCo backend
  where it applies), ``batch`` or ``gymnasium``;
- ``sharing`` - multi-agent scenarios: ``full`` (default: one model for every
  agent, identical spaces needed), ``group`` (one model per team/space group,
  agent id appended) or ``none`` (one model per agent); the last two train
  every model at once in lockstep (``agents.marl.sb3_groups``).

Methods built on PPO (``rarl``'s two players, ``adr``'s learner, ``gail``/``airl``'s
generator, ``adv_ppo``, the learned observation adversary) compose the ``ppo`` agent
itself: ``PPOAgent.part(scenario, observation_space, action_space, seed, **overrides)``
resolves its config as ``agents.make("ppo", scenario, **overrides)`` does (typed
defaults, ``ppo.yaml``'s entry for the scenario, overrides), ``attach(env)`` gives it
the VecEnv it trains on (a role env, a discriminator-reward env, a chunk of
randomized copies), and ``learn`` (over the declared budget ``total_steps``),
``write_model``/``read_model`` (checkpoint files as data), ``policy_distribution``
and ``value`` are the agent's own. ``ppo_part`` builds one from a method's
hyperparameters (the ``PART_KEYS`` it shares with ``ppo``).

``learning_rate: lin_3e-4`` (any float) gives a linear schedule to zero, as in
rl-zoo; ``policy_kwargs.activation_fn`` may be ``tanh``, ``relu``, ``elu`` or
``leaky_relu``; ``action_noise: {type: normal, std: 0.1}`` (or ``ornstein_uhlenbeck``)
builds SB3's exploration noise for the off-policy continuous methods;
``train_freq: [1, episode]`` becomes SB3's tuple.

Goal-conditioned scenarios (``robotics/`` mazes and Fetch: Dict observations)
train with SB3's ``MultiInputPolicy`` (picked when ``policy`` is the default
``MlpPolicy``). The off-policy learners (sac, td3, ddpg, tqc; dqn and qrdqn
for discrete actions) take hindsight
experience replay through SB3's ``HerReplayBuffer``: ``her: true``, with
``n_sampled_goal`` (virtual goals per real transition) and
``goal_selection_strategy`` (``future``, ``final`` or ``episode``); it relabels
with ``Scenario.compute_reward``.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sb3_contrib import QRDQN, TQC, TRPO
from gymnasium import spaces
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3, HerReplayBuffer
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from agents import hyperparams
from agents.budget import declare_budget
from agents.base import Capabilities, NotTrained, ProgressFn
from agents.checkpoint import save_meta
from agents.marl.groups import Group, make_groups
from agents.marl.sb3_groups import GroupVecEnv, Lockstep, learn_in_lockstep
from agents.sb3_views import require_trained, sb3_distribution, sb3_value
from agents.sb3_checkpoint import load_model, load_normalizer, save_normalizer
from agents.sb3_logging import quiet
from agents.sb3_vecenv import SB3VecEnv, shared_spaces
from scenarios import Scenario, UserError
from scenarios.errors import wrap_seed
from agents.observations import accepts_unbatched

OWN_DEFAULTS: dict[str, Any] = {"n_envs": 8, "normalize": False, "torch_threads": 1, "policy": "MlpPolicy", "backend": "auto",
                                "sharing": "full", "total_steps": None}
OWN_KEYS = set(OWN_DEFAULTS)
HER_DEFAULTS: dict[str, Any] = {"her": False, "n_sampled_goal": 4, "goal_selection_strategy": "future"}
"""Hindsight experience replay keys of the SB3 off-policy learners (``HER_KEYS``)."""
HER_KEYS = set(HER_DEFAULTS)
_SKIP = {"self", "policy", "env", "seed", "device", "_init_setup_model", "verbose", "tensorboard_log"}
_ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU}


def _linear(start: float) -> Any:
    def schedule(progress_remaining: float) -> float:
        return max(progress_remaining, 0.0) * start  # past the declared budget: stays at 0

    return schedule


def sb3_arguments(kwargs: dict[str, Any], n_actions: int) -> dict[str, Any]:
    """Our hyperparameter values as SB3 constructor arguments: action noise objects from
    ``{type, std}``, ``train_freq`` lists as tuples, ``lin_<x>`` linear schedules, ``max_grad_norm: null``
    as no clipping (inf), activation functions from their names (every PPO-based learner of ours
    builds SB3 models with it).

    >>> sb3_arguments({"learning_rate": "lin_0.001", "train_freq": [1, "episode"]}, 2)["train_freq"]
    (1, 'episode')
    """
    out = dict(kwargs)
    noise = out.get("action_noise")
    if isinstance(noise, dict):
        kind, std = noise.get("type", "normal"), float(noise.get("std", 0.1))
        cls = {"normal": NormalActionNoise, "ornstein_uhlenbeck": OrnsteinUhlenbeckActionNoise}.get(kind)
        if cls is None:
            raise UserError(f"unknown action_noise type '{kind}' (valid: normal, ornstein_uhlenbeck)")
        out["action_noise"] = cls(mean=np.zeros(n_actions), sigma=std * np.ones(n_actions))
    if "max_grad_norm" in out and out["max_grad_norm"] is None:
        out["max_grad_norm"] = math.inf  # null: no clipping (SB3 clips to a number; inf scales by 1)
    if isinstance(out.get("train_freq"), list):
        out["train_freq"] = tuple(out["train_freq"])
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if isinstance(out.get(key), str) and out[key].startswith("lin_"):
            out[key] = _linear(float(out[key][4:]))
    pk = dict(out.get("policy_kwargs") or {})
    if isinstance(pk.get("activation_fn"), str):
        name = pk["activation_fn"]
        if name not in _ACTIVATIONS:
            raise UserError(f"unknown activation_fn '{name}' (valid: {', '.join(_ACTIVATIONS)})")
        pk["activation_fn"] = _ACTIVATIONS[name]
    if pk:
        out["policy_kwargs"] = pk
    return out


def sb3_seed(seed: int | None) -> int | None:
    """The seed SB3 gets: ours below 2**32 (NumPy's legacy generator, which SB3 seeds, takes no more),
    a larger one folded to 32 bits by NumPy's ``SeedSequence`` (so the top seeds the CLI takes train).

    >>> sb3_seed(7), sb3_seed(2**63 - 1) < 2**32
    (7, True)
    """
    if seed is None or seed < 2**32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


class _Budget(BaseCallback):
    """Schedules run over the declared budget, not over one learn() call: SB3 measures progress
    as num_timesteps / the call's end, so ``learn(k); learn(k)`` would anneal twice; this sets
    the end to the agent's budget once the call has started."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def _on_training_start(self) -> None:
        model, budget = self.model, self.budget
        model._total_timesteps = budget  # off-policy algorithms read this
        update = type(model)._update_current_progress_remaining  # on-policy ones pass the call's end: replace it
        model._update_current_progress_remaining = lambda num_timesteps, _end: update(model, num_timesteps, budget)

    def _on_training_end(self) -> None:
        self.model.__dict__.pop("_update_current_progress_remaining", None)  # nothing of ours is saved with the model

    def _on_step(self) -> bool:
        return True


def _rows(obs: dict[str, Any], agents: list[str]) -> Any:
    """Per-agent batches ``(N, ...)`` as SB3's ``(N * k, ...)`` rows, copy-major (each key of a Dict)."""
    first = obs[agents[0]]
    if isinstance(first, dict):
        return {key: _rows({a: obs[a][key] for a in agents}, agents) for key in first}
    batch = np.stack([obs[a] for a in agents], axis=1)
    return batch.reshape(batch.shape[0] * batch.shape[1], *batch.shape[2:])


def _count(x: Any) -> int:
    while isinstance(x, dict):
        x = next(iter(x.values()))
    return len(x)


class _Progress(BaseCallback):
    def __init__(self, fn: ProgressFn, start: int, total: int) -> None:
        super().__init__()
        self.fn, self.start, self.total = fn, start, total

    def _on_step(self) -> bool:
        self.fn(min(self.num_timesteps - self.start, self.total), self.total)
        return True


class _History(BaseCallback):
    """Training curve rows ``{"steps", "episode_return"}`` (mean of SB3's last 100 episodes) at rollout ends,
    at most about 100 per budget."""

    def __init__(self, rows: list[dict[str, Any]], every: int) -> None:
        super().__init__()
        self.rows, self.every = rows, max(1, every)
        self.last = rows[-1]["steps"] if rows else -self.every

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.ep_info_buffer
        if buffer and self.num_timesteps - self.last >= self.every:
            self.rows.append({"steps": int(self.num_timesteps), "episode_return": float(np.mean([e["r"] for e in buffer]))})
            self.last = self.num_timesteps


def sb3_learning(algorithm: type[BaseAlgorithm]) -> str:
    """The data regime an SB3 algorithm's definition gives: on-policy for subclasses of SB3's
    ``OnPolicyAlgorithm`` (PPO, A2C, TRPO), off-policy for ``OffPolicyAlgorithm`` (replay)."""
    return "on-policy" if issubclass(algorithm, OnPolicyAlgorithm) else "off-policy"


class SB3Agent:
    """An SB3 algorithm on a single-agent (or shared-parameter multi-agent) scenario."""

    name: ClassVar[str]
    algorithm: ClassVar[type[BaseAlgorithm]]
    capabilities: ClassVar[Capabilities]
    extra_keys: ClassVar[set[str]] = set()
    """Hyperparameters a subclass adds on top of the algorithm's and ``OWN_KEYS``."""

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """Names accepted by ``agents.make`` and ``--set``."""
        params = inspect.signature(cls.algorithm.__init__).parameters
        return {p for p in params if p not in _SKIP} | OWN_KEYS | cls.extra_keys

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """Defaults of the SB3 constructor's arguments and of ours (``None`` where a subclass adds a key
        without one); their types are the ones ``agents.make`` checks values against."""
        params = inspect.signature(cls.algorithm.__init__).parameters
        out: dict[str, Any] = {k: None for k in cls.extra_keys}
        out.update({p: (None if v.default is inspect.Parameter.empty else v.default) for p, v in params.items() if p not in _SKIP})
        out.update(OWN_DEFAULTS)
        out.update({k: v for k, v in HER_DEFAULTS.items() if k in cls.extra_keys})
        return out

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, a multi-agent scenario whose agents' spaces differ under ``sharing`` full (one
        model for every agent); ``_check_spaces`` refuses it in the constructor, and ``agents.registry.check_fits``
        runs this before a study's jobs (ppo, dqn or a2c on simple_speaker_listener or simple_tag failed in make)."""
        if str(h.get("sharing", "full")) == "full" and scenario.num_agents > 1:
            shared_spaces(scenario)

    def __init__(self, scenario: Scenario, seed: int | None = None, *, spaces: tuple[spaces.Space, spaces.Space] | None = None,
                 **overrides: Any) -> None:
        self.scenario = scenario
        self.seed = seed
        self.spaces = spaces
        """(observation, action) spaces of a part of another method (``part``); None: the scenario's own."""
        self.hparams = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters())
        self.steps_trained = 0
        self.history: list[dict[str, Any]] = []
        """Training curve rows (steps, mean episode return of the last 100 episodes), this process only."""
        torch.set_num_threads(self.hparams.get("torch_threads", 1))
        hyperparams.check_policy_counts(self.name, dict(self.hparams.get("policy_kwargs") or {}))
        self._check_spaces()
        self._check_her()
        self.vecnorm: VecNormalize | None = None
        self.model: BaseAlgorithm | None = None
        self.groups: list[Group] | None = None
        self.models: list[BaseAlgorithm] = []
        self._lock: Lockstep | None = None
        self._genvs: list[GroupVecEnv] = []
        sharing = self.hparams.get("sharing", "full")
        if sharing != "full" and scenario.num_agents > 1:
            if self.hparams.get("normalize"):
                raise UserError(f"{self.name}: normalize needs sharing=full (valid with sharing={sharing}: normalize=false)")
            self.groups = make_groups(scenario, sharing, agent_id=True)

    @classmethod
    def part(cls, scenario: Scenario, observation_space: spaces.Space, action_space: spaces.Space, seed: int | None = None,
             **overrides: Any) -> SB3Agent:
        """This agent as a part of another method (RARL's players, ADR's learner, GAIL's generator...).

        Its config is the one ``agents.make(cls.name, scenario, **overrides)`` resolves (typed
        defaults, the tuned YAML entry for ``scenario``, then ``overrides``, values checked the
        same way); its model is built on ``observation_space`` / ``action_space`` and trains on
        the VecEnv that ``attach`` gives it. ``learn``, ``write_model`` / ``read_model``,
        ``policy_distribution`` and ``value`` are the agent's own (``act`` too, where the spaces
        are the scenario's: a protagonist, a generator).

        >>> from gymnasium import spaces
        >>> import numpy as np, scenarios
        >>> box = spaces.Box(-1.0, 1.0, (3,), np.float32)
        >>> part = PPOAgent.part(scenarios.make("mujoco/InvertedPendulum-v5"), box, box, seed=0, clip_range=0.1)
        >>> part.hparams["learning_rate"], part.hparams["clip_range"]  # ppo.yaml's entry for the scenario, the override
        (0.001, 0.1)
        """
        overrides = hyperparams.check_values(cls.name, overrides, cls.default_hyperparameters())
        return cls(scenario, seed, spaces=(observation_space, action_space), **overrides)

    def attach(self, env: Any) -> None:
        """Train on the SB3 VecEnv ``env`` from now on: the first call builds the model on it, a later
        one replaces the model's env (its episodes start anew, as SB3's ``set_env`` does). With
        ``normalize`` the env is wrapped in the agent's VecNormalize."""
        if self.groups is not None:
            raise UserError(f"{self.name} with one model per group steps its scenario itself (attach needs sharing=full)")
        env = self._normalized(env)
        if self.model is None:
            self.model = self._build(env)
        else:
            self.model.set_env(env)

    def _check_spaces(self) -> None:
        if self.spaces is None and str(self.hparams.get("sharing", "full")) != "full" and self.scenario.num_agents > 1:
            return  # per-group spaces; action kinds are checked by agents.base.check_support
        act = self.spaces[1] if self.spaces is not None else shared_spaces(self.scenario)[1]
        caps = self.capabilities
        discrete = act.__class__.__name__ in ("Discrete", "MultiDiscrete", "MultiBinary")
        if (discrete and not caps.discrete_actions) or (not discrete and not caps.continuous_actions):
            kind = "discrete" if discrete else "continuous"
            raise UserError(f"{self.name} does not support {kind} actions ({self.scenario.id} has {act})")

    @classmethod
    def check_her_start(cls, config: dict[str, Any], scenario: Scenario) -> None:
        """Refuse, in one line, ``her`` with a ``learning_starts`` reached before every copy's first episode
        can have ended: SB3's HerReplayBuffer samples finished episodes only and raised a RuntimeError from
        inside ``learn`` (training starts once more than ``learning_starts`` steps, summed over the
        ``n_envs`` copies, were taken). ``agents.make`` calls it, not ``load``: a checkpoint saved before
        its first update still loads."""
        limit, copies, starts = scenario.time_limit, int(config.get("n_envs", OWN_DEFAULTS["n_envs"])), config.get("learning_starts")
        if config.get("her") is True and limit is not None and isinstance(starts, int) and starts < copies * (limit - 1):
            raise UserError(f"{cls.name}: her samples finished episodes only, and with {copies} copies of {scenario.id} "
                            f"(episodes of up to {limit} steps) none may have ended by learning_starts {starts} "
                            f"(valid: learning_starts >= {copies * (limit - 1)}, or fewer n_envs)")

    @classmethod
    def check_n_step_dict(cls, config: dict[str, Any], scenario: Scenario) -> None:
        """Refuse, in one line, an off-policy learner's ``n_steps`` > 1 (n-step returns) on Dict observations:
        SB3's off-policy ``_setup_model`` asserted it from inside ``learn`` (sac, td3, ddpg, tqc, dqn, qrdqn on
        robotics/ or goals/ scenarios)."""
        from gymnasium import spaces

        steps = config.get("n_steps")
        if cls.capabilities.learning != "off-policy" or not isinstance(steps, int) or steps <= 1:
            return
        dicts = [a for a in scenario.possible_agents if isinstance(scenario.observation_space(a), spaces.Dict)]
        if dicts:
            raise UserError(f"{cls.name}: n_steps {steps} (n-step returns) is not supported by SB3 for Dict observations, "
                            f"and {dicts[0]} of {scenario.id} has them (valid here: n_steps 1)")

    def _check_her(self) -> None:
        if not self.hparams.get("her"):
            return
        from scenarios.goals import is_goal_space

        obs = self.scenario.observation_space(self.scenario.possible_agents[0])
        if self.scenario.num_agents != 1 or not is_goal_space(obs):
            raise UserError(f"{self.name}: her needs a one-agent goal-conditioned scenario (Dict observations with "
                            f"observation, achieved_goal, desired_goal, e.g. robotics/FetchReach-v4); {self.scenario.id} has {obs}")
        strategy = self.hparams.get("goal_selection_strategy", "future")
        if strategy not in ("future", "final", "episode"):
            raise UserError(f"{self.name}: unknown goal_selection_strategy '{strategy}' (valid: future, final, episode)")

    def _env(self) -> Any:
        if self.spaces is not None:
            raise UserError(f"{self.name} is a part of another method and trains on the env it is given: call attach(env) first")
        vec = self.scenario.vector(int(self.hparams.get("n_envs", 8)), seed=self.seed, backend=self.hparams.get("backend", "auto"))
        return self._normalized(self._vecenv(vec))

    def _normalized(self, env: Any) -> Any:
        """``env`` in the agent's VecNormalize when ``normalize`` is set (statistics kept across envs)."""
        if self.hparams.get("normalize"):
            if self.vecnorm is None:
                self.vecnorm = VecNormalize(env, gamma=self.hparams.get("gamma", 0.99))
            else:
                self.vecnorm.set_venv(env)
            env = self.vecnorm
        return env

    def _vecenv(self, vec: Any) -> Any:
        """The SB3 view of our vectorized face (joint-action agents override it)."""
        return SB3VecEnv(vec)

    def _sb3_kwargs(self, space: Any = None) -> dict[str, Any]:
        """The SB3 constructor arguments from our hyperparameters (``space``: the model's action space)."""
        kwargs = {k: v for k, v in self.hparams.items() if k not in OWN_KEYS | self.extra_keys}
        if space is None:
            space = self.spaces[1] if self.spaces is not None else self.scenario.action_space(self.scenario.possible_agents[0])
        if self.hparams.get("her"):
            kwargs["replay_buffer_class"] = HerReplayBuffer
            kwargs["replay_buffer_kwargs"] = {**(kwargs.get("replay_buffer_kwargs") or {}),
                                              "n_sampled_goal": self.hparams.get("n_sampled_goal", 4),
                                              "goal_selection_strategy": self.hparams.get("goal_selection_strategy", "future")}
        return sb3_arguments(kwargs, int(np.prod(space.shape or (1,))))

    def _policy(self) -> str:
        """The SB3 policy name: ``MultiInputPolicy`` for Dict observations where the default ``MlpPolicy`` is set."""
        policy = str(self.hparams.get("policy", "MlpPolicy"))
        obs = self.spaces[0] if self.spaces is not None else self.scenario.observation_space(self.scenario.possible_agents[0])
        return "MultiInputPolicy" if policy == "MlpPolicy" and isinstance(obs, spaces.Dict) else policy

    def _build(self, env: Any = None, space: Any = None, seed: int | None = None) -> BaseAlgorithm:
        return self.algorithm(
            self._policy(), env if env is not None else self._env(),
            seed=sb3_seed(self.seed if seed is None else seed), device="cpu", verbose=0, **self._sb3_kwargs(space),
        )

    def _model_spaces(self) -> tuple[Any, Any]:
        """The observation and action spaces the single model is built on (a part's own, or from a one-copy view)."""
        if self.spaces is not None:
            return self.spaces
        vec = self.scenario.vector(1, backend=self.hparams.get("backend", "auto"))
        try:
            env = self._vecenv(vec)
            return env.observation_space, env.action_space
        finally:
            vec.close()

    def _learn_groups(self, steps: int, progress: ProgressFn | None) -> None:
        assert self.groups is not None
        if self._lock is None:
            vec = self.scenario.vector(self.hparams.get("n_envs", 8), seed=self.seed, backend=self.hparams.get("backend", "auto"))
            self._lock = Lockstep(vec, self.groups)
            self._genvs = [GroupVecEnv(self._lock, g) for g in range(len(self.groups))]
            if self.models:
                for model, env in zip(self.models, self._genvs):
                    model.set_env(env)
            else:
                base = 0 if self.seed is None else self.seed
                self.models = [self._build(env, g.act_space, None if self.seed is None else wrap_seed(base + k))
                               for k, (g, env) in enumerate(zip(self.groups, self._genvs))]
        k0 = len(self.groups[0].agents)
        calls = [_Progress(lambda d, t: progress(d // k0, steps), self.models[0].num_timesteps, steps * k0) if progress and g == 0 else None
                 for g in range(len(self.models))]
        learn_in_lockstep(self.models, self._genvs, self._lock, steps, calls)
        self.steps_trained += steps

    def learn(self, steps: int, progress: ProgressFn | None = None, callback: BaseCallback | None = None) -> None:
        """Train for ``steps`` SB3 timesteps (agent-steps when parameters are shared; scenario
        steps with ``sharing`` group/none). ``callback``: an SB3 callback of the method this agent
        is a part of (GAIL's discriminator update at each rollout end); single-model agents only."""
        if self.groups is not None:
            if callback is not None:
                raise UserError(f"{self.name} with one model per group takes no SB3 callback (valid: sharing=full)")
            self._learn_groups(steps, progress)
            return
        if self.model is None:
            self.model = self._build()
        elif self.model.get_env() is None:
            self.model.set_env(self._env())
        budget = declare_budget(self.hparams, self.model.num_timesteps, steps)
        callbacks: list[BaseCallback] = [_Budget(budget), _History(self.history, max(1000, budget // 100))]
        if progress:
            callbacks.append(_Progress(progress, self.model.num_timesteps, steps))
        if callback is not None:
            callbacks.append(callback)
        quiet(self.model).learn(total_timesteps=steps, callback=CallbackList(callbacks), reset_num_timesteps=False)
        self.steps_trained += steps

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Batched actions; agents of a copy share one network (or one per group)."""
        if self.groups is not None and self.models:
            out: dict[str, np.ndarray] = {}
            for g, model in zip(self.groups, self.models):
                rows = g.inputs(obs)
                n, k = rows.shape[:2]
                a, _ = model.predict(rows.reshape(n * k, -1), deterministic=deterministic)
                a = np.asarray(a).reshape(n, k, *np.asarray(a).shape[1:])
                out.update({agent: a[:, j] for j, agent in enumerate(g.agents)})
            return out
        if self.model is None:
            raise NotTrained(self.name)
        agents = list(obs)
        flat = _rows(obs, agents)
        n, k = _count(obs[agents[0]]), len(agents)
        if self.vecnorm is not None:
            flat = self.vecnorm.normalize_obs(flat)
        actions, _ = self.model.predict(flat, deterministic=deterministic)
        actions = np.asarray(actions).reshape(n, k, *np.asarray(actions).shape[1:])
        return {a: actions[:, j] for j, a in enumerate(agents)}

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d)."""
        return sb3_distribution(self._single_model(), self.vecnorm, obs)

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The critic's differentiable estimate for ``agent`` at raw observations ``obs`` (N, d)."""
        return sb3_value(self._single_model(), self.vecnorm, obs)

    def _single_model(self) -> Any:
        if self.groups is not None:
            raise UserError(f"{self.name} with one model per group has no single differentiable policy (train with sharing=full)")
        return require_trained(self.model, self.name)

    def save(self, path: str | Path) -> Path:
        """Write ``model.zip`` (``model_<k>.zip`` per group), normalization statistics as arrays (if normalizing, ``agents.sb3_checkpoint``) and ``agent.json``."""
        if self.groups is not None and self.models:
            path = Path(path)
            path.mkdir(parents=True, exist_ok=True)
            for k, model in enumerate(self.models):
                model.save(path / f"model_{k}.zip")
            save_meta(self, path)
            return path
        path = Path(path)
        self.write_model(path)
        save_meta(self, path)
        return path

    def write_model(self, folder: Path, stem: str = "model") -> None:
        """Write ``<stem>.zip`` and, when normalizing, the normalization statistics as arrays
        (``agents.sb3_checkpoint``) into ``folder``: a checkpoint's model files without its
        ``agent.json`` (a method this agent is a part of writes its own)."""
        if self.model is None:
            raise UserError(f"{self.name} has nothing to save: call learn() first")
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / f"{stem}.zip")
        if self.vecnorm is not None:
            save_normalizer(self.vecnorm, folder)

    def read_model(self, folder: Path, stem: str = "model") -> None:
        """Restore ``<stem>.zip`` (and the normalization statistics, if saved) from ``folder`` as data:
        nothing is unpickled (``agents.sb3_checkpoint.load_model``)."""
        obs_space, act_space = self._model_spaces()
        self.vecnorm = load_normalizer(folder, obs_space, act_space)
        env = self._env() if self.hparams.get("her") else None  # SB3 builds a HerReplayBuffer around its env
        self.model = load_model(self.algorithm, folder / f"{stem}.zip", self._policy(), self._sb3_kwargs(act_space),
                                obs_space, act_space, env)

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> SB3Agent:
        """Restore model and normalization statistics from a checkpoint folder."""
        agent = cls(scenario, seed=meta.get("seed"), **{k: v for k, v in meta["hparams"].items()})
        policy = agent._policy()
        if agent.groups is not None:
            agent.models = [
                load_model(cls.algorithm, path / f"model_{k}.zip", policy, agent._sb3_kwargs(g.act_space),
                           spaces.Box(-np.inf, np.inf, (g.in_dim,), np.float32), g.act_space)
                for k, g in enumerate(agent.groups)]
            agent.steps_trained = int(meta.get("steps", 0))
            return agent
        agent.read_model(path)
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


class PPOAgent(SB3Agent):
    """Proximal Policy Optimization (SB3), discrete or continuous actions."""

    name = "ppo"
    algorithm = PPO
    capabilities = Capabilities(multi_agent="any", learning=sb3_learning(PPO), goal_observations=True)


class A2CAgent(SB3Agent):
    """Advantage Actor-Critic (SB3), discrete or continuous actions."""

    name = "a2c"
    algorithm = A2C
    capabilities = Capabilities(multi_agent="any", learning=sb3_learning(A2C), goal_observations=True)


class TRPOAgent(SB3Agent):
    """Trust Region Policy Optimization (sb3-contrib), discrete or continuous actions."""

    name = "trpo"
    algorithm = TRPO
    capabilities = Capabilities(multi_agent="any", learning=sb3_learning(TRPO), goal_observations=True)


class SACAgent(SB3Agent):
    """Soft Actor-Critic (SB3), continuous actions."""

    name = "sac"
    algorithm = SAC
    capabilities = Capabilities(discrete_actions=False, multi_agent="any", learning=sb3_learning(SAC), goal_observations=True)
    extra_keys = HER_KEYS


class TD3Agent(SB3Agent):
    """Twin Delayed DDPG (SB3), continuous actions."""

    name = "td3"
    algorithm = TD3
    capabilities = Capabilities(discrete_actions=False, multi_agent="any", learning=sb3_learning(TD3), goal_observations=True)
    extra_keys = HER_KEYS


class DDPGAgent(SB3Agent):
    """Deep Deterministic Policy Gradient (SB3), continuous actions."""

    name = "ddpg"
    algorithm = DDPG
    capabilities = Capabilities(discrete_actions=False, multi_agent="any", learning=sb3_learning(DDPG), goal_observations=True)
    extra_keys = HER_KEYS


class TQCAgent(SB3Agent):
    """Truncated Quantile Critics (sb3-contrib), continuous actions."""

    name = "tqc"
    algorithm = TQC
    capabilities = Capabilities(discrete_actions=False, multi_agent="any", learning=sb3_learning(TQC), goal_observations=True)
    extra_keys = HER_KEYS


class DQNAgent(SB3Agent):
    """Deep Q-Network (SB3), discrete actions."""

    name = "dqn"
    algorithm = DQN
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning=sb3_learning(DQN), goal_observations=True)
    extra_keys = HER_KEYS


class QRDQNAgent(SB3Agent):
    """Quantile-Regression DQN (sb3-contrib), discrete actions."""

    name = "qrdqn"
    algorithm = QRDQN
    capabilities = Capabilities(continuous_actions=False, multi_agent="any", learning=sb3_learning(QRDQN), goal_observations=True)
    extra_keys = HER_KEYS


SB3_AGENTS = (PPOAgent, A2CAgent, TRPOAgent, SACAgent, TD3Agent, DDPGAgent, TQCAgent, DQNAgent, QRDQNAgent)


PPO_ARGUMENTS: tuple[str, ...] = tuple(p for p in inspect.signature(PPO.__init__).parameters if p not in _SKIP)
"""Every SB3 PPO constructor argument: the one key list of every method built on PPO."""


def ppo_defaults() -> dict[str, Any]:
    """The ``ppo`` agent's defaults for every PPO argument (a method built on PPO starts from them)."""
    return {k: v for k, v in PPOAgent.default_hyperparameters().items() if k in PPO_ARGUMENTS}


PART_KEYS: tuple[str, ...] = (*PPO_ARGUMENTS, "n_envs", "torch_threads", "total_steps")
"""The hyperparameters a method built on the ``ppo`` agent shares with it: every PPO argument, the
copies stepped (``n_envs``), torch threads and the declared budget (``total_steps``). The method lists
them under these names, so ``--set clip_range=0.1`` reaches its PPO parts."""


def ppo_part_defaults() -> dict[str, Any]:
    """The defaults a method built on ``ppo`` shows for ``PART_KEYS``: ppo's typed defaults under
    ``ppo.yaml``'s ``default:`` entry (what a scenario without an entry of its own gets; a scenario's
    entry applies when the part is built for it)."""
    merged = {**PPOAgent.default_hyperparameters(), **hyperparams.tuned_defaults("ppo", "default")}
    return {k: merged[k] for k in PART_KEYS}


def ppo_part(scenario: Scenario, observation_space: spaces.Space, action_space: spaces.Space, seed: int | None,
             hparams: dict[str, Any]) -> SB3Agent:
    """The ``ppo`` agent as a part of a method (``PPOAgent.part``) whose overrides are ``hparams``: the
    ``PART_KEYS`` among them are passed on, everything else of its config is ppo's for ``scenario``.
    No normalization: those methods step their own envs and act on raw observations.

    >>> import scenarios
    >>> sc = scenarios.make("mujoco/InvertedPendulum-v5")
    >>> part = ppo_part(sc, sc.observation_space("agent_0"), sc.action_space("agent_0"), 0, {"n_steps": 64, "rounds": 2})
    >>> part_values(part)["n_steps"], part_values(part)["batch_size"]  # the override, ppo.yaml's entry
    (64, 256)
    """
    shared = {k: v for k, v in hparams.items() if k in PART_KEYS}
    return PPOAgent.part(scenario, observation_space, action_space, seed, normalize=False, **shared)


def part_values(part: SB3Agent) -> dict[str, Any]:
    """The ``PART_KEYS`` values of a part's resolved config (its typed defaults where neither the tuned
    entry nor an override set one): what the method it belongs to records as its own."""
    merged = {**type(part).default_hyperparameters(), **part.hparams}
    return {k: merged[k] for k in PART_KEYS}
