"""Hyperparameter tuning: an Optuna study over an agent's declared search space.

Optuna (the library rl-baselines3-zoo tunes with) does the sampling (TPE), the
pruning (median rule), the storage (any RDB URL, ``sqlite:///tune.db`` by
default) and resuming (``load_if_exists``); this module adds what a testbed
study needs around it:

- search spaces are data, declared next to the tuned defaults: the ``search:``
  entry of ``agents/defaults/<agent>.yaml`` (or ``--space FILE`` with the same
  shape): per key ``{low, high, log}`` (int when both bounds are ints) or
  ``{choices: [...]}``; a key given as a fixed value (``--set``) leaves the space and keeps that value in
  every trial (the sampled value used to override it silently);
- every trial trains ``seeds`` agents (seeds ``seed + 0 ... seed + K - 1``) and
  its objective is the **median** over them (``objective``: or ``mean``, which
  a seed that fails pulls down, or ``min``, the worst seed) of the mean evaluation return
  (``eval_episodes`` deterministic episodes, reset seeds from 10,000, disjoint
  from the training seeds); ``evals`` intermediate evaluations, each reporting
  the median so far, let the median pruner stop a bad trial early;
- budgets are counted in steps actually trained: SB3 rounds every ``learn``
  call up to whole rollouts, so each chunk trains up to its cumulative target
  from the agent's real counter, and a config overshoots the budget by at most
  one rollout (recorded per evaluation in the trial's user attributes), instead
  of by one rollout per chunk, which would favour long rollouts; a config that
  trains more than 110% of the budget is pruned (``over_budget``);
- a trial that raises is recorded as failed with its error and retried once
  with the same parameters; the study goes on;
- ``trials`` is the study's total (finished and pruned trials), so running the
  same command again after an interruption completes it instead of starting over;
- ``workers`` processes (local, spawn) or Ray tasks optimize the same stored
  study in parallel.

The best trial is written as a YAML file (``agent``, ``scenario``, ``hparams``,
and how it scored) that ``testbed train --config FILE`` and experiment specs
(``config: FILE`` in an agent entry) take.
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

import scenarios
from scenarios import UserError
from scenarios.errors import wrap_seed
from scenarios.spec import load_yaml
from agents import hyperparams

SPACE_KEY = "search"
OBJECTIVES = {"median": np.median, "mean": np.mean, "min": np.min}
"""How a trial's per-seed returns become its objective."""
EVAL_SEED = 10_000


class SearchParam(BaseModel):
    """One key's search range: ``low``/``high`` (``log`` for a log scale), or ``choices``; with
    ``fraction_of: KEY`` the choices are divisors and the key's value is ``max(KEY // choice, 1)`` (rl-zoo's
    ``gradient_steps = train_freq // subsample_steps``, so a DQN trial never takes 128 gradient steps per
    environment step)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None
    fraction_of: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SearchParam:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either non-empty choices or low/high")
        elif self.low is None or self.high is None or self.low >= self.high:
            raise ValueError("a range needs low < high")
        elif self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.fraction_of is not None and not (
                self.choices and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in self.choices)):
            raise ValueError("fraction_of needs choices of positive integers (the divisors)")
        return self

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw this key's value for an Optuna trial."""
        if self.choices is not None:
            return trial.suggest_categorical(name, self.choices)
        if float(self.low).is_integer() and float(self.high).is_integer() and not self.log:  # type: ignore[arg-type]
            return trial.suggest_int(name, int(self.low), int(self.high))  # type: ignore[arg-type]
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)  # type: ignore[arg-type]


