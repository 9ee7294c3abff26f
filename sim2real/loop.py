"""The sim2real loop in one call (``testbed sim2real``): record, identify, train, evaluate, report.

1. Record ``episodes`` episodes of the uniform random policy from the target: a
   scenario (id or YAML, e.g. ``sim2real/Hopper-real-v0``, wrapped in
   ``ScenarioSystem``) or a ``RealSystem`` class given as ``module:Class``
   (built with no arguments; its ``base_scenario`` attribute, or ``--base``,
   names the simulator it corresponds to).
2. Identify the parameters (default: ``sysid.default_parameters``), the action
   delay and the actuator deadband among candidates; from the observations alone
   (``use_state`` False, or a system without ``state()``) a sensor bias is fitted too.
3. Train the agent on the nominal base scenario and, with the same seed and
   budget, on the base with randomization centred on the fit
   (``SysIdResult.training_layers``).
4. Evaluate both policies on the base (source) and on the target, with 95% CIs
   and the transfer gap; for a scenario target the episodes go to the results
   database (``--db``) so ``testbed report`` shows them.
5. Write ``sim2real.md`` (the report section) and ``sim2real.json`` into the
   output folder.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenarios import UserError
from scenarios import make as make_scenario
from scenarios.registry import resolve_spec
from scenarios.spec import ScenarioSpec
from sim2real.adapter import AGENT, RealSystem, ScenarioSystem, check_spaces, record
from sim2real.sysid import SysIdResult, check_parameters, identify
from testbed.metrics import bootstrap_ci


@dataclass
class PolicyResult:
    """One trained policy's mean return on the source and on the target, with 95% CIs."""

    name: str
    source: float
    source_ci: tuple[float, float]
    target: float
    target_ci: tuple[float, float]
    gap: float
    checkpoint: str


@dataclass
class LoopReport:
    """What ``run_loop`` found: the fit, the training layers and each policy's transfer."""

    target: str
    base: str
    fit: dict[str, Any]
    summary: str
    training_layers: list[dict[str, Any]]
    policies: list[PolicyResult] = field(default_factory=list)

    def markdown(self) -> str:
        """The report section (markdown)."""
        lines = [f"## Sim2real: {self.base} -> {self.target}", "", "Identification:", "", "```", self.summary, "```", "",
                 "| policy | source return [95% CI] | target return [95% CI] | gap |", "|---|---|---|---|"]
        for p in self.policies:
            lines.append(f"| {p.name} | {p.source:.1f} [{p.source_ci[0]:.1f}, {p.source_ci[1]:.1f}] | "
                         f"{p.target:.1f} [{p.target_ci[0]:.1f}, {p.target_ci[1]:.1f}] | {p.gap:.1f} |")
        return "\n".join(lines) + "\n"


def load_target(target: str) -> tuple[RealSystem, str, str | None]:
    """The target system, its label, and the base scenario it names (``base_scenario``), if any.

    ``module:Class`` (a module path with a colon and no slash) is a ``RealSystem``
    class built with no arguments; anything else is a scenario id or YAML file.
    """
    if ":" in target and "/" not in target.split(":", 1)[0] and not target.endswith((".yaml", ".yml")):
        module, _, name = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot load RealSystem '{target}' ({exc}); give module:Class or a scenario id") from None
        if not isinstance(cls, type):
            raise UserError(f"{target} is not a class (a {type(cls).__name__}); give module:Class of a RealSystem")
        system = cls()
        if not isinstance(system, RealSystem):
            raise UserError(f"{target} does not implement the RealSystem protocol (reset, step, close, spaces)")
        return system, target, getattr(system, "base_scenario", None)
    spec = resolve_spec(target)
    return ScenarioSystem(make_scenario(spec)), spec.id, None


def nominal_base(target: str | ScenarioSpec) -> str:
    """The registered scenario without layers whose source is the target's (``sim2real/Hopper-real-v0`` ->
    ``mujoco/Hopper-v5``); ``target`` is an id or, for a target given as a YAML file, its spec (its id is
    not registered)."""
    from scenarios.registry import get_spec, list_ids

    spec = target if isinstance(target, ScenarioSpec) else resolve_spec(target)
    target_id = spec.id
    for other_id in list_ids():
        other = get_spec(other_id)
        if other.source == spec.source and not other.layers and not other.kwargs and other.id != spec.id:
            return other.id
    raise UserError(f"no nominal scenario shares {target_id}'s source {spec.source}; pass --base")


