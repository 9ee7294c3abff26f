"""Demonstration datasets: record from any agent or planner, save, load with validation,
export to Minari.

A dataset is one ``.npz`` file (NumPy's zip of arrays, no pickles) with this layout,
for every agent ``A`` of the scenario (``agent_0`` for single-agent tasks), over
E episodes with lengths T_1..T_E (``N = sum T_e`` steps):

- ``obs/A``          (N + E, *obs_shape): each episode's observations, its final one included;
- ``actions/A``      (N, *act_shape);
- ``rewards/A``, ``terminations/A``, ``truncations/A``  (N,);
- ``infos/A/KEY``    (N,): every numeric scalar the scenario's per-step info carried for A;
- ``states/A``       (N + E, S), optional: the simulator's full state beside each observation,
  when the system that was recorded exposes it (``sim2real.adapter.RealSystem.state``);
- ``episode_lengths`` (E,), ``episode_seeds`` (E,);
- ``meta``: a JSON string: format version, the scenario spec, the expert's identity
  (agent name, checkpoint, seed), every episode's per-agent return, and each agent's
  space signatures.

Why not Minari as the primary format: Minari datasets are single-agent and live
in a dataset folder keyed by id, while demonstrations here are multi-agent too
and the CLI writes ``--out FILE``. ``to_minari`` exports single-agent datasets
to a Minari dataset (HDF5) that ``minari.load_dataset`` reads.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agents.base import ProgressFn
from agents.checkpoint import scenario_signature
from scenarios import Scenario, ScenarioSpec, UserError
from scenarios.errors import wrap_seed
from scenarios import make as make_scenario
from scenarios.goals import is_goal_space

FORMAT = "testbed-demos-1"


@dataclass
class Dataset:
    """Per-agent trajectories of E episodes (see the module doc for the layout)."""

    spec: dict[str, Any]
    agents: list[str]
    obs: dict[str, np.ndarray]
    actions: dict[str, np.ndarray]
    rewards: dict[str, np.ndarray]
    terminations: dict[str, np.ndarray]
    truncations: dict[str, np.ndarray]
    episode_lengths: np.ndarray
    episode_seeds: np.ndarray
    expert: dict[str, Any]
    returns: list[dict[str, float]]
    infos: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    spaces: dict[str, Any] = field(default_factory=dict)
    states: dict[str, np.ndarray] = field(default_factory=dict)
    """Per agent, the simulator state beside each observation (N + E rows), where the system exposed it."""

    @property
    def episodes(self) -> int:
        """Number of episodes."""
        return len(self.episode_lengths)

    @property
    def steps(self) -> int:
        """Number of transitions (per agent)."""
        return int(self.episode_lengths.sum())

    def transitions(self, agent: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(obs, action, next_obs, terminated) arrays of one agent, aligned per transition."""
        starts = np.concatenate([[0], np.cumsum(self.episode_lengths + 1)[:-1]])
        idx = np.concatenate([s + np.arange(t) for s, t in zip(starts, self.episode_lengths)])
        o = self.obs[agent]
        return o[idx], self.actions[agent], o[idx + 1], self.terminations[agent]

    def mean_return(self) -> float:
        """The expert's mean team return (sum over agents) over the dataset's episodes."""
        return float(np.mean([sum(r.values()) for r in self.returns]))

    def save(self, path: str | Path) -> Path:
        """Write the ``.npz`` file (parents created)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"episode_lengths": self.episode_lengths, "episode_seeds": self.episode_seeds}
        for a in self.agents:
            arrays[f"obs/{a}"] = self.obs[a]
            arrays[f"actions/{a}"] = self.actions[a]
            arrays[f"rewards/{a}"] = self.rewards[a]
            arrays[f"terminations/{a}"] = self.terminations[a]
            arrays[f"truncations/{a}"] = self.truncations[a]
            for key, values in self.infos.get(a, {}).items():
                arrays[f"infos/{a}/{key}"] = values
            if a in self.states:
                arrays[f"states/{a}"] = self.states[a]
        meta = {"format": FORMAT, "spec": self.spec, "agents": self.agents, "expert": self.expert,
                "returns": self.returns, "spaces": self.spaces}
        arrays["meta"] = np.array(json.dumps(meta, default=str))
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)  # a crash mid-write never leaves a truncated dataset behind
        return path


def load(path: str | Path, scenario: Scenario | str | dict | ScenarioSpec | None = None) -> Dataset:
    """Read a dataset; with ``scenario`` given, refuse one whose agents or shapes do not fit it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"dataset not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} is not a testbed demonstration dataset ({exc})") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: unknown dataset format {meta.get('format')!r} (expected {FORMAT})")
    agents = list(meta["agents"])
    get = lambda kind: {a: data[f"{kind}/{a}"] for a in agents}  # noqa: E731
    infos: dict[str, dict[str, np.ndarray]] = {a: {} for a in agents}
    for key in data.files:
        if key.startswith("infos/"):
            _, a, name = key.split("/", 2)
            infos[a][name] = data[key]
    ds = Dataset(spec=meta["spec"], agents=agents, obs=get("obs"), actions=get("actions"), rewards=get("rewards"),
                 terminations=get("terminations"), truncations=get("truncations"),
                 episode_lengths=data["episode_lengths"], episode_seeds=data["episode_seeds"], expert=meta["expert"],
                 returns=meta["returns"], infos=infos, spaces=meta.get("spaces", {}),
                 states={a: data[f"states/{a}"] for a in agents if f"states/{a}" in data.files})
    _check_internal(ds, path)
    if scenario is not None:
        sc = scenario if isinstance(scenario, Scenario) else make_scenario(scenario)
        check_fits(ds, sc, str(path))
    return ds


