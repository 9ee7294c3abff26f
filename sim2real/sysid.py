"""System identification: fit simulator parameters to a target's recorded trajectories.

Every recorded transition is replayed on a copy of the nominal model: the
simulator starts from the state the target was in, applies the recorded action
(``delay`` steps late, through an actuator ``deadband``) for the task's
``frame_skip`` substeps - all transitions at once with ``mujoco.rollout`` on
threads - and the prediction is compared with what the target did next, each
component scaled by the spread of its recorded changes. The log-scales of the
chosen parameters minimize that residual (``scipy.optimize.least_squares``);
each candidate delay and deadband is fitted and the best kept. The loss is
``soft_l1`` (robust): a contact that a small parameter change makes or breaks
moves a few transitions' predictions by a jump, which would otherwise stall the
search short of the truth (seen on Ant).

Where the replay starts from (``SysIdResult.mode``):

- ``state``: the dataset holds the target's full simulator state beside every
  observation (a ``RealSystem`` with ``state()``, as ``ScenarioSystem`` has):
  each transition starts from the exact state (positions, velocities,
  activations, the solver's warm start) and predicted positions and velocities
  are compared with the recorded next state. Nothing is reconstructed, so
  velocity clipping, contact-force or inertia observations (Ant, Humanoid),
  angles seen as sin/cos (Reacher, InvertedDoublePendulum) and unobserved
  bodies (Pusher's object velocity) do not matter.
- ``observation``: only observations. The state is read back from them
  (``_LAYOUTS``: every Gymnasium MuJoCo v5 task's default observation; a
  position the observation leaves out - the root's horizontal position - is
  the nominal one, which these tasks are invariant to; a velocity it leaves out
  is a backward difference of positions), rollouts run ``horizon`` steps
  (multi-step, trajectory fitting) and the predicted observation is compared
  with the recorded ones. Transitions that start from a clipped velocity
  reading are dropped. ``sensor_bias=True`` fits an additive offset per observed
  dimension jointly with the physics, so a systematic sensor error is not
  absorbed into masses or friction.

Parameters are scale factors on the nominal model, ``kind:element`` or
``kind:*`` (every element of the kind, one shared scale): ``body_mass:<body>``
(inertia scaled alike), ``friction:<geom>`` (sliding; MuJoCo takes the larger
friction of two touching geoms, so on Hopper, whose foot has 2.0, the floor's
own friction has no effect: use ``friction:*``), ``damping:<joint>``,
``armature:<joint>``, ``frictionloss:<joint>``, ``gain:<actuator>`` (gear).
The action delay and the actuator deadband are discrete candidates
(``delays``, ``deadbands``).

At the solution the Jacobian of the residual says what the data determine: a
parameter whose column is zero (no effect: a scale of a nominal 0, friction on
a task without contacts) or that lies along a flat direction (a singular value
~0 relative to the largest: two parameters the data see only together) is
reported in ``SysIdResult.unidentifiable`` with the reason, held at its nominal
value and left out of ``scales``, and the rest is refitted without it, instead
of returning wherever the search stopped (often a bound). The result carries a
Gaussian over log-scales (the least-squares covariance, inflated by the
residual misfit) and turns into randomization ranges centred on the estimate
(``ranges``, ``dynamics_layer``, ``training_layers``). ``print(result)`` shows
the estimates, ranges and unidentifiable parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any, Callable

import mujoco
import numpy as np
from mujoco import rollout
from scipy.optimize import least_squares

from agents.imitation.dataset import Dataset
from scenarios import Scenario, ScenarioSpec, UserError
from scenarios import make as make_scenario
from scenarios.layers.mujoco_model import MujocoHandle
from scenarios.layers.physics import set_const
from scenarios.registry import resolve_spec
from sim2real.adapter import STATE_SPEC

# kind -> (element kind, model field, column of a 2-D field, dynamics-layer field)
KINDS: dict[str, tuple[str, str, int | None, str]] = {
    "body_mass": ("body", "body_mass", None, "body_mass"),
    "friction": ("geom", "geom_friction", 0, "geom_friction"),
    "damping": ("dof", "dof_damping", None, "dof_damping"),
    "armature": ("dof", "dof_armature", None, "dof_armature"),
    "frictionloss": ("dof", "dof_frictionloss", None, "dof_frictionloss"),
    "gain": ("actuator", "actuator_gear", 0, "actuator_gear"),
}
LOG_BOUND = float(np.log(5.0))  # scale factors are searched within [1/5, 5]
FLAT = 1e-4
"""A singular value below FLAT x the largest (of the column-normalized Jacobian) is a flat direction."""
NO_EFFECT = 1e-7
"""A parameter whose root-mean-square effect on the scaled residual per unit log-scale is below this has none."""
WEAK = 1.0
"""A log-scale standard deviation above this (a factor e either way) means the data do not identify it."""


@dataclass
class SysIdResult:
    """Identified scale factors, their log-space standard deviations, the delay, deadband and the fit."""

    scales: dict[str, float]
    log_std: dict[str, float]
    delay: int
    cost: float
    transitions: int
    costs_by_delay: dict[int, float] = field(default_factory=dict)
    noise_std: float | None = None
    """Observation noise std fitted alongside (``sim2real.dropo`` with ``fit_noise``), else None."""
    unidentifiable: dict[str, str] = field(default_factory=dict)
    """Parameters the data cannot identify, with the reason; held at nominal, not in ``scales``."""
    deadband: float = 0.0
    """The actuator deadband width picked among the candidates."""
    sensor_bias: dict[int, float] | None = None
    """Fitted additive bias per observation dimension (observation mode with ``sensor_bias``), else None."""
    mode: str = "state"
    """``state`` (replayed from recorded simulator states) or ``observation`` (state read from observations)."""
    costs: dict[tuple[int, float], float] = field(default_factory=dict)
    """The fit's cost for each (delay, deadband) candidate."""

    def ranges(self, k: float = 2.0, min_width: float = 0.05) -> dict[str, tuple[float, float]]:
        """Randomization ranges exp(log-scale +- max(k * std, min_width)) per identified parameter."""
        out = {}
        for name, s in self.scales.items():
            w = max(k * self.log_std[name], min_width)
            out[name] = (float(s * np.exp(-w)), float(s * np.exp(w)))
        return out

    def dynamics_layer(self, k: float = 2.0, min_width: float = 0.05, mode: str = "reset",
                       distribution: str = "log_uniform") -> dict[str, Any]:
        """A ``dynamics`` layer spec randomizing every identified parameter around the estimate.

        ``log_uniform``: within ``ranges(k, min_width)``; ``log_normal``: median the
        estimate, log-std ``max(log_std, min_width)`` (for a fitted distribution, as
        ``sim2real.dropo`` returns). Unidentifiable parameters stay nominal.
        """
        if distribution not in ("log_uniform", "log_normal"):
            raise UserError(f"unknown distribution '{distribution}' (valid: log_uniform, log_normal)")
        params = []
        for name, (lo, hi) in self.ranges(k, min_width).items():
            entry: dict[str, Any] = {"distribution": "log_uniform", "low": lo, "high": hi, "shared": True}
            if distribution == "log_normal":
                entry = {"distribution": "log_normal", "mean": self.scales[name],
                         "std": max(self.log_std[name], min_width), "shared": True}
            entry.update(layer_field(name))
            params.append(entry)
        return {"type": "dynamics", "params": {"mode": mode, "parameters": params}}

    def training_layers(self, k: float = 2.0, min_width: float = 0.05, distribution: str = "log_uniform") -> list[dict[str, Any]]:
        """Layers for training on the identified world: ``dynamics_layer`` plus the delay and deadband found."""
        layers = [self.dynamics_layer(k, min_width, distribution=distribution)] if self.scales else []
        if self.delay:
            layers.append({"type": "action_delay", "params": {"steps": int(self.delay)}})
        if self.deadband > 0:
            layers.append({"type": "action_deadband", "params": {"width": float(self.deadband)}})
        return layers

    def summary(self, k: float = 2.0, min_width: float = 0.05) -> str:
        """The estimates with their ranges, the delay and deadband, and what could not be identified."""
        lines = [f"sysid ({self.mode}, {self.transitions} transitions, cost {self.cost:.3g}): "
                 f"delay {self.delay}, deadband {self.deadband:g}"]
        for name, (lo, hi) in self.ranges(k, min_width).items():
            bound = " (at the search bound)" if abs(np.log(self.scales[name])) > LOG_BOUND - 1e-3 else ""
            lines.append(f"  {name}: {self.scales[name]:.4f}  range [{lo:.3f}, {hi:.3f}]{bound}")
        for name, why in self.unidentifiable.items():
            lines.append(f"  {name}: not identifiable from this data ({why}); held at nominal")
        if self.sensor_bias:
            lines.append("  sensor bias: " + ", ".join(f"[{i}] {b:+.3f}" for i, b in self.sensor_bias.items()))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def layer_field(name: str) -> dict[str, Any]:
    """The ``dynamics``-layer entry keys (field, component, names) that ``name`` (``kind:element``) scales."""
    kind, _, element = name.partition(":")
    if kind not in KINDS:
        raise UserError(f"unknown sysid parameter kind '{kind}' in '{name}' (valid: {', '.join(KINDS)})")
    out: dict[str, Any] = {"field": KINDS[kind][3]}
    if kind == "friction":
        out["component"] = 0
    if element != "*":
        out["names"] = [element]
    return out


