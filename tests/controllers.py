"""A fixed linear controller for InvertedPendulum tests whose outcome must depend on physics only."""

import numpy as np


class LinearController:
    """Deterministic actions ``clip(obs @ gains, -limit, limit)``: a known policy, so evaluations
    through different faces or worlds can be compared exactly."""

    name = "linear"

    def __init__(self, scenario, gains, limit: float = 3.0):
        self.scenario, self.gains, self.limit = scenario, np.asarray(gains, np.float64).reshape(-1, 1), limit

    def act(self, obs, deterministic=True):
        """The same action for the same observation, batched."""
        x = np.asarray(obs["agent_0"], np.float64)
        return {"agent_0": np.clip(x @ self.gains, -self.limit, self.limit).astype(np.float32)}
