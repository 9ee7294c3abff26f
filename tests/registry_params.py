"""Registry-wide test parameters: every id, with the heavy robotics ones marked slow.

The robotics family (58 ids, ~1 s each through the checker) would add about a minute to the
default run; one cheap id per source and one preset stay in it (``ROBOTICS_SMOKE``), the rest
run with ``-m slow`` (``make test-all``).
"""

import pytest

ROBOTICS_SMOKE = {
    "robotics/FetchPush-v4", "robotics/PointMaze_UMaze-v3", "robotics/AntMaze_UMaze-v5",
    "robotics/AdroitHandDoor-v1", "robotics/FetchPush-hard-v0",
}


def registry_params(ids: list[str]) -> list:
    """``ids`` as pytest params, robotics ids outside ``ROBOTICS_SMOKE`` marked slow."""
    return [pytest.param(i, marks=pytest.mark.slow) if i.startswith("robotics/") and i not in ROBOTICS_SMOKE else i
            for i in ids]
