"""The ``testbed`` command line (typer + rich).

Bad input prints one ``error: ...`` line on stderr and exits with status 2,
without a traceback; ``testbed check`` exits 1 when a check fails.

The packages below (``agents``, ``scenarios``, and with them torch, SB3 and
MuJoCo) are imported inside the commands that use them, so ``testbed --help``
answers without loading them. Listing, and refusing an unknown agent, scenario or
hyperparameter value, read the agent index (``agents.index``) and the scenario
registry's specs, so they answer before torch or MuJoCo load.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


app = typer.Typer(
    help="Robotics control and multi-agent RL under perturbation: scenarios, agents, evaluation, results.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
MAX_SEED = 2**63 - 1  # scenarios.errors.MAX_SEED (not imported here: the CLI starts without the packages)
_WIDTH = None if sys.stdout.isatty() else 140  # piped output (make, CI logs) gets full rows, not 80 columns
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a UserError, an out-of-memory error from settings too large for the machine, or an OSError on a
    path, into one stderr line and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            errors = sys.modules.get("scenarios.errors")  # not imported: no UserError can have been raised
            if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)):
                # settings that ask for more memory than the machine has (NumPy's MemoryError, torch's RuntimeError)
                exc = Exception(f"out of memory: {exc or 'an allocation failed'} (lower the sizes asked for: "
                                "n_envs, buffer_size, batch_size, network widths, episodes or grid points)")
            elif isinstance(exc, OSError) and exc.filename is not None:  # a path that cannot be read or written
                exc = Exception(f"{exc.filename}: {exc.strerror or exc} (choose another path)")
            elif errors is None or not isinstance(exc, errors.UserError):
                raise
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)  # "[ray]" is text
            raise typer.Exit(2) from None

    return wrapper


def check_out_folder(path: Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot become one: an existing file, a path under
    a file, or a folder that cannot be written (``train`` found out only when saving, after training)."""
    import os

    from scenarios import UserError

    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{flag} {path}: {probe} is a file, not a folder (choose another path)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {probe} cannot be written (choose another path)")


def default_run_folder(agent: str, scenario: str, seed: int) -> Path:
    """``runs/<agent>-<scenario>-seed<k>``, the scenario's slashes (and a YAML file's suffix) turned into ``_``."""
    name = Path(scenario).stem if scenario.endswith((".yaml", ".yml")) else scenario.replace("/", "_")
    return Path("runs") / f"{agent}-{name}-seed{seed}"


class _Progress(Progress):
    """A progress bar on stderr that erases itself when the command fails inside it, so a refusal
    found mid-command (an unknown --backend, an attack the agent cannot take) stays one line."""

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if exc_type is not None and issubclass(exc_type, Exception):
            self.live.transient = True
        super().__exit__(exc_type, exc_val, exc_tb)


def _progress() -> Progress:
    return _Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err, transient=False,
    )


class What(str, Enum):
    """What ``testbed list`` lists."""

    scenarios = "scenarios"
    agents = "agents"


@app.command("list")
@user_errors
def list_cmd(what: What = typer.Argument(What.scenarios, help="'scenarios' (every registered id) or 'agents'.")) -> None:
    """List registered scenario ids or agent names."""
    if what is What.agents:
        from agents import index

        table = Table("agent", "actions", "multi-agent", "settings", "learning", "trains", "summary")
        for name, info in index.read().items():
            caps = info["capabilities"]
            acts = "/".join(k for k in ("discrete", "continuous") if caps[f"{k}_actions"])
            settings = "all" if caps["competitive"] else "cooperative"
            table.add_row(name, acts, caps["multi_agent"], settings, caps["learning"], "yes" if caps["needs_training"] else "no",
                          info["summary"])
    else:
        import scenarios

        table = Table("scenario id", "source", "description")
        for sid in scenarios.list_ids():
            spec = scenarios.get_spec(sid)
            table.add_row(sid, spec.source, spec.description)
    out.print(table)


