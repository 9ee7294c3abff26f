"""Experiment specs: agents x scenarios x seeds with budgets, grids and attacks, as YAML.

Example (``examples/experiment_ip.yaml``)::

    name: ip-study
    agents:
      - {name: ppo, steps: 20000, hparams: {learning_rate: 3.0e-4}}
      - {name: random}
    scenarios: [mujoco/InvertedPendulum-v5]
    seeds: [0, 1, 2]
    evaluation: {episodes: 10, seed: 1000}
    grids:
      - [body_mass.pole=0.5:2.0:4]
    attacks:
      - {kind: pgd, eps: [0.05, 0.1]}
    worst_case:
      - {box: [body_mass.pole=0.5:2.0, geom_friction=0.5:1.5], method: cmaes, evaluations: 24}
    evaluate_on:                      # besides the training scenario (per agent entry too)
      - {scenario: mujoco/InvertedPendulum-hard-v0}
      - {scenario: mujoco/InvertedPendulum-v5, grids: [[body_mass.pole=0.5:2.0:5, geom_friction=0.5:1.5:5]]}

``expand`` turns a spec into jobs, one per (agent entry, scenario, seed); a job
trains (unless the agent needs no training), then evaluates nominally, over each
grid and under each attack, then on every ``evaluate_on`` scenario (nominally,
and over that entry's own grids, searches and attacks). Every record says which
scenario trained the policy (``trained_on``), which one evaluated it
(``scenario_id``), the agent entry's ``label`` and the training ``train_seed``. A job's id hashes everything that defines it, so the
same spec gives the same ids and a rerun skips what is stored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.adversarial.attack_kinds import MAX_EPS
from scenarios import UserError
from scenarios.errors import MAX_SEED
from scenarios.registry import resolve_spec
from scenarios.spec import load_yaml


class AgentEntry(BaseModel):
    """One method of the study."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    label: str | None = Field(default=None, description="Name in results and folders (default: the agent name).")
    hparams: dict[str, Any] = Field(default_factory=dict)
    config: str | None = Field(default=None, description="YAML config of hyperparameters (e.g. from 'testbed tune'), "
                               "relative to the spec's folder; 'hparams' override it.")
    steps: int | None = Field(default=None, ge=0, description="Training budget (default: the spec's train_steps).")
    evaluate_on: list[EvaluationTarget] | None = Field(default=None, description="Scenarios to evaluate on besides the "
                                                       "training one (default: the spec's evaluate_on).")


class AttackEntry(BaseModel):
    """An observation attack evaluated at several budgets."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: str = Field(description="An attack name, or 'all' (every attack that applies, and the worst of them). A named "
                      "attack an agent cannot take is refused when the spec loads: restrict it with 'agents'.")
    eps: list[Annotated[float, Field(ge=0, le=MAX_EPS)]] = Field(
        min_length=1, description="Budgets in observation standard deviations, each from 0 to MAX_EPS (as --eps).")
    steps: int = Field(default=10, ge=1)
    train_steps: int | None = Field(default=None, ge=1, description="Environment steps of robust_sarsa / learned "
                                    "(default 20000 / 50000).")
    agents: list[str] | None = Field(default=None, description="Agent labels it applies to (default: every agent).")


class WorstCaseEntry(BaseModel):
    """A worst-case search over a box of physical parameters (``testbed.worst_case``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    box: list[str] = Field(min_length=1, description="Axes FIELD[.NAME][@OP]=LOW:HIGH, e.g. body_mass.torso=0.5:2.")
    method: str = Field(default="cmaes", description="cmaes, bayes (needs optuna) or random.")
    evaluations: int = Field(default=24, ge=1, description="Points evaluated besides the nominal.")


class EvaluationTarget(BaseModel):
    """A scenario a trained policy is evaluated on besides its training scenario, with its own grids,
    worst-case searches and attacks."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    scenario: str | dict[str, Any] = Field(description="A registered id, a spec file, or an inline definition.")
    grids: list[Annotated[list[str], Field(min_length=1)]] = Field(default_factory=list)  # [] would be a 0-axis grid
    attacks: list[AttackEntry] = Field(default_factory=list)
    worst_case: list[WorstCaseEntry] = Field(default_factory=list)


class Evaluation(BaseModel):
    """Episodes per evaluation and the first reset seed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    episodes: int = Field(default=10, ge=1)
    seed: int = Field(default=1000, ge=0, le=MAX_SEED, description="Reset seed of the first episode (as --seed).")


class ExperimentSpec(BaseModel):
    """A study: what to train, where, with which seeds, and how to evaluate it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    agents: list[AgentEntry] = Field(min_length=1)
    scenarios: list[str | dict[str, Any]] = Field(min_length=1)
    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] = Field(default_factory=lambda: [0], min_length=1)
    train_steps: int = Field(default=10_000, ge=0)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    grids: list[Annotated[list[str], Field(min_length=1)]] = Field(default_factory=list)  # [] would be a 0-axis grid
    attacks: list[AttackEntry] = Field(default_factory=list)
    worst_case: list[WorstCaseEntry] = Field(default_factory=list)
    evaluate_on: list[EvaluationTarget] = Field(default_factory=list)


def targets_of(spec: ExperimentSpec, entry: AgentEntry) -> list[EvaluationTarget]:
    """The evaluation scenarios of an agent entry: its own list, else the spec's."""
    return spec.evaluate_on if entry.evaluate_on is None else entry.evaluate_on


def _distinct(path: str | Path, field: str, values: list[Any]) -> None:
    """Refuse a repeated entry: each seed and scenario is one set of runs, and a repeat would run (and
    store) the same jobs twice under one key."""
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise UserError(f"{path}: field '{field}': {v} is given twice (valid: distinct {field})")
        seen.add(v)


def load_experiment(path: str | Path) -> ExperimentSpec:
    """Read and validate an experiment YAML; one UserError line on any problem."""
    data = load_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("seeds"), int):  # the count shorthand: seeds 0..N-1
        count = data["seeds"]
        if isinstance(count, bool) or count < 1:  # (true read as 1 seed, -2 as an empty list)
            raise UserError(f"{path}: field 'seeds': a count of seeds must be a whole number >= 1, got {count!r} "
                            "(valid: a count N for seeds 0..N-1, or a list of seeds)")
        data["seeds"] = list(range(count))
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UserError(f"{path}: field '{loc}': {err['msg']}") from None
    _distinct(path, "seeds", spec.seeds)
    _distinct(path, "scenarios", [json.dumps(s, sort_keys=True) if isinstance(s, dict) else s for s in spec.scenarios])
    from testbed.tuning import read_config

    for entry in spec.agents:
        if entry.config:
            file = Path(entry.config)
            if not file.is_absolute() and not file.is_file():
                file = Path(path).parent / file
            entry.hparams = {**read_config(file), **entry.hparams}
    validate(spec)
    return spec


