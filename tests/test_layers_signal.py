"""Observation, action and reward layers measurably do what they claim."""

import numpy as np
import pytest

import scenarios
from scenarios import UserError
from tests.layer_helpers import paired_observations, spy_actions, with_layers

PEN = "classic/Pendulum-v1"


def test_gaussian_obs_noise_std_within_5_percent_and_independent():
    clean, noisy = paired_observations(PEN, {"type": "obs_gaussian_noise", "params": {"std": 0.2}}, 3000)
    d = noisy - clean
    assert np.all(np.abs(d.std(axis=0) / 0.2 - 1) < 0.05)
    c = np.corrcoef(d.T)
    assert np.all(np.abs(c[np.triu_indices(3, 1)]) < 0.1)  # not one scalar shared by every dimension


def test_uniform_obs_noise():
    clean, noisy = paired_observations(PEN, {"type": "obs_uniform_noise", "params": {"half_width": 0.3}}, 3000)
    d = noisy - clean
    assert np.abs(d).max() <= 0.3 + 1e-6
    assert np.all(np.abs(d.std(axis=0) / (0.3 / np.sqrt(3)) - 1) < 0.05)


def test_fixed_and_sampled_bias():
    clean, noisy = paired_observations(PEN, {"type": "obs_bias", "params": {"value": [0.1, -0.2, 0.3]}}, 50)
    np.testing.assert_allclose(noisy - clean, np.tile([0.1, -0.2, 0.3], (51, 1)), atol=1e-6)
    sc = with_layers(PEN, {"type": "obs_bias", "params": {"std": 1.0}})
    _, i1 = sc.reset(seed=1)
    _, i2 = sc.reset(seed=2)
    b1, b2 = i1["agent_0"]["layers"]["obs_bias.agent_0"], i2["agent_0"]["layers"]["obs_bias.agent_0"]
    assert len(b1) == 3 and b1 != b2


def test_drift_increments_have_the_configured_std():
    clean, noisy = paired_observations(PEN, {"type": "obs_drift", "params": {"rate": 0.01}}, 3000)
    d = noisy - clean
    inc = np.diff(d, axis=0)
    inc = inc[np.abs(inc).max(axis=1) < 0.1]  # drop the jumps at episode resets
    assert np.all(np.abs(inc.std(axis=0) / 0.01 - 1) < 0.05)


def test_dropout_zero_and_hold():
    clean, noisy = paired_observations(PEN, {"type": "obs_dropout", "params": {"probability": 0.2}}, 3000)
    dropped = (noisy == 0) & (clean != 0)
    assert abs(dropped[1:].mean() - 0.2) < 0.02
    clean, held = paired_observations(PEN, {"type": "obs_dropout", "params": {"probability": 0.2, "mode": "hold"}}, 3000)
    stale = (held[1:] != clean[1:]) & (held[1:] == held[:-1])
    assert abs(stale.mean() - 0.2) < 0.02


def test_stuck_sensors_freeze():
    clean, noisy = paired_observations(PEN, {"type": "obs_stuck", "params": {"probability": 0.05, "duration": 10}}, 2000)
    frozen = (noisy[1:] == noisy[:-1]) & (clean[1:] != clean[:-1])
    assert 0.2 < frozen.mean() < 0.5  # each dim sticks with p=0.05 for 10 steps: ~1/3 of the time
    runs = []
    for dim in range(3):
        run = 0
        for f in frozen[:, dim]:
            if f:
                run += 1
            elif run:
                runs.append(run)
                run = 0
    assert max(runs) <= 10


@pytest.mark.parametrize("k", [1, 3])
def test_obs_delay_returns_the_observation_from_k_steps_earlier(k):
    clean, delayed = paired_observations(PEN, {"type": "obs_delay", "params": {"steps": k}}, 150)
    np.testing.assert_array_equal(delayed[k:150], clean[: 150 - k])
    np.testing.assert_array_equal(delayed[:k], np.repeat(clean[:1], k, axis=0))


def test_obs_delay_jitter_stays_within_bounds():
    clean, delayed = paired_observations(PEN, {"type": "obs_delay", "params": {"steps": 2, "jitter": 1}}, 150)
    lags = []
    for t in range(5, 150):
        match = [j for j in range(0, 4) if np.array_equal(delayed[t], clean[t - j])]
        lags.append(match[0])
    assert set(lags) == {1, 2, 3}


def test_quantize():
    clean, q = paired_observations(PEN, {"type": "obs_quantize", "params": {"step": 0.25}}, 200)
    np.testing.assert_allclose(q / 0.25, np.round(q / 0.25), atol=1e-5)
    assert np.abs(q - clean).max() <= 0.125 + 1e-6


