"""Return-vs-epsilon curves: evaluate one victim under an observation attack at several budgets.

The observation standard deviations that define the budget units are measured
once (``agents.adversarial.attacks.calibrate``) and shared by every epsilon, so
the curve's points are comparable; every episode record stores the attack and
its epsilon in ``params``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.adversarial.attacks import ObservationAttack, calibrate
from scenarios import Scenario
from testbed.harness import evaluate
from testbed.records import EpisodeRecord


def attack_curve(agent: Any, scenario: Scenario, kind: str, eps_values: list[float], episodes: int = 10, seed: int = 0,
                 steps: int = 10, std_from: Any | None = None, progress: Callable[[int, int], None] | None = None,
                 **evaluate_kwargs: Any) -> list[EpisodeRecord]:
    """Records of ``episodes`` episodes per epsilon (all episode seeds shared across epsilons).

    The budget unit is the per-dimension observation std under ``std_from``'s policy (default:
    the victim's own); ``progress(done, total)`` counts episodes over the whole curve. A victim
    the attack cannot apply to is refused before the std is measured.

    >>> import agents, scenarios
    >>> sc = scenarios.make("classic/CartPole-v1")
    >>> recs = attack_curve(agents.make("random", sc, seed=0), sc, "random", [0.0, 0.5], episodes=2)
    >>> sorted({r.params["eps"] for r in recs})
    [0.0, 0.5]
    """
    unit = {a: np.ones(int(np.prod(scenario.observation_space(a).shape))) for a in scenario.possible_agents}
    ObservationAttack(kind, eps_values[0] if eps_values else 0.0, agent, unit, steps=steps)  # fail fast, in one line
    std = calibrate(std_from if std_from is not None else agent, scenario)
    records: list[EpisodeRecord] = []
    run_id = evaluate_kwargs.pop("run_id", None)
    total = episodes * len(eps_values)
    for k, eps in enumerate(eps_values):
        attack = ObservationAttack(kind, eps, agent, std, steps=steps, seed=seed)
        tick = None if progress is None else (lambda done, _t, k=k: progress(k * episodes + done, total))
        records += evaluate(agent, scenario, episodes=episodes, seed=seed, attack=attack, run_id=run_id, progress=tick,
                            **evaluate_kwargs)
    return records
