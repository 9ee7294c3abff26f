"""Multi-agent PPO: ``ippo`` (independent critics on local observations) and
``mappo`` (centralized critic), one implementation.

Written for our vectorized face rather than taken from a library: EPyMARL no
longer finds its MPE tasks with PettingZoo 1.27, MARLlib pins ray 1.8 / gym
0.20, BenchMARL needs TorchRL, and SB3's PPO cannot take a centralized critic.
The loop follows MAPPO (Yu et al. 2022) and reads top to bottom:

- agents are split into parameter-sharing groups (``sharing``: full / group /
  none, see ``agents.marl.groups``); each group has its own actor and critic;
- ``critic``: ``local`` (IPPO: own observation + agent id), ``central`` (every
  agent's observation concatenated, plus the agent id) or ``agent_specific``
  (the central state plus the agent's own observation, MAPPO's "AS" state);
- value normalization (``value_norm``: critic outputs are in normalized units and
  denormalized for GAE and bootstraps only when it is on, as in the MAPPO
  reference's ``r_mappo.py``), GAE, clipped surrogate, entropy bonus;
- the value loss of the MAPPO reference by default: ``value_clip`` (the new
  prediction kept within ``clip_range`` of the rollout's, the larger of the
  clipped and unclipped losses) and ``huber_loss`` with ``huber_delta`` 10
  (squared error / 2 below it); both off gives the plain squared error / 2;
- a time-limit truncation bootstraps from V(final observation); a termination
  does not; steps of agents that are no longer live are masked out;
- the torsos: ``activation`` (tanh / relu), ``layer_norm`` (the reference's feature normalization
  and a LayerNorm after every hidden layer) and ``orthogonal_init`` (its initialization);
- ``recurrent: true`` gives GRU actors and critics trained on whole rollout
  chunks (hidden state reset at episode starts);
- execution uses the actor alone, on each agent's own observation.

Feed-forward torsos (the default) are evaluated and differentiated in NumPy over the torch
modules' own storage (``agents.marl.numpy_nets``: the same loss and gradients, tested against
autograd; rollout actions drawn from the agent's NumPy generator); GRU and LayerNorm torsos use
autograd.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from agents import hyperparams
from agents.advantages import gae
from agents.base import Capabilities, ProgressFn, TableHyperparameters
from agents.checkpoint import save_meta
from agents.marl.groups import Group, encode, make_groups, obs_dim
from agents.gradients import clip_gradients
from agents.marl.nets import ACTIVATIONS, PolicyHead, Torso, ValueNorm
from agents.marl.numpy_nets import NumpyGroup, ppo_gradients, supported
from scenarios import Scenario, UserError
from scenarios.teams import team_returns
from agents.observations import accepts_unbatched

CRITICS = ("local", "central", "agent_specific")
DEFAULTS: dict[str, Any] = {
    "n_envs": 16, "n_steps": 25, "epochs": 10, "minibatches": 1, "learning_rate": 7e-4, "gamma": 0.99,
    "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01, "vf_coef": 1.0, "max_grad_norm": 10.0,
    "net_arch": [64, 64], "sharing": "group", "agent_id": True, "critic": "central", "value_norm": True,
    "recurrent": False, "torch_threads": 1, "backend": "auto",
    "value_clip": True, "huber_loss": True, "huber_delta": 10.0,
    "activation": "tanh", "layer_norm": False, "orthogonal_init": False,
}


class GroupNets(nn.Module):
    """Actor and critic of one parameter-sharing group."""

    def __init__(self, group: Group, critic_dim: int, net_arch: list[int], recurrent: bool,
                 activation: str = "tanh", layer_norm: bool = False, orthogonal: bool = False) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        self.actor = Torso(group.in_dim, net_arch, recurrent, act, layer_norm, orthogonal)
        self.head = PolicyHead(self.actor.out_dim, group.act_dim, group.discrete)
        self.critic = Torso(critic_dim, net_arch, recurrent, act, layer_norm, orthogonal)
        self.value = nn.Linear(self.critic.out_dim, 1)
        self.value_norm = ValueNorm()


class MultiAgentPPO(TableHyperparameters):
    """PPO for any number of agents and groups, with a local or centralized critic."""

    DEFAULTS = DEFAULTS

    name: ClassVar[str] = "mappo"
    critic_default: ClassVar[str] = "central"
    capabilities = Capabilities(multi_agent="any", learning="on-policy")

    def __init__(self, scenario: Scenario, seed: int | None = None, **overrides: Any) -> None:
        self.scenario, self.seed = scenario, seed
        self.hparams = h = hyperparams.resolve(self.name, scenario.id, overrides, self.valid_hyperparameters(),
                                               {**DEFAULTS, "critic": self.critic_default})
        if h["critic"] not in CRITICS:
            raise UserError(f"unknown critic '{h['critic']}' (valid: {', '.join(CRITICS)})")
        torch.set_num_threads(h["torch_threads"])
        if seed is not None:
            torch.manual_seed(seed)
        self.groups = make_groups(scenario, h["sharing"], h["agent_id"])
        columns = h["n_envs"] * min(len(g.agents) for g in self.groups)  # a minibatch is a set of whole sequences
        if h["minibatches"] > columns:
            raise UserError(f"{self.name}: minibatches {h['minibatches']} exceeds the {columns} sequences (copies x agents "
                            f"of the smallest group) a rollout splits into (valid: minibatches <= {columns})")
        self.agents = list(scenario.possible_agents)
        self.obs_spaces = {a: scenario.observation_space(a) for a in self.agents}
        self.state_dim = sum(obs_dim(s) for s in self.obs_spaces.values())
        self.nets = nn.ModuleList(
            GroupNets(g, self._critic_dim(g), list(h["net_arch"]), h["recurrent"], h["activation"], h["layer_norm"],
                      h["orthogonal_init"]) for g in self.groups
        )
        self._numpy = [NumpyGroup(n, h["activation"]) if supported(n.actor, n.critic) else None
                       for n in self.nets]
        """Per group, the NumPy evaluation of its feed-forward networks and their Adam
        (``agents.marl.numpy_nets``), used by the rollouts and the update; None (autograd and
        ``opts``) for GRU or LayerNorm torsos."""
        self.opts = [None if fast is not None else torch.optim.Adam(n.parameters(), lr=h["learning_rate"], eps=1e-5, fused=True)
                     for n, fast in zip(self.nets, self._numpy)]
        self.rng = np.random.default_rng(seed)
        """Draws the rollouts' actions on the NumPy path."""
        self.steps_trained = 0
        self.history: list[dict[str, Any]] = []
        self._recent: list = []
        self.live_fraction = 1.0
        """Share of agent-steps in the last rollout whose agent was live (the rest are masked out)."""
        self._memory: dict[int, torch.Tensor] = {}

    # ----- inputs -------------------------------------------------------------------------------
    def _critic_dim(self, g: Group) -> int:
        ids = len(g.agents) if g.use_id else 0
        return {"local": g.in_dim, "central": self.state_dim + ids, "agent_specific": self.state_dim + g.in_dim}[
            self.hparams["critic"]
        ]

    def _critic_inputs(self, g: Group, x: np.ndarray, obs: dict[str, np.ndarray]) -> np.ndarray:
        mode = self.hparams["critic"]
        if mode == "local":
            return x
        n, k = x.shape[:2]
        state = np.concatenate([encode(obs[a], self.obs_spaces[a]) for a in self.agents], axis=1)
        state = np.broadcast_to(state[:, None, :], (n, k, state.shape[1]))
        if mode == "agent_specific":
            return np.concatenate([state, x], axis=2)
        if g.use_id:
            return np.concatenate([state, x[:, :, -k:]], axis=2)
        return np.array(state)  # a writable copy of the broadcast view

    # ----- acting -------------------------------------------------------------------------------
    def reset_memory(self, indices: list[int] | None = None) -> None:
        """Forget recurrent state (all copies, or copies ``indices``) at episode starts."""
        if indices is None:
            self._memory = {}
            return
        for gi, h in self._memory.items():
            k = len(self.groups[gi].agents)
            if h.shape[-1] == 0:
                continue
            hv = h.view(-1, k, h.shape[-1])
            hv[list(indices)] = 0.0

    @accepts_unbatched
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = True) -> dict[str, np.ndarray]:
        """Each agent's action from its own observation only (decentralized execution)."""
        out: dict[str, np.ndarray] = {}
        with torch.no_grad():
            for gi, (g, net) in enumerate(zip(self.groups, self.nets)):
                x = torch.as_tensor(g.inputs(obs))
                n, k = x.shape[:2]
                h = self._memory.get(gi)
                if h is None or h.shape[0] != n * k:
                    h = net.actor.initial(n * k)
                z, h = net.actor.step(x.reshape(n * k, -1), h)
                self._memory[gi] = h
                dist = net.head.dist(z)
                a = net.head.mode(dist) if deterministic else dist.sample()
                self._split(g, a.numpy().reshape(n, k, *a.shape[1:]), out)
        return out

    def policy_distribution(self, agent: str, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The differentiable action distribution of ``agent`` at raw observations ``obs`` (N, d). (feed-forward, per-agent actors)."""
        gi = next(i for i, g in enumerate(self.groups) if agent in g.agents)
        g, net = self.groups[gi], self.nets[gi]
        if g.use_id or net.actor.gru is not None:
            raise UserError(f"{self.name}: only feed-forward per-agent actors (sharing=none, recurrent=false) are differentiable views")
        z, _ = net.actor.step(obs.reshape(len(obs), -1), net.actor.initial(len(obs)))
        return net.head.dist(z)

    def value(self, agent: str, obs: torch.Tensor) -> torch.Tensor:
        """The critic reads the team's inputs, not one agent's observation: not exposed."""
        raise UserError(f"{self.name}'s critic is not a function of one agent's observation")

    def _split(self, g: Group, a: np.ndarray, out: dict[str, np.ndarray]) -> None:
        for j, agent in enumerate(g.agents):
            if g.discrete:
                out[agent] = a[:, j].astype(np.int64)
            else:
                out[agent] = np.clip(a[:, j], g.act_space.low, g.act_space.high).astype(np.float32)

    # ----- learning -----------------------------------------------------------------------------
    def learn(self, steps: int, progress: ProgressFn | None = None) -> None:
        """Collect ``n_steps`` per copy, update every group, repeat until ``steps`` environment steps;
        a second call continues the first's copies, episodes and recurrent states."""
        h = self.hparams
        n, T, gamma = h["n_envs"], h["n_steps"], h["gamma"]
        G = len(self.groups)
        if getattr(self, "_rollout", None) is None:  # kept across calls: a second learn() continues the episodes
            vec = self.scenario.vector(n, seed=self.seed, backend=h["backend"])
            obs, _ = vec.reset()
            ha = [net.actor.initial(n * len(g.agents)) for g, net in zip(self.groups, self.nets)]
            hc = [net.critic.initial(n * len(g.agents)) for g, net in zip(self.groups, self.nets)]
            self._rollout = (vec, obs, ha, hc, np.ones(n, np.float32))
        vec, obs, ha, hc, starts = self._rollout
        recent = self._recent  # episodes since the last history entry, carried across learn() calls
        done_steps = 0
        while done_steps < steps:
            buf: list[dict[str, list]] = [{k: [] for k in ("x", "c", "a", "logp", "v", "vraw", "r", "done", "mask", "start")} for _ in range(G)]
            h0 = [(x.clone(), y.clone()) for x, y in zip(ha, hc)]
            self._value_stats = [net.value_norm.stats() for net in self.nets]
            for _t in range(T):
                actions: dict[str, np.ndarray] = {}
                alive = {a: vec.active[a].copy() for a in self.agents}
                with torch.no_grad():
                    for gi, (g, net) in enumerate(zip(self.groups, self.nets)):
                        k = len(g.agents)
                        x = g.inputs(obs)
                        c = self._critic_inputs(g, x, obs)
                        s = np.repeat(starts, k)
                        fast = self._numpy[gi]
                        if fast is not None:  # feed-forward: no hidden state to carry
                            a, logp = fast.sample(fast.policy(x.reshape(n * k, -1)), self.rng)
                            raw = fast.values(c.reshape(n * k, -1))
                        else:
                            za, ha[gi] = net.actor.step(torch.as_tensor(x).reshape(n * k, -1), ha[gi], torch.as_tensor(s))
                            zc, hc[gi] = net.critic.step(torch.as_tensor(c).reshape(n * k, -1), hc[gi], torch.as_tensor(s))
                            a, logp = (t.numpy() for t in net.head.sample(za))
                            raw = net.value(zc)[:, 0].numpy()
                        b = buf[gi]
                        b["x"].append(x)
                        b["c"].append(c)
                        b["a"].append(a)
                        b["logp"].append(logp)
                        b["vraw"].append(raw)
                        b["v"].append(self._denormalize(gi, raw))
                        b["mask"].append(np.stack([alive[ag] for ag in g.agents], axis=1).reshape(-1).astype(np.float32))
                        b["start"].append(s)
                        self._split(g, a.reshape(n, k, *a.shape[1:]), actions)
                obs, rew, term, trunc, infos = vec.step(actions)
                ended = np.array(["episode" in info for info in infos])
                boot = self._truncation_bootstrap(infos, term, trunc, hc, ended) if ended.any() else None
                for gi, g in enumerate(self.groups):
                    r = np.stack([rew[a] for a in g.agents], axis=1).astype(np.float32)
                    d = np.stack([term[a] | trunc[a] for a in g.agents], axis=1)
                    if boot is not None:
                        r = r + gamma * boot[gi]
                    buf[gi]["r"].append(r.reshape(-1))
                    buf[gi]["done"].append(d.reshape(-1).astype(np.float32))
                for i in np.flatnonzero(ended):
                    recent.append(team_returns(infos[i]["episode"]["returns"]))
                starts = ended.astype(np.float32)
                done_steps += n
            with torch.no_grad():
                last_v = []
                for gi, g in enumerate(self.groups):
                    k = len(g.agents)
                    c = self._critic_inputs(g, g.inputs(obs), obs)
                    last_v.append(self._denormalize(gi, self._raw_values(gi, c.reshape(n * k, -1), hc[gi], np.repeat(starts, k))))
            self.live_fraction = float(np.mean([np.mean(buf[gi]["mask"]) for gi in range(G)]))
            for gi in range(G):
                self._update(gi, buf[gi], last_v[gi], h0[gi])
            if recent:
                self.history.append({"steps": self.steps_trained + done_steps, **_mean(recent)})
                recent.clear()
            if progress:
                progress(min(done_steps, steps), steps)
        self.steps_trained += done_steps
        self._rollout = (vec, obs, ha, hc, starts)

    def _truncation_bootstrap(self, infos: list[dict], term: dict, trunc: dict, hc: list[torch.Tensor], ended: np.ndarray) -> list[np.ndarray]:
        """gamma * V(final obs) is added for agents truncated (not terminated) this step."""
        n = len(infos)
        final = {a: np.zeros((n, *self.obs_spaces[a].shape), self.obs_spaces[a].dtype) for a in self.agents}
        for i in np.flatnonzero(ended):
            for a in self.agents:
                final[a][i] = infos[i]["final_observation"][a]
        out = []
        with torch.no_grad():
            for gi, g in enumerate(self.groups):
                k = len(g.agents)
                c = self._critic_inputs(g, g.inputs(final), final)
                v = self._denormalize(gi, self._raw_values(gi, c.reshape(n * k, -1), hc[gi], None)).reshape(n, k)
                cut = np.stack([trunc[a] & ~term[a] for a in g.agents], axis=1) & ended[:, None]
                out.append(np.where(cut, v, 0.0).astype(np.float32))
        return out

    def _raw_values(self, gi: int, c: np.ndarray, hc: torch.Tensor, starts: np.ndarray | None) -> np.ndarray:
        """Group ``gi``'s raw critic outputs at critic inputs ``c`` (rows), from recurrent state ``hc``
        (left unchanged) with episode starts ``starts`` (rows; None: none)."""
        fast = self._numpy[gi]
        if fast is not None:
            return fast.values(c)
        net = self.nets[gi]
        zc, _ = net.critic.step(torch.as_tensor(c), hc.clone(), None if starts is None else torch.as_tensor(starts))
        return net.value(zc)[:, 0].numpy()

    def _denormalize(self, gi: int, raw: np.ndarray) -> np.ndarray:
        """Group ``gi``'s critic outputs in return units: denormalized (by the statistics read at the
        start of the rollout, which change only in updates) when ``value_norm`` is on."""
        if not self.hparams["value_norm"]:
            return raw
        mean, std = self._value_stats[gi]
        return (raw * std + mean).astype(np.float32)

    def value_loss(self, pred: torch.Tensor, old_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample value loss (MAPPO's ``cal_value_loss``): Huber or squared error / 2 of the
        error, and with ``value_clip`` the larger of it and the clipped prediction's error."""
        h = self.hparams
        delta = h["huber_delta"]

        def per_sample(err: torch.Tensor) -> torch.Tensor:
            if h["huber_loss"]:
                return nn.functional.huber_loss(err, torch.zeros_like(err), reduction="none", delta=delta)
            return 0.5 * err**2

        loss = per_sample(target - pred)
        if h["value_clip"]:
            clip = h["clip_range"]
            clipped = old_pred + (pred - old_pred).clamp(-clip, clip)
            loss = torch.max(loss, per_sample(target - clipped))
        return loss

    def minibatch_loss(self, net: GroupNets, xs: torch.Tensor, cs: torch.Tensor, acts: torch.Tensor, olp: torch.Tensor,
                       ov: torch.Tensor, tgt: torch.Tensor, A: torch.Tensor, m: torch.Tensor, st: torch.Tensor,
                       ha0: torch.Tensor, hc0: torch.Tensor) -> torch.Tensor:
        """The differentiable loss of one minibatch of sequences (T, B, ...): actor and critic inputs,
        actions, the rollout's log-probabilities and raw values, value targets, advantages, live mask,
        episode starts and initial hidden states. Its NumPy twin is ``numpy_nets.ppo_gradients``."""
        h = self.hparams
        clip = h["clip_range"]
        za = net.actor.sequence(xs, ha0, st)
        zc = net.critic.sequence(cs, hc0, st)
        logp, ent = net.head.log_prob_entropy(za, acts)
        ratio = (logp - olp).exp()
        pg = -torch.min(ratio * A, ratio.clamp(1 - clip, 1 + clip) * A)
        vloss = self.value_loss(net.value(zc)[..., 0], ov, tgt)
        denom = m.sum().clamp(min=1.0)
        return ((pg + h["vf_coef"] * vloss - h["ent_coef"] * ent) * m).sum() / denom

    def _update(self, gi: int, b: dict[str, list], last_v: np.ndarray, h0: tuple[torch.Tensor, torch.Tensor]) -> None:
        h = self.hparams
        g, net, opt = self.groups[gi], self.nets[gi], self.opts[gi]
        gamma, lam = h["gamma"], h["gae_lambda"]
        T = len(b["r"])
        r, done, v = (np.stack(b[k]) for k in ("r", "done", "v"))  # (T, B)
        adv = gae(r, v, last_v, done, gamma, lam)
        ret = torch.as_tensor(adv + v)
        B = r.shape[1]
        x = torch.as_tensor(np.stack(b["x"])).reshape(T, B, -1)
        c = torch.as_tensor(np.stack(b["c"])).reshape(T, B, -1)
        a = torch.as_tensor(np.stack(b["a"]))
        old_logp = torch.as_tensor(np.stack(b["logp"]))
        old_v = torch.as_tensor(np.stack(b["vraw"]))
        mask = torch.as_tensor(np.stack(b["mask"]))
        starts = torch.as_tensor(np.stack(b["start"]))
        adv_t = torch.as_tensor(adv)
        live = mask > 0
        n_live = int(live.sum())
        if n_live == 0:  # no agent of the group was live in this rollout: nothing to learn from
            return
        if n_live > 1:  # as SB3: one sample has no spread to normalize by
            adv_t = (adv_t - adv_t[live].mean()) / (adv_t[live].std() + 1e-8)
        if h["value_norm"]:
            net.value_norm.update(ret[live])
            target = net.value_norm.normalize(ret)
        else:
            target = ret
        chunks = max(1, min(h["minibatches"], B))
        steps = (x, c, a, old_logp, old_v, target, adv_t, mask, starts)  # (T, B, ...): columns are sequences
        if self._numpy[gi] is not None:
            self._numpy_epochs(gi, [t.numpy() for t in (x, c, a, old_logp, old_v, target, adv_t, mask)], chunks)
            return
        for _ in range(h["epochs"]):
            # one minibatch is the whole rollout: its order does not matter, so it is not copied
            parts = [(*steps, *h0)] if chunks == 1 else [
                (*(t[:, cols] for t in steps), h0[0][cols], h0[1][cols]) for cols in torch.randperm(B).chunk(chunks)]
            for part in parts:
                loss = self.minibatch_loss(net, *part)
                opt.zero_grad()
                loss.backward()
                clip_gradients(net.parameters(), h["max_grad_norm"])
                opt.step()

    def _numpy_epochs(self, gi: int, arrays: list[np.ndarray], chunks: int) -> None:
        """The update's epochs on the NumPy path: ``arrays`` are the rollout's (T, B, ...) actor and critic
        inputs, actions, log-probabilities, raw values, targets, advantages and mask; the same
        minibatches as the autograd path (``chunks`` groups of columns, every time step)."""
        h, g, fast = self.hparams, self.groups[gi], self._numpy[gi]
        T, B = arrays[0].shape[:2]
        if chunks > 1:
            for _ in range(h["epochs"]):
                for cols in torch.randperm(B).chunk(chunks):
                    ppo_gradients(fast, *(t[:, cols.numpy()].reshape(-1, *t.shape[2:]) for t in arrays), h)
                    fast.step(h["learning_rate"], h["max_grad_norm"])
            return
        rows, shared = [t.reshape(T * B, *t.shape[2:]) for t in arrays], None
        k = len(g.agents)
        if h["critic"] != "local" and k > 1:  # the k agents of a copy share its state (rows in order)
            shared = np.ascontiguousarray(rows[1].reshape(-1, k, rows[1].shape[1])[:, 0, : self.state_dim])
            rows[1] = np.ascontiguousarray(rows[1][:, self.state_dim :])
        for _ in range(h["epochs"]):
            ppo_gradients(fast, *rows, h, shared=shared)
            fast.step(h["learning_rate"], h["max_grad_norm"])

    # ----- checkpoints --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``marl.pt`` (every group's networks and value statistics) and ``agent.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.nets.state_dict(), path / "marl.pt")
        save_meta(self, path)
        return path

    @classmethod
    def load(cls, path: Path, scenario: Scenario, meta: dict[str, Any]) -> MultiAgentPPO:
        """Restore the networks of every group."""
        agent = cls(scenario, seed=meta.get("seed"), **meta["hparams"])
        agent.nets.load_state_dict(torch.load(path / "marl.pt", weights_only=True))
        agent.steps_trained = int(meta.get("steps", 0))
        return agent


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


class MAPPO(MultiAgentPPO):
    """MAPPO: PPO with a centralized critic (global state), decentralized actors."""

    name = "mappo"
    critic_default = "central"


class IPPO(MultiAgentPPO):
    """IPPO: independent PPO learners, critics on local observations."""

    name = "ippo"
    critic_default = "local"


PPO_AGENTS = (MAPPO, IPPO)
