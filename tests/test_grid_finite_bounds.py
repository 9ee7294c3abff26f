"""A grid or worst-case bound too large for a float (``1e400`` reads as infinity) is refused in one
line; NumPy's linspace printed an overflow warning and the points came out NaN."""

from __future__ import annotations

import re
import warnings

import pytest

from scenarios import UserError
from testbed.grid import parse_axis
from testbed.worst_case import parse_box
from tests.test_cli import assert_user_error, run


@pytest.mark.parametrize("text", ["body_mass.torso=1:1e400:2", "body_mass.torso=-1e999:1:3", "gravity.z@set=-1e400:1:2"])
def test_an_infinite_grid_bound_is_refused_without_a_warning(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserError, match=r"LOW and HIGH must be finite numbers"):
            parse_axis(text)


def test_an_infinite_worst_case_bound_is_refused():
    with pytest.raises(UserError, match=r"LOW and HIGH must be finite numbers"):
        parse_box("body_mass.torso=1:1e400")


@pytest.mark.parametrize("text,pattern", [("body_mass.torso=1:1e400", "LOW and HIGH must be finite"),
                                          ("bodymass.torso=1:2", "unknown field 'bodymass'"),
                                          ("body_mass.torso=-1:2", "a scale must be > 0")])
def test_a_worst_case_box_error_names_its_own_option_and_text(text, pattern):
    """The box is parsed as a two-point grid axis; its refusals name --worst-case and the box as
    written (they said "bad --grid '...:2'")."""
    with pytest.raises(UserError, match=rf"^bad --worst-case '{re.escape(text)}': {pattern}"):
        parse_box(text)


def test_the_cli_says_it_in_one_line(tmp_path):
    proc = run("evaluate", "random", "mujoco/Hopper-v5", "--episodes", "1", "--grid", "body_mass.torso=1:1e400:2",
               "--db", str(tmp_path / "g.db"), cwd=tmp_path)
    assert_user_error(proc, r"bad --grid 'body_mass.torso=1:1e400:2': LOW and HIGH must be finite numbers")


def test_large_finite_bounds_still_parse():
    assert parse_axis("gravity.z@set=-1e30:-9:2").values == (-1e30, -9.0)
