"""One YAML reader for every file and ``--set`` value: PyYAML's safe loader with YAML
1.2's number grammar.

PyYAML implements YAML 1.1, where a float needs a dot (``1.0e-3``), so ``1e-3``,
``3e4`` or ``1E+2`` come back as strings and reach a learner as a learning rate
of ``'1e-3'``. YAML 1.2 (and every JSON reader) reads them as numbers; this
loader adds that resolver (the one ruamel.yaml uses for 1.2) and nothing else.

>>> load("lr: 1e-3")
{'lr': 0.001}
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class Loader(yaml.SafeLoader):
    """Safe loader that reads YAML 1.2 floats (``1e-3``) as numbers."""


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def load(text: str) -> Any:
    """Parse YAML text with YAML 1.2 numbers."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
