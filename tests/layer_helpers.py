"""Helpers for layer tests: scenarios with layers, paired clean/perturbed rollouts, action spies."""

from typing import Any

import numpy as np

import scenarios


def with_layers(scenario_id: str, *layers: dict, **overrides: Any) -> scenarios.Scenario:
    spec = scenarios.get_spec(scenario_id).model_dump()
    spec["layers"] = list(layers)
    spec.update(overrides)
    return scenarios.make(spec, seed=overrides.pop("seed", 0) if "seed" in overrides else 0)


def paired_observations(scenario_id: str, layer: dict, steps: int, seed: int = 0, agent: str = "agent_0"):
    """Clean and perturbed observations from the same seed and actions (layers that only touch observations)."""
    clean = scenarios.make(scenario_id, seed=seed)
    noisy = with_layers(scenario_id, layer)
    rng = np.random.default_rng(seed)
    out_c, out_n = [], []
    oc, _ = clean.reset(seed=seed)
    on, _ = noisy.reset(seed=seed)
    out_c.append(oc[agent]), out_n.append(on[agent])
    space = clean.action_space(agent)
    for _ in range(steps):
        if not clean.agents:
            oc, _ = clean.reset()
            on, _ = noisy.reset()
        else:
            a = {x: np.clip(rng.normal(size=space.shape), space.low, space.high).astype(space.dtype) for x in clean.agents}
            oc = clean.step(a)[0]
            on = noisy.step(a)[0]
        out_c.append(oc[agent]), out_n.append(on[agent])
    return np.array(out_c, dtype=float), np.array(out_n, dtype=float)


def spy_actions(sc: scenarios.Scenario) -> list:
    """Record the actions the source receives after the layers."""
    seen: list = []
    original = sc.source.step

    def step(actions):
        seen.append({a: np.array(v, copy=True) for a, v in actions.items()})
        return original(actions)

    sc.source.step = step
    return seen
