"""Return-vs-epsilon curves: evaluate one victim under observation attacks at several budgets.

The observation standard deviations that define the budget units are measured
once (``agents.adversarial.attacks.calibrate``) and shared by every attack and
epsilon, so the curve's points are comparable; every episode record stores the
attack and its epsilon in ``params``. ``kind="all"`` runs every attack that applies
to the victim (a critic attack needs a value function, gradient attacks a
differentiable policy) with the same episode seeds; ``testbed.attack_summary.worst_of_attacks`` gives,
per budget, the lowest mean return over them (the SA-PPO / ATLA protocol). A robust
Sarsa critic is fitted once per victim and shared by every epsilon; a learned
adversary is trained per epsilon.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.adversarial.attack_kinds import ALL, ATTACKS, expand
from agents.adversarial.attacks import ObservationAttack, calibrate
from agents.base import NotTrained
from scenarios import Scenario, UserError
from testbed.harness import evaluate
from testbed.records import EpisodeRecord


def applicable(agent: Any, scenario: Scenario, kinds: list[str], steps: int = 10,
               untrained: bool = False) -> tuple[list[str], dict[str, str]]:
    """The attacks of ``kinds`` that apply to ``agent``, and why each of the others does not.

    With ``untrained``, ``agent`` is a fresh one (a check before training): an attack its policy refuses only
    because none is built yet counts as applying; what the agent's kind or settings rule out still does not."""
    unit = {a: np.ones(int(np.prod(scenario.observation_space(a).shape or ()))) for a in scenario.possible_agents}
    ok, why = [], {}
    for kind in kinds:
        try:
            ObservationAttack(kind, 0.0, agent, unit, steps=steps)
            ok.append(kind)
        except NotTrained as exc:
            if untrained:
                ok.append(kind)
            else:
                why[kind] = str(exc)
        except UserError as exc:
            why[kind] = str(exc)
    return ok, why


def attack_curve(agent: Any, scenario: Scenario, kind: str, eps_values: list[float], episodes: int = 10, seed: int = 0,
                 steps: int = 10, std_from: Any | None = None, progress: Callable[[int, int], None] | None = None,
                 train_steps: int | None = None, skipped: dict[str, str] | None = None,
                 **evaluate_kwargs: Any) -> list[EpisodeRecord]:
    """Records of ``episodes`` episodes per attack and epsilon (all episode seeds shared).

    The budget unit is the per-dimension observation std under ``std_from``'s policy (default:
    the victim's own); ``progress(done, total)`` counts episodes over the whole curve;
    ``train_steps`` is the environment steps of the robust_sarsa and learned attacks. A victim
    a named attack cannot apply to is refused before the std is measured; with ``kind="all"``
    such attacks are left out and, if ``skipped`` is given, listed there with the reason.

    >>> import agents, scenarios
    >>> sc = scenarios.make("classic/CartPole-v1")
    >>> recs = attack_curve(agents.make("random", sc, seed=0), sc, "random", [0.0, 0.5], episodes=2)
    >>> sorted({r.params["eps"] for r in recs})
    [0.0, 0.5]
    """
    if kind != ALL and kind not in ATTACKS:
        raise UserError(f"unknown attack '{kind}' (valid: {', '.join(ATTACKS)}, {ALL})")
    kinds, why = applicable(agent, scenario, expand(kind), steps)
    if kind != ALL and why:
        raise UserError(why[kind])  # fail fast, in one line
    if not kinds:  # every attack refused (observations that are not a Box): say why, before the std is measured
        raise UserError(f"no attack applies to {agent.name} on {scenario.id}: {next(iter(why.values()))}")
    if skipped is not None:
        skipped.update(why)
    std = calibrate(std_from if std_from is not None else agent, scenario)
    records: list[EpisodeRecord] = []
    run_id = evaluate_kwargs.pop("run_id", None)
    total = episodes * len(eps_values) * len(kinds)
    k = 0
    for name in kinds:
        sarsa = None
        for eps in eps_values:
            attack = ObservationAttack(name, eps, agent, std, steps=steps, seed=seed, train_steps=train_steps, sarsa=sarsa)
            attack.fit(scenario)
            sarsa = attack.sarsa
            tick = None if progress is None else (lambda done, _t, k=k: progress(k * episodes + done, total))
            records += evaluate(agent, scenario, episodes=episodes, seed=seed, attack=attack, run_id=run_id,
                                progress=tick, **evaluate_kwargs)
            k += 1
    return records