@pytest.mark.parametrize("step", [1e-40, 1e-310])
def test_quantize_with_a_step_below_float_resolution_leaves_readings_finite_and_as_they_are(step):
    clean, q = paired_observations(PEN, {"type": "obs_quantize", "params": {"step": step}}, 20)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(q, clean, rtol=1e-6, atol=1e-12)


def test_distractors_extend_the_space_and_carry_noise():
    sc = with_layers(PEN, {"type": "obs_distractors", "params": {"dims": 10, "std": 0.5}})
    assert sc.observation_space("agent_0").shape == (13,)
    clean, noisy = paired_observations(PEN, {"type": "obs_distractors", "params": {"dims": 10, "std": 0.5}}, 2000)
    np.testing.assert_allclose(noisy[:, :3], clean, atol=1e-6)
    assert np.all(np.abs(noisy[:, 3:].std(axis=0) / 0.5 - 1) < 0.1)


def test_layer_targets_some_agents_only():
    layer = {"type": "obs_gaussian_noise", "params": {"std": 1.0}, "agents": ["agent_1"]}
    clean, noisy = paired_observations("mpe/simple_spread_continuous-v3", layer, 30, agent="agent_0")
    np.testing.assert_array_equal(clean, noisy)
    clean, noisy = paired_observations("mpe/simple_spread_continuous-v3", layer, 30, agent="agent_1")
    assert np.abs(noisy - clean).mean() > 0.5
    with pytest.raises(UserError, match="unknown agent"):
        with_layers("mpe/simple_spread-v3", {**layer, "agents": ["agent_9"]})


def _applied(layer: dict, steps: int = 2000, seed: int = 0):
    sc = with_layers(PEN, layer)
    seen = spy_actions(sc)
    rng = np.random.default_rng(seed)
    sent = []
    sc.reset(seed=seed)
    for _ in range(steps):
        if not sc.agents:
            sc.reset()
        a = rng.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        sent.append(a)
        sc.step({"agent_0": a})
    return np.array(sent)[:, 0], np.array([s["agent_0"] for s in seen])[:, 0]


def test_action_noise_std_and_bounds():
    sent, applied = _applied({"type": "action_gaussian_noise", "params": {"std": 0.1}}, 4000)
    assert abs((applied - sent).std() / 0.1 - 1) < 0.05
    _, wide = _applied({"type": "action_gaussian_noise", "params": {"std": 5.0}})
    assert wide.min() >= -2.0 and wide.max() <= 2.0


def test_action_delay():
    sent, applied = _applied({"type": "action_delay", "params": {"steps": 3}}, 150)
    np.testing.assert_array_equal(applied[3:150], sent[:147])
    np.testing.assert_array_equal(applied[:3], 0.0)


def test_sticky_and_dropped_actions():
    sent, applied = _applied({"type": "action_sticky", "params": {"probability": 0.3}}, 4000)
    repeated = (applied[1:] == applied[:-1]) & (applied[1:] != sent[1:])
    assert abs(repeated.mean() - 0.3) < 0.03
    sent, applied = _applied({"type": "action_dropout", "params": {"probability": 0.1}}, 4000)
    assert abs((applied == 0).mean() - 0.1) < 0.02


def test_gain_and_saturation():
    sent, applied = _applied({"type": "action_gain", "params": {"value": 1.5}}, 300)
    np.testing.assert_allclose(applied, np.clip(sent * 1.5, -2, 2), rtol=1e-6)
    sent, applied = _applied({"type": "action_saturation", "params": {"fraction": 0.25}}, 300)
    np.testing.assert_allclose(applied, np.clip(sent, -0.5, 0.5))
    with pytest.raises(UserError, match="gains must be > 0"):
        with_layers(PEN, {"type": "action_gain", "params": {"value": 0.0}})


def test_discrete_actions_get_delay_and_refuse_noise():
    sc = with_layers("classic/CartPole-v1", {"type": "action_delay", "params": {"steps": 2}})
    seen = spy_actions(sc)
    sc.reset(seed=0)
    for a in (1, 1, 0, 1):
        sc.step({"agent_0": np.int64(a)})
    assert [int(s["agent_0"]) for s in seen] == [0, 0, 1, 1]
    with pytest.raises(UserError, match="needs continuous"):
        with_layers("classic/CartPole-v1", {"type": "action_gaussian_noise", "params": {"std": 0.1}})
    with pytest.raises(UserError, match="needs continuous"):
        with_layers("toytext/FrozenLake-v1", {"type": "obs_gaussian_noise", "params": {"std": 0.1}})


def _rewards(layer: dict, steps: int):
    clean = scenarios.make(PEN, seed=0)
    noisy = with_layers(PEN, layer)
    rc, rn = [], []
    clean.reset(seed=0), noisy.reset(seed=0)
    for _ in range(steps):
        if not clean.agents:
            clean.reset(), noisy.reset()
        a = {"agent_0": np.array([0.5], np.float32)}
        rc.append(clean.step(a)[1]["agent_0"]), rn.append(noisy.step(a)[1]["agent_0"])
    return np.array(rc), np.array(rn)