class _Model:
    """A private copy of the nominal model whose parameters are set from scale factors."""

    def __init__(self, env: Any, names: list[str]) -> None:
        self.model = _copy(env.model)
        self.data = mujoco.MjData(self.model)
        handle = MujocoHandle(env=env, model=self.model, data=self.data, frame_skip=int(env.frame_skip))
        self.targets: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]] = []
        m = self.model
        for name in names:
            kind, _, element = name.partition(":")
            if kind not in KINDS or not element:
                raise UserError(f"unknown sysid parameter kind '{kind}' in '{name}' (valid: kind:element or kind:* "
                                f"with kind one of {', '.join(KINDS)})")
            what, attr, col, _ = KINDS[kind]
            where = f"sysid parameter '{name}'"
            names_ = None if element == "*" else [element]
            ids = handle.dof_ids(names_, where) if what == "dof" else handle.ids(what, names_, where)
            arr = getattr(m, attr)
            nominal = (arr[ids, col] if col is not None else arr[ids]).copy()
            inertia = m.body_inertia[ids].copy() if kind == "body_mass" else None
            self.targets.append((kind, ids, nominal, inertia))
        self.needs_const = any(t[0] == "body_mass" for t in self.targets)
        self.nominal = {kind: (getattr(m, KINDS[kind][1])[:, KINDS[kind][2]] if KINDS[kind][2] is not None
                               else getattr(m, KINDS[kind][1])).copy() for kind in {t[0] for t in self.targets}}
        self.nominal["inertia"] = m.body_inertia.copy()

    def zero_nominal(self) -> list[int]:
        """Indices of parameters whose nominal value is 0 everywhere (a scale cannot change them)."""
        return [i for i, t in enumerate(self.targets) if not np.any(t[2])]

    def set(self, scales: np.ndarray) -> None:
        """Write nominal x scale for every parameter (scales of overlapping parameters, e.g. ``gain:*`` and
        ``gain:<one>``, multiply); derived constants are recomputed after a mass change."""
        m = self.model
        factors: dict[str, np.ndarray] = {}
        for (kind, ids, _, _), s in zip(self.targets, scales):
            f = factors.setdefault(kind, np.ones(len(getattr(m, KINDS[kind][1]))))
            f[ids] *= s
        for kind, f in factors.items():
            _, attr, col, _ = KINDS[kind]
            nominal = self.nominal[kind]
            if col is not None:
                getattr(m, attr)[:, col] = nominal * f
            else:
                getattr(m, attr)[:] = nominal * f
            if kind == "body_mass":
                m.body_inertia[:] = self.nominal["inertia"] * f[:, None]
        if self.needs_const:  # as the dynamics layer does, so the replay matches a layer-changed target
            set_const(m, self.data)


