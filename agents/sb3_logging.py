"""SB3 models without a stray temporary folder per ``learn()`` call.

SB3's default logger (``configure_logger``) creates an empty
``/tmp/SB3-<date-time>`` folder every time ``learn()`` starts, even with nothing
to log: a test run or an ADR run (one ``learn()`` per chunk) leaves hundreds.
Our training jobs log through ``testbed.jobs``' TensorBoard writer instead, so
every SB3 model we train gets a logger that keeps values in memory and writes
nowhere. SB3 has no option for this, hence this helper.
"""

from __future__ import annotations

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger


def quiet(model: BaseAlgorithm) -> BaseAlgorithm:
    """``model`` with a logger that writes nowhere (unless a custom one is already set).

    >>> from stable_baselines3 import PPO
    >>> quiet(PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64)).logger.output_formats
    []
    """
    if not getattr(model, "_custom_logger", False) or not hasattr(model, "_logger"):  # (a restored flag, no logger yet)
        model.set_logger(Logger(folder=None, output_formats=[]))
    return model
