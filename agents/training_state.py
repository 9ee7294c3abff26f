"""An agent's whole training state as data: saved beside a checkpoint, restored into a fresh agent.

A plain checkpoint holds what acting needs (networks, normalizers). Continuing training
exactly where it stopped also needs the optimizers, replay buffers and their positions,
n-step windows, counters, the environment copies mid-episode (simulator states, time
limits, layer streams) and every random generator. Rather than a hand-written
``state_dict`` per learner (thirty of them, each a chance to forget one field), this
module walks the agent's object graph as ``torch.nn.Module.state_dict`` walks modules:

- leaves are written as data: numbers, strings, ``None``, NumPy arrays and torch tensors
  (into one ``.npz``), NumPy/torch/``random`` generator states, MuJoCo ``MjData`` through
  ``mj_getState`` (the integration state MuJoCo documents as sufficient to continue a
  simulation exactly) plus its derived arrays (``mjdata_derived``: after ``mj_step`` they
  describe the state before the last substep, and envs read them between steps: Fetch's
  mocap and observation, Ant's position before the step; ``mj_forward`` on the restored
  state would not give them back) and every ``MjModel`` field (layers change masses, frictions, gains;
  ``mj_setConst`` derives the constants that follow from them), a ``mujoco.batch.Batch`` as
  its state rows and its per-simulation model fields, optimizers through their own
  ``state_dict``;
- containers (dicts, lists, tuples, deques) and plain objects are walked by position
  and attribute name; functions, classes, modules, loggers, locks, threads, files and
  processes are not state and are skipped;
- restoring walks the same paths of an agent freshly built with the same configuration and
  writes every leaf back in place where shapes agree (so views of the storage stay views),
  else replaces it, after ``prepare`` (a ``learn(0)`` that builds what the first ``learn``
  builds lazily: environment copies, buffers).

Nothing is unpickled: the structure is JSON, the arrays are read with ``allow_pickle=False``.
An object the walk meets only in the saved tree (a list grown with objects the fresh agent
has not built) is refused on load with the path named, unless its class opts in as plain
data (``training_state_constructible``). Not state here, by design: what is skipped above,
and dict entries keyed by objects rather than plain values (optimizers, the one such case
among our learners, go through their ``state_dict``). ``tests/test_resume.py`` checks the
result against the uninterrupted run for every registered agent.
"""

from __future__ import annotations

import collections
import enum
import functools
import io
import json
import random
import types
from pathlib import Path
from typing import Any

import numpy as np

from scenarios import UserError

TREE, ARRAYS = "training_state.json", "training_state.npz"
_SKIP_MODULES = ("threading", "queue", "logging", "multiprocessing", "subprocess", "concurrent", "socket",
                 "torch.utils.tensorboard", "tensorboard", "tensorboardX", "stable_baselines3.common.logger",
                 "ray", "tqdm", "rich", "wandb", "weakref", "_thread", "asyncio", "selectors",
                 "torch.distributions")  # distributions: rebuilt by every forward pass
_SKIP_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
               io.IOBase, types.GeneratorType, types.CodeType, types.FrameType, property, staticmethod, classmethod)
_MODEL_STAT = ("stat.meaninertia", "stat.meanmass", "stat.meansize", "stat.extent", "stat.center")
"""``mj_setConst``'s statistics, beside ``mujoco.batch.MODEL_FIELDS`` (every MjModel array and option)."""


def _constructible(name: str | None) -> type | None:
    """The class ``"module:qualname"`` if its module is already imported and the class opts in with
    ``training_state_constructible = True`` (a plain holder of data, e.g. a layer's block of pre-drawn
    numbers created on its first draw), so a restore may create it empty and fill its attributes.
    Nothing is imported and no other class is ever constructed from a saved tree."""
    import sys

    module, _, qualname = (name or "").partition(":")
    cls: Any = sys.modules.get(module)
    for part in qualname.split(".") if cls is not None else ():
        cls = getattr(cls, part, None)
    return cls if isinstance(cls, type) and getattr(cls, "training_state_constructible", False) else None