def load_space(agent: str, file: str | Path | None = None) -> dict[str, SearchParam]:
    """The agent's search space: ``--space FILE`` (a mapping, or one with a ``search:`` entry), or
    the ``search:`` entry of its tuned defaults; keys are checked against its hyperparameters."""
    import agents
    from agents.hyperparams import DEFAULTS

    cls = agents.agent_class(agent)
    if file is not None:
        data = load_yaml(file)
        where = str(file)
    else:
        source = hyperparams.defaults_source(agent)  # fast_ppo tunes in ppo's space: the same names
        path = DEFAULTS / f"{source}.yaml"
        data = load_yaml(path) if path.is_file() else {}
        where = f"agents/defaults/{source}.yaml"
    raw = data.get(SPACE_KEY, data if file is not None else None) if isinstance(data, dict) else None
    if not raw:
        spaced = {p.stem for p in DEFAULTS.glob("*.yaml") if SPACE_KEY in (load_yaml(p) or {})}
        have = sorted(n for n in agents.list_names() if hyperparams.defaults_source(n) in spaced)
        raise UserError(f"{agent} declares no search space (agents with one: {', '.join(have)}; or pass --space FILE)")
    valid = cls.valid_hyperparameters() if hasattr(cls, "valid_hyperparameters") else set()
    space = {}
    for key, value in raw.items():
        if key not in valid:
            raise UserError(f"{where}: search key '{key}' is not a hyperparameter of {agent} (valid: {', '.join(sorted(valid))})")
        base = value.get("fraction_of") if isinstance(value, dict) else None
        if base is not None and (base not in valid or base == key):
            raise UserError(f"{where}: search key '{key}': fraction_of '{base}' is not another hyperparameter of {agent}")
        try:
            space[key] = SearchParam.model_validate(value)
        except ValidationError as exc:
            raise UserError(f"{where}: search key '{key}': {exc.errors()[0]['msg']}") from None
        param = space[key]
        defaults = cls.default_hyperparameters() if hasattr(cls, "default_hyperparameters") else {}
        for v in (param.choices if param.choices is not None else [param.low, param.high]):
            try:  # a value the agent refuses would fail every trial that draws it
                hyperparams.check_values(agent, {key: v}, defaults)
            except UserError as exc:
                raise UserError(f"{where}: search key '{key}': {exc}") from None
    return space


def _optuna() -> Any:
    """Optuna, imported when a study needs it (a base dependency; ~0.5 s to import)."""
    import optuna

    return optuna


def evaluate_return(agent: Any, episodes: int) -> float:
    """Mean deterministic return over ``episodes`` evaluation episodes (reset seeds from 10,000)."""
    from testbed.harness import evaluate

    return float(np.mean([r.team_return for r in evaluate(agent, episodes=episodes, seed=EVAL_SEED)]))


def trained_steps(agent: Any) -> int:
    """Environment steps an agent has actually trained: SB3 rounds a ``learn`` call up to whole
    rollouts (``n_steps`` x copies), so its model's counter is read; our learners count their own."""
    n = getattr(getattr(agent, "model", None), "num_timesteps", None)
    return int(n) if n is not None else int(agent.steps_trained)


class Objective:
    """A trial: ``seeds`` agents trained in ``evals`` chunks, the median of their returns reported."""

    def __init__(self, agent: str, scenario: str, space: dict[str, SearchParam], fixed: dict[str, Any], steps: int,
                 seeds: int, seed: int, evals: int, eval_episodes: int, objective: str = "median") -> None:
        self.agent, self.scenario, self.space, self.fixed = agent, scenario, space, fixed
        self.base = trial_base(agent, scenario, fixed)  # what a fraction_of key divides when its base is not searched
        self.objective = objective
        self.steps, self.seeds, self.seed, self.evals, self.eval_episodes = steps, seeds, seed, evals, eval_episodes

    def __call__(self, trial: Any) -> float:
        """Sample the trial's values, train and evaluate; a failure is recorded in the trial's ``error``."""
        optuna = _optuna()
        drawn = {k: p.suggest(trial, k) for k, p in self.space.items()}
        try:
            params = resolve(self.space, drawn, self.base)
            trial.set_user_attr("hparams", params)  # what trained (a fraction_of key's drawn divisor resolved)
            return self._run(trial, params)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            raise

    def _run(self, trial: Any, params: dict[str, Any]) -> float:
        import agents

        optuna = _optuna()
        learners = [agents.make(self.agent, self.scenario, seed=wrap_seed(self.seed + k), **{**self.fixed, **params})
                    for k in range(self.seeds)]
        targets = np.linspace(0, self.steps, self.evals + 1).round().astype(int)[1:]
        value = float("nan")
        for step, target in enumerate(targets):
            returns, trained = [], []
            for learner in learners:
                if trained_steps(learner) < target:
                    learner.learn(int(target) - trained_steps(learner))
                trained.append(trained_steps(learner))
                if trained[-1] > 1.1 * self.steps:
                    trial.set_user_attr("over_budget", f"trained {trained[-1]} steps for a budget of {self.steps}")
                    raise optuna.TrialPruned()
                returns.append(evaluate_return(learner, self.eval_episodes))
            value = float(OBJECTIVES[self.objective](returns))
            trial.set_user_attr(f"eval{step}", {"target_steps": int(target), "steps": trained, "returns": returns})
            trial.report(value, step)
            if step < len(targets) - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return value