def validate(spec: ExperimentSpec) -> None:
    """Check names before any job runs: agents, hyperparameters, scenarios, grid axes, attack kinds."""
    from agents import index
    from agents.adversarial.attack_kinds import ALL, ATTACKS

    # names and values first, from the agent index and the specs: they fail before torch or MuJoCo load
    for a in spec.agents:
        try:
            a.hparams = index.check_overrides(a.name, a.hparams)
        except UserError as exc:
            raise UserError(f"experiment {spec.name}: {exc}") from None
    labels = [a.label or a.name for a in spec.agents]
    if len(set(labels)) != len(labels):
        raise UserError(f"experiment {spec.name}: agent labels must be unique (got {labels}); set 'label' to tell them apart")
    all_attacks = list(spec.attacks) + [a for e in spec.agents for t in targets_of(spec, e) for a in t.attacks]
    for attack in all_attacks:
        if attack.kind not in ATTACKS and attack.kind != ALL:
            raise UserError(f"experiment {spec.name}: unknown attack '{attack.kind}' (valid: {', '.join(ATTACKS)}, {ALL})")
        unknown = sorted(set(attack.agents or []) - set(labels))
        if unknown:
            raise UserError(f"experiment {spec.name}: attack {attack.kind} names unknown agent(s) {', '.join(unknown)} "
                            f"(valid: {', '.join(labels)})")
    top_boxes = [_boxes(spec.name, w) for w in spec.worst_case]
    sc_specs = [resolve_spec(s) for s in spec.scenarios]
    for a in spec.agents:  # an inconsistent pair shows only with the scenario's tuned defaults
        for sc_spec in sc_specs:
            try:
                index.check_overrides(a.name, a.hparams, sc_spec.id)
            except UserError as exc:
                raise UserError(f"experiment {spec.name}: {exc} (on {sc_spec.id})") from None
    from scenarios import Scenario
    from testbed.grid import grid_points, parse_axis, point_spec

    def check_axes(sc_spec: Any, grids: list[list[str]], boxes: list[Any]) -> None:
        for axes in [[parse_axis(axis) for axis in grid] for grid in grids] + boxes:
            Scenario(point_spec(sc_spec, axes, grid_points(axes)[0])).close()  # a grid the scenario cannot take fails here

    trained = []
    try:
        for sc_spec in sc_specs:  # a layer that cannot apply to its source fails here, not inside a job
            try:
                trained.append(Scenario(sc_spec))
            except UserError as exc:
                raise UserError(f"experiment {spec.name}: {exc}") from None
        from agents.registry import check_fits

        for a in spec.agents:  # an agent that cannot train on a scenario (pets on CartPole) fails here too
            for scenario in trained:
                try:
                    check_fits(a.name, scenario, a.hparams)
                except UserError as exc:
                    raise UserError(f"experiment {spec.name}: {exc}") from None
        _check_attacks_apply(spec, trained)
        if spec.grids or top_boxes:
            for sc_spec in sc_specs:
                check_axes(sc_spec, spec.grids, top_boxes)
        checked: set[str] = set()
        for entry in spec.agents:
            for target in targets_of(spec, entry):
                key = json.dumps(target.model_dump(), sort_keys=True, default=str)
                if key in checked:
                    continue
                checked.add(key)
                boxes = [_boxes(spec.name, w) for w in target.worst_case]
                try:
                    target_spec = resolve_spec(target.scenario)
                except UserError as exc:
                    raise UserError(f"experiment {spec.name}: evaluate_on: {exc}") from None
                evaluated = Scenario(target_spec)
                try:
                    for scenario in trained:
                        _same_spaces(spec.name, scenario, evaluated)
                finally:
                    evaluated.close()
                check_axes(target_spec, target.grids, boxes)
    finally:
        for scenario in trained:
            scenario.close()


