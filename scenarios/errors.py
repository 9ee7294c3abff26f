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
