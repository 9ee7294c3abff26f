"""A registered Gymnasium environment seen as a one-agent parallel env.

The env is built with ``gymnasium.make`` (its TimeLimit set to the scenario's
time limit) and reset through it, so its behaviour is exactly Gymnasium's.
Steps go to ``env.unwrapped`` directly: the scenario owns the time limit, and
skipping the wrapper chain saves a few microseconds a step. For the MuJoCo
tasks in ``scenarios.sources.mujoco_native`` the step is a lean native one,
bit-identical to Gymnasium's. The env stays reachable as ``.env`` (physics
through ``.env.unwrapped``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from scenarios.errors import UserError, suggest

AGENT = "agent_0"


def _register_robotics() -> None:
    """Register Gymnasium-Robotics' envs (Fetch, mazes, Adroit...), which its import does."""
    import contextlib
    import io
    import warnings

    # its import prints a notice about Adroit v1 reward changes (the catalog names what it uses)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import gymnasium_robotics  # noqa: F401


EXTRA_ENVS = {"BitFlippingEnv-v0": "stable_baselines3.common.envs:BitFlippingEnv"}
"""Envs a well-kept library ships without registering them in Gymnasium: registered on first use."""


def register_extras(env_id: str) -> None:
    """Register ``env_id`` if it is one of ``EXTRA_ENVS``, else Gymnasium-Robotics' envs."""
    if env_id in EXTRA_ENVS:
        gym.register(env_id, entry_point=EXTRA_ENVS[env_id])
    else:
        _register_robotics()


class GymnasiumSource:
    """One Gymnasium env behind a single-agent parallel API (agent id ``agent_0``)."""

    metadata = {"render_modes": [], "is_parallelizable": True}

    def __init__(self, env_id: str, kwargs: dict[str, Any], time_limit: int | None) -> None:
        if env_id not in gym.registry:
            register_extras(env_id)
        if env_id not in gym.registry:
            raise UserError(f"unknown Gymnasium env '{env_id}'{suggest(env_id, gym.registry)}")
        from scenarios.sources.robotics_compat import fetch_on_mujoco4

        try:
            with fetch_on_mujoco4(env_id):  # Gymnasium-Robotics' Fetch on MuJoCo 4 (see its docstring)
                self.env = gym.make(env_id, max_episode_steps=time_limit, disable_env_checker=True, **kwargs)
        except Exception as exc:  # the library's own checks of the values too
            if isinstance(exc, UserError):
                raise
            from scenarios.sources import rejected_kwargs

            raise rejected_kwargs(f"gymnasium:{env_id}", kwargs, exc) from None
        self._step = self._stepper()
        self.metadata = {**self.metadata, "render_modes": list(self.env.metadata.get("render_modes", []))}
        self.possible_agents = [AGENT]
        self.agents: list[str] = []
        self.default_time_limit = self.env.spec.max_episode_steps if self.env.spec else None

    def _stepper(self) -> Any:
        from scenarios.sources.mujoco_native import native_step

        return native_step(self.env.unwrapped) or self.env.unwrapped.step

    @property
    def render_mode(self) -> str | None:
        """The env's render mode (a ``render_mode`` kwarg of the spec)."""
        return self.env.render_mode

    def render(self) -> Any:
        """The env's frame (``rgb_array``) or window (``human``)."""
        return self.env.render()

    def observation_space(self, agent: str) -> gym.Space:
        """The env's observation space."""
        return self.env.observation_space

    def action_space(self, agent: str) -> gym.Space:
        """The env's action space."""
        return self.env.action_space

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Reset the env; returns per-agent observation and info dicts."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.agents = [AGENT]
        return {AGENT: obs}, {AGENT: info}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Step the env with ``actions['agent_0']``."""
        obs, rew, term, trunc, info = self._step(actions[AGENT])
        if term or trunc:
            self.agents = []
        return {AGENT: obs}, {AGENT: float(rew)}, {AGENT: bool(term)}, {AGENT: bool(trunc)}, {AGENT: info}

    def close(self) -> None:
        """Close the env."""
        self.env.close()
