"""Short episode videos for reports: MuJoCo offscreen rendering (EGL, or OSMesa) to animated GIFs.

``MUJOCO_GL`` must name the backend before MuJoCo is first imported:
importing ``testbed`` sets ``egl`` unless it is already set (headless; software
EGL is ~0.2 s a frame here); export ``MUJOCO_GL=osmesa`` where EGL is missing,
or import ``testbed`` before ``scenarios``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scenarios import Scenario, UserError


def render_episode(agent: Any, scenario: Scenario, out: str | Path, steps: int = 60, every: int = 2, seed: int = 0,
                   width: int = 320, height: int = 240) -> Path:
    """Roll out ``agent`` for up to ``steps`` steps and save every ``every``-th frame as a GIF."""
    import mujoco
    from PIL import Image

    env = scenario.unwrapped
    if not hasattr(env, "model") or not hasattr(env, "data"):
        raise UserError(f"videos render MuJoCo scenarios; {scenario.id} is not one")
    renderer = mujoco.Renderer(env.model, height=height, width=width)
    obs, _ = scenario.reset(seed=seed)
    frames = []
    for t in range(steps):
        if t % every == 0:
            renderer.update_scene(env.data, camera=-1)
            frames.append(Image.fromarray(np.asarray(renderer.render())))
        acts = agent.act({a: np.asarray(o)[None] for a, o in obs.items()}, deterministic=True)
        obs, _, term, trunc, _ = scenario.step({a: v[0] for a, v in acts.items()})
        if not scenario.agents:
            break
    renderer.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=int(1000 * every * env.dt), loop=0)
    return out
