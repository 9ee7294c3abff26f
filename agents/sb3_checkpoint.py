"""SB3 checkpoints that are data: loading unpickles nothing, and normalization statistics are arrays.

An SB3 archive (``model.zip``) holds its network and optimizer tensors as ``.pth`` files, which
SB3 reads with ``torch.load(weights_only=True)`` (no code runs), and a JSON ``data`` entry in
which objects JSON cannot hold (spaces, the policy class, schedules, train_freq, action noise,
the last observations...) are cloudpickled. SB3's safe path for those is ``custom_objects``:
every pickled item given there is used instead of being unpickled. ``load_model`` gives every
pickled item of the archive: the spaces the caller states (the ones the model was built on),
and everything else as a model constructed anew from the same hyperparameters holds it
before set-up (schedules are rebuilt by SB3's ``_setup_model``; buffers and the last
observations start empty, as after any ``set_env``). So no checkpoint can run code on load.

``VecNormalize`` statistics are saved as ``normalization.npz`` (running means, variances and
counts of observations and returns) and ``normalization.json`` (its settings), not as a
pickled wrapper. A checkpoint written before 2026-12-02 holds ``vecnormalize.pkl``; it is
refused with how to convert it (``python -m agents.sb3_checkpoint FOLDER``, which unpickles
that one file once, as the user asks) rather than unpickled silently.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from scenarios import UserError

STATS, SETTINGS, LEGACY = "normalization.npz", "normalization.json", "vecnormalize.pkl"
_SETTINGS = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon", "training")


def pickled_items(zip_path: Path) -> list[str]:
    """The names of the cloudpickled items in an SB3 archive's ``data``."""
    with zipfile.ZipFile(zip_path) as archive:
        data = json.loads(archive.read("data"))
    return sorted(k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v)


def load_model(algorithm: Any, zip_path: Path, policy: Any, kwargs: dict[str, Any], observation_space: spaces.Space,
               action_space: spaces.Space, env: Any = None) -> Any:
    """``algorithm.load(zip_path)`` with every pickled item supplied (module doc): nothing is unpickled."""
    if not Path(zip_path).is_file():
        raise UserError(f"{zip_path} is missing: not a complete checkpoint")
    fresh = algorithm(policy, None, device="cpu", _init_setup_model=False, **kwargs)
    objects = {k: getattr(fresh, k, None) for k in pickled_items(zip_path)}
    objects.update(observation_space=observation_space, action_space=action_space)
    if objects.get("target_entropy") == "auto":  # TQC resolves it from the env, which a loaded model has not
        objects["target_entropy"] = -np.prod(action_space.shape).astype(np.float32)
    return algorithm.load(zip_path, env=env, device="cpu", custom_objects=objects)


def _rms(stats: dict[str, np.ndarray], key: str) -> RunningMeanStd:
    rms = RunningMeanStd(shape=stats[f"{key}_mean"].shape)
    rms.mean, rms.var, rms.count = stats[f"{key}_mean"], stats[f"{key}_var"], float(stats[f"{key}_count"])
    return rms


def save_normalizer(vecnorm: VecNormalize, folder: Path) -> None:
    """Write the statistics as arrays and the settings as JSON (Box observations: one running mean;
    Dict observations: one per key, stored as ``obs.<key>_mean`` and so on)."""
    obs = vecnorm.obs_rms if isinstance(vecnorm.obs_rms, dict) else {"": vecnorm.obs_rms}
    arrays = {}
    for key, rms in obs.items():
        name = f"obs.{key}" if key else "obs"
        arrays.update({f"{name}_mean": rms.mean, f"{name}_var": rms.var, f"{name}_count": np.asarray(rms.count)})
    arrays = {**arrays,
              "ret_mean": np.asarray(vecnorm.ret_rms.mean), "ret_var": np.asarray(vecnorm.ret_rms.var),
              "ret_count": np.asarray(vecnorm.ret_rms.count)}
    np.savez(folder / STATS, **arrays)
    (folder / SETTINGS).write_text(json.dumps({k: getattr(vecnorm, k) for k in _SETTINGS}, indent=1))


class _Spaces(VecEnv):
    """A VecEnv that only has spaces: what a VecNormalize is built around before its real env is set."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        super().__init__(1, observation_space, action_space)

    def reset(self) -> Any:  # pragma: no cover - never stepped
        raise RuntimeError("a placeholder env has no episodes")

    def step_async(self, actions: np.ndarray) -> None:  # pragma: no cover
        raise RuntimeError("a placeholder env has no episodes")

    def step_wait(self) -> Any:  # pragma: no cover
        raise RuntimeError("a placeholder env has no episodes")

    def close(self) -> None:
        """Nothing to release."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """No attributes (``render_mode`` is None)."""
        return [None]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Nothing to set."""

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        """No methods."""
        return []

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """Never wrapped."""
        return [False]


def load_normalizer(folder: Path, observation_space: spaces.Space, action_space: spaces.Space) -> VecNormalize | None:
    """The saved normalization (None when the checkpoint has none), detached from any env and not
    updating its statistics; a legacy pickle is refused with how to convert it."""
    if (folder / LEGACY).is_file() and not (folder / STATS).is_file():
        raise UserError(f"{folder} holds a pickled VecNormalize ({LEGACY}), which we no longer unpickle on load; "
                        f"convert it once with: python -m agents.sb3_checkpoint {folder}")
    if not (folder / STATS).is_file():
        return None
    settings = json.loads((folder / SETTINGS).read_text())
    with np.load(folder / STATS, allow_pickle=False) as data:
        stats = {k: data[k] for k in data.files}
    vecnorm = VecNormalize(_Spaces(observation_space, action_space), **{k: settings[k] for k in _SETTINGS if k != "training"})
    keys = sorted({k[4:].rsplit("_", 1)[0] for k in stats if k.startswith("obs.")})
    vecnorm.obs_rms = {k: _rms(stats, f"obs.{k}") for k in keys} if keys else _rms(stats, "obs")
    vecnorm.ret_rms = _rms(stats, "ret")
    vecnorm.training = False
    vecnorm.venv = None  # type: ignore[assignment]  # set_venv attaches the real env when training resumes
    return vecnorm


def convert_legacy(folder: Path) -> Path:
    """Rewrite a checkpoint's ``vecnormalize.pkl`` as ``normalization.npz`` + ``.json`` (unpickles that file, once)."""
    import pickle

    with open(folder / LEGACY, "rb") as f:
        vecnorm = pickle.load(f)
    save_normalizer(vecnorm, folder)
    (folder / LEGACY).unlink()
    return folder / STATS


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"wrote {convert_legacy(Path(arg))}")
