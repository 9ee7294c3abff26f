"""Per-copy access to MuJoCo physics for batch-first layers: one interface, two backends.

A layer that writes physics (dynamics randomization, pushes, wrenches, a
trained adversary) or reads it (the safety cost) talks to a ``Physics`` with
copy indices: ``row(i)`` is copy ``i``'s model fields (an ``MjModel`` on the
single-copy face, that simulation's rows of per-simulation fields on the
batch), ``set_const(ids)`` recomputes derived constants after mass or size
changes, ``add_xfrc(ids, bodies, wrench)`` adds applied forces, and
``qpos``/``qvel``/``xpos`` read state. ``SinglePhysics`` is one Gymnasium MuJoCo
env; ``BatchPhysics`` is ``mujoco.batch``; ``PhysicsSubset`` maps a sub-stack's
copies (a grid point's extra layers) to their rows of a larger batch.
"""

from __future__ import annotations

from typing import Any, Protocol

import mujoco
import numpy as np

from scenarios.layers.mujoco_model import MujocoHandle


class Physics(Protocol):
    """What layers may do to the physics of their copies."""

    handle: MujocoHandle  # the nominal model: names, ids, nominal values, task parameters (``handle.env``)
    frame_skip: int

    def expand(self, fields: set[str]) -> None:
        """Give ``fields`` per-copy values (before ``row`` is used)."""

    def row(self, i: int) -> Any:
        """Copy ``i``'s model fields, with MjModel's attribute names."""

    def set_const(self, ids: np.ndarray) -> None:
        """Recompute derived constants of these copies, keeping their state."""

    def add_xfrc(self, ids: np.ndarray, body: int, wrench: np.ndarray) -> None:
        """Add ``wrench[j]`` (6 or 3 components) to body ``body`` of copy ``ids[j]``."""

    def watch(self, names: set[str]) -> None:
        """Register the state or output fields a layer will read (at bind time, before any step)."""

    def state(self, ids: np.ndarray, name: str) -> np.ndarray:
        """``qpos``, ``qvel`` or ``xpos`` rows of these copies, ``(len(ids), ...)``."""


def set_const(m: mujoco.MjModel, d: mujoco.MjData) -> None:
    """``mj_setConst`` for changed masses or sizes, keeping ``eq_data``.

    ``mj_setConst`` also recomputes the equality constraints' data (a weld's relative pose, a
    connect's anchor). On the Fetch arms the recomputed weld differs from the compiled one by
    up to 1.41 (``mujoco.batch``'s ``set_const`` gives the same), which pulls the gripper off
    its mocap target: a FetchPush policy with 0.93 success fell to 0.03 under a mass layer at
    scale 1. Masses and sizes do not change those poses, so the compiled ones are kept.
    Leaves ``d`` at the reference configuration, as ``mj_setConst`` does."""
    eq_data = m.eq_data.copy()
    mujoco.mj_setConst(m, d)
    m.eq_data[:] = eq_data


class SinglePhysics:
    """One Gymnasium MuJoCo env (copy 0)."""

    def __init__(self, handle: MujocoHandle) -> None:
        self.handle, self.frame_skip = handle, handle.frame_skip

    def expand(self, fields: set[str]) -> None:
        """Nothing to do: the env's model is the copy's own."""

    def row(self, i: int) -> Any:
        """The env's ``MjModel``."""
        return self.handle.model

    def set_const(self, ids: np.ndarray) -> None:
        """``set_const`` (``mj_setConst`` keeping the equality constraints) on a copy of the env's data.

        The env's ``MjData`` is left untouched, derived fields included: the task's next step reads them
        as the last ``mj_step`` left them (Ant's torso ``xpos``, Humanoid's ``xipos`` before the step), as
        the batch does and as a redraw of fields without derived constants (damping, friction) does.
        Recomputing them here (``mj_forward``) would shift that step's forward reward (under RK4 the
        last ``mj_step``'s positions are those of its final stage, not of the new ``qpos``)."""
        m, d = self.handle.model, self.handle.data
        scratch = mujoco.MjData(m)  # not kept: it would be one more simulation in a saved training state
        mujoco.mj_copyData(scratch, m, d)  # the same inputs (mocap poses included) as on the env's data
        set_const(m, scratch)

    def add_xfrc(self, ids: np.ndarray, body: int, wrench: np.ndarray) -> None:
        """Add to ``data.xfrc_applied``."""
        w = wrench[0]
        self.handle.data.xfrc_applied[body, : len(w)] += w

    def watch(self, names: set[str]) -> None:
        """Nothing to do: MjData has every field."""

    def state(self, ids: np.ndarray, name: str) -> np.ndarray:
        """The env's ``data.<name>`` as one row."""
        return getattr(self.handle.data, name)[None]


