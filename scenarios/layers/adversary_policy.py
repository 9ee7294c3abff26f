"""A trained RARL adversary as a perturbation layer: forces chosen by a policy.

The adversary (``adversary.zip`` in a ``rarl`` checkpoint folder) observes the
protagonist's observation and, before every step, applies its forces to the
bodies it was trained on (``adversary_bodies``, ``force_scale`` from the
checkpoint); ``scale`` multiplies them (0 disables). Put this layer first in a
stack so that it sees the clean observation. On N copies the adversary acts
for all of them in one batched forward pass. Forces are added before the step
and removed after it, like the other force layers. The sampled forces appear in
``info['layers']``.

YAML example::

    - {type: adversary_forces, params: {checkpoint: runs/rarl-hopper, scale: 1.0}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from scenarios.errors import UserError
from scenarios.layers.base import Layer, LayerParams
from scenarios.layers.physics import require_physics

if TYPE_CHECKING:
    from scenarios.scenario import Scenario


class AdversaryParams(LayerParams):
    checkpoint: str = Field(description="A rarl checkpoint folder (holds adversary.zip and agent.json).")
    scale: float = Field(default=1.0, ge=0, description="Multiplier of the adversary's forces.")
    deterministic: bool = Field(default=True, description="Act with the adversary's mean action.")


class AdversaryForces(Layer):
    """Forces from a trained adversary policy on the bodies it was trained to push."""

    type = "adversary_forces"
    Params = AdversaryParams

    def bind(self, scenario: Scenario) -> None:
        super().bind(scenario)
        from stable_baselines3 import PPO

        folder = Path(self.p.checkpoint)
        meta_file = folder / "agent.json"
        if not (folder / "adversary.zip").is_file() or not meta_file.is_file():
            raise UserError(f"layer adversary_forces: {folder} is not a rarl checkpoint (no adversary.zip / agent.json)")
        meta = json.loads(meta_file.read_text())
        self.ph = require_physics(scenario, self.type)
        bodies = list(meta["hparams"]["adversary_bodies"])
        self.bodies = [int(i) for i in self.ph.handle.ids("body", bodies, "layer adversary_forces")]
        self.names = bodies
        self.force_scale = float(meta["hparams"]["force_scale"]) * self.p.scale
        self.model = PPO.load(folder / "adversary.zip", device="cpu")
        expected = self.model.observation_space.shape
        got = scenario.observation_space(scenario.possible_agents[0]).shape
        if expected != got:
            raise UserError(f"layer adversary_forces: the adversary observes shape {expected}, {scenario.id} gives {got}")
        self._agent = scenario.possible_agents[0]
        self._obs = np.zeros((self.n, *expected), np.float32)
        self._seen = np.zeros(self.n, bool)
        self._applied: tuple[np.ndarray, np.ndarray] | None = None

    def start_episode(self, ids: np.ndarray, report: list[dict[str, Any]]) -> None:
        """Forget the last episode's observation."""
        self._seen[ids] = False

    def observe(self, agent: str, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Remember the observations the adversary acts on (unchanged)."""
        if agent == self._agent:
            self._obs[ids] = x
            self._seen[ids] = True
        return x

    def before_step(self, ids: np.ndarray, t: np.ndarray, report: list[dict[str, Any]]) -> None:
        """Apply the adversary's forces for this step, one forward pass for every copy."""
        seen = self._seen[ids]
        if not seen.any():
            return
        where = ids[seen]
        a, _ = self.model.predict(self._obs[where], deterministic=self.p.deterministic)
        forces = np.clip(np.asarray(a, np.float64).reshape(len(where), len(self.bodies), 3), -1, 1) * self.force_scale
        for k, b in enumerate(self.bodies):
            self.ph.add_xfrc(where, b, forces[:, k])
        self._applied = (where, forces)
        for j, f in zip(np.flatnonzero(seen), forces):
            report[j].update({f"adversary.{n}": f[k].tolist() for k, n in enumerate(self.names)})

    def after_step(self, ids: np.ndarray, t: np.ndarray, infos: list[dict[str, dict]]) -> None:
        """Remove the forces."""
        if self._applied is not None:
            where, forces = self._applied
            for k, b in enumerate(self.bodies):
                self.ph.add_xfrc(where, b, -forces[:, k])
            self._applied = None


LAYERS = (AdversaryForces,)