def _check_attacks_apply(spec: ExperimentSpec, trained: list[Any]) -> None:
    """Refuse, before any job, an attack named for an agent it cannot apply to (fgsm on a planner, critic on an
    agent without a value function, any gradient attack on MAPPO with shared parameters), and an ``all`` that
    leaves nothing; the check runs on an untrained agent of each entry on each training scenario."""
    import agents
    from agents.adversarial.attack_kinds import ALL, expand
    from testbed.attack_curve import applicable

    for entry in spec.agents:
        label = entry.label or entry.name
        wanted = [a for a in list(spec.attacks) + [a for t in targets_of(spec, entry) for a in t.attacks]
                  if a.agents is None or label in a.agents]
        if not wanted:
            continue
        for scenario in trained:
            agent = agents.make(entry.name, scenario, seed=0, **entry.hparams)
            try:
                for attack in wanted:
                    ok, why = applicable(agent, scenario, expand(attack.kind), attack.steps, untrained=True)
                    if attack.kind != ALL and why:
                        raise UserError(f"experiment {spec.name}: attack {attack.kind} cannot apply to {label} on "
                                        f"{scenario.id}: {why[attack.kind]} (restrict it with the attack's 'agents')")
                    if not ok:
                        raise UserError(f"experiment {spec.name}: no attack applies to {label} on {scenario.id}: "
                                        f"{next(iter(why.values()))}")
            finally:
                close = getattr(agent, "close", None)
                if callable(close):
                    close()


def _boxes(name: str, entry: WorstCaseEntry) -> list[Any]:
    """A worst-case entry's parsed box, after checking its method."""
    from testbed.worst_case import METHODS, parse_box

    if entry.method not in METHODS:
        raise UserError(f"experiment {name}: unknown worst_case method '{entry.method}' (valid: {', '.join(METHODS)})")
    try:
        return [parse_box(axis) for axis in entry.box]
    except UserError as exc:
        raise UserError(f"experiment {name}: {exc}") from None


def _same_spaces(name: str, train: Any, target: Any) -> None:
    """Refuse an evaluation scenario whose agents or spaces differ from the training scenario's (both built)."""
    for agent in train.possible_agents:
        if agent not in target.possible_agents:
            raise UserError(f"experiment {name}: evaluate_on {target.id} has no agent {agent} "
                            f"(it has {', '.join(target.possible_agents)}); a policy trained on {train.id} cannot act there")
        for kind, fa, fb in (("observation", train.observation_space, target.observation_space),
                             ("action", train.action_space, target.action_space)):
            sa, sb = fa(agent), fb(agent)
            if getattr(sa, "shape", None) != getattr(sb, "shape", None) or type(sa) is not type(sb):
                raise UserError(f"experiment {name}: evaluate_on {target.id}: {agent}'s {kind} space {sb} differs "
                                f"from {train.id}'s {sa}; a policy trained there cannot act on it")


def expand(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The jobs of a spec (plain dicts, picklable for any executor), in a stable order."""
    jobs = []
    for entry in spec.agents:
        for scenario in spec.scenarios:
            sc_spec = resolve_spec(scenario).model_dump()
            for seed in spec.seeds:
                job = {
                    "experiment": spec.name, "agent": entry.name, "label": entry.label or entry.name,
                    "hparams": entry.hparams, "steps": spec.train_steps if entry.steps is None else entry.steps,
                    "scenario": sc_spec, "seed": seed, "evaluation": spec.evaluation.model_dump(),
                    "grids": spec.grids,
                    **({"worst_case": [w.model_dump() for w in spec.worst_case]} if spec.worst_case else {}),
                    "attacks": _attacks(spec.attacks, entry),
                }
                targets = targets_of(spec, entry)
                if targets:  # absent otherwise, so specs without it keep their job ids
                    job["evaluate_on"] = [{"scenario": resolve_spec(t.scenario).model_dump(), "grids": t.grids,
                                           "attacks": _attacks(t.attacks, entry),
                                           "worst_case": [w.model_dump() for w in t.worst_case]} for t in targets]
                job["id"] = hashlib.sha1(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()[:16]
                job["description"] = f"{job['label']} on {sc_spec['id']} seed {seed}"
                jobs.append(job)
    return jobs


def _attacks(attacks: list[AttackEntry], entry: AgentEntry) -> list[dict[str, Any]]:
    return [a.model_dump(exclude={"agents", *(() if a.train_steps else ("train_steps",))}) for a in attacks
            if a.agents is None or (entry.label or entry.name) in a.agents]