def _returns(agent: Any, system: RealSystem, episodes: int, seed: int) -> np.ndarray:
    ds = record(system, agent, episodes, seed=seed, deterministic=True)
    return np.array([r[AGENT] for r in ds.returns])


def run_loop(target: str, base: str | None = None, episodes: int = 20, parameters: list[str] | None = None,
             delays: tuple[int, ...] = (0, 1, 2), deadbands: tuple[float, ...] = (0.0, 0.05), agent: str = "ppo",
             steps: int = 200_000, seed: int = 0, out: Path = Path("runs/sim2real"), db: Path | None = None,
             eval_episodes: int = 20, use_state: bool = True, min_width: float = 0.1,
             overrides: dict[str, Any] | None = None, log: Any = print) -> LoopReport:
    """Run the loop (module doc) and write ``sim2real.md`` and ``sim2real.json`` into ``out``."""
    import agents
    from testbed.harness import evaluate

    if episodes < 1 or eval_episodes < 1 or steps < 0:
        raise UserError(f"episodes and eval episodes must be >= 1 and steps >= 0 (got {episodes}, {eval_episodes}, {steps})")
    system, label, named_base = load_target(target)
    base_id = resolve_spec(base or named_base or nominal_base(system.scenario.spec if isinstance(system, ScenarioSystem)
                                                           else label)).id
    base_sc = make_scenario(base_id)
    check_spaces(system, base_sc)
    check_parameters(base_id, parameters)  # an unknown --param fails before the target's episodes are recorded
    if isinstance(system, ScenarioSystem):
        system.expose_state = use_state
    log(f"recording {episodes} episodes of the random policy from {label}")
    data = record(system, agents.make("random", base_id, seed=seed), episodes, seed=seed, deterministic=False)
    fit: SysIdResult = identify(base_id, data, parameters, delays=delays, deadbands=deadbands, seed=seed,
                                sensor_bias=not (use_state and data.states))
    log(fit.summary(min_width=min_width))
    layers = fit.training_layers(min_width=min_width)
    spec = base_sc.spec.model_dump()
    randomized = {**spec, "id": f"{base_id.rsplit('-v', 1)[0]}-sysid-randomized-v0", "layers": [*spec["layers"], *layers]}
    store = None
    if db is not None:
        from testbed.store import ResultsStore

        store = ResultsStore(db)
    fitted = {**asdict(fit), "costs": {f"delay {d}, deadband {w:g}": c for (d, w), c in fit.costs.items()}}
    report = LoopReport(target=label, base=base_id, fit=fitted, summary=fit.summary(min_width=min_width),
                        training_layers=layers)
    out.mkdir(parents=True, exist_ok=True)
    for name, train_spec in (("nominal", base_id), ("randomized", randomized)):
        ag = agents.make(agent, train_spec, seed=seed, **(overrides or {}))
        log(f"training {agent} ({name}) for {steps} steps on {ag.scenario.id}")
        ag.learn(steps)
        path = ag.save(out / f"{agent}-{name}")
        src = evaluate(ag, base_sc, episodes=eval_episodes, seed=10_000)
        a = np.array([r.team_return for r in src])
        if isinstance(system, ScenarioSystem):
            tgt = evaluate(ag, system.scenario, episodes=eval_episodes, seed=10_000)
            b = np.array([r.team_return for r in tgt])
            if store is not None:
                tag = {"label": f"{agent}-{name}", "trained_on": base_id, "train_seed": seed, "checkpoint": str(path)}
                store.add([r.model_copy(update=tag) for r in (*src, *tgt)])
        else:
            b = _returns(ag, system, eval_episodes, 10_000)
        report.policies.append(PolicyResult(name, float(a.mean()), bootstrap_ci(a, np.mean), float(b.mean()),
                                            bootstrap_ci(b, np.mean), float(a.mean() - b.mean()), str(path)))
    if store is not None:
        store.close()
    system.close()
    (out / "sim2real.md").write_text(report.markdown())
    (out / "sim2real.json").write_text(json.dumps(asdict(report), indent=2, default=_jsonable))
    log(report.markdown())
    return report


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, tuple):
        return list(x)
    return str(x)

