"""Prefect flows: thin wrappers over the library. The only package that imports prefect.

Importing the package imports no Prefect: its plain modules (`flows.steps`, `flows.local`,
`flows.stopping`) serve the CLI's in-process checks without it, and the flows themselves are
imported at their first use (`flows.check_claim_flow`, `from flows import batch_flow`).
"""

from flows._env import configure

configure()  # Prefect's offline settings go into the environment before prefect is ever imported

__all__ = ["batch_flow", "check_article_flow", "check_claim_flow", "recheck_flow", "set_runtime"]

_WHERE = {"batch_flow": "flows.batch", "recheck_flow": "flows.batch", "check_article_flow": "flows.check",
          "check_claim_flow": "flows.check", "set_runtime": "flows.check"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'flows' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
