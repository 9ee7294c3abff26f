"""The one exception type for bad user input, shared by every package.

Anything a user can get wrong (an unknown id, a malformed spec, a missing file,
a checkpoint that does not fit a scenario) raises :class:`UserError` with a
single line that names the problem and the valid choices. The CLI turns it into
that line on stderr and exit status 2, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(ValueError):
    """A problem with the user's input, explained in one line."""


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return a ``"; did you mean: a, b?"`` hint for ``name`` among ``choices`` (or "")."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    if not close:
        tail = name.lower().rsplit("/", 1)[-1]
        close = [c for c in lowered if tail and tail.split("-v")[0] in c][:n]
    if not close:
        return ""
    return "; did you mean: " + ", ".join(lowered[c] for c in close) + "?"


MAX_SEED = 2**63 - 1
"""The largest seed every generator here takes (torch's reads a signed 64-bit integer)."""


def check_seed(seed: object, what: str = "seed") -> None:
    """Refuse a seed that is not an integer in ``[0, MAX_SEED]`` (None, fresh entropy, passes) in one line:
    Gymnasium raised its own error for a negative seed, torch an OverflowError for a huge one."""
    import numbers

    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) <= MAX_SEED:
        raise UserError(f"{what} must be an integer from 0 to {MAX_SEED} (2**63 - 1), got {seed!r}")


def wrap_seed(value: int) -> int:
    """A seed derived from a valid one (``seed + k`` for copy or episode k, a worker's ``seed x c + r``)
    folded into ``[0, MAX_SEED]``, so the largest seeds the CLI takes still build copies and workers
    (unchanged for every derived value already in range).

    >>> wrap_seed(5), wrap_seed(MAX_SEED + 3)
    (5, 2)
    """
    return int(value) % (MAX_SEED + 1)
