"""DROPO-style identification: fit a distribution of dynamics parameters with CMA-ES.

DROPO (Tiboni et al., 2023) identifies the randomization itself: a mean and a
standard deviation per parameter such that the target's recorded transitions
are likely under the simulator with parameters drawn from it. Here each
parameter's log-scale is Gaussian, N(mu, sigma^2) (a log-normal scale factor).
For every transition (o_t, a_(t-delay), o_t+1) the simulator, set to the state
o_t describes, applies the recorded action under K parameter vectors drawn from
the candidate (``OneStep`` from ``sim2real.sysid``: all K x T one-step
predictions in one ``mujoco.rollout`` call, each row on its own model copy); a
Gaussian is fitted per observation dimension to the K predictions, and the
observed o_t+1 is scored by its log-likelihood (variance plus ``epsilon``, in
units of each dimension's observed change). The K standard-normal draws are
fixed for the whole search (common random numbers), so the objective is
deterministic and CMA-ES - the ``cma`` package, as in DROPO - can minimize its
negative. The search starts from the point estimate of ``sysid.identify``
(which also picks the action delay among the candidates) with sigma 0.05.

Noise the simulator does not model (sensor noise, deadband) would otherwise be
explained as parameter spread: with a fixed ``epsilon`` the sigmas on the full
``sim2real/Hopper-real-v0`` proxy ran to their bound (benchmarks/RESULTS.md).
``fit_noise`` (the default) adds one more searched variable, an observation
noise standard deviation shared by all dimensions (in units of each
dimension's observed change), added to every predicted variance. The fitted
distribution is what training should randomize over
(``SysIdResult.dynamics_layer(distribution="log_normal")``).
"""

from __future__ import annotations

import cma
import numpy as np

from agents.imitation.dataset import Dataset
from scenarios import Scenario, ScenarioSpec
from sim2real.sysid import Replay, SysIdResult, _Model, _nominal_env, identify

LOG_SCALE_BOUND = float(np.log(5.0))  # scale factors searched within [1/5, 5]
SIGMA_BOUNDS = (1e-3, 1.0)  # standard deviation of a log-scale
NOISE_BOUNDS = (1e-3, 3.0)  # observation noise std, in units of each dimension's observed change


def _objective(steps: Replay, models: list[_Model], z: np.ndarray, epsilon: float, bias: np.ndarray | None = None):
    """Negative log-likelihood of the target transitions under x = (mu, log sigma[, log noise std])."""
    p = z.shape[1]
    observed = np.tile(steps.next_obs, (len(models), 1))

    def nll(x: np.ndarray) -> float:
        mu, sigma = x[:p], np.exp(x[p: 2 * p])
        noise = np.exp(2 * x[2 * p]) if len(x) > 2 * p else 0.0
        log_scales = np.clip(mu + sigma * z, -LOG_SCALE_BOUND, LOG_SCALE_BOUND)
        for model, row in zip(models, log_scales):
            model.set(np.exp(row))
        pred = steps.predict([mdl.model for mdl in models], rows=len(models), bias=bias)
        r = ((pred - observed) / steps.scale).reshape(len(models), len(steps), -1)
        mean, var = r.mean(axis=0), r.var(axis=0) + epsilon + noise
        return float(0.5 * np.sum(mean**2 / var + np.log(var)) / len(steps))

    return nll


def identify_distribution(base: Scenario | str | dict | ScenarioSpec, data: Dataset, parameters: list[str] | None = None,
                          delays: tuple[int, ...] = (0,), samples: int = 8, epsilon: float = 1e-3,
                          max_evaluations: int = 600, max_transitions: int = 2_000, seed: int = 0,
                          threads: int = 2, fit_noise: bool = True, deadbands: tuple[float, ...] = (0.0,),
                          sensor_bias: bool = False, use_state: bool = True) -> SysIdResult:
    """Fit a log-normal distribution of each of ``parameters`` (``sim2real.sysid`` names) to ``data`` with CMA-ES.

    Returns a ``SysIdResult``: ``scales`` are the fitted medians exp(mu), ``log_std``
    the fitted sigmas (the distribution's spread, not the estimate's uncertainty),
    ``cost`` the mean negative log-likelihood per transition; ``delay``,
    ``deadband``, the sensor bias and ``costs_by_delay`` come from the point fit
    (``sysid.identify`` with the same ``delays``, ``deadbands``, ``sensor_bias``
    and ``use_state``), and so do the unidentifiable parameters, which the
    distribution leaves out.
    ``samples`` is K, the parameter draws per candidate; ``epsilon`` the variance
    floor in units of each dimension's observed change; ``fit_noise`` also fits an
    observation noise std (returned as ``noise_std``).
    """
    point = identify(base, data, parameters, delays=delays, max_transitions=max_transitions, seed=seed, threads=threads,
                     deadbands=deadbands, sensor_bias=sensor_bias, horizon=1, use_state=use_state)
    parameters = list(point.scales)
    sc, env = _nominal_env(base)
    if not parameters:
        sc.close()
        return point
    p = len(parameters)
    z = np.random.default_rng(seed + 1).standard_normal((samples, p))
    models = [_Model(env, parameters) for _ in range(samples)]
    steps = Replay(env, data, point.delay, max_transitions, np.random.default_rng(seed), threads,
                   deadband=point.deadband, use_state=use_state)
    bias = np.array(list(point.sensor_bias.values())) if point.sensor_bias else None
    nll = _objective(steps, models, z, epsilon, bias)
    x0 = [float(np.clip(np.log(point.scales[n]), -LOG_SCALE_BOUND, LOG_SCALE_BOUND)) for n in parameters] + [np.log(0.05)] * p
    lower = [-LOG_SCALE_BOUND] * p + [np.log(SIGMA_BOUNDS[0])] * p
    upper = [LOG_SCALE_BOUND] * p + [np.log(SIGMA_BOUNDS[1])] * p
    stds = [0.1] * p + [1.0] * p
    if fit_noise:
        x0, stds = x0 + [np.log(0.01)], stds + [1.0]
        lower, upper = lower + [np.log(NOISE_BOUNDS[0])], upper + [np.log(NOISE_BOUNDS[1])]
    es = cma.CMAEvolutionStrategy(np.array(x0), 1.0, {"bounds": [lower, upper], "CMA_stds": stds,
                                            "maxfevals": max_evaluations, "seed": seed + 1, "verbose": -9})
    es.optimize(nll)
    x = es.result.xbest
    sc.close()
    return SysIdResult(scales={n: float(np.exp(v)) for n, v in zip(parameters, x[:p])},
                       log_std={n: float(np.exp(v)) for n, v in zip(parameters, x[p: 2 * p])}, delay=point.delay,
                       cost=float(es.result.fbest), transitions=len(steps), costs_by_delay=point.costs_by_delay,
                       noise_std=float(np.exp(x[2 * p])) if fit_noise else None, unidentifiable=point.unidentifiable,
                       deadband=point.deadband, sensor_bias=point.sensor_bias, mode=point.mode, costs=point.costs)
