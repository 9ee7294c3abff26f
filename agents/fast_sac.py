"""``fast_sac``: Soft Actor-Critic (Haarnoja et al. 2018) as SB3 computes it, without SB3's per-step overhead.

Why our own: with SB3's defaults (256 x 256 networks, batch 256, one gradient step per
environment step) SB3's SAC runs at about 84 steps per second on Hopper here (12 ms a step)
where the arithmetic of one update is about 570 MFLOP, 4 ms at this CPU's measured 140
GFLOP/s; the rest is torch dispatch and autograd bookkeeping, the replay buffer's numpy/torch
conversions, the logger and the per-step collection loop (the profile is in
``benchmarks/RESULTS.md``). This learner keeps the replay as preallocated float32 arrays,
evaluates the twin critics as one stacked product per layer (``agents.numpy_mlp``), fuses
the actor's passes on the batch and on its next observations into one, writes the
gradients of the three losses in closed form, and steps Adam on flat parameter vectors.

What it keeps from SB3's SAC, because returns depend on it: the actor (``net_arch`` ReLU MLP,
mean and log-std heads, log std clamped to [-20, 2], tanh squashing with the
``log(1 - tanh(u)^2 + 1e-6)`` correction, actions scaled to [-1, 1] in the replay and
unscaled to the bounds when applied), ``n_critics`` Q-networks on (observation, action)
with Polyak-averaged targets (``tau``, every ``target_update_interval``-th gradient step of
a collection, SB3's counting), the entropy coefficient learned on its log with
``target_entropy`` (``auto`` = -dim(A); ``auto_0.1`` starts it at 0.1; a number fixes it),
SB3's update order (entropy coefficient, then the critics on the soft clipped-double-Q
target, then the actor against the updated critics), torch's Adam (eps 1e-8) for all
three, uniform random actions until ``learning_starts``, ``train_freq`` steps then
``gradient_steps`` updates (-1: as many as steps collected), time-limit truncations
bootstrapped (only termination zeroes the target), Gaussian or Ornstein-Uhlenbeck
``action_noise``, and VecNormalize-style ``normalize`` (raw transitions in the replay,
normalized when sampled). Hyperparameter names and defaults are the ``sac`` agent's
(``sac.yaml`` per scenario), so a config moves between the two; SB3 options it does not
implement (gSDE, n-step returns, episode train frequencies, custom replay buffers) are
refused in one line if set.

Goal-conditioned scenarios (``robotics/Fetch*``, the mazes) are read as ``goals.flatten``
rows, and ``her: true`` adds hindsight experience replay with ``n_sampled_goal`` and
``goal_selection_strategy``, the ``sac`` agent's names. Where SB3's ``HerReplayBuffer``
relabels at sampling time (with 1 - 1/(k+1) of each batch relabelled), this learner uses
``agents.hindsight``: each finished episode adds ``n_sampled_goal`` relabelled transitions
per step to the same replay, rewarded by the source's ``compute_reward``, so a uniform
sample holds the same share of them. Termination keeps the stored flag, as in SB3.

Multi-agent scenarios with matching spaces run with one shared actor and critic, every
(agent, copy) pair a lane, as the SB3-backed ``sac`` does with ``sharing: full``. Randomness
comes from the agent's own NumPy generator, and the collection state and replay persist
across ``learn`` calls, so ``learn(k); learn(k)`` equals ``learn(2k)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd

from agents import hyperparams
from agents.budget import declare_budget
from agents.actor_critic import Lanes
from agents.base import Capabilities, ProgressFn
from agents.checkpoint import load_generator, restore_stats, save_generator, save_meta, stats_arrays
from agents.fast_ppo import CLIP
from agents.hindsight import Hindsight
from agents.numpy_mlp import FusedAdam, MLPStack
from agents.numpy_policy import ACTIVATIONS
from agents.observations import accepts_unbatched
from agents.sb3_agent import SACAgent
from agents.sb3_views import DETERMINISTIC_STD
from scenarios import Scenario, UserError

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
LOG_2PI = math.log(2 * math.pi)
UNSUPPORTED = {"use_sde": False, "use_sde_at_warmup": False, "sde_sample_freq": -1, "replay_buffer_class": None,
               "replay_buffer_kwargs": None, "optimize_memory_usage": False, "n_steps": 1, "policy": "MlpPolicy",
               "sharing": "full"}


class FastSAC:
    """SAC on the vectorized face: preallocated replay, stacked NumPy networks with closed-form gradients."""

    name: ClassVar[str] = "fast_sac"
    defaults_from: ClassVar[str] = "sac"
    capabilities = Capabilities(discrete_actions=False, multi_agent="any", learning="off-policy", competitive=False,
                                goal_observations=True)

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """The ``sac`` agent's names (SB3's SAC arguments and ours)."""
        return SACAgent.valid_hyperparameters()

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """The ``sac`` agent's defaults."""
        return SACAgent.default_hyperparameters()

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, an SB3 option this learner does not implement, a scenario whose agents one
        shared network cannot serve (``Lanes``) or whose actions are discrete, and ``her`` without one
        goal-conditioned agent."""
        for key, default in UNSUPPORTED.items():
            if h.get(key, default) != default:
                raise UserError(f"fast_sac does not implement {key}={h[key]!r} (valid: {key}={default!r}; "
                                f"the SB3-backed sac takes other values)")
        lanes = Lanes(scenario, cls.name, agent_id=False)
        if lanes.discrete:
            raise UserError(f"fast_sac supports continuous actions only; {scenario.id} has discrete actions")
        if h.get("her") and (not lanes.goal_spaces or len(lanes.agents) != 1):
            raise UserError(f"fast_sac: her needs a one-agent goal-conditioned scenario (Dict observations with "
                            f"observation, achieved_goal, desired_goal, e.g. robotics/FetchPush-v4); {scenario.id} is not one")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        base = {**self.default_hyperparameters(), **hyperparams.tuned_defaults(self.defaults_from, scenario.id)}
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), base)
        self.check_scenario(scenario, h)
        self.lanes = Lanes(scenario, self.name, agent_id=False)
        self.goal_space = next(iter(self.lanes.goal_spaces.values()), None)
        self.hindsight: Hindsight | None = None
        torch.set_num_threads(h["torch_threads"])
        self.rng = np.random.default_rng(seed)
        self.train_freq = self._train_freq(h["train_freq"])
        pk = dict(h.get("policy_kwargs") or {})
        unknown = sorted(set(pk) - {"net_arch", "activation_fn", "n_critics", "share_features_extractor"})
        if unknown:
            raise UserError(f"fast_sac: unknown policy_kwargs {unknown} (valid: net_arch, activation_fn, n_critics)")
        hyperparams.check_policy_counts(self.name, pk)
        arch = pk.get("net_arch", [256, 256])
        pi_arch, qf_arch = (list(arch.get("pi", [])), list(arch.get("qf", []))) if isinstance(arch, dict) else (list(arch), list(arch))
        activation = pk.get("activation_fn", "relu")
        if activation not in ACTIVATIONS:
            raise UserError(f"fast_sac: unknown activation_fn '{activation}' (valid: {', '.join(ACTIVATIONS)})")
        space = self.lanes.action_space
        self.n_act = int(np.prod(space.shape))
        self.low, self.high = space.low.astype(np.float32).ravel(), space.high.astype(np.float32).ravel()
        n_in = self.lanes.n_in
        self.actor = MLPStack([n_in, *pi_arch, 2 * self.n_act], 1, activation, self.rng)
        self.critic = MLPStack([n_in + self.n_act, *qf_arch, 1], int(pk.get("n_critics", 2)), activation, self.rng)
        self.target = MLPStack([n_in + self.n_act, *qf_arch, 1], self.critic.members, activation, self.rng)
        self.target.flat[:] = self.critic.flat
        self.lr, self.lr_linear = hyperparams.schedule(h["learning_rate"], "learning_rate", self.name)
        self.actor_opt = FusedAdam(self.actor.flat, self.actor.grad)
        self.critic_opt = FusedAdam(self.critic.flat, self.critic.grad)
        self.target_entropy = -float(self.n_act) if h["target_entropy"] == "auto" else h["target_entropy"]
        ent = h["ent_coef"]
        self.learn_alpha = isinstance(ent, str) and ent.startswith("auto")
        if isinstance(ent, str) and not self.learn_alpha:
            raise UserError(f"fast_sac: ent_coef must be a number, auto or auto_<number>, got {ent!r}")
        init = float(ent[5:]) if self.learn_alpha and "_" in ent else 1.0
        self.fixed_alpha = None if self.learn_alpha else float(ent)
        """A fixed entropy coefficient (0 allowed: no entropy term), or None when it is learned."""
        self.log_alpha = np.array([math.log(init)], np.float32)
        self.alpha_grad = np.zeros(1, np.float32)
        self.alpha_opt = FusedAdam(self.log_alpha, self.alpha_grad)
        self.noise = self._noise(h.get("action_noise"))
        self.obs_stats = RunningMeanStd(shape=(n_in,)) if h["normalize"] else None
        self.ret_stats = RunningMeanStd(shape=()) if h["normalize"] else None
        self.steps_trained = 0
        self.updates = 0
        self.history: list[dict[str, float]] = []
        self._vec: Any = None
        self._obs: np.ndarray | None = None
        self._ret: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._ou: np.ndarray | None = None
        self._episodes: list[float] = []
        self.replay: dict[str, np.ndarray] | None = None
        self.pos, self.full = 0, False

    # -- settings ---------------------------------------------------------
    @staticmethod
    def _train_freq(value: Any) -> int:
        return hyperparams.every_steps(value, "fast_sac")  # steps only ([N, episode]: the SB3-backed sac)

    def _noise(self, spec: Any) -> tuple[str, float] | None:
        if spec is None:
            return None
        if not isinstance(spec, dict) or spec.get("type", "normal") not in ("normal", "ornstein_uhlenbeck"):
            raise UserError(f"fast_sac: action_noise must be {{type: normal|ornstein_uhlenbeck, std: x}}, got {spec!r}")
        return str(spec.get("type", "normal")), float(spec.get("std", 0.1))

    # -- the policy -------------------------------------------------------
    def _norm(self, x: np.ndarray) -> np.ndarray:
        if self.obs_stats is None:
            return x
        return np.clip((x - self.obs_stats.mean) / np.sqrt(self.obs_stats.var + 1e-8), -CLIP, CLIP).astype(np.float32)

    def _heads(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(mean, clamped log std, the unclamped log std, the actor's cache) at rows ``x``."""
        out, hs = self.actor.forward(x)
        mean, raw = out[0, :, : self.n_act], out[0, :, self.n_act :]
        return mean, np.clip(raw, LOG_STD_MIN, LOG_STD_MAX), raw, hs

    def _unscale(self, a: np.ndarray) -> np.ndarray:
        return self.low + 0.5 * (a + 1.0) * (self.high - self.low)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """``tanh`` of the mean (deterministic) or a squashed sample, unscaled to the bounds, for every agent and copy."""
        mean, log_std, _, _ = self._heads(self._norm(self.lanes.obs(obs).numpy()))
        u = mean if deterministic else mean + np.exp(log_std) * self.rng.standard_normal(mean.shape).astype(np.float32)
        return self.lanes.split(self._unscale(np.tanh(u)))

    def _torch_rows(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(len(obs), -1).float()
        if self.obs_stats is None:
            return x
        mean = torch.as_tensor(self.obs_stats.mean, dtype=torch.float32)
        std = torch.as_tensor(np.sqrt(self.obs_stats.var + 1e-8), dtype=torch.float32)
        return torch.clamp((x - mean) / std, -CLIP, CLIP)

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """As the SB3-backed ``sac``: a Normal of std ``DETERMINISTIC_STD`` around the squashed mean action."""
        mean = torch.tanh(self.actor.torch_forward(self._torch_rows(obs))[:, : self.n_act])
        return torch.distributions.Normal(mean, DETERMINISTIC_STD * torch.ones_like(mean))

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """``Q(s, pi(s))``, the mean over the critics, at raw observations ``obs`` (N, d), differentiable in ``obs``."""
        x = self._torch_rows(obs)
        xa = torch.cat([x, torch.tanh(self.actor.torch_forward(x)[:, : self.n_act])], dim=1)
        return torch.stack([self.critic.torch_forward(xa, k)[:, 0] for k in range(self.critic.members)]).mean(0)

    # -- collection -------------------------------------------------------
    def _start(self) -> None:
        h = self.hparams
        self._vec = self.scenario.vector(h["n_envs"], seed=self.seed, backend=h.get("backend", "auto"))
        obs, _ = self._vec.reset()
        self._obs = self._observe(obs)
        lanes = len(self._obs)
        self._ret, self._raw = np.zeros(lanes), np.zeros(lanes)
        self._ou = np.zeros((lanes, self.n_act), np.float32)
        size = max(1, h["buffer_size"] // lanes) * lanes
        d = self.lanes.n_in
        self.replay = {"obs": np.zeros((size, d), np.float32), "next": np.zeros((size, d), np.float32),
                       "act": np.zeros((size, self.n_act), np.float32), "rew": np.zeros(size, np.float32),
                       "term": np.zeros(size, np.float32)}
        if h["her"]:
            self.hindsight = Hindsight(self.goal_space, self.scenario.compute_reward, lanes, self.rng,
                                       h["n_sampled_goal"], h["goal_selection_strategy"], h["gamma"])

    def _observe(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = self.lanes.obs(obs).numpy()
        if self.obs_stats is not None:
            self.obs_stats.update(x.astype(np.float64))
        return x

    def _explore(self) -> np.ndarray:
        """Actions in [-1, 1] for every lane: uniform before ``learning_starts``, else the policy (plus noise)."""
        lanes = len(self._obs)
        if self.steps_trained < self.hparams["learning_starts"]:
            return self.rng.uniform(-1.0, 1.0, (lanes, self.n_act)).astype(np.float32)
        mean, log_std, _, _ = self._heads(self._norm(self._obs))
        a = np.tanh(mean + np.exp(log_std) * self.rng.standard_normal(mean.shape).astype(np.float32))
        if self.noise is not None:
            kind, std = self.noise
            eps = std * self.rng.standard_normal(a.shape).astype(np.float32)
            if kind == "ornstein_uhlenbeck":  # SB3's defaults: theta 0.15, dt 0.01
                self._ou += 0.15 * -self._ou * 0.01 + math.sqrt(0.01) * eps
                eps = self._ou
            a = np.clip(a + eps, -1.0, 1.0)
        return a

    def _collect(self) -> None:
        """One vector step of every lane into the replay."""
        vec, lanes, rp = self._vec, self.lanes, self.replay
        a = self._explore()
        nxt, rew, term, trunc, infos = vec.step(lanes.split(self._unscale(a)))
        r = lanes.stack(rew, np.float64)
        terminal = lanes.stack(term, bool)
        ended = terminal | lanes.stack(trunc, bool)
        self._track(r, ended)
        new = self._observe(nxt)
        final = new.copy()
        idx = np.flatnonzero(ended)
        if len(idx):
            final[idx] = lanes.final_obs(infos, idx).numpy()
            self._ou[idx] = 0.0
        self._store(self._obs, a, r, final, np.where(terminal, 0.0, 1.0))
        if self.hindsight is not None:
            agent = lanes.agents[0]
            self.hindsight.add_step(self._obs, a, nxt[agent], infos, agent, ended, self._store, final, terminal)
        self._obs = new
        self.steps_trained += len(a) // len(lanes.agents)

    def _store(self, obs: np.ndarray, act: np.ndarray, rew: np.ndarray, nxt: np.ndarray, discount: np.ndarray) -> None:
        """Rows into the circular replay (real transitions, and relabelled ones from ``hindsight``);
        a zero ``discount`` marks a termination (the 1-step discount is ``gamma``, applied in the update)."""
        rp, n = self.replay, len(rew)
        size = len(rp["rew"])
        rows = (self.pos + np.arange(n)) % size
        rp["obs"][rows], rp["next"][rows], rp["act"][rows] = obs, nxt, act
        rp["rew"][rows], rp["term"][rows] = rew, discount == 0.0
        self.full = self.full or self.pos + n >= size
        self.pos = int((self.pos + n) % size)

    def _track(self, r: np.ndarray, ended: np.ndarray) -> None:
        """Raw episode returns per lane (for ``history``), and VecNormalize's discounted return statistics."""
        self._raw += r
        if self.ret_stats is not None:
            self._ret = self._ret * self.hparams["gamma"] + r
            self.ret_stats.update(self._ret)
            self._ret[ended] = 0.0
        for i in np.flatnonzero(ended):
            self._episodes.append(float(self._raw[i]))
            self._raw[i] = 0.0

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``train_freq`` vector steps, then ``gradient_steps`` updates once past ``learning_starts``,
        until ``steps`` environment steps (copies x vector steps)."""
        h = self.hparams
        declare_budget(h, self.steps_trained, steps)
        if self._vec is None:
            self._start()
        n_envs = h["n_envs"]
        start = self.steps_trained
        gradient_steps = h["gradient_steps"]
        while self.steps_trained - start < steps:
            for _ in range(self.train_freq):
                self._collect()
            if self.steps_trained > h["learning_starts"]:
                count = hyperparams.gradient_count(gradient_steps, self.train_freq * n_envs)
                for g in range(count):
                    self._update(g)
            if progress:
                progress(min(self.steps_trained - start, steps), steps)
            if len(self._episodes) and (not self.history or self.steps_trained - self.history[-1]["steps"] >= 1000):
                self.history.append({"steps": self.steps_trained, "episode_return": float(np.mean(self._episodes[-100:])),
                                     "ent_coef": self._alpha()})

    # -- the update -------------------------------------------------------
    def _sample(self) -> tuple[np.ndarray, ...]:
        rp = self.replay
        upper = len(rp["rew"]) if self.full else self.pos
        idx = self.rng.integers(0, upper, self.hparams["batch_size"])
        obs, nxt, rew = rp["obs"][idx], rp["next"][idx], rp["rew"][idx]
        if self.obs_stats is not None:
            obs, nxt = self._norm(obs), self._norm(nxt)
            rew = np.clip(rew / np.sqrt(self.ret_stats.var + 1e-8), -CLIP, CLIP).astype(np.float32)
        return obs, rp["act"][idx], nxt, rew, rp["term"][idx]

    def _alpha(self) -> float:
        """The entropy coefficient: the fixed one, or exp of the learned log."""
        return float(np.exp(self.log_alpha[0])) if self.fixed_alpha is None else self.fixed_alpha

    def _update(self, g: int) -> None:
        h = self.hparams
        total = h.get("total_steps") or 1
        lr = self.lr * (max(0.0, 1.0 - self.steps_trained / total) if self.lr_linear else 1.0)
        obs, act, nxt, rew, term = self._sample()
        B, A = len(obs), self.n_act
        # one actor pass for the batch (reparametrized actions, kept for the actor's loss) and its next observations
        mean, log_std, raw, hs = self._heads(np.concatenate([obs, nxt]))
        std = np.exp(log_std)
        eps = self.rng.standard_normal(mean.shape).astype(np.float32)
        a_all = np.tanh(mean + std * eps)
        logp_all = (-0.5 * eps * eps - log_std - 0.5 * LOG_2PI).sum(1) - np.log(1.0 - a_all * a_all + 1e-6).sum(1)
        a_pi, logp = a_all[:B], logp_all[:B]
        alpha = self._alpha()
        if self.learn_alpha:  # loss -(log_alpha * (logp + target)).mean(): its gradient is -(logp + target).mean()
            self.alpha_grad[0] = -(logp + self.target_entropy).mean()
            self.alpha_opt.step(lr)
        # critics: the soft clipped double-Q target from the targets at (next, a')
        q_next, _ = self.target.forward(np.concatenate([nxt, a_all[B:]], axis=1))
        soft = q_next[:, :, 0].min(axis=0) - alpha * logp_all[B:]
        y = rew + (1.0 - term) * h["gamma"] * soft
        q, cache = self.critic.forward(np.concatenate([obs, act], axis=1))
        err = q[:, :, 0] - y  # loss 0.5 * sum over critics of mean squared error
        self.critic.backward(cache, (err / B)[:, :, None])
        self.critic_opt.step(lr)
        # actor: mean(alpha * logp - min_k Q_k(s, a_pi)) against the updated critics
        q_pi, cache_pi = self.critic.forward(np.concatenate([obs, a_pi], axis=1))
        q_pi = q_pi[:, :, 0]
        d_in = self.critic.backward_selected(cache_pi, np.full((B, 1), -1.0 / B, np.float32), q_pi.argmin(axis=0))
        d_a = d_in[:, -A:] + (alpha / B) * 2.0 * a_pi / (1.0 - a_pi * a_pi + 1e-6)
        d_u = d_a * (1.0 - a_pi * a_pi)
        d_out = np.zeros((1, B, 2 * A), np.float32)
        d_out[0, :, :A] = d_u
        d_log_std = d_u * std[:B] * eps[:B] - alpha / B
        d_out[0, :, A:] = d_log_std * ((raw[:B] >= LOG_STD_MIN) & (raw[:B] <= LOG_STD_MAX))
        self.actor.backward([x[:, :B] for x in hs], d_out)
        self.actor_opt.step(lr)
        if g % h["target_update_interval"] == 0:  # SB3 counts the gradient steps of one collection
            tau = h["tau"]
            self.target.flat *= 1.0 - tau
            self.target.flat += tau * self.critic.flat
        self.updates += 1

    # -- checkpoints ------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``fast_sac.npz`` (networks, targets, Adam moments, entropy coefficient, normalization
        statistics), ``fast_sac_rng.json`` (the generator) and ``agent.json``. The replay is not saved."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"actor": self.actor.flat, "critic": self.critic.flat, "target": self.target.flat,
                                         "log_alpha": self.log_alpha, "updates": np.array(self.updates)}
        for key, opt in (("actor", self.actor_opt), ("critic", self.critic_opt), ("alpha", self.alpha_opt)):
            arrays.update({f"{key}_{k}": v for k, v in opt.state_arrays().items()})
        arrays.update(stats_arrays({"obs": self.obs_stats, "ret": self.ret_stats}))
        np.savez(path / "fast_sac.npz", **arrays)
        save_generator(self.rng, path / "fast_sac_rng.json")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> FastSAC:
        """Restore networks, targets, optimizers, the entropy coefficient, normalization statistics and the generator."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        with np.load(path / "fast_sac.npz") as data:
            agent.actor.flat[:], agent.critic.flat[:], agent.target.flat[:] = data["actor"], data["critic"], data["target"]
            agent.log_alpha[:] = data["log_alpha"]
            agent.updates = int(data["updates"])
            for key, opt in (("actor", agent.actor_opt), ("critic", agent.critic_opt), ("alpha", agent.alpha_opt)):
                opt.load_arrays({k: data[f"{key}_{k}"] for k in ("m", "v", "t") if f"{key}_{k}" in data})
            restore_stats(data, {"obs": agent.obs_stats, "ret": agent.ret_stats})
        load_generator(agent.rng, path / "fast_sac_rng.json")
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