@app.command()
@user_errors
def describe(
    name: str = typer.Argument(..., help="A scenario id, a scenario YAML file, or an agent name."),
    scenario: str = typer.Option(None, help="For an agent: show its defaults for this scenario (its tuned entry)."),
) -> None:
    """Show a scenario's definition and spaces, or an agent's capabilities and hyperparameters
    (type, default, valid values and meaning of each)."""
    from agents import index
    import scenarios
    if name in index.names():
        from agents import config

        info = index.entry(name)
        sid = scenarios.resolve_spec(scenario).id if scenario is not None else None
        out.print(f"[bold]{name}[/]: {info['summary']}")
        caps = ", ".join(f"{k}={v}" for k, v in info["capabilities"].items())
        out.print(f"capabilities: {caps}")
        table = Table("hyperparameter", "type", f"default ({sid})" if sid else "default", "valid", "meaning",
                      title=f"{name} hyperparameters (--set NAME=VALUE)")
        for row in config.describe(name, sid):
            table.add_row(*(escape(c) for c in row))
        out.print(table if table.row_count else "hyperparameters: (none)")
        return
    if scenario is not None:
        from scenarios import UserError

        raise UserError("--scenario is for describing an agent")
    scenarios.resolve_spec(name)  # an unknown id fails here, before the source loads
    sc = scenarios.make(name)
    info = sc.describe()
    table = Table("field", "value", show_header=False)
    for key in ("id", "source", "kwargs", "time_limit", "team_reward", "description", "layers"):
        table.add_row(key, str(info[key]))
    out.print(table)
    spaces = Table("agent", "observation space", "action space")
    for agent, sp in info["agents"].items():
        spaces.add_row(agent, sp["observation"], sp["action"])
    out.print(spaces)
    sc.close()


@app.command()
@user_errors
def check(
    target: str = typer.Argument(None, help="A scenario id or YAML file (omit with --all)."),
    all_ids: bool = typer.Option(False, "--all", help="Check every registered scenario."),
    cycles: int = typer.Option(100, min=1, help="Steps per API and determinism check."),
) -> None:
    """Run Gymnasium's and PettingZoo's API checkers, the autoreset contract and a determinism check."""
    import scenarios
    from scenarios import UserError
    from scenarios.checker import check_scenario

    if not all_ids and target is None:
        raise UserError("give a scenario id or file, or --all")
    if all_ids:
        targets = scenarios.list_ids()
    else:
        scenarios.resolve_spec(target)  # fail fast, with suggestions, on an unknown id
        targets = [target]
    table = Table("scenario", "check", "result", "detail")
    failed = 0
    warned: dict[str, list[str]] = {}
    with _progress() as bar:
        task = bar.add_task("checking", total=len(targets))
        for t in targets:
            for r in check_scenario(t, cycles=cycles):
                verdict = "[green]pass[/]" if r.passed else "[dim]n/a[/]" if r.passed is None else "[red]FAIL[/]"
                failed += r.passed is False
                table.add_row(t, r.name, verdict, r.detail)
                for message in r.warnings:
                    warned.setdefault(message, []).append(f"{t} {r.name}")
            bar.advance(task)
    out.print(table)
    for message, where in warned.items():
        out.print(f"warning ({', '.join(where)}): {message}", highlight=False, markup=False)
    out.print(f"{failed} check(s) failed" if failed else "all checks passed")
    if failed:
        raise typer.Exit(1)


@app.command()
@user_errors
def train(
    agent: str = typer.Argument(..., help="Agent name ('testbed list agents')."),
    scenario: str = typer.Argument(..., help="Scenario id or YAML file."),
    steps: int = typer.Option(100_000, min=0, help="Environment steps to train for (0 for planners and model-based methods)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Seed for the agent and the scenario copies."),
    out_dir: Path = typer.Option(None, "--out", help="Checkpoint folder to write (default: runs/<agent>-<scenario>-seed<k>; "
                                 "must not hold a checkpoint already)."),
    set_: list[str] = typer.Option([], "--set", help="Hyperparameter override key=value (repeatable)."),
    config: Path = typer.Option(None, help="YAML config of hyperparameters (e.g. from 'testbed tune'); --set overrides it."),
    overwrite: bool = typer.Option(False, help="Replace an existing checkpoint in --out."),
    address: str = typer.Option(None, help="Ray cluster address for a learner on Ray (impala); default: a local instance."),
    training_state: bool = typer.Option(False, "--training-state", help="Also save everything training needs to go on "
                                        "exactly where it stopped (optimizers, replay buffer, environments, generators)."),
    resume: Path = typer.Option(None, help="Go on training the checkpoint in this folder (saved with --training-state) "
                                "for --steps more; the result goes to --out, the folder itself is left as it is."),
) -> None:
    """Train an agent on a scenario and save a checkpoint folder."""
    from agents import index
    from agents.checkpoint import META
    from agents.hyperparams import parse_assignments
    import scenarios
    from scenarios import UserError

    out_dir = out_dir or default_run_folder(agent, scenario, seed)
    check_out_folder(out_dir)
    if (out_dir / META).exists() and not overwrite:
        raise UserError(f"{out_dir} already holds a checkpoint; choose another --out or pass --overwrite")
    index.entry(agent)  # an unknown name fails before a --config file is read (and before torch loads)
    hparams = {}
    if config is not None:
        from testbed.tuning import read_config

        hparams = read_config(config)
    hparams = index.check_overrides(agent, {**hparams, **parse_assignments(set_)}, scenarios.resolve_spec(scenario).id)
    if address is not None:
        on_ray = [n for n, info in index.read().items() if "ray_address" in info["hyperparameters"]]
        if agent not in on_ray:
            raise UserError(f"--address is for learners on Ray ({', '.join(on_ray)}); {agent} does not use Ray")
        hparams["ray_address"] = address
    scenarios.resolve_spec(scenario)
    import agents

    if resume is not None:
        from testbed.agent_source import resumed_checkpoint

        ag = resumed_checkpoint(resume, agent, scenario, hparams)
    else:
        ag = agents.make(agent, scenario, seed=seed, **hparams)
    if training_state:  # a state that cannot be saved (a Box2D world) is refused before training, not after
        from agents import training_state as state

        state.capture(ag)
    with _progress() as bar:
        task = bar.add_task(f"training {agent} on {ag.scenario.id}", total=steps)
        # a method whose work is not counted in environment steps (bc: gradient steps) reports its own total
        ag.learn(steps, progress=lambda done, total: bar.update(task, completed=done, total=total))
        bar.update(task, completed=bar.tasks[0].total)
    path = agents.save(ag, out_dir, training_state=training_state)
    out.print(f"saved {agent} checkpoint to {path}" + (" (with its training state)" if training_state else ""))