def _unsaveable(x: Any) -> bool:
    """A Box2D object (SISL's multiwalker, Gymnasium's box2d tasks): SWIG wrappers of C++ state with no
    state API, where a restored run could not continue the same simulation."""
    mod = getattr(type(x), "__module__", None) or ""
    return mod == "Box2D" or mod.startswith("Box2D.") or type(x).__name__ == "SwigPyObject"


def not_state(x: Any) -> bool:
    """Whether the walk skips ``x``: functions, classes, modules, files, processes, loggers... (the module
    docstring's list); ``agents.divergence`` walks past the same objects."""
    if isinstance(x, _SKIP_TYPES) or isinstance(x, (bytes, bytearray, memoryview)):
        return True
    mod = getattr(type(x), "__module__", None) or ""  # SWIG's types (Box2D's) have no __module__
    return any(mod == m or mod.startswith(m + ".") for m in _SKIP_MODULES)


class _Writer:
    """Builds the JSON tree; arrays go to ``self.arrays`` under generated keys."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, str] = {}
        self.alive: list[Any] = []  # every object met stays alive, so no id is reused during the walk

    def array(self, a: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(a, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        return key

    def node(self, x: Any, path: str) -> Any:
        import torch

        if isinstance(x, np.generic):
            return {"np": self.array(np.asarray(x))}
        if isinstance(x, enum.Enum):
            return {"enum": self.node(x.value, path)}
        if isinstance(x, np.dtype):
            return {"npdtype": x.str}
        if isinstance(x, type) and issubclass(x, np.generic):
            return {"npdtype": np.dtype(x).str, "scalar_type": True}
        if x is None or isinstance(x, (bool, str)):
            return {"v": x}
        if isinstance(x, int):
            return {"v": x}
        if isinstance(x, float):
            return {"f": repr(x)}
        if _unsaveable(x):
            raise UserError(f"the training state cannot be saved: {path.lstrip('.')} is a Box2D simulation, which has "
                            "no API to save and restore its state (save the agent without training_state: its weights "
                            "and settings are kept, a continued run starts new episodes)")
        if not_state(x):
            return None
        if id(x) in self.seen:  # the same object again (a view held twice): restored where first met
            return {"ref": self.seen[id(x)]}
        self.seen[id(x)] = path
        self.alive.append(x)
        if isinstance(x, np.ndarray):
            if x.dtype == object:
                return {"list": [self.node(v, f"{path}[{i}]") for i, v in enumerate(x.tolist())], "objarray": list(x.shape)}
            if not x.flags.writeable and _mujoco_owned(x):  # a MuJoCo binding (a batch's derived field): the
                return {"skip": "read-only view"}  # fresh one stays bound, its writable copy is what is saved
            return {"nd": self.array(x)}
        if isinstance(x, torch.Tensor):
            return {"t": self.array(x.detach().cpu().numpy()), "dtype": str(x.dtype).removeprefix("torch.")}
        if isinstance(x, torch.optim.Optimizer):
            return {"opt": self.node(x.state_dict(), path + ".state_dict")}
        if isinstance(x, torch.Generator):
            return {"tgen": self.array(x.get_state().numpy())}
        if isinstance(x, np.random.Generator):
            return {"gen": x.bit_generator.state}
        if isinstance(x, np.random.BitGenerator):
            return {"bitgen": x.state}
        if isinstance(x, np.random.RandomState):
            name, keys, pos, has_gauss, gauss = x.get_state()
            return {"legacy": [name, self.array(keys), pos, has_gauss, gauss]}
        if isinstance(x, random.Random):
            version, internal, gauss = x.getstate()
            return {"pyrandom": [version, list(internal), gauss]}
        mj = _mujoco_node(self, x)
        if mj is not None:
            return mj
        if isinstance(x, dict):
            items = [[_key(k), self.node(v, f"{path}[{k!r}]")] for k, v in x.items() if _key(k) is not None]
            return {"dict": items, "kind": _dict_kind(x)}
        if isinstance(x, (list, tuple, collections.deque)):
            kind = "deque" if isinstance(x, collections.deque) else "tuple" if isinstance(x, tuple) else "list"
            out: dict[str, Any] = {"list": [self.node(v, f"{path}[{i}]") for i, v in enumerate(x)], "kind": kind}
            if isinstance(x, collections.deque):
                out["maxlen"] = x.maxlen
            return out
        fields = _fields(x)
        if fields is None:
            return None
        return {"obj": type(x).__qualname__, "cls": f"{type(x).__module__}:{type(x).__qualname__}",
                "attrs": {k: self.node(v, f"{path}.{k}") for k, v in fields.items()}}


def _fields(x: Any) -> dict[str, Any] | None:
    """An object's attributes (``__dict__`` and ``__slots__``), or None for what has neither."""
    out: dict[str, Any] = {}
    if hasattr(x, "__dict__"):
        out.update(vars(x))
    for cls in type(x).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(x, slot):
                out[slot] = getattr(x, slot)
    return out if out or hasattr(x, "__dict__") else None


