"""Prefect settings that must be in the environment before `import prefect` (see docs), and the
one adjustment made to Prefect once it is imported."""

from __future__ import annotations

import os
import threading
from pathlib import Path

OFFLINE_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "100",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DASK_LOGGING__DISTRIBUTED": "warning",  # Dask's own INFO lines; inherited by local workers
}


def configure() -> None:
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(Path.home() / ".factledger" / "prefect"))


class _SharedTLSContexts:
    """The `ssl` module as Prefect's API client module sees it, except that
    `create_default_context` hands back one context per set of arguments instead of a new one.

    Prefect builds a fresh verified context for every API client it opens (loading the whole CA
    bundle, ~20 ms each) and opens two to four clients per flow run: 40-90 ms of every flow run
    on this 2-core machine, a fifth of a cached re-run. One context per CA file serves every
    client (an `SSLContext` is meant to be shared); a CA file edited while the process runs is
    read again only by a new process."""

    def __init__(self, module) -> None:
        self._module = module
        self._contexts: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self._module, name)

    def create_default_context(self, purpose=None, *, cafile=None, capath=None, cadata=None):
        key = (purpose, cafile, capath, cadata)
        with self._lock:
            if key not in self._contexts:
                args = {} if purpose is None else {"purpose": purpose}
                self._contexts[key] = self._module.create_default_context(**args, cafile=cafile, capath=capath,
                                                                          cadata=cadata)
            return self._contexts[key]

    def clear(self) -> None:
        with self._lock:
            self._contexts.clear()


def share_tls_contexts() -> bool:
    """Let Prefect's API clients in this process share their TLS contexts (see `_SharedTLSContexts`).
    True if installed now or before; False if this Prefect builds its clients some other way."""
    import ssl

    from prefect.client import orchestration

    current = getattr(orchestration, "ssl", None)
    if isinstance(current, _SharedTLSContexts):
        return True
    if current is not ssl:
        return False
    orchestration.ssl = _SharedTLSContexts(ssl)
    return True