def _copy(model: mujoco.MjModel) -> mujoco.MjModel:
    import copy

    return copy.deepcopy(model)


def _nominal_env(base: Scenario | str | dict | ScenarioSpec) -> tuple[Scenario, Any]:
    spec = base.spec if isinstance(base, Scenario) else resolve_spec(base)
    sc = make_scenario(spec.model_copy(update={"layers": []}))
    env = sc.unwrapped
    if not isinstance(getattr(env, "model", None), mujoco.MjModel) or not hasattr(env, "frame_skip"):
        raise UserError(f"sysid needs a Gymnasium MuJoCo task; {spec.id} is not one")
    return sc, env


def _check_names(parameters: list[str]) -> None:
    if not parameters:
        raise UserError("sysid needs at least one parameter (e.g. body_mass:torso, friction:*)")
    if len(set(parameters)) != len(parameters):
        raise UserError(f"sysid parameters repeat a name: {parameters}")


def check_parameters(base: Scenario | str | dict | ScenarioSpec, parameters: list[str] | None) -> None:
    """Refuse what ``identify`` would refuse of ``parameters`` on ``base`` (an unknown kind, body, joint
    or geom, a repeated or empty list, a task that is not a Gymnasium MuJoCo one), before any data are
    recorded for it: the sim2real loop records the target's episodes first."""
    sc, env = _nominal_env(base)
    try:
        if parameters is not None:
            _check_names(list(parameters))
            _Model(env, list(parameters))
    finally:
        sc.close()