@app.command()
@user_errors
def evaluate(
    checkpoint: str = typer.Argument(..., help="Checkpoint folder, or the name of an agent that needs no training ('random')."),
    scenario: str = typer.Argument(..., help="Scenario id or YAML file to evaluate on."),
    episodes: int = typer.Option(10, min=1, help="Episodes to run."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Episode k is reset with seed + k."),
    db: Path = typer.Option(Path("results.db"), help="SQLite results database to append to."),
    envs: int = typer.Option(8, min=1, max=100_000, help="Scenario copies stepped together (at most 100,000, as a grid's points)."),
    stochastic: bool = typer.Option(False, help="Sample actions instead of acting deterministically."),
    backend: str = typer.Option("auto", help="Vectorized face: auto (batched MuJoCo where it applies), batch, gymnasium."),
    grid: list[str] = typer.Option(
        [], "--grid", help="Grid axis FIELD[.NAME][@scale|add|set]=LOW:HIGH:N (repeatable; Cartesian product, "
        "endpoints included), e.g. body_mass.torso=0.5:1.5:10. --episodes then counts per grid point."),
    worst_case: list[str] = typer.Option(
        [], "--worst-case", help="Search the box FIELD[.NAME][@scale|add|set]=LOW:HIGH (repeatable) for the worst "
        "mean return with an optimizer, e.g. body_mass.torso=0.5:2; --episodes counts per point."),
    search: str = typer.Option("cmaes", help="Worst-case search method: cmaes, bayes (needs optuna), random."),
    search_budget: int = typer.Option(24, min=1, help="Points the worst-case search evaluates (besides the nominal)."),
    attack: str = typer.Option(None, help="Observation attack: random, fgsm, pgd, mad, critic, robust_sarsa, learned, "
                               "or all (each that applies, and the worst of them per budget)."),
    eps: str = typer.Option("0.05,0.1,0.2", help="Attack budgets, comma-separated, in units of each observation dimension's std."),
    attack_steps: int = typer.Option(10, min=1, help="Gradient steps of pgd and critic attacks."),
    attack_std: str = typer.Option("victim", help="Where the std for eps comes from: victim (its own roll-outs) or random (a random policy's)."),
    attack_train_steps: int = typer.Option(None, min=1, help="Environment steps robust_sarsa fits its critic on / learned "
                                           "trains its adversary for (default 20000 / 50000)."),
) -> None:
    """Evaluate a checkpoint on a scenario (optionally over a parameter grid or under an attack); one row per episode."""
    import scenarios
    from scenarios import UserError
    from testbed.agent_source import agent_or_checkpoint, check_source

    overrides = check_source(checkpoint, [])
    scenarios.resolve_spec(scenario)  # a bad name, id or flag fails before torch and the source load
    if sum(map(bool, (attack is not None, grid, worst_case))) > 1:
        raise UserError("--attack, --grid and --worst-case cannot be combined; run them separately")
    if attack is not None:
        budgets = _attack_budgets(attack, eps, attack_std)
    from testbed.worst_case import METHODS

    if search not in METHODS:
        raise UserError(f"unknown --search '{search}' (valid: {', '.join(METHODS)})")
    from testbed.grid import evaluate_grid, grid_points, parse_axis, point_spec  # a grid's fields need the layers
    from testbed.harness import evaluate as run_eval
    from testbed.store import ResultsStore

    axes = [parse_axis(g) for g in grid]
    if worst_case:
        from testbed.worst_case import parse_box

        axes = [parse_box(b) for b in worst_case]
    sc = scenarios.make(scenario)
    ag, label = agent_or_checkpoint(checkpoint, sc, seed, overrides)
    if attack is not None:
        _evaluate_attack(ag, sc, label, attack, budgets, attack_steps, attack_std, episodes, seed, db, envs, stochastic, backend,
                         attack_train_steps)
        return
    if worst_case:
        scenarios.Scenario(point_spec(sc.spec, axes, grid_points(axes)[0])).close()  # bad names fail before any run
        _evaluate_worst_case(ag, sc, label, axes, search, search_budget, episodes, seed, db, stochastic, backend)
        return
    if axes:
        scenarios.Scenario(point_spec(sc.spec, axes, grid_points(axes)[0])).close()  # bad names fail before any run
    store = ResultsStore(db)
    total = episodes * (len(grid_points(axes)) + 1 if axes else 1)
    with _progress() as bar:
        task = bar.add_task(f"evaluating {ag.name} on {sc.id}", total=total)
        kwargs = dict(episodes=episodes, seed=seed, num_envs=envs, deterministic=not stochastic, checkpoint=label,
                      store=store, progress=lambda done, _total: bar.update(task, completed=done))
        recs = evaluate_grid(ag, sc, axes, backend=backend, **kwargs) if axes else run_eval(ag, sc, backend=backend, **kwargs)
    _print_tables(recs)
    out.print(f"stored {len(recs)} episodes in {db} ({store.count()} in total)")


def _evaluate_worst_case(ag: Any, sc: Any, label: str | None, axes: list, method: str, budget: int, episodes: int,
                         seed: int, db: Path, stochastic: bool, backend: str) -> None:
    """The worst-case search (``testbed.worst_case``): every point stored as a grid point, the worst printed."""
    from testbed.store import ResultsStore
    from testbed.worst_case import search

    store = ResultsStore(db)
    with _progress() as bar:
        task = bar.add_task(f"searching {ag.name}'s worst case on {sc.id} ({method})", total=episodes * (budget + 1))
        found = search(ag, sc, axes, episodes=episodes, evaluations=budget, method=method, seed=seed,
                       deterministic=not stochastic, checkpoint=label, store=store, backend=backend,
                       progress=lambda done, _total: bar.update(task, completed=done))
    _print_tables(found.records, summary=False)
    point = ", ".join(f"{k}={v:.4g}" for k, v in found.point.items())
    out.print(f"worst case found by {method} in {found.evaluations} points x {episodes} episodes: {found.value:.1f} "
              f"at {point} (nominal {found.nominal:.1f})")
    if found.unstable_points:
        out.print(f"{found.unstable_points} of the {found.evaluations} points went physically unstable (MuJoCo reset the "
                  "simulation, or a return came out NaN or infinite): stored, flagged 'unstable', and left out of the worst case")
    out.print(f"stored {len(found.records)} episodes in {db} ({store.count()} in total)")


def _attack_budgets(kind: str, eps: str, std_source: str) -> list[float]:
    """Check the attack flags (before anything heavy loads) and return the budgets."""
    from agents.adversarial.attack_kinds import ALL, ATTACKS, MAX_EPS
    from scenarios import UserError

    if kind not in ATTACKS and kind != ALL:
        raise UserError(f"unknown attack '{kind}' (valid: {', '.join(ATTACKS)}, {ALL})")
    if std_source not in ("victim", "random"):
        raise UserError(f"unknown --attack-std '{std_source}' (valid: victim, random)")
    try:
        budgets = [float(x) for x in eps.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--eps expects comma-separated numbers, got '{eps}'") from None
    if not budgets or not all(0 <= b <= MAX_EPS for b in budgets):  # NaN fails both
        raise UserError(f"--eps needs one or more budgets from 0 to {MAX_EPS:g} (observation standard deviations), "
                        f"got '{eps}'")
    return budgets


def _evaluate_attack(ag: Any, sc: Any, label: str | None, kind: str, budgets: list[float], steps: int,
                     std_source: str, episodes: int, seed: int, db: Path, envs: int, stochastic: bool, backend: str,
                     train_steps: int | None = None) -> None:
    """Return vs epsilon under one observation attack, or every one that applies (``testbed.attack_curve``);
    every record stores attack and eps."""
    import agents
    from testbed.attack_curve import attack_curve
    from testbed.store import ResultsStore
    from testbed.tables import attack_table

    reference = ag if std_source == "victim" else agents.make("random", sc, seed=seed)
    store = ResultsStore(db)
    skipped: dict[str, str] = {}
    with _progress() as bar:
        task = bar.add_task(f"attacking {ag.name} on {sc.id}", total=None)  # the curve reports its total
        recs = attack_curve(ag, sc, kind, budgets, episodes=episodes, seed=seed, steps=steps, std_from=reference,
                            num_envs=envs, deterministic=not stochastic, checkpoint=label, store=store, backend=backend,
                            train_steps=train_steps, skipped=skipped,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
    out.print(attack_table(recs, f"{ag.name} on {sc.id} under {kind} (eps in std units)"))
    for name, why in skipped.items():
        out.print(f"[dim]not run: {name}: {escape(why)}[/]")
    out.print(f"stored {len(recs)} episodes in {db} ({store.count()} in total)")


def _print_tables(records: list, summary: bool = True) -> None:
    """The nominal summary (unless ``summary`` is False), the over-seeds transfer table, the grid tables, and a
    warning line where episodes went physically unstable."""
    from testbed.tables import grid_study_table, robustness_table, summary_table, transfer_table

    from testbed.study import grid_study

    rows = grid_study(records)
    tables = [summary_table(records)] if summary else []
    tables += [transfer_table(records), grid_study_table(records, rows)]
    if all(row.seeds == 1 for row in rows):  # single policies: their worst points, per grid run
        tables.append(robustness_table(records))
    for table in tables:
        if table is not None:
            out.print(table)
    broken = sum(1 for r in records if r.unstable)
    if broken:
        out.print(f"warning: {broken} of {len(records)} episodes went physically unstable (MuJoCo reset the simulation "
                  "mid-episode, or a return came out NaN or infinite): their returns are not measurements (records "
                  "flagged 'unstable')")


@app.command()
@user_errors
def results(
    db: Path = typer.Argument(Path("results.db"), help="SQLite results database."),
    marl_eval: Path = typer.Option(None, "--marl-eval", help="Also write the episodes in marl-eval's JSON layout to this file."),
) -> None:
    """Summarize a results database: mean, IQM and bootstrap 95% CI per agent x scenario."""
    from testbed.store import ResultsStore

    store = ResultsStore(db, create=False)
    recs = store.records()
    if not recs:
        out.print(f"{db} holds no episodes")
        return
    from testbed.tables import summary_table

    if marl_eval is not None:
        from testbed.marl_eval import write_marl_eval

        out.print(f"wrote marl-eval JSON to {write_marl_eval(recs, marl_eval)}")
    table = summary_table(recs)
    if table is None:
        out.print(f"{db} holds no nominal episodes (only grid, search or attacked ones)")
    else:
        out.print(table)
        out.print("CI: percentile bootstrap over episodes (2,000 resamples); over seeds: over the training seeds.")
    _print_tables(recs, summary=False)


@app.command()
@user_errors
def run(
    spec_file: Path = typer.Argument(..., help="Experiment spec (YAML): agents, scenarios, seeds, budgets, grids, attacks."),
    db: Path = typer.Option(Path("results.db"), help="SQLite results database (only this process writes it)."),
    out_dir: Path = typer.Option(None, "--out", help="Folder for checkpoints and TensorBoard logs (default: runs/<name>)."),
    executor: str = typer.Option("local", help="local (worker processes) or ray."),
    workers: int = typer.Option(1, help="Parallel jobs (local processes, or Ray CPUs for a new local Ray instance)."),
    address: str = typer.Option(None, help="Ray cluster address (with --executor ray); default: start a local instance."),
    wandb: bool = typer.Option(False, "--wandb", help="Also log every job's scalars to Weights & Biases (the wandb extra)."),
    wandb_project: str = typer.Option("testbed", help="W&B project (with --wandb)."),
    wandb_mode: str = typer.Option(None, help="W&B mode: online, offline or disabled (default: W&B's, WANDB_MODE)."),
    steps: int = typer.Option(None, "--steps", min=0, help="Train every agent entry this many steps instead of the "
                              "spec's budgets (a quick version of a study; job ids follow the budget)."),
) -> None:
    """Run an experiment: train then evaluate every job; finished jobs are skipped on a rerun."""
    from scenarios import UserError
    from testbed.experiment_spec import expand, load_experiment
    from testbed.executors import EXECUTORS
    from testbed.runner import run_experiment

    if executor not in EXECUTORS:
        raise UserError(f"unknown executor '{executor}' (valid: {', '.join(EXECUTORS)})")
    spec = load_experiment(spec_file)
    if steps is not None:
        spec.train_steps = steps
        for entry in spec.agents:
            entry.steps = None
    logging = None
    if wandb:
        from testbed.scalar_log import wandb_module

        wandb_module()  # a missing extra is one line, before any job
        if wandb_mode not in (None, "online", "offline", "disabled"):
            raise UserError(f"unknown --wandb-mode '{wandb_mode}' (valid: online, offline, disabled)")
        logging = {"project": wandb_project, "mode": wandb_mode}
    total = len(expand(spec))
    folder = out_dir or Path("runs") / spec.name
    check_out_folder(folder)
    with _progress() as bar:
        task = bar.add_task(f"experiment {spec.name}", total=total)
        counts = run_experiment(spec, db, folder, executor=executor, workers=workers, address=address, wandb=logging,
                                on_job=lambda job, k, n: (bar.update(task, advance=1), err.print(f"done: {job['description']}")))
        bar.update(task, completed=total)
    for note in counts["notes"]:
        err.print(f"skipped: {note}", highlight=False)
    out.print(f"{counts['jobs']} jobs: {counts['skipped']} already stored, {counts['ran']} run, "
              f"{counts['episodes']} episodes stored in {db}; checkpoints and TensorBoard logs in {folder}")
    if counts["ran"]:
        busy = counts["train_s"] + counts["eval_s"]
        out.print(f"job time (summed over jobs): training {counts['train_s']:.0f} s, evaluation {counts['eval_s']:.0f} s "
                  f"({100 * counts['eval_s'] / busy if busy else 0:.0f}% evaluation)")
    from testbed.store import ResultsStore

    store = ResultsStore(db, create=False)
    ids = set(counts["job_ids"])
    mine = [r for r in store.records() if r.job_id in ids]
    store.close()
    if mine:  # the experiment's own episodes (the database may hold others)
        _print_tables(mine)
    if counts["failures"]:
        for line in counts["failures"]:
            err.print(f"[bold red]failed:[/] {escape(line)}", highlight=False)
        raise typer.Exit(1)


@app.command()
@user_errors
def tune(
    agent: str = typer.Argument(..., help="Agent name (one with a search space: ppo, a2c, sac, td3, dqn, and fast_ppo and fast_sac in ppo's and sac's; or --space)."),
    scenario: str = typer.Argument(..., help="Scenario id or YAML file to tune on."),
    trials: int = typer.Option(30, min=1, help="Trials in the study (finished and pruned; a rerun completes the count)."),
    seeds: int = typer.Option(2, min=1, help="Training seeds per trial; the objective combines their returns."),
    objective: str = typer.Option("median", help="How a trial's per-seed returns combine: median, mean or min."),
    steps: int = typer.Option(50_000, min=1, help="Training budget per seed, in environment steps."),
    storage: str = typer.Option("sqlite:///tune.db", help="Optuna storage URL (the study resumes from it); 'memory' keeps it in memory."),
    study_name: str = typer.Option(None, help="Study name in the storage (default: <agent>-<scenario>)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="First training seed and the sampler's seed."),
    evals: int = typer.Option(4, min=1, help="Intermediate evaluations per trial (the median pruner reads them)."),
    eval_episodes: int = typer.Option(10, min=1, help="Deterministic episodes per evaluation (reset seeds from 10,000)."),
    space: Path = typer.Option(None, help="Search-space YAML (default: the 'search:' entry of agents/defaults/<agent>.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Fixed hyperparameter key=value for every trial (repeatable)."),
    out_file: Path = typer.Option(None, "--out", help="Best config YAML to write (default: tuned/<agent>-<scenario>.yaml)."),
    executor: str = typer.Option("local", help="local (worker processes) or ray, for --workers > 1."),
    workers: int = typer.Option(1, min=1, help="Parallel trial workers on the shared storage."),
    address: str = typer.Option(None, help="Ray cluster address (with --executor ray)."),
) -> None:
    """Tune an agent's hyperparameters on a scenario with Optuna; write the best config as YAML."""
    from agents import index
    from agents.hyperparams import parse_assignments
    import scenarios
    from scenarios import UserError
    from testbed.executors import EXECUTORS

    if executor not in EXECUTORS:
        raise UserError(f"unknown executor '{executor}' (valid: {', '.join(EXECUTORS)})")
    fixed = index.check_overrides(agent, parse_assignments(set_),  # a bad name or value fails before torch loads
                                  scenarios.resolve_spec(scenario).id)
    from testbed.tuning import best_config, counted, tune as run_tune, write_config

    study = run_tune(agent, scenario, trials, seeds, steps, None if storage == "memory" else storage, study_name, seed,
                     evals, eval_episodes, space, fixed, workers, executor, address, objective)
    config = best_config(study, agent, scenario, fixed)
    path = write_config(config, out_file or Path("tuned") / f"{agent}-{scenario.replace('/', '_')}.yaml")
    table = Table("trial", "state", f"{objective} return", *sorted(config["hparams"]))
    shown = sorted((t for t in study.trials if t.value is not None), key=lambda t: -t.value)[:10]
    for t in shown:
        table.add_row(str(t.number), t.state.name.lower(), f"{t.value:.1f}", *(str(t.user_attrs.get("hparams", t.params).get(k, "")) for k in sorted(config["hparams"])))
    out.print(table)
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    out.print(f"{counted(study)} trials ({len(failed)} failed); best: trial {config['tuned']['trial']}, {objective} return "
              f"{config['tuned']['objective']:.1f}; config written to {path} (testbed train {agent} {scenario} --config {path})")


@app.command()
@user_errors
def report(
    db: Path = typer.Argument(Path("results.db"), help="SQLite results database."),
    out_dir: Path = typer.Option(Path("report"), "--out", help="Folder for index.html (and videos/)."),
    title: str = typer.Option("testbed report", help="Page title."),
    videos: int = typer.Option(0, min=0, help="Render this many short episode GIFs (MuJoCo checkpoints, EGL/OSMesa)."),
    video_steps: int = typer.Option(60, min=2, help="Steps per video."),
) -> None:
    """Write an HTML report: tables, interval estimates, performance profiles, learning curves,
    robustness heatmaps, attack curves and, if asked, episode videos."""
    from scenarios import UserError
    from testbed.store import ResultsStore

    recs = ResultsStore(db, create=False).records()
    if not recs:
        raise UserError(f"{db} holds no episodes: nothing to report")
    import agents
    import scenarios
    from testbed.report.html import write_report

    clips = []
    if videos:
        from testbed.report.videos import render_episode

        seen = []
        for r in recs:
            if r.checkpoint and Path(r.checkpoint).is_dir() and (r.checkpoint, r.scenario_id) not in seen and r.scenario_id.startswith("mujoco/"):
                seen.append((r.checkpoint, r.scenario_id))
        for k, (ckpt, sid) in enumerate(seen[:videos]):
            sc = scenarios.make(sid)
            gif = render_episode(agents.load(ckpt, sc), sc, out_dir / "videos" / f"episode{k}.gif", steps=video_steps)
            clips.append((f"{Path(ckpt).name} on {sid}", gif))
    path = write_report(recs, out_dir, title=title, videos=clips)
    out.print(f"wrote {path}")


demos_app = typer.Typer(help="Record, inspect and export demonstration datasets.", no_args_is_help=True)
app.add_typer(demos_app, name="demos")


@demos_app.command("record")
@user_errors
def demos_record(
    expert: str = typer.Argument(..., help="Checkpoint folder, or an agent that needs no training (mppi, cem, a heuristic)."),
    scenario: str = typer.Argument(..., help="Scenario id or YAML file."),
    episodes: int = typer.Option(10, min=1, help="Episodes to record."),
    out_file: Path = typer.Option(None, "--out", help="Dataset file to write (.npz; default: runs/demos-<expert>-<scenario>-seed<k>.npz)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Episode k is reset with seed + k."),
    set_: list[str] = typer.Option([], "--set", help="Hyperparameter of an expert built by name, key=value (repeatable)."),
    stochastic: bool = typer.Option(False, help="Sample the expert's actions instead of acting deterministically."),
    overwrite: bool = typer.Option(False, help="Replace an existing dataset file."),
) -> None:
    """Record an expert's trajectories (observations incl. final, actions, rewards, flags, infos)."""
    import scenarios
    from scenarios import UserError
    from testbed.agent_source import agent_or_checkpoint, check_source

    if out_file is None:
        out_file = default_run_folder(f"demos-{Path(expert).name}", scenario, seed).with_suffix(".npz")
    target = out_file if out_file.suffix == ".npz" else out_file.with_suffix(".npz")
    if target.exists() and not overwrite:
        raise UserError(f"{target} exists; choose another --out or pass --overwrite")
    overrides = check_source(expert, set_)
    scenarios.resolve_spec(scenario)
    from agents.imitation import dataset

    sc = scenarios.make(scenario)
    ag, label = agent_or_checkpoint(expert, sc, seed, overrides)
    with _progress() as bar:
        task = bar.add_task(f"recording {ag.name} on {sc.id} (episodes)", total=episodes)
        ds = dataset.record(ag, sc, episodes=episodes, seed=seed, deterministic=not stochastic, checkpoint=label,
                            progress=lambda done, total: bar.update(task, completed=done))
    path = ds.save(target)
    out.print(f"saved {ds.episodes} episodes ({ds.steps} steps, expert mean return {ds.mean_return():.1f}) to {path}")


@demos_app.command("info")
@user_errors
def demos_info(path: Path = typer.Argument(..., help="Dataset file.")) -> None:
    """Show a dataset's scenario, expert, size and returns."""
    from agents.imitation import dataset

    ds = dataset.load(path)
    out.print(f"scenario {ds.spec['id']}, agents {', '.join(ds.agents)}")
    out.print(f"expert {ds.expert.get('agent')} ({ds.expert.get('checkpoint') or 'no checkpoint'}), "
              f"{ds.episodes} episodes, {ds.steps} steps, mean team return {ds.mean_return():.2f}")
    for a in ds.agents:
        out.print(f"  {a}: observations {ds.obs[a].shape[1:]}, actions {ds.actions[a].shape[1:]} {ds.actions[a].dtype}")


@demos_app.command("export-minari")
@user_errors
def demos_export_minari(
    path: Path = typer.Argument(..., help="Dataset file (single-agent)."),
    dataset_id: str = typer.Argument(..., help="Minari dataset id, namespace/name-vN."),
    root: Path = typer.Option(None, help="Minari datasets folder (default: Minari's own)."),
) -> None:
    """Export a single-agent dataset to Minari's format (HDF5)."""
    from agents.imitation import dataset

    where = dataset.to_minari(dataset.load(path), dataset_id, root)
    out.print(f"exported {path} to Minari dataset {dataset_id} at {where}")


@app.command()
@user_errors
def sim2real(
    target: str = typer.Argument(..., help="Target: a scenario id or YAML file (e.g. sim2real/Hopper-real-v0), or a "
                                 "RealSystem class as module:Class."),
    base: str = typer.Option(None, help="Nominal simulator scenario (default: the registered scenario without layers "
                             "that shares the target's source, or the RealSystem's base_scenario)."),
    episodes: int = typer.Option(20, min=1, help="Episodes of the random policy to record from the target."),
    param: list[str] = typer.Option([], "--param", help="Parameter to identify, kind:element or kind:* (repeatable; kinds: "
                                    "body_mass, friction, damping, armature, frictionloss, gain; default: a set for the task)."),
    delays: str = typer.Option("0,1,2", help="Candidate action delays (steps), comma-separated."),
    deadbands: str = typer.Option("0,0.05", help="Candidate actuator deadband widths, comma-separated."),
    agent: str = typer.Option("ppo", help="Agent to train, nominal and randomized ('testbed list agents')."),
    steps: int = typer.Option(200_000, min=0, help="Training steps for each of the two policies."),
    set_: list[str] = typer.Option([], "--set", help="Hyperparameter override key=value for both policies (repeatable)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Seed for recording, identification and training."),
    eval_episodes: int = typer.Option(20, min=1, help="Evaluation episodes per policy and world."),
    state: bool = typer.Option(True, help="Use the target's simulator state where it has one (--no-state: observations "
                               "only, with a fitted sensor bias)."),
    out_dir: Path = typer.Option(Path("runs/sim2real"), "--out", help="Folder for checkpoints, sim2real.md and sim2real.json."),
    db: Path = typer.Option(None, help="Results database for the evaluation episodes (scenario targets)."),
) -> None:
    """Record from a target, identify its parameters, train nominal and randomized policies, report the transfer."""
    from agents import index
    from agents.hyperparams import parse_assignments
    from scenarios import UserError
    from sim2real.loop import run_loop

    index.entry(agent)  # an unknown agent fails before anything runs
    check_out_folder(out_dir)
    overrides = parse_assignments(set_)

    def numbers(text: str, name: str, kind: type) -> tuple:
        try:
            values = tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise UserError(f"--{name} expects comma-separated numbers, got '{text}'") from None
        if not values or not all(0 <= v < float("inf") for v in values):  # NaN fails both comparisons
            raise UserError(f"--{name} needs one or more finite values >= 0, got '{text}'")
        return values

    run_loop(target, base=base, episodes=episodes, parameters=list(param) or None, delays=numbers(delays, "delays", int),
             deadbands=numbers(deadbands, "deadbands", float), agent=agent, steps=steps, seed=seed, out=out_dir, db=db,
             eval_episodes=eval_episodes, use_state=state, overrides=overrides, log=out.print)


def main() -> None:
    """Console-script entry point. A usage error (an unknown option, ``--steps -5``) is one ``error:`` line
    and exit status 2 like every other bad input, instead of click's usage line and boxed message."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        sys.exit(130)
    except Exception as exc:
        # click's UsageError family (typer vendors click, so matched by its exit code and message method)
        if getattr(exc, "exit_code", None) != 2 or not hasattr(exc, "format_message"):
            raise
        ctx = getattr(exc, "ctx", None)
        where = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        err.print(f"[bold red]error:[/] {escape(exc.format_message().rstrip('.'))}{where}", highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
