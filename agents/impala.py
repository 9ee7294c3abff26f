"""IMPALA: a distributed actor-critic on Ray, with V-trace off-policy correction (Espeholt et
al. 2018, "IMPALA: Scalable Distributed Deep-RL with Importance Weighted Actor-Learner
Architectures").

Rollout workers are Ray actors. Each steps its own vectorized scenario copies (the batched
MuJoCo backend where it applies, through ``scenario.vector``) with the policy weights it was
last sent, for ``unroll_length`` steps, and returns the trajectory with its behaviour
log-probabilities and the policy version that produced it. The learner (this process)
takes trajectories as they arrive (``ray.wait``), corrects them for policy lag with V-trace
(``agents.vtrace``), takes one gradient step per ``batch_rollouts`` trajectories, and sends
the worker the newest weights with its next rollout request, so acting and learning overlap.
Policy lag (learner version minus behaviour version) is recorded in ``history``.

Fault tolerance: a rollout worker that dies (killed, crashed, its node lost) loses only its
rollout in flight, which is never counted; the learner starts a replacement (up to
``max_worker_restarts`` in a run, each with fresh seeds) and keeps learning from the others
meanwhile. Past the limit the run continues on the workers left, and fails only if none is.
Steps are counted from received trajectories only, so none is counted twice and the step
count is exact. With one worker a run is reproducible from its seed; with more, the order in
which trajectories arrive (and so each one's policy lag) depends on timing.

Defaults follow the paper where it gives them (gradient-norm clip 40, unroll 20, rho_bar =
c_bar = 1); measured here: a clip of 0.5 (SB3's A2C value) left 2 of 5 InvertedPendulum
seeds near 50-80 after 200k steps, 40 reaches 1000 on them.

Ray: a local instance bound to the loopback interface unless ``ray_address`` names a
cluster (``--set ray_address=auto`` or ``ray://host:10001``); inside a Ray task (``testbed
run --executor ray``) the running instance is used. RLlib's IMPALA is not used: its new API
stack needs its own env runners and cannot step our vectorized, layered scenarios or store
our checkpoints; the actor model here is plain Ray core.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents import training_state
from agents.actor_critic import ActorCritic, LanePolicy, Lanes, worker_state
from agents.base import Capabilities, ProgressFn
from agents.checkpoint import save_meta
from agents.runtime import require_ray, start_ray
from agents.vtrace import vtrace
from scenarios import Scenario, UserError
from scenarios.errors import wrap_seed

DEFAULTS: dict[str, Any] = {
    "learning_rate": 6e-4, "gamma": 0.99, "unroll_length": 20, "n_workers": 2, "n_envs": 8, "batch_rollouts": 1,
    "ent_coef": "auto", "vf_coef": 0.5, "max_grad_norm": 40.0, "rho_bar": 1.0, "c_bar": 1.0, "pg_rho_bar": 1.0,
    "vtrace_lambda": 1.0, "net_arch": [64, 64], "log_std_init": 0.0, "optimizer": "adam", "optimizer_eps": 1e-5,
    "agent_id": True, "max_worker_restarts": 3, "worker_cpus": 1.0, "ray_address": None, "torch_threads": 1,
}


class RolloutWorker:
    """A Ray actor: scenario copies and a local policy, stepped ``unroll_length`` steps per request."""

    def __init__(self, scenario: Scenario, seed: int, h: dict[str, Any]) -> None:
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.h, self.gamma = h, h["gamma"]
        self.lanes = Lanes(scenario, "impala", h["agent_id"])
        self.model = ActorCritic(self.lanes.n_in, self.lanes.action_space, list(h["net_arch"]), h["log_std_init"])
        self.n = h["n_envs"]
        self.vec = scenario.vector(self.n, seed=seed)
        self.obs, _ = self.vec.reset()

    def pid(self) -> int:
        """This worker's process id (tests kill it)."""
        return os.getpid()

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """``actor_critic.worker_state`` of this worker: None where its copies cannot be saved (Box2D)."""
        return worker_state(self.vec, self.obs)

    def set_state(self, tree: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Go on from ``state()``'s data (of a worker built with the same scenario and settings)."""
        mine = {"vec": self.vec, "obs": self.obs, "rng": torch.get_rng_state()}
        training_state.restore(mine, tree, arrays)
        self.obs = mine["obs"]
        torch.set_rng_state(mine["rng"])

    def rollout(self, weights: dict[str, torch.Tensor], version: int) -> dict[str, Any]:
        """``unroll_length`` steps with ``weights``: time-major observations, actions, behaviour
        log-probs, rewards, episode ends, and the true last observation of every truncated lane."""
        self.model.load_state_dict(weights)
        xs, acts, logps, rews, dones, cuts, episodes = [], [], [], [], [], [], []
        for t in range(self.h["unroll_length"]):
            x = self.lanes.obs(self.obs)
            with torch.no_grad():
                dist = self.model.dist(x)
                a = dist.sample()
                logp = dist.log_prob(a)
            self.obs, rew, term, trunc, infos = self.vec.step(self.lanes.split(a.numpy()))
            te, tr = self.lanes.stack(term, bool), self.lanes.stack(trunc, bool)
            cut = np.flatnonzero(tr & ~te)
            if len(cut):
                cuts.append((t, cut, self.lanes.final_obs(infos, cut)))
            xs.append(x), acts.append(a), logps.append(logp)
            rews.append(torch.as_tensor(self.lanes.stack(rew))), dones.append(torch.as_tensor(te | tr))
            episodes += [float(sum(i["episode"]["returns"].values())) for i in infos if "episode" in i]
        return {"obs": torch.stack(xs), "last_obs": self.lanes.obs(self.obs), "actions": torch.stack(acts),
                "behaviour_logp": torch.stack(logps), "rewards": torch.stack(rews), "dones": torch.stack(dones),
                "cuts": cuts, "version": version, "steps": self.h["unroll_length"] * self.n, "episodes": episodes}


class IMPALA(LanePolicy):
    """Distributed actor-critic on Ray: rollout-worker actors, a central V-trace learner, worker restarts."""

    name: ClassVar[str] = "impala"
    capabilities = Capabilities(multi_agent="any", competitive=False, learning="off-policy", goal_observations=True)

    DEFAULTS = DEFAULTS
    POSITIVE = ("n_workers", "n_envs", "unroll_length", "batch_rollouts")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        require_ray(self.name)  # before anything is built: Ray is the ray extra
        h = self._setup(scenario, seed, overrides)
        lr, eps = h["learning_rate"], h["optimizer_eps"]
        self.optimizer = (torch.optim.Adam(self.model.parameters(), lr=lr, eps=eps) if h["optimizer"] == "adam"
                          else torch.optim.RMSprop(self.model.parameters(), lr=lr, eps=eps, alpha=0.99))
        self.version = 0
        self.worker_restarts = 0
        self.on_rollout: Any = None  # test hook: called with (learner, workers) after each received rollout
        self._workers: list[Any] = []
        """Each worker's state at the end of the last call and the rollout it had in flight then
        (``[state, trajectory]``, as data), so the next call goes on where this one stopped."""

    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Train from ``n_workers`` Ray rollout actors until ``steps`` environment steps have been received."""
        if steps <= 0:
            return
        h = self.hparams
        need = h["n_workers"] * h["worker_cpus"]  # Ray schedules an actor only where its CPUs are free
        ray, started_here = start_ray(max(h["n_workers"] + 1, math.ceil(need) + 1), h["ray_address"], needed_by="impala")
        have = float(ray.cluster_resources().get("CPU", 0))
        if have < need:  # the actors would never be placed, and learn would wait for them forever
            if started_here:
                ray.shutdown()
            raise UserError(f"impala: {h['n_workers']} workers x worker_cpus {h['worker_cpus']} need {need:g} CPUs; the Ray "
                            f"cluster has {have:g} (valid: n_workers x worker_cpus <= {have:g})")
        RayActorError = ray.exceptions.RayActorError  # noqa: N806

        remote = ray.remote(num_cpus=h["worker_cpus"])(RolloutWorker)
        base = wrap_seed((0 if self.seed is None else int(self.seed)) * 1_000_003 + 7919 * self.version)
        incarnation = 0

        def spawn() -> Any:
            nonlocal incarnation
            incarnation += 1
            return remote.remote(self.scenario, wrap_seed(base + 10_007 * incarnation), h)

        workers: dict[int, Any] = {k: spawn() for k in range(h["n_workers"])}
        carried = self._workers if len(self._workers) == h["n_workers"] else []
        if carried:  # the workers go on where the last call's stopped, their rollouts in flight first
            ray.get([workers[k].set_state.remote(*state) for k, (state, _) in enumerate(carried)])
        arrived = [(k, traj) for k, (_, traj) in enumerate(carried)]
        self._workers = []
        weights = ray.put(self._weights())
        inflight = {w.rollout.remote(weights, self.version): k for k, w in workers.items() if not carried}
        received, batch, start = 0, [], time.perf_counter()
        finished = False
        try:
            while received < steps:
                if not inflight and not arrived:
                    raise RuntimeError("impala: every rollout worker failed and no restarts are left")
                try:
                    if arrived:
                        k, traj = arrived.pop(0)
                    else:
                        ready, _ = ray.wait(list(inflight), num_returns=1)
                        k = inflight.pop(ready[0])
                        traj = ray.get(ready[0])
                except RayActorError:  # the worker died with its rollout: nothing of it is counted
                    if self.worker_restarts >= h["max_worker_restarts"]:
                        workers.pop(k)
                        continue
                    self.worker_restarts += 1
                    workers[k] = spawn()
                    inflight[workers[k].rollout.remote(weights, self.version)] = k
                    continue
                received += traj["steps"]
                batch.append(traj)
                if len(batch) >= h["batch_rollouts"]:
                    row = self._update(batch)
                    row.update(steps=self.steps_trained + received, steps_per_second=received / (time.perf_counter() - start),
                               worker_restarts=self.worker_restarts)
                    self.history.append(row)
                    batch = []
                    weights = ray.put(self._weights())
                inflight[workers[k].rollout.remote(weights, self.version)] = k
                if self.on_rollout is not None:
                    self.on_rollout(self, workers)
                if progress:
                    progress(min(received, steps), steps)
            finished = True
        finally:
            if finished and len(inflight) == len(workers) == h["n_workers"]:
                # what the workers hold now, and the rollouts they were asked for, carry to the next call
                trajs = {inflight[ref]: traj for ref, traj in zip(inflight, ray.get(list(inflight)))}
                states = ray.get([workers[k].state.remote() for k in range(h["n_workers"])])
                if all(s is not None for s in states):  # else (Box2D copies) the next call starts new episodes
                    self._workers = [[list(states[k]), trajs[k]] for k in range(h["n_workers"])]
            for w in workers.values():
                ray.kill(w)
            if started_here:
                ray.shutdown()
        self.steps_trained += received

    def _weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _update(self, batch: list[dict[str, Any]]) -> dict[str, float]:
        """One V-trace actor-critic step on trajectories concatenated along the lane axis."""
        h, gamma = self.hparams, self.hparams["gamma"]
        obs = torch.cat([b["obs"] for b in batch], dim=1)  # (T, B, n_in)
        T, B = obs.shape[:2]
        actions = torch.cat([b["actions"] for b in batch], dim=1)
        behaviour = torch.cat([b["behaviour_logp"] for b in batch], dim=1)
        rewards = torch.cat([b["rewards"] for b in batch], dim=1).float()
        dones = torch.cat([b["dones"] for b in batch], dim=1)
        last = torch.cat([b["last_obs"] for b in batch])
        discounts = gamma * (~dones).float()
        offset = 0
        with torch.no_grad():
            for b in batch:  # a truncated lane's reward gets gamma V(its true last observation)
                for t, cut, final in b["cuts"]:
                    rewards[t, offset + torch.tensor(cut)] += gamma * self.model.value(final)
                offset += b["obs"].shape[1]
            bootstrap = self.model.value(last)
        flat = obs.reshape(T * B, -1)
        dist = self.model.dist(flat)
        flat_actions = actions.reshape(T * B, *actions.shape[2:])
        target = dist.log_prob(flat_actions).reshape(T, B)
        values = self.model.value(flat).reshape(T, B)
        vt = vtrace(behaviour, target.detach(), rewards, discounts, values.detach(), bootstrap, h["rho_bar"],
                    h["c_bar"], h["pg_rho_bar"], h["vtrace_lambda"])
        pg_loss = -(target * vt.pg_advantages).mean()
        v_loss = 0.5 * ((vt.vs - values) ** 2).mean()
        entropy = dist.entropy().mean()
        loss = pg_loss + h["vf_coef"] * v_loss - self.ent_coef * entropy
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), h["max_grad_norm"])
        self.optimizer.step()
        lag = float(np.mean([self.version - b["version"] for b in batch]))
        self.version += 1
        episodes = [r for b in batch for r in b["episodes"]]
        row = {"policy_lag": lag, "policy_loss": pg_loss.item(), "value_loss": v_loss.item(), "entropy": entropy.item()}
        if episodes:
            row["episode_return"] = float(np.mean(episodes))
        return row

    def save(self, path: str | Path) -> Path:
        """Write ``impala.pt`` (network, optimizer, policy version) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "version": self.version},
                   path / "impala.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> IMPALA:
        """Restore the network, the optimizer state and the policy version (training continues)."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        state = torch.load(path / "impala.pt", weights_only=True)
        agent.model.load_state_dict(state["model"])
        agent.optimizer.load_state_dict(state["optimizer"])
        agent.version = int(state["version"])
        agent.steps_trained = int(meta.get("steps", 0))
        return agent