def _check_internal(ds: Dataset, path: Path) -> None:
    n, e = ds.steps, ds.episodes
    for a in ds.agents:
        if len(ds.obs[a]) != n + e or len(ds.actions[a]) != n or len(ds.rewards[a]) != n:
            raise UserError(f"{path}: corrupt dataset, {a} has {len(ds.obs[a])} observations and {len(ds.actions[a])} "
                            f"actions for {e} episodes of {n} steps in total")
        if a in ds.states and len(ds.states[a]) != n + e:
            raise UserError(f"{path}: corrupt dataset, {a} has {len(ds.states[a])} states for {n + e} observations")


def check_fits(ds: Dataset, scenario: Scenario, where: str) -> None:
    """Refuse a dataset whose agents or observation/action shapes differ from the scenario's."""
    if sorted(ds.agents) != sorted(scenario.possible_agents):
        raise UserError(f"dataset {where} has agents {ds.agents} but {scenario.id} has {scenario.possible_agents}")
    for a in ds.agents:
        obs_shape = tuple(scenario.observation_space(a).shape or ())
        act_shape = tuple(scenario.action_space(a).shape or ())
        if ds.obs[a].shape[1:] != obs_shape:
            raise UserError(f"dataset {where} does not fit {scenario.id}: {a} observations have shape "
                            f"{ds.obs[a].shape[1:]}, the scenario's are {obs_shape}")
        if ds.actions[a].shape[1:] != act_shape:
            raise UserError(f"dataset {where} does not fit {scenario.id}: {a} actions have shape "
                            f"{ds.actions[a].shape[1:]}, the scenario's are {act_shape}")
        if not all(scenario.action_space(a).contains(x) for x in ds.actions[a][:: max(1, len(ds.actions[a]) // 50)]):
            raise UserError(f"dataset {where}: {a} actions fall outside {scenario.id}'s action space")


def _expert_actions(expert: Any, vec: Any, obs: dict[str, np.ndarray], deterministic: bool) -> dict[str, np.ndarray]:
    needs = getattr(getattr(expert, "capabilities", None), "needs_state", None)
    if needs == "physics":
        return expert.act(obs, deterministic=deterministic, states=vec.physics_state())
    if needs == "snapshot":
        return expert.act(obs, deterministic=deterministic, states=vec.snapshots())
    return expert.act(obs, deterministic=deterministic)


def record(expert: Any, scenario: Scenario | str | dict | ScenarioSpec | None = None, episodes: int = 10, seed: int = 0,
           deterministic: bool = True, checkpoint: str | None = None, progress: ProgressFn | None = None) -> Dataset:
    """Roll out ``expert`` (any agent or planner) for ``episodes`` episodes (episode k reset with
    seed ``seed + k``) and keep every observation, action, reward, flag and numeric info.

    >>> import agents
    >>> from agents.imitation import dataset
    >>> ds = dataset.record(agents.make("random", "classic/CartPole-v1", seed=0), episodes=2)
    >>> ds.episodes
    2
    """
    if episodes < 1:
        raise UserError(f"episodes must be at least 1 (got {episodes})")
    sc = expert.scenario if scenario is None else (scenario if isinstance(scenario, Scenario) else make_scenario(scenario))
    keyed = [a for a in sc.possible_agents if is_goal_space(sc.observation_space(a))]
    if keyed:
        raise UserError(f"{sc.id} has goal-conditioned (Dict) observations ({keyed[0]}): demonstration datasets hold "
                        "array observations, as the imitation learners read them (valid: a task with Box or "
                        "Discrete observations)")
    vec = sc.vector(1, autoreset=False)
    names = list(sc.possible_agents)
    buf: dict[str, dict[str, list]] = {a: {k: [] for k in ("obs", "actions", "rewards", "term", "trunc")} for a in names}
    infos: dict[str, dict[str, list]] = {a: {} for a in names}
    lengths, returns = [], []
    forget = getattr(expert, "reset_memory", None)
    try:
        for k in range(episodes):
            obs, _ = vec.reset(seed=[wrap_seed(seed + k)])
            if forget:
                forget()
            for a in names:
                buf[a]["obs"].append(obs[a][0].copy())
            t = 0
            while not vec.done[0]:
                act = _expert_actions(expert, vec, obs, deterministic)
                obs, rew, term, trunc, step_infos = vec.step(act)
                for a in names:
                    buf[a]["actions"].append(np.asarray(act[a][0]).copy())
                    buf[a]["rewards"].append(float(rew[a][0]))
                    buf[a]["term"].append(bool(term[a][0]))
                    buf[a]["trunc"].append(bool(trunc[a][0]))
                    buf[a]["obs"].append(obs[a][0].copy())
                    agent_info = step_infos[0].get("agents", {}).get(a, {})
                    done_before = sum(lengths) + t
                    for key, value in agent_info.items():
                        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                            infos[a].setdefault(key, [np.nan] * done_before).append(float(value))
                    for values in infos[a].values():
                        if len(values) < done_before + 1:
                            values.append(np.nan)  # a key this step did not carry
                t += 1
            lengths.append(t)
            returns.append(step_infos[0]["episode"]["returns"])
            if progress:
                progress(k + 1, episodes)
    finally:
        vec.close()
    n = sum(lengths)
    stack = lambda a, key, dtype=None: np.asarray(buf[a][key], dtype=dtype)  # noqa: E731
    return Dataset(
        spec=sc.spec.model_dump(), agents=names,
        obs={a: stack(a, "obs") for a in names}, actions={a: stack(a, "actions") for a in names},
        rewards={a: stack(a, "rewards", np.float64) for a in names},
        terminations={a: stack(a, "term", bool) for a in names}, truncations={a: stack(a, "trunc", bool) for a in names},
        episode_lengths=np.array(lengths, np.int64), episode_seeds=np.array([wrap_seed(seed + k) for k in range(episodes)], np.int64),
        expert={"agent": expert.name, "checkpoint": checkpoint, "seed": getattr(expert, "seed", None),
                "deterministic": deterministic, "mean_return": float(np.mean([sum(r.values()) for r in returns]))},
        returns=returns, infos={a: {k: np.asarray(v[:n], np.float64) for k, v in infos[a].items()} for a in names},
        spaces=scenario_signature(sc),
    )


def to_minari(ds: Dataset, dataset_id: str, root: str | Path | None = None) -> Path:
    """Export a single-agent dataset as a Minari dataset (HDF5) named ``dataset_id``
    (``namespace/name-vN``) under ``root`` (default: Minari's own datasets folder)."""
    import os

    import minari
    from minari.data_collector.episode_buffer import EpisodeBuffer

    try:
        from minari.dataset.minari_dataset import parse_dataset_id

        parse_dataset_id(dataset_id)
    except ImportError:  # another Minari layout: its own check at creation stays
        pass
    except ValueError as exc:
        raise UserError(f"Minari refuses the dataset id '{dataset_id}': {exc} (valid: [namespace/]name-v<N>)") from None

    if len(ds.agents) != 1:
        raise UserError(f"Minari datasets are single-agent; this dataset has agents {ds.agents}")
    if root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(Path(root).resolve())
    a = ds.agents[0]
    sc = Scenario(ScenarioSpec.model_validate(ds.spec))
    env = sc.as_gymnasium()
    starts = np.concatenate([[0], np.cumsum(ds.episode_lengths)[:-1]])
    buffers = []
    for e, (s, t) in enumerate(zip(starts, ds.episode_lengths)):
        o0 = s + e
        buffers.append(EpisodeBuffer(
            id=e, seed=int(ds.episode_seeds[e]), observations=ds.obs[a][o0 : o0 + t + 1], actions=ds.actions[a][s : s + t],
            rewards=ds.rewards[a][s : s + t], terminations=ds.terminations[a][s : s + t],
            truncations=ds.truncations[a][s : s + t], infos={},
        ))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Minari asks for author, permalink and eval env
        minari.create_dataset_from_buffers(
            dataset_id=dataset_id, buffer=buffers, env=env, algorithm_name=str(ds.expert.get("agent")),
            description=f"Recorded by testbed from {ds.expert.get('agent')} on {ds.spec['id']}", data_format="hdf5",
            author="testbed",
        )
    env.close()
    return Path(minari.storage.get_dataset_path(dataset_id))
