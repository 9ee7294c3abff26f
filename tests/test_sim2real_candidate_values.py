"""``testbed sim2real``'s candidate delays and deadbands refuse NaN and infinities in one line, as
they refuse negative values (``min(values) < 0`` let ``nan`` through: a NaN deadband was fitted and
trained on)."""

from __future__ import annotations

import pytest

from tests.test_cli import assert_user_error, run


@pytest.mark.parametrize("flag,value", [("--deadbands", "nan"), ("--deadbands", "0,inf"), ("--deadbands", "-0.1"),
                                        ("--delays", "-1")])
def test_non_finite_or_negative_candidates_are_refused(tmp_path, flag, value):
    proc = run("sim2real", "sim2real/Hopper-real-v0", flag, value, "--episodes", "1", "--steps", "0",
               "--out", str(tmp_path / "s2r"), cwd=tmp_path)
    assert_user_error(proc, rf"{flag} needs one or more finite values >= 0, got '{value}'")
    assert not (tmp_path / "s2r").exists()


@pytest.mark.parametrize("param,pattern", [("nope:torso", "unknown sysid parameter kind 'nope'"),
                                           ("body_mass:nobody", "nobody"),
                                           ("friction:*,friction:*", "repeat a name")])
def test_an_unknown_parameter_is_refused_before_the_target_is_recorded(tmp_path, param, pattern):
    """``--param`` was checked only by the fit, after the target's episodes had been recorded."""
    from scenarios import UserError
    from sim2real.loop import run_loop

    logged: list[str] = []
    with pytest.raises(UserError, match=pattern):
        run_loop("sim2real/Hopper-real-v0", episodes=1, parameters=param.split(","), steps=0,
                 out=tmp_path / "s2r", log=logged.append)
    assert not logged and not (tmp_path / "s2r").exists()