def _dict_kind(x: dict) -> str:
    if isinstance(x, collections.defaultdict):
        return "defaultdict"
    return "ordered" if isinstance(x, collections.OrderedDict) else "dict"


def _key(k: Any) -> Any:
    """A dict key as JSON (strings, numbers, booleans, None and tuples of them); other keys are not state."""
    if k is None or isinstance(k, (str, bool, int, float)):
        return [type(k).__name__, k]
    if isinstance(k, np.integer):
        return ["int", int(k)]
    if isinstance(k, tuple) and all(_key(v) is not None for v in k):
        return ["tuple", [_key(v) for v in k]]
    return None


def _unkey(k: list) -> Any:
    kind, v = k
    if kind == "tuple":
        return tuple(_unkey(x) for x in v)
    return None if kind == "NoneType" else {"str": str, "bool": bool, "int": int, "float": float}[kind](v)


BATCH_STATE = ("time", "qpos", "qvel", "act", "history", "qacc_warmstart", "ctrl", "qfrc_applied", "xfrc_applied",
               "eq_active", "mocap_pos", "mocap_quat", "userdata", "plugin_state", "plastic")
"""``mujoco.batch``'s state fields (mjtState's integration state, one row per simulation)."""


def _mujoco_owned(x: np.ndarray) -> bool:
    """Whether ``x``'s memory belongs to a MuJoCo object (through any chain of array views): a binding
    the fresh object recreates, not data. Other read-only arrays (Ray's object store hands arrays out
    read-only) are state like any other."""
    base = x.base
    while isinstance(base, np.ndarray):
        base = base.base
    return base is not None and (type(base).__module__ or "").startswith("mujoco")


_MJDATA_FLAGS = ("flg_energypos", "flg_energyvel", "flg_subtreevel", "flg_rnepost")
"""Which of the forward pass's optional stages have run (MuJoCo computes those stages lazily on a later read)."""


@functools.cache
def mjdata_derived() -> tuple[str, ...]:
    """The ``MjData`` arrays a training state keeps beside ``mj_getState``'s integration state.

    MuJoCo's state is sufficient to *step* on exactly, but ``mj_step`` leaves the derived fields
    (positions and orientations ``xpos``/``xquat``/``site_xpos``, ``cvel``, ``cinert``, ``qfrc_actuator``,
    ``sensordata``, ``cfrc_ext``...) describing the state at the start of its last substep, and envs
    read them between steps: Gymnasium-Robotics' Fetch moves its mocap from the gripper body's
    ``xpos``/``xquat`` and observes ``site_xpos`` and site velocities; Gymnasium's Ant and Humanoid read
    their position before the step. ``mj_forward`` on a restored state would compute them at the current
    state instead, so they are saved as arrays. Kept: every array of ``mujoco.introspect``'s ``mjData``
    whose size the model fixes (not the contacts', constraints' and islands' arrays sized by the last
    step, which the next ``mj_step`` rebuilds before anything reads them), of numbers (not
    ``plugin_data``'s pointers), less the integration state (``BATCH_STATE``)."""
    import mujoco
    from mujoco.introspect import structs

    out = []
    for field in structs.STRUCTS["mjData"].fields:
        extent = getattr(field, "array_extent", None)
        if not extent or not isinstance(extent[0], str) or not hasattr(mujoco.MjModel, extent[0]):
            continue  # a fixed C array (solver statistics) or sized by the last step (ncon, nefc, nisland...)
        if "uintptr" in str(field.type) or field.name in BATCH_STATE:
            continue
        if hasattr(mujoco.MjData, field.name):  # (every one in this MuJoCo; guards a newer introspect)
            out.append(field.name)
    return tuple(out)