def trial_base(agent: str, scenario: str, fixed: dict[str, Any]) -> dict[str, Any]:
    """The values every trial starts from: the agent's tuned defaults for ``scenario`` under the fixed ones."""
    return {**hyperparams.tuned_defaults(agent, scenarios.resolve_spec(scenario).id), **fixed}


def resolve(space: dict[str, SearchParam], drawn: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of a trial's ``drawn`` values: a ``fraction_of`` key becomes its base key's value
    (drawn, else from ``base``: the fixed values over the agent's tuned defaults) divided by the drawn divisor."""
    out = dict(drawn)
    for key, p in space.items():
        if p.fraction_of is not None and key in drawn:
            whole = drawn.get(p.fraction_of, base.get(p.fraction_of))
            if not isinstance(whole, int) or isinstance(whole, bool):
                raise UserError(f"search key '{key}': fraction_of '{p.fraction_of}' needs an integer value, got {whole!r}")
            out[key] = max(whole // drawn[key], 1)
    return out


def check_fixed(agent: str, scenario: str, seed: int, fixed: dict[str, Any], space: dict[str, SearchParam],
                draws: int = 32) -> None:
    """Refuse, before any trial, fixed values that no configuration of the space can take: the agent is built
    with ``fixed`` and ``draws`` seeded random draws of the space, and the first that builds passes; when none
    does, the first draw's refusal is raised. (Building with the defaults of the searched keys refused, say,
    ``n_steps: 64`` beside ppo's default ``batch_size: 256`` although the space searches batch_size.)"""
    import agents

    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=wrap_seed(seed)))
    base = trial_base(agent, scenario, fixed)
    first: UserError | None = None
    for _ in range(draws):
        trial = probe.ask()
        try:
            drawn = resolve(space, {k: p.suggest(trial, k) for k, p in space.items()}, base)
            agents.make(agent, scenario, seed=seed, **{**fixed, **drawn})
            return
        except UserError as exc:
            first = first or exc
    assert first is not None
    raise first


def _retry_once(study: Any, trial: Any) -> None:
    """Optuna callback: a failed trial is enqueued again with the same parameters, once."""
    optuna = _optuna()
    if trial.state == optuna.trial.TrialState.FAIL and "retry_of" not in trial.user_attrs:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def open_study(storage: str | None, name: str, seed: int) -> Any:
    """Create or load (resume) the study ``name`` in ``storage`` (None: in memory)."""
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    try:
        return optuna.create_study(study_name=name, storage=storage, direction="maximize", sampler=sampler,
                                   pruner=pruner, load_if_exists=True)
    except Exception as exc:  # ValueError, ImportError, SQLAlchemy's errors for an unknown dialect or a bad URL
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UserError(f"cannot open the study storage '{storage}': {first} (valid: an RDB URL such as "
                        "sqlite:///tune.db)") from None


def counted(study: Any) -> int:
    """Finished and pruned trials of a study (what ``trials`` counts)."""
    optuna = _optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def run_trials(study: Any, objective: Objective, trials: int) -> None:
    """Run trials one at a time until the study holds ``trials`` finished or pruned ones (parallel
    workers may add one or two more); five failures in a row stop it with the last error."""
    optuna = _optuna()
    streak = 0
    while counted(study) < trials:
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[_retry_once])
        ran = study.get_trials(deepcopy=False, states=tuple(s for s in optuna.trial.TrialState if s.is_finished()))
        last = max(ran, key=lambda t: t.datetime_complete)  # the trial just run (a retry may be waiting after it)
        streak = streak + 1 if last.state == optuna.trial.TrialState.FAIL else 0
        if streak >= 5:
            raise UserError(f"5 trials in a row failed; the last with {last.user_attrs.get('error', 'an error')}")


