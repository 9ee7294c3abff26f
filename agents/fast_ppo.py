"""``fast_ppo``: PPO (Schulman et al. 2017) as SB3 computes it, without SB3's per-minibatch overhead.

Why our own: with ``ppo.yaml``'s MuJoCo settings SB3 spends most of a PPO run outside the
arithmetic - its ``RolloutBuffer`` copies and reshapes numpy arrays, every minibatch goes
through the policy's feature extractor, distribution objects and the logger, and each
vector step converts observations and actions between numpy and torch several times (the
profile is in ``benchmarks/RESULTS.md``). This learner keeps the rollout as preallocated
arrays ``(n_steps, lanes, ...)``, takes one forward pass per vector step for every lane,
computes log-probabilities, entropies and their gradients in closed form, and updates
whole minibatches with Adam on one flat parameter vector; nothing runs per sample in
Python. The network and its gradients are NumPy (``agents.numpy_policy``): at PPO's
64-row minibatches a torch op's dispatch costs more than its arithmetic on these CPUs
(measured in ``benchmarks/RESULTS.md``); torch is used only for the differentiable views
the attacks need, and ``torch_threads`` (kept so configs move from ``ppo``) sets its threads.

What it keeps from SB3's PPO, because returns depend on it: separate tanh MLPs for the
policy and the value (``policy_kwargs`` ``net_arch``, ``activation_fn``), orthogonal
initialization (gain sqrt(2) hidden, 0.01 policy head, 1 value head), a state-independent
log std (``log_std_init``), Adam with eps 1e-5, linear schedules (``lin_3e-4``) for the
learning rate and clip ranges over the declared budget, GAE(lambda) with SB3's episode-start
convention, time-limit truncations bootstrapped by adding ``gamma * V(final observation)``
to the last reward, per-minibatch advantage normalization, the clipped surrogate, the
optional clipped value loss (``clip_range_vf``), ``target_kl`` early stopping (SB3's
approximate KL, 1.5x margin), gradient-norm clipping, Gaussian actions clipped to the
bounds when applied and stored unclipped, and VecNormalize-style observation and reward
normalization (``normalize``; clip 10, epsilon 1e-8). Hyperparameter names and defaults
are the ``ppo`` agent's (``ppo.yaml``, per scenario), so a config moves between the two.
SB3 options it does not implement (gSDE, custom rollout buffers, other policies) are
refused in one line if set.

Multi-agent scenarios with matching spaces run with one shared network, every (agent,
copy) pair a lane, as the SB3-backed ``ppo`` does with ``sharing: full``. Randomness comes
from the agent's own NumPy generator (seeded from ``seed``), never a global one, and
the rollout state persists across ``learn`` calls, so ``learn(k); learn(k)`` equals
``learn(2k)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from stable_baselines3.common.running_mean_std import RunningMeanStd

from agents import hyperparams
from agents.budget import declare_budget
from agents.actor_critic import Lanes
from agents.advantages import gae
from agents.base import Capabilities, ProgressFn
from agents.checkpoint import load_generator, restore_stats, save_generator, save_meta, stats_arrays
from agents.numpy_policy import ACTIVATIONS, Adam, NumpyPolicy, clip_grad_norm
from agents.observations import accepts_unbatched
from agents.sb3_agent import PPO_ARGUMENTS, ppo_defaults
from scenarios import Scenario, UserError

OWN: dict[str, Any] = {"n_envs": 8, "normalize": False, "torch_threads": 1, "backend": "auto", "total_steps": None,
                       "policy": "MlpPolicy", "sharing": "full"}
UNSUPPORTED = {"use_sde": False, "sde_sample_freq": -1, "rollout_buffer_class": None, "rollout_buffer_kwargs": None,
               "policy": "MlpPolicy", "sharing": "full"}
CLIP = 10.0


class FastPPO:
    """PPO on the vectorized face: preallocated rollouts, NumPy networks with closed-form gradients, lean minibatches."""

    name: ClassVar[str] = "fast_ppo"
    defaults_from: ClassVar[str] = "ppo"
    capabilities = Capabilities(multi_agent="any", learning="on-policy", competitive=False, goal_observations=True)

    @classmethod
    def valid_hyperparameters(cls) -> set[str]:
        """The ``ppo`` agent's names (SB3's PPO arguments and ours)."""
        return set(PPO_ARGUMENTS) | set(OWN)

    @classmethod
    def default_hyperparameters(cls) -> dict[str, Any]:
        """The ``ppo`` agent's defaults."""
        return {**ppo_defaults(), **OWN}

    @classmethod
    def check_scenario(cls, scenario: Scenario, h: dict[str, Any]) -> None:
        """Refuse, in one line, an SB3 option this learner does not implement, or a scenario whose agents one
        shared network cannot serve (``Lanes``)."""
        for key, default in UNSUPPORTED.items():
            if h.get(key, default) != default:
                raise UserError(f"fast_ppo does not implement {key}={h[key]!r} (valid: {key}={default!r}; "
                                f"the SB3-backed ppo takes other values)")
        Lanes(scenario, cls.name, agent_id=False)

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        base = {**self.default_hyperparameters(), **hyperparams.tuned_defaults(self.defaults_from, scenario.id)}
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(), base)
        self.check_scenario(scenario, h)
        self.lanes = Lanes(scenario, self.name, agent_id=False)
        torch.set_num_threads(h["torch_threads"])
        self.rng = np.random.default_rng(seed)
        pk = dict(h.get("policy_kwargs") or {})
        unknown = sorted(set(pk) - {"net_arch", "activation_fn", "log_std_init", "ortho_init"})
        if unknown:
            raise UserError(f"fast_ppo: unknown policy_kwargs {unknown} (valid: net_arch, activation_fn, log_std_init, ortho_init)")
        arch = pk.get("net_arch", [64, 64])
        pi_arch, vf_arch = (list(arch.get("pi", [])), list(arch.get("vf", []))) if isinstance(arch, dict) else (list(arch), list(arch))
        activation = pk.get("activation_fn", "tanh")
        if activation not in ACTIVATIONS:
            raise UserError(f"fast_ppo: unknown activation_fn '{activation}' (valid: {', '.join(ACTIVATIONS)})")
        space = self.lanes.action_space
        n_out = int(space.n) if self.lanes.discrete else int(np.prod(space.shape))
        self.model = NumpyPolicy(self.lanes.n_in, n_out, self.lanes.discrete, pi_arch, vf_arch, activation,
                                 float(pk.get("log_std_init", 0.0)), bool(pk.get("ortho_init", True)), self.rng)
        self.lr, self.lr_linear = hyperparams.schedule(h["learning_rate"], "learning_rate", self.name)
        self.clip, self.clip_linear = hyperparams.schedule(h["clip_range"], "clip_range", self.name)
        vf = h.get("clip_range_vf")
        self.clip_vf = None if vf is None else hyperparams.schedule(vf, "clip_range_vf", self.name)
        self.optimizer = Adam(self.model.flat.size, eps=1e-5)
        self.obs_stats = RunningMeanStd(shape=(self.lanes.n_in,)) if h["normalize"] else None
        self.ret_stats = RunningMeanStd(shape=()) if h["normalize"] else None
        self.steps_trained = 0
        self.history: list[dict[str, float]] = []
        self._vec: Any = None
        self._obs: np.ndarray | None = None
        self._starts: np.ndarray | None = None
        self._ret: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._episodes: list[float] = []
        self.buf: dict[str, np.ndarray] | None = None

    # -- observations -----------------------------------------------------
    def _norm(self, x: np.ndarray) -> np.ndarray:
        if self.obs_stats is None:
            return x
        return np.clip((x - self.obs_stats.mean) / np.sqrt(self.obs_stats.var + 1e-8), -CLIP, CLIP).astype(np.float32)

    def _rows(self, obs: dict[str, np.ndarray], update: bool = False) -> np.ndarray:
        x = self.lanes.obs(obs).numpy()
        if update and self.obs_stats is not None:
            self.obs_stats.update(x.astype(np.float64))
        return self._norm(x)

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """The policy's mode (deterministic) or a sample, for every agent and copy."""
        out, _, _ = self.model.forward(self._rows(obs))
        a = self.model.mode(out) if deterministic else self.model.sample(out, self.rng)
        return self.lanes.split(np.asarray(a))

    def _torch_rows(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.reshape(len(obs), -1).float()
        if self.obs_stats is None:
            return x
        mean = torch.as_tensor(self.obs_stats.mean, dtype=torch.float32)
        std = torch.as_tensor(np.sqrt(self.obs_stats.var + 1e-8), dtype=torch.float32)
        return torch.clamp((x - mean) / std, -CLIP, CLIP)

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution at raw observations ``obs`` (N, d), normalization included."""
        out, _ = self.model.torch_forward(self._torch_rows(obs))
        return self.model.torch_distribution(out)

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The critic's differentiable V at raw observations ``obs`` (N, d)."""
        return self.model.torch_forward(self._torch_rows(obs))[1]

    # -- training ---------------------------------------------------------
    def _progress_remaining(self) -> float:
        total = self.hparams.get("total_steps") or 1
        return max(0.0, 1.0 - self.steps_trained / total)

    def _start(self) -> None:
        h = self.hparams
        self._vec = self.scenario.vector(h["n_envs"], seed=self.seed, backend=h.get("backend", "auto"))
        obs, _ = self._vec.reset()
        self._obs = self._rows(obs, update=True)
        lanes = self._obs.shape[0]
        self._starts = np.ones(lanes, np.float32)
        self._ret = np.zeros(lanes)
        self._raw = np.zeros(lanes)

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``n_steps`` per copy, update, repeat, until ``steps`` environment steps (copies x vector steps)."""
        h = self.hparams
        declare_budget(h, self.steps_trained, steps)  # as the SB3-backed ppo does
        if self._vec is None:
            self._start()
        n, T = h["n_envs"], h["n_steps"]
        done = 0
        while done < steps:
            self._rollout(T)
            done += T * n
            self.steps_trained += T * n
            self._update()
            if progress:
                progress(min(done, steps), steps)

    def _rollout(self, T: int) -> None:
        h, vec, lanes, model = self.hparams, self._vec, self.lanes, self.model
        gamma = h["gamma"]
        L, d = self._obs.shape
        act_shape = () if lanes.discrete else (model.n_out,)
        if self.buf is None:  # preallocated once: every rollout overwrites every slot
            self.buf = {"obs": np.zeros((T, L, d), np.float32), "act": np.zeros((T, L, *act_shape), np.float32),
                        **{k: np.zeros((T, L), np.float32) for k in ("logp", "val", "rew", "start", "adv", "ret")}}
        buf = self.buf
        for t in range(T):
            obs_t = self._obs
            out, v, _ = model.forward(obs_t)
            a = model.sample(out, self.rng)
            logp, _ = model.log_prob(out, a)
            nxt, rew, term, trunc, infos = vec.step(lanes.split(a))
            r = lanes.stack(rew, np.float64)
            terminal = lanes.stack(term, bool)
            ended = terminal | lanes.stack(trunc, bool)
            self._track(r, ended)
            r = self._scale(r, ended)
            boot = np.flatnonzero(ended & ~terminal)
            if len(boot):  # time-limit truncation: bootstrap from the true last observation
                final = self._norm(lanes.final_obs(infos, boot).numpy())
                r[boot] += gamma * model.forward(final)[1]
            buf["obs"][t], buf["act"][t], buf["logp"][t], buf["val"][t], buf["rew"][t] = obs_t, a, logp, v, r
            buf["start"][t] = self._starts
            self._obs = self._rows(nxt, update=True)
            self._starts = ended.astype(np.float32)
        last = model.forward(self._obs)[1]
        ended = np.concatenate([buf["start"][1:], self._starts[None]])  # a lane's episode ended at step t
        adv = gae(buf["rew"], buf["val"], last, ended, gamma, h["gae_lambda"], out=buf["adv"])
        np.add(adv, buf["val"], out=buf["ret"])

    def _track(self, r: np.ndarray, ended: np.ndarray) -> None:
        """Raw episode returns per lane (for ``history``)."""
        self._raw += r
        for i in np.flatnonzero(ended):
            self._episodes.append(float(self._raw[i]))
            self._raw[i] = 0.0

    def _scale(self, r: np.ndarray, ended: np.ndarray) -> np.ndarray:
        """VecNormalize's reward scaling: divide by the running std of the discounted return."""
        if self.ret_stats is None:
            return r.copy()
        self._ret = self._ret * self.hparams["gamma"] + r
        self.ret_stats.update(self._ret)
        self._ret[ended] = 0.0
        return np.clip(r / np.sqrt(self.ret_stats.var + 1e-8), -CLIP, CLIP)

    def _update(self) -> None:
        h, buf, model = self.hparams, self.buf, self.model
        remaining = self._progress_remaining()
        lr = self.lr * (remaining if self.lr_linear else 1.0)
        clip = self.clip * (remaining if self.clip_linear else 1.0)
        clip_vf = None if self.clip_vf is None else self.clip_vf[0] * (remaining if self.clip_vf[1] else 1.0)
        T, L = buf["val"].shape
        flat = {k: v.reshape(T * L, *v.shape[2:]) for k, v in buf.items()}
        size, batch = T * L, h["batch_size"]
        ent_coef, vf_coef, max_norm = h["ent_coef"], h["vf_coef"], h["max_grad_norm"]
        target_kl = h.get("target_kl")
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
        updates = 0
        stop = False
        for _ in range(h["n_epochs"]):
            order = self.rng.permutation(size)
            for start in range(0, size, batch):
                idx = order[start : start + batch]
                rows = len(idx)
                out, values, cache = model.forward(flat["obs"][idx])
                logp, aux = model.log_prob(out, flat["act"][idx])
                adv = flat["adv"][idx]
                if h["normalize_advantage"] and rows > 1:
                    adv = (adv - adv.mean()) / (adv.std(ddof=1) + 1e-8)  # torch's std is the unbiased one
                log_ratio = logp - flat["logp"][idx]
                ratio = np.exp(log_ratio)
                approx_kl = float(((ratio - 1) - log_ratio).mean())
                if target_kl is not None and approx_kl > 1.5 * float(target_kl):
                    stop = True
                    break
                clipped = np.clip(ratio, 1 - clip, 1 + clip)
                surrogate = np.minimum(adv * ratio, adv * clipped)
                # d(-mean surrogate)/d logp: the unclipped branch carries the gradient when it is the smaller
                # one or the ratio is inside the clip range (there both branches agree, as torch's min splits it)
                through = (adv * ratio < adv * clipped) | ((ratio >= 1 - clip) & (ratio <= 1 + clip))
                d_logp = -(adv * ratio * through) / rows
                old_v = flat["val"][idx]
                if clip_vf is not None:
                    used = old_v + np.clip(values - old_v, -clip_vf, clip_vf)
                    passes = (values - old_v >= -clip_vf) & (values - old_v <= clip_vf)
                else:
                    used, passes = values, True
                err = flat["ret"][idx] - used
                d_value = (-2.0 * vf_coef / rows) * err * passes
                model.backward(cache, aux, d_logp, -ent_coef, d_value)
                clip_grad_norm(model.grad, max_norm)
                self.optimizer.step(model.flat, model.grad, lr)
                updates += 1
                stats["policy_loss"] += float(-surrogate.mean())
                stats["value_loss"] += float((err * err).mean())
                stats["approx_kl"] += approx_kl
                stats["clip_fraction"] += float((np.abs(ratio - 1) > clip).mean())
            if stop:
                break
        row = {"steps": self.steps_trained, **{k: v / max(1, updates) for k, v in stats.items()}}
        if self._episodes:
            row["episode_return"] = float(np.mean(self._episodes[-100:]))
        self.history.append(row)

    # -- checkpoints ------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``fast_ppo.npz`` (parameters, Adam moments, normalization statistics), ``fast_ppo_rng.json``
        (the generator's state) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"flat": self.model.flat, "adam_m": self.optimizer.m, "adam_v": self.optimizer.v,
                                         "adam_t": np.array(self.optimizer.t)}
        arrays.update(stats_arrays({"obs": self.obs_stats, "ret": self.ret_stats}))
        np.savez(path / "fast_ppo.npz", **arrays)
        save_generator(self.rng, path / "fast_ppo_rng.json")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> FastPPO:
        """Restore parameters, Adam, normalization statistics and the generator."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        with np.load(path / "fast_ppo.npz") as data:
            agent.model.flat[:] = data["flat"]
            agent.optimizer.m[:], agent.optimizer.v[:] = data["adam_m"], data["adam_v"]
            agent.optimizer.t = int(data["adam_t"])
            restore_stats(data, {"obs": agent.obs_stats, "ret": agent.ret_stats})
        load_generator(agent.rng, path / "fast_ppo_rng.json")
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