def _mujoco_node(w: _Writer, x: Any) -> dict[str, Any] | None:
    mod = type(x).__module__ or ""
    if not mod.startswith("mujoco"):
        return None
    import mujoco

    if isinstance(x, mujoco.MjData):
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.empty(mujoco.mj_stateSize(x.model, spec))
        mujoco.mj_getState(x.model, x, state, spec)
        derived = {name: w.array(np.array(getattr(x, name))) for name in mjdata_derived()}
        scalars = {"warnings": [[int(s.number), int(s.lastinfo)] for s in x.warning],
                   "flags": {f: int(getattr(x, f)) for f in _MJDATA_FLAGS}}
        return {"mjdata": w.array(state), "derived": derived, "scalars": scalars}
    if isinstance(x, mujoco.MjModel):  # every field (10-40 kB): layers change some, mj_setConst derives others
        from mujoco import batch as mjbatch

        fields = {}
        for name in (*sorted(mjbatch.MODEL_FIELDS), *_MODEL_STAT):
            owner, _, attr = name.rpartition(".")
            value = getattr(getattr(x, owner) if owner else x, attr, None)
            if value is not None:
                fields[name] = w.array(np.array(value))
        return {"mjmodel": fields}
    from mujoco import batch as mjbatch

    if isinstance(x, mjbatch.Batch):  # N simulations: their state rows and the per-simulation model fields
        state = {name: w.array(np.array(x.bind(name))) for name in BATCH_STATE}
        expanded = {}
        for name in sorted(mjbatch.MODEL_FIELDS):
            values = x.expanded(name)
            if values is not None:
                expanded[name] = w.array(np.array(values))
        return {"mjbatch": state, "expanded": expanded}
    return {"skip": type(x).__qualname__}  # renderers, contexts: not state