def optimize(study_args: dict[str, Any], objective: Objective, trials: int) -> None:
    """One worker's loop on a stored study (in this process, a local process or a Ray task)."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    run_trials(open_study(**study_args), objective, trials)


def tune(agent: str, scenario: str, trials: int, seeds: int, steps: int, storage: str | None, study_name: str | None = None,
         seed: int = 0, evals: int = 4, eval_episodes: int = 10, space_file: str | Path | None = None,
         fixed: dict[str, Any] | None = None, workers: int = 1, executor: str = "local",
         address: str | None = None, objective: str = "median") -> Any:
    """Run (or resume) the study and return it; see the module docstring."""
    import agents

    if trials < 1 or seeds < 1 or steps < 1 or evals < 1 or eval_episodes < 1:
        raise UserError("trials, seeds, steps, evals and eval-episodes must each be at least 1")
    if objective not in OBJECTIVES:
        raise UserError(f"unknown objective '{objective}' (valid: {', '.join(OBJECTIVES)})")
    if evals > steps:
        raise UserError(f"evals ({evals}) cannot exceed steps ({steps})")
    space = load_space(agent, space_file)
    cls = agents.agent_class(agent)
    fixed = dict(fixed or {})
    if hasattr(cls, "default_hyperparameters"):
        fixed = hyperparams.check_values(agent, fixed, cls.default_hyperparameters())
    space = {k: p for k, p in space.items() if k not in fixed}  # --set holds a searched value fixed in every trial
    if not space:
        raise UserError(f"every hyperparameter of {agent}'s search space is fixed by --set; nothing is left to tune")
    check_fixed(agent, scenario, seed, fixed, space)
    if workers > 1 and storage is None:
        raise UserError("parallel trials need a shared --storage (e.g. sqlite:///tune.db)")
    name = study_name or f"{agent}-{scenario}"
    study_args = {"storage": storage, "name": name, "seed": seed}
    study = open_study(**study_args)
    objective_fn = Objective(agent, scenario, space, fixed, steps, seeds, seed, evals, eval_episodes, objective)
    if workers <= 1:
        run_trials(study, objective_fn, trials)
        return study
    if executor == "ray":
        _ray_workers(study_args, objective_fn, trials, workers, address)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            for f in [pool.submit(optimize, {**study_args, "seed": seed + w}, objective_fn, trials) for w in range(workers)]:
                f.result()
    return open_study(**study_args)


def _ray_workers(study_args: dict[str, Any], objective: Objective, trials: int, workers: int, address: str | None) -> None:
    from testbed.executors import start_ray

    ray, started_here = start_ray(workers, address)
    try:
        remote = ray.remote(num_cpus=1)(optimize)
        ray.get([remote.remote({**study_args, "seed": study_args["seed"] + w}, objective, trials) for w in range(workers)])
    finally:
        if started_here:
            ray.shutdown()


def best_config(study: Any, agent: str, scenario: str, fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The best trial as a config mapping (``agent``, ``scenario``, ``hparams``, its score)."""
    try:
        best = study.best_trial
    except ValueError:
        why = [t.user_attrs.get("over_budget") or t.user_attrs.get("error") for t in study.trials]
        why = [w for w in why if w]
        hint = f" (last: {why[-1]}{'; raise --steps' if 'budget' in why[-1] else ''})" if why else ""
        raise UserError(f"study {study.study_name} has no finished trial yet{hint}") from None
    return {"agent": agent, "scenario": scenario, "hparams": {**(fixed or {}), **best.user_attrs.get("hparams", best.params)},
            "tuned": {"study": study.study_name, "trial": best.number, "objective": float(best.value),
                      "trials": counted(study)}}


def write_config(config: dict[str, Any], path: str | Path) -> Path:
    """Write a config mapping as YAML (what ``testbed train --config`` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def read_config(path: str | Path) -> dict[str, Any]:
    """The hyperparameters of a config file: its ``hparams`` entry, or the whole mapping."""
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config is a mapping of hyperparameters (or has an 'hparams' mapping)")
    hp = data.get("hparams", data)
    if not isinstance(hp, dict):
        raise UserError(f"{path}: 'hparams' must be a mapping")
    return dict(hp)
