"""NaN and infinities are refused wherever a user gives a number: layer parameters, schedules,
scenario and experiment specs (agent hyperparameters: ``tests/test_agent_config.py``). NaN passes
every range comparison, so without this an observation noise of ``.nan`` built a scenario whose
observations were all NaN, and a dynamics range of ``.nan`` ended in NumPy's OverflowError."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pydantic import BaseModel

import scenarios
from scenarios import UserError

NAN, INF = float("nan"), float("inf")
HOPPER = {"id": "x/Hop-v0", "source": "gymnasium:Hopper-v5", "time_limit": 1000}
INPUT_PACKAGES = ("scenarios", "testbed", "sim2real", "agents")
RECORDS = {"testbed.records.EpisodeRecord"}  # measured outputs (a diverged run's NaN return is data), not inputs


def _models() -> list[type[BaseModel]]:
    for package in INPUT_PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional integration that is not installed
                continue
    out, todo = [], list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.split(".")[0] in INPUT_PACKAGES and f"{cls.__module__}.{cls.__qualname__}" not in RECORDS:
            out.append(cls)
    return out


def test_every_input_model_refuses_nan_and_infinities():
    models = _models()
    assert len(models) > 20, "the walk found the layer, spec and experiment models"
    lax = [f"{m.__module__}.{m.__qualname__}" for m in models if m.model_config.get("allow_inf_nan", True)]
    assert not lax, f"models that accept NaN/inf: {lax}"


@pytest.mark.parametrize("layer", [
    {"type": "dynamics", "params": {"mode": "reset", "parameters": [
        {"field": "body_mass", "names": ["torso"], "low": NAN, "high": 1.5}]}},
    {"type": "push", "params": {"body": "torso", "every": 200, "impulse": [2.0, INF]}},
    {"type": "obs_gaussian_noise", "params": {"std": NAN}},
    {"type": "obs_gaussian_noise", "params": {"std": {"kind": "sine", "low": 0.0, "high": NAN, "period": 500}}},
    {"type": "action_gain", "params": {"low": 0.5, "high": INF}},
])
def test_a_non_finite_layer_parameter_is_refused_in_one_line(layer):
    with pytest.raises(UserError, match=rf"^layer 0 \({layer['type']}\): '.+': Input should be a (finite|valid) number") as e:
        scenarios.make({**HOPPER, "layers": [layer]}, seed=0)
    assert "\n" not in str(e.value)


def test_a_finite_layer_parameter_still_builds():
    sc = scenarios.make({**HOPPER, "layers": [{"type": "obs_gaussian_noise", "params": {"std": 0.1}}]}, seed=0)
    sc.reset()