def test_reward_noise_and_delay():
    rc, rn = _rewards({"type": "reward_noise", "params": {"std": 0.5}}, 4000)
    assert abs((rn - rc).std() / 0.5 - 1) < 0.05
    rc, rd = _rewards({"type": "reward_delay", "params": {"steps": 10}}, 200)  # one 200-step episode
    np.testing.assert_allclose(rd[10:199], rc[:189])
    assert np.all(rd[:10] == 0.0)
    assert rd.sum() == pytest.approx(rc.sum())  # withheld rewards are paid on the last step


def test_bad_layer_parameters_are_one_line_errors():
    with pytest.raises(UserError, match=r"layer 0 \(obs_gaussian_noise\).*std must be >= 0"):
        with_layers(PEN, {"type": "obs_gaussian_noise", "params": {"std": -1.0}})
    with pytest.raises(UserError, match=r"'colour'.*Extra inputs"):
        with_layers(PEN, {"type": "obs_dropout", "params": {"probability": 0.1, "colour": 1}})
    with pytest.raises(UserError, match="did you mean: obs_gaussian_noise"):
        with_layers(PEN, {"type": "obs_gausian_noise", "params": {"std": 1.0}})


@pytest.mark.parametrize("layer,shape", [
    ({"type": "obs_delay", "params": {"steps": 10**12}}, r"\(1, 1000000000001, 3\) \(float32\)"),
    ({"type": "obs_delay", "params": {"steps": 1, "jitter": 10**12}}, r"\(1, 1000000000002, 3\) \(float32\)"),
    ({"type": "action_delay", "params": {"steps": 10**12}}, r"\(1, 1000000000000, 1\) \(float32\)"),
    ({"type": "reward_delay", "params": {"steps": 10**12}}, r"\(1, 1000000000000\) \(float64\)"),
    ({"type": "obs_distractors", "params": {"dims": 10**12}}, r"\(1, 256, 1000000000000\) \(float64\)"),
])
def test_layer_state_too_large_for_memory_is_one_line_before_any_allocation(layer, shape):
    """A delay of 10^12 steps or 10^12 distractor dimensions was numpy's MemoryError traceback."""
    with pytest.raises(UserError, match=rf"^layer {layer['type']}: its state of shape {shape} needs .* GiB, more than "
                                        r"this machine's .* GiB of memory; lower its parameters \(or the number of copies\)$"):
        with_layers(PEN, layer)


def test_a_memory_error_while_a_layer_binds_is_one_line(monkeypatch):
    """What fits the machine but not the memory free now (numpy raises MemoryError) is one line too."""
    import scenarios.layers.base as base

    def refuse(shape, dtype, owner):
        raise MemoryError(f"Unable to allocate for an array with shape {shape}")

    monkeypatch.setattr(base, "zeros", refuse)
    with pytest.raises(UserError, match=r"^layer reward_delay: its per-copy state does not fit in the memory free now"):
        with_layers(PEN, {"type": "reward_delay", "params": {"steps": 3}})


def test_same_seed_same_perturbations_and_copies_differ():
    layer = {"type": "obs_gaussian_noise", "params": {"std": 1.0}}
    spec = scenarios.get_spec(PEN).model_dump() | {"layers": [layer]}
    a, b = scenarios.make(spec, seed=5), scenarios.make(spec, seed=5)
    np.testing.assert_array_equal(a.reset()[0]["agent_0"], b.reset()[0]["agent_0"])
    vec = scenarios.make(spec).vector(2, seed=5)
    obs, _ = vec.reset()
    clean = scenarios.make(PEN).vector(2, seed=5).reset()[0]["agent_0"]
    noise = obs["agent_0"] - clean
    assert not np.allclose(noise[0], noise[1])


def test_scheduled_noise_follows_its_schedule():
    layer = {"type": "obs_gaussian_noise", "params": {"std": {"kind": "step", "values": [0.0, 0.5], "boundaries": [100]}}}
    clean, noisy = paired_observations(PEN, layer, 199)  # one 200-step episode
    d = noisy - clean
    assert np.all(d[:100] == 0.0)
    assert abs(d[101:].std() / 0.5 - 1) < 0.1
    act = {"type": "action_gaussian_noise", "params": {"std": {"kind": "saw", "low": 0.0, "high": 0.4, "period": 50}}}
    sent, applied = _applied(act, 200)
    assert np.all(applied[49::50] == sent[49::50])  # std back to 0 at the start of each period
    assert np.abs(applied - sent).max() > 0.05