class _Row:
    """One simulation's rows of a batch's per-simulation model fields, with MjModel's attribute names."""

    def __init__(self, expanded: dict[str, np.ndarray], i: int) -> None:
        for name, arr in expanded.items():
            if not name.startswith("opt."):
                setattr(self, name, arr[i])
        self.opt = _OptRow({k[4:]: v for k, v in expanded.items() if k.startswith("opt.")}, i)


class _OptRow:
    def __init__(self, arrays: dict[str, np.ndarray], i: int) -> None:
        object.__setattr__(self, "_rows", {k: (v[i : i + 1] if v.ndim == 1 else v[i]) for k, v in arrays.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        return self._rows[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self._rows[name][...] = value


class BatchPhysics:
    """The simulations of a ``mujoco.batch.Batch``."""

    def __init__(self, batch: Any, handle: MujocoHandle) -> None:
        self.batch, self.handle, self.frame_skip = batch, handle, handle.frame_skip
        self._expanded: dict[str, np.ndarray] = {}
        self._rows: list[_Row] | None = None
        self._xfrc: np.ndarray | None = None
        self._state: dict[str, np.ndarray] = {}

    def expand(self, fields: set[str]) -> None:
        """``Batch.expand`` each field (rows are rebuilt on next use)."""
        for f in sorted(fields - set(self._expanded)):
            self._expanded[f] = self.batch.expand(f)
            self._rows = None

    def expanded(self, field: str) -> np.ndarray | None:
        """The live per-simulation values of ``field`` if a layer expanded it, else None."""
        return self._expanded.get(field)

    def row(self, i: int) -> _Row:
        """Simulation ``i``'s rows of the expanded fields."""
        if self._rows is None:
            self._rows = [_Row(self._expanded, k) for k in range(self.batch.nsim)]
        return self._rows[i]

    def set_const(self, ids: np.ndarray) -> None:
        """``Batch.set_const`` for these simulations, keeping the compiled ``eq_data`` (as ``set_const``)."""
        if not len(ids):
            return
        ids = np.unique(np.asarray(ids))
        keep = self.handle.model.neq > 0
        if keep:  # per simulation, so the rows written back are each simulation's own
            self.expand({"eq_data"})
        self.batch.set_const(ids)
        if keep:
            self._expanded["eq_data"][ids] = self.handle.model.eq_data

    def add_xfrc(self, ids: np.ndarray, body: int, wrench: np.ndarray) -> None:
        """Add to the bound ``xfrc_applied`` rows."""
        if self._xfrc is None:
            self._xfrc = self.batch.bind("xfrc_applied")
        self._xfrc[ids, body, : wrench.shape[1]] += wrench

    def watch(self, names: set[str]) -> None:
        """``Batch.bind`` each field now: outputs are copied out only from the next call on."""
        for name in names - set(self._state):
            self._state[name] = self.batch.bind(name)

    def state(self, ids: np.ndarray, name: str) -> np.ndarray:
        """Rows of a watched state or output field."""
        return self._state[name][ids]


class PhysicsSubset:
    """Copies ``copies`` of a larger ``Physics``, indexed from 0 (a sub-stack's view)."""

    def __init__(self, parent: Any, copies: np.ndarray) -> None:
        self.parent, self.copies = parent, np.asarray(copies)
        self.handle, self.frame_skip = parent.handle, parent.frame_skip

    def expand(self, fields: set[str]) -> None:
        """Expand in the parent."""
        self.parent.expand(fields)

    def row(self, i: int) -> Any:
        """The parent's row of copy ``copies[i]``."""
        return self.parent.row(int(self.copies[i]))

    def set_const(self, ids: np.ndarray) -> None:
        """Recompute the parent's copies."""
        self.parent.set_const(self.copies[ids])

    def add_xfrc(self, ids: np.ndarray, body: int, wrench: np.ndarray) -> None:
        """Add in the parent."""
        self.parent.add_xfrc(self.copies[ids], body, wrench)

    def watch(self, names: set[str]) -> None:
        """Watch in the parent."""
        self.parent.watch(names)

    def state(self, ids: np.ndarray, name: str) -> np.ndarray:
        """Read from the parent."""
        return self.parent.state(self.copies[ids], name)


def require_physics(scenario: Any, layer_type: str) -> Any:
    """The scenario's (or batch context's) ``Physics``, or a UserError saying the layer needs MuJoCo."""
    from scenarios.errors import UserError

    physics = getattr(scenario, "physics", None)
    if physics is None:
        raise UserError(f"layer {layer_type} needs a MuJoCo source (mujoco/ or mamujoco/), not {scenario.spec.source}")
    return physics
