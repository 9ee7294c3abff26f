"""Our scenario ids in Gymnasium's registry, so tools written for Gymnasium make them.

Every single-agent scenario (a ``gymnasium:`` source: the catalog's and any
added with ``scenarios.register``) is registered under its own id, whose family
is Gymnasium's namespace (``mujoco/Hopper-hard-v0`` = namespace ``mujoco``, name
``Hopper-hard``, version 0). After ``import scenarios``:

>>> import gymnasium, scenarios
>>> env = gymnasium.make("classic/CartPole-v1")
>>> env.spec.max_episode_steps
500

Without the import, Gymnasium's ``module:id`` form imports us first:
``gymnasium.make("scenarios:mujoco/Hopper-hard-v0")``. Keyword arguments of
``gymnasium.make`` reach the scenario as overrides (source kwargs such as
``render_mode`` or ``g``, or spec fields such as ``time_limit``); the time limit
is registered as ``max_episode_steps``, so Gymnasium's ``TimeLimit`` and the
scenario truncate on the same step, and ``gymnasium.make_vec`` (sync, or async
with any start method: a face pickles) works as for Gymnasium's own ids.
Multi-agent scenarios are made with ``scenarios.parallel_env(id)``
(PettingZoo's constructor shape) instead.

Registering ids is Gymnasium's own mechanism (``gymnasium.register`` with a
``module:function`` entry point), so nothing here reimplements ``make``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:
    from scenarios.spec import ScenarioSpec

ENTRY_POINT = "scenarios.gymnasium_ids:make_env"


def is_single_agent(spec: ScenarioSpec) -> bool:
    """Whether a spec's source is one-agent (a Gymnasium env), known without building it."""
    return spec.source.partition(":")[0] == "gymnasium"


def _time_limit(source: str, time_limit: int | None) -> int | None:
    if time_limit is not None:
        return time_limit
    name = source.partition(":")[2]
    return gym.spec(name).max_episode_steps if name in gym.registry else None


def register_id(scenario_id: str, source: str, time_limit: int | None) -> None:
    """Register (or replace) one scenario id with a Gymnasium source; other sources are skipped."""
    if source.partition(":")[0] != "gymnasium":
        return
    gym.registry.pop(scenario_id, None)
    gym.register(id=scenario_id, entry_point=ENTRY_POINT, max_episode_steps=_time_limit(source, time_limit),
                 kwargs={"scenario_id": scenario_id})


def register_spec(spec: ScenarioSpec) -> None:
    """Register (or replace) one single-agent spec as a Gymnasium id; others are skipped."""
    register_id(spec.id, spec.source, spec.time_limit)


def make_env(scenario_id: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """Gymnasium's entry point: the scenario's Gymnasium face, with ``kwargs`` as overrides."""
    from scenarios.registry import make

    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    return make(scenario_id, **kwargs).as_gymnasium()