def default_parameters(base: Scenario | str | dict | ScenarioSpec) -> list[str]:
    """A sensible parameter set for a task: the root body's mass, contact friction, damping where the
    model has any, armature where it has any, and actuator gain."""
    sc, env = _nominal_env(base)
    m = env.model
    root = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, 1)
    out = [f"body_mass:{root}", "friction:*"]
    if np.any(m.dof_damping):
        out.append("damping:*")
    if np.any(m.dof_armature):
        out.append("armature:*")
    out.append("gain:*")
    sc.close()
    return out


# ----------------------------------------------------------------------------------------------
# Reading the state back from observations (observation mode)


@dataclass
class _Layout:
    """How a task's observation shows its state: ``read`` (observation rows -> qpos, qvel rows, NaN
    where unobserved) and ``see`` (qpos, qvel rows -> the observed columns ``cols``)."""

    cols: np.ndarray
    read: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    see: Callable[[np.ndarray, np.ndarray], np.ndarray]
    vel_cols: np.ndarray  # positions in ``cols`` of clipped velocity readings
    clip: float | None = None


def _joint_layout(m: mujoco.MjModel, skip: int, clip: float | None) -> _Layout:
    """Observation = qpos[skip:], qvel (clipped), then anything else (contact forces, inertias)."""
    nq, nv = m.nq, m.nv
    npos = nq - skip

    def read(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qpos = np.tile(m.qpos0, (len(o), 1))
        qpos[:, skip:] = o[:, :npos]
        return qpos, o[:, npos: npos + nv].astype(float)

    def see(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        v = qvel if clip is None else np.clip(qvel, -clip, clip)
        return np.concatenate([qpos[:, skip:], v], axis=1)

    return _Layout(np.arange(npos + nv), read, see, np.arange(npos, npos + nv), clip)


def _double_pendulum(m: mujoco.MjModel) -> _Layout:
    """x, sin(angles), cos(angles), clip(qvel, 10), a constraint force (not compared)."""
    def read(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qpos = np.stack([o[:, 0], np.arctan2(o[:, 1], o[:, 3]), np.arctan2(o[:, 2], o[:, 4])], axis=1)
        return qpos, o[:, 5:8].astype(float)

    def see(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        return np.concatenate([qpos[:, :1], np.sin(qpos[:, 1:]), np.cos(qpos[:, 1:]), np.clip(qvel, -10, 10)], axis=1)

    return _Layout(np.arange(8), read, see, np.arange(5, 8), 10.0)


def _reacher(m: mujoco.MjModel) -> _Layout:
    """cos, sin of the arm's angles, the target's position, the arm's velocities, fingertip - target."""
    def read(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qpos = np.concatenate([np.arctan2(o[:, 2:4], o[:, 0:2]), o[:, 4:6]], axis=1)
        qvel = np.concatenate([o[:, 6:8], np.zeros((len(o), 2))], axis=1)  # the target does not move
        return qpos, qvel

    def see(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        return np.concatenate([np.cos(qpos[:, :2]), np.sin(qpos[:, :2]), qpos[:, 2:4], qvel[:, :2]], axis=1)

    return _Layout(np.arange(8), read, see, np.array([], int))


def _pusher(m: mujoco.MjModel) -> _Layout:
    """Arm qpos and qvel, then the fingertip's, the object's and the goal's positions (the object and
    goal slide on two joints each; their velocities are not observed)."""
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    obj, goal = (mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n) for n in ("object", "goal"))
    slides = [(int(m.jnt_qposadr[j]), int(np.argmax(np.abs(m.jnt_axis[j]))), int(m.jnt_bodyid[j])) for j in range(7, m.njnt)]
    origin = {obj: d.xpos[obj].copy(), goal: d.xpos[goal].copy()}
    col = {obj: 17, goal: 20}

    def read(o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        qpos = np.tile(m.qpos0, (len(o), 1))
        qpos[:, :7] = o[:, :7]
        for adr, axis, body in slides:
            qpos[:, adr] = m.qpos0[adr] + o[:, col[body] + axis] - origin[body][axis]
        qvel = np.full((len(o), m.nv), np.nan)
        qvel[:, :7] = o[:, 7:14]
        qvel[:, 9:] = 0.0  # the goal does not move
        return qpos, qvel

    def see(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        out = [qpos[:, :7], qvel[:, :7]]
        for adr, axis, body in slides[:2]:
            out.append((origin[body][axis] + qpos[:, adr] - m.qpos0[adr])[:, None])
        return np.concatenate(out, axis=1)

    by_axis = {axis: 17 + axis for _, axis, _ in slides[:2]}
    return _Layout(np.concatenate([np.arange(14), [by_axis[slides[0][1]], by_axis[slides[1][1]]]]), read, see,
                   np.array([], int))


_LAYOUTS: dict[str, Callable[[mujoco.MjModel], _Layout]] = {
    "InvertedPendulumEnv": lambda m: _joint_layout(m, 0, None),
    "SwimmerEnv": lambda m: _joint_layout(m, 2, None),
    "HopperEnv": lambda m: _joint_layout(m, 1, 10.0),
    "Walker2dEnv": lambda m: _joint_layout(m, 1, 10.0),
    "HalfCheetahEnv": lambda m: _joint_layout(m, 1, None),
    "AntEnv": lambda m: _joint_layout(m, 2, None),
    "HumanoidEnv": lambda m: _joint_layout(m, 2, None),
    "HumanoidStandupEnv": lambda m: _joint_layout(m, 2, None),
    "InvertedDoublePendulumEnv": _double_pendulum,
    "ReacherEnv": _reacher,
    "PusherEnv": _pusher,
}


def _layout(env: Any) -> _Layout:
    """The task's layout, checked against its own ``_get_obs`` on perturbed states."""
    name = type(env).__name__
    make = _LAYOUTS.get(name)
    why = f"sysid cannot read {name}'s state from its observation"
    hint = "record from a system whose state() returns the simulator state (sim2real.adapter.RealSystem)"
    if make is None:
        raise UserError(f"{why} (observation layouts known for: {', '.join(sorted(_LAYOUTS))}); {hint}")
    m = env.model
    lay = make(m)
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for _ in range(3):
        d.qpos[:] = m.qpos0 + 0.05 * rng.standard_normal(m.nq)
        d.qvel[:] = 0.5 * rng.standard_normal(m.nv)
        mujoco.mj_normalizeQuat(m, d.qpos)
        mujoco.mj_forward(m, d)
        saved = env.data
        try:
            env.data = d
            obs = np.asarray(env._get_obs(), float)[None]
        finally:
            env.data = saved
        if obs.shape[1] <= lay.cols.max() or not np.allclose(lay.see(d.qpos[None], d.qvel[None]), obs[:, lay.cols], atol=1e-6):
            raise UserError(f"{why}: its observation ({obs.shape[1]} values) is not the default v5 layout; {hint}")
    return lay


# ----------------------------------------------------------------------------------------------
# Replaying the transitions


class Replay:
    """Recorded transitions replayed on copies of the nominal model.

    For one action delay and deadband: the start of every window of ``horizon``
    steps (a full simulator state, or one read from the observation less the
    sensor bias), its controls, and the recorded outcome (next states, or
    observed columns) with a per-component weight (1 / spread of the recorded
    changes; 0 for components that never change). ``predict`` runs every window
    on ``mujoco.rollout`` (threads), each window on its own model if given a list.
    """

    def __init__(self, env: Any, data: Dataset, delay: int = 0, max_transitions: int = 20_000,
                 rng: np.random.Generator | None = None, threads: int = 2, horizon: int = 1, deadband: float = 0.0,
                 use_state: bool = True) -> None:
        m = env.model
        agent = data.agents[0]
        obs, act_all = data.obs[agent], np.asarray(data.actions[agent], np.float64)
        self.mode = "state" if use_state and agent in data.states else "observation"
        self.nq, self.nv, self.skip, self.horizon = m.nq, m.nv, int(env.frame_skip), int(horizon)
        if self.horizon < 1:
            raise UserError(f"horizon must be at least 1 (got {horizon})")
        if act_all.ndim != 2 or act_all.shape[1] != m.nu:
            raise UserError(f"the data's actions have shape {act_all.shape[1:]}, the model has {m.nu} actuators")
        self.layout = _layout(env) if self.mode == "observation" else None
        starts = np.concatenate([[0], np.cumsum(data.episode_lengths + 1)[:-1]])
        act_starts = np.concatenate([[0], np.cumsum(data.episode_lengths)[:-1]])
        first = max(delay, 1 if self.mode == "observation" else 0)  # observation mode: a previous reading for differences
        o_idx, a_idx = [], []
        for s, a0, t in zip(starts, act_starts, data.episode_lengths):
            for k in range(first, int(t) - self.horizon + 1):
                o_idx.append(s + k)
                a_idx.append(a0 + k - delay)
        o_idx, a_idx = np.array(o_idx, int), np.array(a_idx, int)
        if self.mode == "observation" and self.layout.clip is not None and len(o_idx):
            vel = obs[o_idx][:, self.layout.cols[self.layout.vel_cols]]
            keep = np.all(np.abs(vel) < self.layout.clip - 1e-6, axis=1)  # a clipped reading is not the state
            o_idx, a_idx = o_idx[keep], a_idx[keep]
        rng = rng or np.random.default_rng(0)
        if len(o_idx) > max_transitions:
            pick = np.sort(rng.choice(len(o_idx), max_transitions, replace=False))
            o_idx, a_idx = o_idx[pick], a_idx[pick]
        if len(o_idx) == 0:
            raise UserError(f"no transitions to identify from ({data.steps} steps, delay {delay}, horizon {horizon}): "
                            "record more or longer episodes")
        self.o_idx = o_idx
        h = np.arange(self.horizon)
        applied = act_all[a_idx[:, None] + h]  # (rows, horizon, nu)
        if deadband > 0:
            applied = np.where(np.abs(applied) < deadband, 0.0, applied)
        self.control = np.repeat(applied, self.skip, axis=1)
        self.datas = [mujoco.MjData(m) for _ in range(threads)]
        self.model0 = m
        if self.mode == "state":
            states = data.states[agent]
            self.state0, self.warm0 = self._from_recorded(m, states[o_idx])
            after = np.stack([self._qq(m, states[o_idx + 1 + k]) for k in h], axis=1)  # (rows, horizon, nq + nv)
            before = self._qq(m, states[o_idx])
            self.raw_obs = None
        else:
            self.raw_obs = obs
            self.state0, self.warm0 = None, None
            cols = self.layout.cols
            after = np.stack([obs[o_idx + 1 + k][:, cols] for k in h], axis=1).astype(float)
            before = obs[o_idx][:, cols].astype(float)
        change = after[:, 0] - before
        spread = np.std(change, axis=0)
        self.weight = np.where(spread > 1e-9 * max(spread.max(), 1e-300), 1.0 / np.maximum(spread, 1e-300), 0.0)
        self.target = after.reshape(len(o_idx), -1)
        self.bias_cols = self.layout.cols if self.layout is not None else np.array([], int)

    @property
    def next_obs(self) -> np.ndarray:
        """The recorded outcomes, (rows, horizon x components) (the name DROPO's likelihood reads)."""
        return self.target

    @property
    def scale(self) -> np.ndarray:
        """Per-component spread of the recorded outcome, tiled over the horizon (inf where never changing)."""
        with np.errstate(divide="ignore"):
            return np.tile(np.where(self.weight > 0, 1.0 / np.maximum(self.weight, 1e-300), np.inf), self.horizon)

    def __len__(self) -> int:
        return len(self.o_idx)

    @staticmethod
    def _qq(m: mujoco.MjModel, states: np.ndarray) -> np.ndarray:
        """qpos and qvel out of ``STATE_SPEC`` rows."""
        n = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_TIME)
        return states[:, n: n + m.nq + m.nv]

    @staticmethod
    def _from_recorded(m: mujoco.MjModel, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-physics states and warm starts out of recorded ``STATE_SPEC`` rows (controls are not taken:
        the replay applies the recorded actions)."""
        if states.shape[1] != mujoco.mj_stateSize(m, STATE_SPEC):
            raise UserError(f"the data's states have {states.shape[1]} values; this model's full state has "
                            f"{mujoco.mj_stateSize(m, STATE_SPEC)}: were they recorded on another model?")
        d = mujoco.MjData(m)
        full = mujoco.mjtState.mjSTATE_FULLPHYSICS
        out = np.empty((len(states), mujoco.mj_stateSize(m, full)))
        warm = np.empty((len(states), m.nv))
        for i, row in enumerate(states):
            mujoco.mj_setState(m, d, row, STATE_SPEC)
            mujoco.mj_getState(m, d, out[i], full)
            warm[i] = d.qacc_warmstart
        return out, warm

    def _read(self, bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Starting states read from the observations (less ``bias``); unobserved velocities by backward difference."""
        lay, m = self.layout, self.model0
        o = self.raw_obs[self.o_idx].astype(float)
        prev = self.raw_obs[self.o_idx - 1].astype(float)
        if bias is not None:
            o[:, lay.cols] -= bias
            prev[:, lay.cols] -= bias
        qpos, qvel = lay.read(o)
        missing = np.isnan(qvel)
        if missing.any():
            qpos_prev, _ = lay.read(prev)
            dt = m.opt.timestep * self.skip
            for dof in np.flatnonzero(missing.any(axis=0)):  # slide and hinge dofs: one qpos each
                adr = m.jnt_qposadr[m.dof_jntid[dof]]
                qvel[:, dof] = np.where(missing[:, dof], (qpos[:, adr] - qpos_prev[:, adr]) / dt, qvel[:, dof])
        full = mujoco.mjtState.mjSTATE_FULLPHYSICS
        state0 = np.zeros((len(o), mujoco.mj_stateSize(m, full)))
        state0[:, 1: 1 + m.nq] = qpos
        state0[:, 1 + m.nq: 1 + m.nq + m.nv] = qvel
        return state0, np.zeros((len(o), m.nv))

    def predict(self, model: mujoco.MjModel | list[mujoco.MjModel], rows: int = 1,
                bias: np.ndarray | None = None) -> np.ndarray:
        """Predicted outcomes, (rows * len(self), horizon x components): the windows repeated ``rows``
        times, block k on ``model[k]`` when ``model`` is a list of ``rows`` models; ``bias`` is the sensor
        bias of the observed columns (observation mode)."""
        state0, warm0 = (self.state0, self.warm0) if self.mode == "state" else self._read(bias)
        control = self.control
        if rows > 1:
            state0, warm0, control = np.tile(state0, (rows, 1)), np.tile(warm0, (rows, 1)), np.tile(control, (rows, 1, 1))
            model = [mk for mk in model for _ in range(len(self))]  # type: ignore[union-attr]
        states, _ = rollout.rollout(model, self.datas, state0, control, initial_warmstart=warm0)
        at = states[:, self.skip - 1:: self.skip, 1:]  # the end of every frame; time dropped
        qpos, qvel = at[..., : self.nq], at[..., self.nq: self.nq + self.nv]
        n, hh = at.shape[0], at.shape[1]
        if self.mode == "state":
            out = np.concatenate([qpos, qvel], axis=2)
        else:
            out = self.layout.see(qpos.reshape(n * hh, -1), qvel.reshape(n * hh, -1)).reshape(n, hh, -1)
            if bias is not None:
                out = out + bias
        return out.reshape(n, -1)

    def residual(self, model: mujoco.MjModel, bias: np.ndarray | None = None) -> np.ndarray:
        """Weighted prediction errors of every window, flattened."""
        return ((self.predict(model, bias=bias) - self.target) * np.tile(self.weight, self.horizon)).ravel()


OneStep = Replay  # the name sim2real.dropo and earlier code used


# ----------------------------------------------------------------------------------------------
# Fitting


def _flat(jac: np.ndarray, active: list[int], names: list[str]) -> dict[str, str]:
    """Parameters (indices into ``names``, among ``active``) the Jacobian ``jac`` (columns = active) cannot see."""
    out: dict[str, str] = {}
    rows = max(1, jac.shape[0])
    norms = np.linalg.norm(jac, axis=0) / np.sqrt(rows)
    keep = []
    for j, i in enumerate(active):
        if not np.isfinite(norms[j]) or norms[j] < NO_EFFECT:
            out[names[i]] = "no effect on the recorded transitions"
        else:
            keep.append(j)
    while len(keep) > 1:
        jn = jac[:, keep] / (norms[keep] * np.sqrt(rows))
        _, s, vt = np.linalg.svd(jn, full_matrices=False)
        if s[-1] >= FLAT * s[0]:
            break
        v = vt[-1]
        worst = int(np.argmax(np.abs(v)))
        partners = [names[active[keep[j]]] for j in np.argsort(-np.abs(v)) if j != worst and abs(v[j]) > 0.2][:3]
        out[names[active[keep[worst]]]] = "a flat direction of the fit" + (f" with {', '.join(partners)}" if partners else "")
        keep.pop(worst)
    return out


def identify(base: Scenario | str | dict | ScenarioSpec, data: Dataset, parameters: list[str] | None = None,
             delays: tuple[int, ...] = (0,), max_transitions: int = 3_000, seed: int = 0, threads: int = 2,
             deadbands: tuple[float, ...] = (0.0,), sensor_bias: bool = False, horizon: int | None = None,
             use_state: bool = True, verbose: bool = False, max_evaluations: int = 100) -> SysIdResult:
    """Fit ``parameters`` (e.g. ``["body_mass:torso", "friction:*"]``; default ``default_parameters``) of
    ``base``'s nominal model to ``data``.

    ``delays`` and ``deadbands`` are candidate action delays (steps) and actuator
    deadband widths; each combination is fitted and the lowest cost kept.
    ``use_state`` replays from the recorded simulator states where the data have
    them; otherwise the state is read from observations, with ``horizon`` steps
    per window (default 1 with states, 3 without) and, with ``sensor_bias``, a
    fitted additive bias per observed dimension. ``max_transitions`` are drawn
    at random (``seed``) from the data; ``max_evaluations`` bounds each least-squares
    search. ``verbose`` prints the summary.
    """
    sc, env = _nominal_env(base)
    parameters = list(parameters) if parameters is not None else default_parameters(sc)
    _check_names(parameters)
    if any(d < 0 for d in delays) or any(w < 0 for w in deadbands) or not delays or not deadbands:
        raise UserError(f"delays and deadbands need one or more values >= 0 (got {delays}, {deadbands})")
    target = _Model(env, parameters)
    rng = np.random.default_rng(seed)
    best: SysIdResult | None = None
    costs: dict[tuple[int, float], float] = {}
    for d, w in product(delays, deadbands):
        replay = Replay(env, data, d, max_transitions, rng, threads, horizon=1, deadband=w, use_state=use_state)
        if replay.mode == "observation" and horizon is None:
            replay = Replay(env, data, d, max_transitions, rng, threads, horizon=3, deadband=w, use_state=use_state)
        elif horizon is not None and horizon != 1:
            replay = Replay(env, data, d, max_transitions, rng, threads, horizon=horizon, deadband=w, use_state=use_state)
        res = _fit(replay, target, parameters, sensor_bias and replay.mode == "observation", max_evaluations)
        res.delay, res.deadband = d, float(w)
        costs[(d, float(w))] = res.cost
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    best.costs = costs
    best.costs_by_delay = {d: min(c for (dd, _), c in costs.items() if dd == d) for d in delays}
    sc.close()
    if verbose:
        print(best.summary())
    return best


def _fit(replay: Replay, target: _Model, parameters: list[str], fit_bias: bool, max_evaluations: int = 100) -> SysIdResult:
    """Least squares on the log-scales (and the sensor bias), then the identifiability check and a refit."""
    p = len(parameters)
    nb = len(replay.bias_cols) if fit_bias else 0
    unident: dict[str, str] = {parameters[i]: "its nominal value is 0, which no scale changes" for i in target.zero_nominal()}
    active = [i for i in range(p) if parameters[i] not in unident]

    def solve(active: list[int]) -> Any:
        def residual(x: np.ndarray) -> np.ndarray:
            logs = np.zeros(p)
            logs[active] = x[: len(active)]
            target.set(np.exp(logs))
            return replay.residual(target.model, bias=x[len(active):] if nb else None)

        lo = [-LOG_BOUND] * len(active) + [-np.inf] * nb
        hi = [LOG_BOUND] * len(active) + [np.inf] * nb
        x_scale = [0.1] * len(active) + [0.01] * nb
        # soft_l1: a contact made or broken by a small parameter change makes a few transitions' residuals jump;
        # a robust loss keeps them from stalling the search (at the truth every residual is still 0)
        return least_squares(residual, np.zeros(len(active) + nb), bounds=(lo, hi), x_scale=x_scale, diff_step=1e-3,
                             loss="soft_l1", f_scale=1.0, max_nfev=max_evaluations)

    fit = solve(active) if active else None
    if fit is not None:
        flat = _flat(fit.jac[:, : len(active)], active, parameters)
        if flat:
            unident.update(flat)
            active = [i for i in active if parameters[i] not in flat]
            fit = solve(active) if active else None
    if fit is None:  # nothing to fit: the cost at the nominal model
        target.set(np.ones(p))
        r = replay.residual(target.model)
        return SysIdResult(scales={}, log_std={}, delay=0, cost=float(0.5 * r @ r), transitions=len(replay),
                           unidentifiable=unident, mode=replay.mode)
    dof = max(1, fit.fun.size - fit.x.size)
    sigma2 = 2 * fit.cost / dof
    try:
        cov = np.linalg.pinv(fit.jac.T @ fit.jac) * sigma2
        log_std = np.sqrt(np.clip(np.diag(cov), 0, None))[: len(active)]
    except np.linalg.LinAlgError:
        log_std = np.full(len(active), np.inf)
    scales, stds = {}, {}
    for j, i in enumerate(active):
        if log_std[j] > WEAK:
            unident[parameters[i]] = f"the data pin its log-scale only to +-{log_std[j]:.2f}"
        else:
            scales[parameters[i]], stds[parameters[i]] = float(np.exp(fit.x[j])), float(log_std[j])
    bias = {int(c): float(b) for c, b in zip(replay.bias_cols, fit.x[len(active):])} if nb else None
    return SysIdResult(scales=scales, log_std=stds, delay=0, cost=float(fit.cost), transitions=len(replay),
                       unidentifiable={n: unident[n] for n in parameters if n in unident}, sensor_bias=bias,
                       mode=replay.mode)
