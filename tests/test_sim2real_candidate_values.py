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
