"""Return-vs-epsilon curves: evaluate one victim under an observation attack at several budgets.

The observation standard deviations that define the budget units are measured
once (``agents.adversarial.attacks.calibrate``) and shared by every epsilon, so
the curve's points are comparable; every episode record stores the attack and
its epsilon in ``params``.
"""

from __future__ import annotations

from typing import Any

from agents.adversarial.attacks import ObservationAttack, calibrate
from scenarios import Scenario
from testbed.harness import evaluate
from testbed.records import EpisodeRecord


def attack_curve(agent: Any, scenario: Scenario, kind: str, eps_values: list[float], episodes: int = 10, seed: int = 0,
                 steps: int = 10, **evaluate_kwargs: Any) -> list[EpisodeRecord]:
    """Records of ``episodes`` episodes per epsilon (all episode seeds shared across epsilons).

    >>> import agents, scenarios
    >>> sc = scenarios.make("classic/CartPole-v1")
    >>> recs = attack_curve(agents.make("random", sc, seed=0), sc, "random", [0.0, 0.5], episodes=2)
    >>> sorted({r.params["eps"] for r in recs})
    [0.0, 0.5]
    """
    std = calibrate(agent, scenario)
    records: list[EpisodeRecord] = []
    run_id = evaluate_kwargs.pop("run_id", None)
    for eps in eps_values:
        attack = ObservationAttack(kind, eps, agent, std, steps=steps, seed=seed)
        records += evaluate(agent, scenario, episodes=episodes, seed=seed, attack=attack, run_id=run_id, **evaluate_kwargs)
    return records
