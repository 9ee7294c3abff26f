"""What ``act`` accepts: the vectorized face's batches, or one observation as a user's loop has it.

Every agent's ``act`` takes ``dict[agent, (N, *space.shape)]`` (the vectorized face), and
through ``accepts_unbatched`` also what a Gymnasium or PettingZoo loop hands over, as SB3's
``predict`` does:

- a PettingZoo observation dict ``{agent: obs}`` of single observations -> ``{agent: action}``;
- on a one-agent scenario, a bare observation ``obs`` (Gymnasium's ``reset``/``step``) ->
  that agent's action, and a bare batch ``(N, *shape)`` (Gymnasium's vector envs) -> ``(N, ...)``.

Anything else is refused with one line naming the shapes expected.

>>> import numpy as np
>>> from gymnasium import spaces
>>> batched, back = as_batch({"agent_0": spaces.Box(-1, 1, (3,))}, np.zeros(3), "demo")
>>> batched["agent_0"].shape, back({"agent_0": np.zeros((1, 2))}).shape
((1, 3), (2,))
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from scenarios import UserError

Unbatch = Callable[[dict[str, np.ndarray]], Any]


def _kind(space: spaces.Space, x: Any) -> str | None:
    if isinstance(space, spaces.Dict):  # goal-conditioned: every key single, or every key batched
        if not isinstance(x, dict) or set(x) != set(space.spaces):
            return None
        kinds = {_kind(space.spaces[k], np.asarray(v)) for k, v in x.items()}
        return kinds.pop() if len(kinds) == 1 else None
    shape = tuple(space.shape or ())
    if x.shape == shape:
        return "single"
    if x.ndim == len(shape) + 1 and x.shape[1:] == shape:
        return "batch"
    return None


def _expected(obs_spaces: dict[str, spaces.Space]) -> str:
    def one(s: spaces.Space) -> str:
        if isinstance(s, spaces.Dict):  # goal-conditioned: a dict of the keys' shapes
            return "{" + ", ".join(f"{k}: {one(v)}" for k, v in s.spaces.items()) + "}"
        return f"{tuple(s.shape or ())} or (N, {', '.join(map(str, s.shape or ()))})"

    return "; ".join(f"{a}: {one(s)}" for a, s in obs_spaces.items())


def as_batch(obs_spaces: dict[str, spaces.Space], obs: Any, name: str) -> tuple[dict[str, np.ndarray], Unbatch]:
    """``obs`` as the vectorized face's batch, and the function that turns the batched actions
    back into the form ``obs`` came in (see module doc)."""
    agents = list(obs_spaces)
    if len(agents) == 1 and isinstance(obs_spaces[agents[0]], spaces.Dict) and isinstance(obs, dict) and set(obs) == set(obs_spaces[agents[0]].spaces):
        obs = {agents[0]: obs}  # one agent's bare Dict observation (Gymnasium's reset/step)
        batched, back = as_batch(obs_spaces, obs, name)
        return batched, lambda out: back(out)[agents[0]]
    if not isinstance(obs, dict):
        if len(agents) != 1:
            raise UserError(f"{name}.act: a multi-agent scenario needs a dict of observations per agent "
                            f"({', '.join(agents)}), got {type(obs).__name__}")
        x = np.asarray(obs)
        kind = _kind(obs_spaces[agents[0]], x)
        if kind is None:
            raise UserError(f"{name}.act: observation of shape {x.shape} fits neither shape expected ({_expected(obs_spaces)})")
        a = agents[0]
        if kind == "single":
            return {a: x[None]}, lambda out: out[a][0]
        return {a: x}, lambda out: out[a]
    unknown = [k for k in obs if k not in obs_spaces]
    if unknown:
        raise UserError(f"{name}.act: unknown agent(s) {unknown} (valid: {', '.join(agents)})")
    kinds = {}
    for a, x in obs.items():
        kinds[a] = _kind(obs_spaces[a], x if isinstance(x, dict) else np.asarray(x))
        if kinds[a] is None:
            raise UserError(f"{name}.act: {a}'s observation of shape {np.shape(x)} fits neither shape expected "
                            f"({_expected({a: obs_spaces[a]})})")
    if set(kinds.values()) == {"batch"}:
        return obs, lambda out: out
    if set(kinds.values()) == {"single"}:
        return {a: _one(x) for a, x in obs.items()}, lambda out: {a: v[0] for a, v in out.items()}
    raise UserError(f"{name}.act: mixed single and batched observations ({kinds}); give all one or the other")


def _one(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _one(v) for k, v in x.items()}
    return np.asarray(x)[None]


def accepts_unbatched(act: Callable[..., dict[str, np.ndarray]]) -> Callable[..., Any]:
    """Decorate an agent's ``act`` so it also takes single observations (see module doc)."""

    @functools.wraps(act)
    def wrapper(self: Any, obs: Any, deterministic: bool = True, **kwargs: Any) -> Any:
        obs_spaces = self.__dict__.get("_observation_spaces")
        if obs_spaces is None:
            sc = self.scenario
            obs_spaces = self.__dict__["_observation_spaces"] = {a: sc.observation_space(a) for a in sc.possible_agents}
        batched, back = as_batch(obs_spaces, obs, self.name)
        return back(act(self, batched, deterministic, **kwargs))

    return wrapper