def capture(root: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The training state of ``root`` (an agent) as a JSON-able tree and its arrays."""
    w = _Writer()
    tree = w.node(root, "agent")
    return tree, w.arrays


class _Reader:
    def __init__(self, arrays: Any, strict: bool = True) -> None:
        self.arrays = arrays
        self.strict = strict
        self.done: set[int] = set()
        self.met: dict[str, tuple[dict[str, Any], Any]] = {}  # path -> (node, restored object)
        self.alive: list[Any] = []

    def value(self, old: Any, node: dict[str, Any] | None, path: str) -> Any:
        """The restored value for ``node``, written into ``old`` in place where it can be."""
        import torch

        if node is None or "skip" in node:
            return old
        if "ref" in node:  # saved as one object met twice: the fresh agent may hold two (restore both)
            target, obj = self.met.get(node["ref"], (None, None))
            if target is None or old is obj or old is None:
                return obj if old is None else old
            return self.value(old, target, path)
        new = self._value(old, node, path)
        self.met[path] = (node, new)
        self.alive.append(new)
        return new

    def _value(self, old: Any, node: dict[str, Any], path: str) -> Any:
        import torch

        if "v" in node:
            return node["v"]
        if "npdtype" in node:
            return np.dtype(node["npdtype"]).type if node.get("scalar_type") else np.dtype(node["npdtype"])
        if "enum" in node:
            value = self.value(None, node["enum"], path)
            return type(old)(value) if isinstance(old, enum.Enum) else value
        if "f" in node:
            return float(node["f"])
        if "np" in node:
            return self.arrays[node["np"]][()]
        if "nd" in node:
            new = self.arrays[node["nd"]]
            if isinstance(old, np.ndarray) and old.shape == new.shape and old.dtype == new.dtype and old.flags.writeable:
                old[...] = new
                return old
            return np.array(new)
        if "t" in node:
            new = torch.from_numpy(np.array(self.arrays[node["t"]]))
            if isinstance(old, torch.Tensor) and old.shape == new.shape and old.dtype == new.dtype:
                with torch.no_grad():
                    old.copy_(new)
                return old
            return new.to(getattr(torch, node["dtype"]))
        if "opt" in node:
            if not isinstance(old, torch.optim.Optimizer):
                raise UserError(f"training state: {path} was an optimizer, the fresh agent has {type(old).__name__}")
            state = self.value(None, node["opt"], path + ".state_dict")
            old.load_state_dict(state)
            return old
        if "tgen" in node:
            gen = old if isinstance(old, torch.Generator) else torch.Generator()
            gen.set_state(torch.from_numpy(np.array(self.arrays[node["tgen"]])))
            return gen
        if "gen" in node:
            gen = old if isinstance(old, np.random.Generator) else np.random.default_rng()
            gen.bit_generator.state = node["gen"]
            return gen
        if "bitgen" in node:
            if old is None:
                raise UserError(f"training state: {path} is a bit generator the fresh agent lacks")
            old.state = node["bitgen"]
            return old
        if "legacy" in node:
            name, keys, pos, has_gauss, gauss = node["legacy"]
            rs = old if isinstance(old, np.random.RandomState) else np.random.RandomState()
            rs.set_state((name, np.array(self.arrays[keys]), pos, has_gauss, gauss))
            return rs
        if "pyrandom" in node:
            version, internal, gauss = node["pyrandom"]
            r = old if isinstance(old, random.Random) else random.Random()
            r.setstate((version, tuple(internal), gauss))
            return r
        if "mjdata" in node:
            import mujoco

            mujoco.mj_setState(old.model, old, np.array(self.arrays[node["mjdata"]]), mujoco.mjtState.mjSTATE_INTEGRATION)
            for name, key in node.get("derived", {}).items():  # (absent from states saved before they were kept)
                target = getattr(old, name, None)
                if target is not None:  # (a field another MuJoCo version has: the fresh one's stays)
                    target[...] = self.arrays[key]
            scalars = node.get("scalars", {})
            # the instability warning counters: scenarios.instability flags an episode unstable by their growth
            for stat, (number, lastinfo) in zip(old.warning, scalars.get("warnings", [])):
                stat.number, stat.lastinfo = number, lastinfo
            for flag, value in scalars.get("flags", {}).items():
                setattr(old, flag, value)
            return old
        if "mjbatch" in node:
            for name, key in node["expanded"].items():
                old.expand(name)[...] = self.arrays[key]
            for name, key in node["mjbatch"].items():
                old.bind(name)[...] = self.arrays[key]
            return old
        if "mjmodel" in node:
            for name, key in node["mjmodel"].items():
                owner, _, attr = name.rpartition(".")
                target = getattr(old, owner) if owner else old
                value = np.array(self.arrays[key])
                current = getattr(target, attr)
                if isinstance(current, np.ndarray):
                    current[...] = value
                else:
                    setattr(target, attr, value.item() if value.ndim == 0 else value)
            return old
        if "dict" in node:
            return self._dict(old, node, path)
        if "list" in node:
            return self._list(old, node, path)
        if "obj" in node:
            made = _constructible(node.get("cls")) if old is None else None
            if made is not None:  # a plain holder of data built after training started
                old = made.__new__(made)
            if (old is None or type(old).__qualname__ != node["obj"]) and not self.strict:
                return old
            if old is None or type(old).__qualname__ != node["obj"]:
                found = "nothing" if old is None else type(old).__qualname__
                raise UserError(f"training state: {path} was a {node['obj']}, the fresh agent has {found} "
                                "(an object built after training started that a fresh agent does not build)")
            if id(old) in self.done:
                return old
            self.done.add(id(old))
            fields = _fields(old) or {}
            for k, child in node["attrs"].items():
                if child is None:  # not state (a logger, a lock...): the fresh agent's own stays
                    continue
                cur = fields.get(k)
                new = self.value(cur, child, f"{path}.{k}")
                if k not in fields or (new is not cur and not _same_leaf(new, cur)):
                    try:
                        setattr(old, k, new)
                    except (AttributeError, TypeError):
                        object.__setattr__(old, k, new)
            return old
        raise UserError(f"training state: unreadable node at {path}: {str(node)[:120]}")

    def _dict(self, old: Any, node: dict[str, Any], path: str) -> Any:
        target = old if isinstance(old, dict) else ({} if node["kind"] != "ordered" else collections.OrderedDict())
        if isinstance(old, dict) and id(old) in self.done:
            return old
        if isinstance(old, dict):
            self.done.add(id(old))
        keep = set()
        for k, child in node["dict"]:
            key = _unkey(k)
            keep.add(key)
            if child is None:
                continue
            cur = target.get(key) if isinstance(target, dict) and not isinstance(target, collections.defaultdict) else (
                target[key] if key in target else None)
            new = self.value(cur, child, f"{path}[{key!r}]")
            if key not in target or (new is not cur and not _same_leaf(new, cur)):
                target[key] = new
        for key in [k for k in target if _key(k) is not None and k not in keep]:
            del target[key]
        return target

    def _list(self, old: Any, node: dict[str, Any], path: str) -> Any:
        items = node["list"]
        kind = node.get("kind", "list")
        olds = list(old) if isinstance(old, (list, tuple, collections.deque)) else []
        new = [self.value(olds[i] if i < len(olds) else None, child, f"{path}[{i}]") for i, child in enumerate(items)]
        if "objarray" in node:
            out = np.empty(len(new), dtype=object)
            out[:] = new
            return out.reshape(node["objarray"])
        if isinstance(old, list):
            old[:] = new
            return old
        if isinstance(old, collections.deque):
            old.clear()
            old.extend(new)
            return old
        if kind == "deque":
            return collections.deque(new, maxlen=node.get("maxlen"))
        if kind == "tuple":
            return type(old)(*new) if isinstance(old, tuple) and hasattr(type(old), "_fields") else tuple(new)
        return new


def _same_leaf(a: Any, b: Any) -> bool:
    """Equal plain values of the same type (so frozen objects are not written needlessly)."""
    if type(a) is not type(b) or not isinstance(a, (bool, int, float, str, type(None), tuple)):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def restore(root: Any, tree: dict[str, Any], arrays: Any, strict: bool = True) -> None:
    """Write a ``capture`` tree back into ``root``, an agent built with the same configuration;
    ``strict=False`` leaves objects the agent has not built yet as they are instead of refusing."""
    _Reader(arrays, strict).value(root, tree, "agent")


def save(agent: Any, path: str | Path, captured: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None) -> None:
    """Write ``agent``'s training state (or ``captured``, its ``capture`` taken just before) into its
    checkpoint folder ``path`` (beside ``agent.save``'s files)."""
    path = Path(path)
    tree, arrays = captured if captured is not None else capture(agent)
    np.savez(path / ARRAYS, **arrays)
    (path / TREE).write_text(json.dumps(tree))


def exists(path: str | Path) -> bool:
    """Whether the checkpoint folder holds a training state."""
    return (Path(path) / TREE).is_file() and (Path(path) / ARRAYS).is_file()


def prepare(agent: Any) -> None:
    """Build what an agent builds lazily on its first ``learn`` (environment copies, buffers), so a
    restore has every object to write into: ``learn(0)``, which steps nothing."""
    agent.learn(0)


def load(agent: Any, path: str | Path) -> None:
    """Restore the training state saved in ``path`` into ``agent`` (built from the same checkpoint)."""
    path = Path(path)
    tree = json.loads((path / TREE).read_text())
    with np.load(path / ARRAYS, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    try:
        prepare(agent)
    except UserError:  # learning needs what a plain load leaves out (BC's demonstrations): restore what exists first
        restore(agent, tree, arrays, strict=False)
        prepare(agent)
    restore(agent, tree, arrays)
