"""System identification: fit simulator parameters to a target's recorded trajectories.

For the Gymnasium v5 locomotion tasks whose observation is the joint state
(``qpos`` without the root's horizontal position, then ``qvel``: Hopper,
Walker2d, HalfCheetah, Swimmer, InvertedPendulum, InvertedDoublePendulum is not
one), every recorded transition (o_t, a_t, o_t+1) is replayed as a one-step
prediction: the simulator is set to the state o_t describes, a_(t-delay) is
applied for the task's ``frame_skip`` substeps (all transitions at once with
``mujoco.rollout`` on threads), and the predicted observation is compared with
o_t+1, each dimension scaled by the spread of its observed changes. The
log-scales of the chosen parameters minimize that residual
(``scipy.optimize.least_squares``); each candidate action delay is fitted and
the best kept.

Parameters are scale factors on the nominal model: ``body_mass:<body>`` (inertia
scaled alike), ``friction:<geom>`` (sliding) or ``friction:*`` (every geom at
once: MuJoCo takes the larger friction of two touching geoms, so on Hopper,
whose foot has 2.0, the floor's own friction has no effect at all),
``damping:<joint>``, ``gain:<actuator>`` (gear). The result carries a Gaussian over log-scales (the
least-squares covariance, inflated by the residual misfit) and turns into
randomization ranges centred on the estimate (``ranges``, ``dynamics_layer``),
so training randomizes around what was identified rather than around the
nominal model. ``mujoco.sysid`` needs optional dependencies this install does
not have; the one-step residual here is ~100 lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np
from mujoco import rollout
from scipy.optimize import least_squares

from agents.imitation.dataset import Dataset
from scenarios import Scenario, ScenarioSpec, UserError
from scenarios import make as make_scenario
from scenarios.registry import resolve_spec

KINDS = ("body_mass", "friction", "damping", "gain")
VELOCITY_CLIP = {"HopperEnv": 10.0, "Walker2dEnv": 10.0}


@dataclass
class SysIdResult:
    """Identified scale factors, their log-space standard deviations, the delay and the fit."""

    scales: dict[str, float]
    log_std: dict[str, float]
    delay: int
    cost: float
    transitions: int
    costs_by_delay: dict[int, float] = field(default_factory=dict)
    noise_std: float | None = None
    """Observation noise std fitted alongside (``sim2real.dropo`` with ``fit_noise``), else None."""

    def ranges(self, k: float = 2.0, min_width: float = 0.05) -> dict[str, tuple[float, float]]:
        """Randomization ranges exp(log-scale +- max(k * std, min_width)) per parameter."""
        out = {}
        for name, s in self.scales.items():
            w = max(k * self.log_std[name], min_width)
            out[name] = (float(s * np.exp(-w)), float(s * np.exp(w)))
        return out

    def dynamics_layer(self, k: float = 2.0, min_width: float = 0.05, mode: str = "reset",
                       distribution: str = "log_uniform") -> dict[str, Any]:
        """A ``dynamics`` layer spec randomizing every parameter around the estimate.

        ``log_uniform``: within ``ranges(k, min_width)``; ``log_normal``: median the
        estimate, log-std ``max(log_std, min_width)`` (for a fitted distribution, as
        ``sim2real.dropo`` returns).
        """
        if distribution not in ("log_uniform", "log_normal"):
            raise UserError(f"unknown distribution '{distribution}' (valid: log_uniform, log_normal)")
        params = []
        for name, (lo, hi) in self.ranges(k, min_width).items():
            kind, _, element = name.partition(":")
            entry: dict[str, Any] = {"distribution": "log_uniform", "low": lo, "high": hi, "shared": True}
            if distribution == "log_normal":
                entry = {"distribution": "log_normal", "mean": self.scales[name],
                         "std": max(self.log_std[name], min_width), "shared": True}
            if element != "*":
                entry["names"] = [element]
            if kind == "body_mass":
                entry["field"] = "body_mass"
            elif kind == "friction":
                entry.update(field="geom_friction", component=0)
            elif kind == "damping":
                entry["field"] = "dof_damping"
            else:
                entry["field"] = "actuator_gear"
            params.append(entry)
        return {"type": "dynamics", "params": {"mode": mode, "parameters": params}}


class _Model:
    """A private copy of the nominal model whose parameters are set from scale factors."""

    def __init__(self, env: Any, names: list[str]) -> None:
        self.model = _copy(env.model)
        self.data = mujoco.MjData(self.model)
        self.targets = []
        m = self.model
        for name in names:
            kind, _, element = name.partition(":")
            obj = {"body_mass": mujoco.mjtObj.mjOBJ_BODY, "friction": mujoco.mjtObj.mjOBJ_GEOM,
                   "damping": mujoco.mjtObj.mjOBJ_JOINT, "gain": mujoco.mjtObj.mjOBJ_ACTUATOR}.get(kind)
            if obj is None:
                raise UserError(f"unknown sysid parameter kind '{kind}' in '{name}' (valid: {', '.join(KINDS)})")
            if kind == "friction" and element == "*":
                self.targets.append((kind, slice(None), m.geom_friction[:, 0].copy(), None))
                continue
            idx = mujoco.mj_name2id(m, obj, element)
            if idx < 0:
                raise UserError(f"sysid parameter '{name}': no {kind.replace('_mass', '')} named '{element}' in the model")
            if kind == "body_mass":
                self.targets.append((kind, idx, m.body_mass[idx].copy(), m.body_inertia[idx].copy()))
            elif kind == "friction":
                self.targets.append((kind, idx, m.geom_friction[idx, 0].copy(), None))
            elif kind == "damping":
                dof = m.jnt_dofadr[idx]
                self.targets.append((kind, dof, m.dof_damping[dof].copy(), None))
            else:
                self.targets.append((kind, idx, m.actuator_gear[idx, 0].copy(), None))

    def set(self, scales: np.ndarray) -> None:
        m = self.model
        for (kind, idx, nominal, inertia), s in zip(self.targets, scales):
            if kind == "body_mass":
                m.body_mass[idx] = nominal * s
                m.body_inertia[idx] = inertia * s
            elif kind == "friction":
                m.geom_friction[idx, 0] = nominal * s
            elif kind == "damping":
                m.dof_damping[idx] = nominal * s
            else:
                m.actuator_gear[idx, 0] = nominal * s
        mujoco.mj_setConst(m, self.data)


def _copy(model: mujoco.MjModel) -> mujoco.MjModel:
    import copy

    return copy.deepcopy(model)


def _nominal_env(base: Scenario | str | dict | ScenarioSpec) -> tuple[Scenario, Any]:
    spec = base.spec if isinstance(base, Scenario) else resolve_spec(base)
    sc = make_scenario(spec.model_copy(update={"layers": []}))
    env = sc.unwrapped
    if not hasattr(env, "model") or not hasattr(env, "frame_skip"):
        raise UserError(f"sysid needs a Gymnasium MuJoCo task; {spec.id} is not one")
    return sc, env


class OneStep:
    """Recorded transitions replayed as one-step predictions on copies of the nominal model.

    Holds, for one action delay, the observed (o_t, a_(t-delay), o_t+1) rows, the
    simulator states o_t describes, and the per-dimension scale of the observed
    changes; ``predict`` runs every row on ``mujoco.rollout`` (threads), each row
    on its own model if given a list.
    """

    def __init__(self, env: Any, data: Dataset, delay: int, max_transitions: int, rng: np.random.Generator,
                 threads: int = 2) -> None:
        m = env.model
        obs = data.obs[data.agents[0]]
        self.skip = m.nq + m.nv - obs.shape[1]
        if self.skip < 0 or self.skip > m.nq:
            raise UserError(f"sysid reads the joint state from observations; this task's observation ({obs.shape[1]} values) "
                            f"is not qpos[k:] + qvel (nq={m.nq}, nv={m.nv}): supported are Hopper, Walker2d, HalfCheetah, Swimmer")
        self.nq, self.nv = m.nq, m.nv
        self.clip = VELOCITY_CLIP.get(type(env).__name__)
        starts = np.concatenate([[0], np.cumsum(data.episode_lengths + 1)[:-1]])
        act_all = data.actions[data.agents[0]]
        act_starts = np.concatenate([[0], np.cumsum(data.episode_lengths)[:-1]])
        o_idx, a_idx = [], []
        for s, a0, t in zip(starts, act_starts, data.episode_lengths):
            for k in range(delay, int(t)):
                o_idx.append(s + k)
                a_idx.append(a0 + k - delay)
        o_idx, a_idx = np.array(o_idx), np.array(a_idx)
        if len(o_idx) > max_transitions:
            pick = np.sort(rng.choice(len(o_idx), max_transitions, replace=False))
            o_idx, a_idx = o_idx[pick], a_idx[pick]
        self.obs, self.next_obs = obs[o_idx], obs[o_idx + 1]
        self.control = np.repeat(np.asarray(act_all[a_idx], np.float64)[:, None, :], env.frame_skip, axis=1)
        self.scale = np.std(self.next_obs - self.obs, axis=0) + 1e-6
        self.state0 = self._states(m, self.obs)
        self.datas = [mujoco.MjData(m) for _ in range(threads)]

    def __len__(self) -> int:
        return len(self.obs)

    def _states(self, m: mujoco.MjModel, o: np.ndarray) -> np.ndarray:
        d, skip = mujoco.MjData(m), self.skip
        out = np.zeros((len(o), mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)))
        for i, row in enumerate(o):
            d.qpos[:skip] = m.qpos0[:skip]
            d.qpos[skip:] = row[: m.nq - skip]
            d.qvel[:] = row[m.nq - skip:]
            d.time = 0.0
            mujoco.mj_getState(m, d, out[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
        return out

    def predict(self, model: mujoco.MjModel | list[mujoco.MjModel], rows: int = 1) -> np.ndarray:
        """Predicted next observations, (rows * len(self), obs dim): the transitions repeated ``rows``
        times, row block k on ``model[k]`` when ``model`` is a list of ``rows`` models."""
        state0, control = self.state0, self.control
        if rows > 1:
            state0, control = np.tile(state0, (rows, 1)), np.tile(control, (rows, 1, 1))
            model = [mk for mk in model for _ in range(len(self))]  # type: ignore[union-attr]
        states, _ = rollout.rollout(model, self.datas, state0, control)
        final = states[:, -1, 1:]  # drop time
        nq, skip = self.nq, self.skip
        pred = np.concatenate([final[:, skip:nq], final[:, nq: nq + self.nv]], axis=1)
        if self.clip is not None:
            pred[:, nq - skip:] = np.clip(pred[:, nq - skip:], -self.clip, self.clip)
        return pred


def identify(base: Scenario | str | dict | ScenarioSpec, data: Dataset, parameters: list[str], delays: tuple[int, ...] = (0,),
             max_transitions: int = 20_000, seed: int = 0, threads: int = 2) -> SysIdResult:
    """Fit ``parameters`` (e.g. ``["body_mass:torso", "friction:floor"]``) of ``base``'s nominal model to ``data``."""
    sc, env = _nominal_env(base)
    target = _Model(env, parameters)
    rng = np.random.default_rng(seed)
    best: SysIdResult | None = None
    costs: dict[int, float] = {}
    for d in delays:
        steps = OneStep(env, data, d, max_transitions, rng, threads)

        def residual(x: np.ndarray) -> np.ndarray:
            target.set(np.exp(x))
            return ((steps.predict(target.model) - steps.next_obs) / steps.scale).ravel()

        fit = least_squares(residual, np.zeros(len(parameters)), bounds=(-np.log(5.0), np.log(5.0)), x_scale=0.1,
                            diff_step=1e-3)
        costs[d] = float(fit.cost)
        if best is None or fit.cost < best.cost:
            dof = max(1, fit.fun.size - len(parameters))
            sigma2 = 2 * fit.cost / dof
            try:
                cov = np.linalg.inv(fit.jac.T @ fit.jac) * sigma2
                log_std = np.sqrt(np.clip(np.diag(cov), 0, None))
            except np.linalg.LinAlgError:
                log_std = np.full(len(parameters), np.inf)
            best = SysIdResult(scales={p: float(np.exp(v)) for p, v in zip(parameters, fit.x)},
                               log_std={p: float(s) for p, s in zip(parameters, log_std)}, delay=d, cost=float(fit.cost),
                               transitions=len(steps))
    assert best is not None
    best.costs_by_delay = costs
    sc.close()
    return best
