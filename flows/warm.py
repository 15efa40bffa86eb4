"""Starting Prefect's API early, so that a cold start does two things at once: the models load in
a thread (`factledger.app.while_loading`) while Prefect is imported and its API starts.

On the 2-core reference machine Prefect's embedded API server starts in a subprocess in 5-10 s
(../shared/PREFECT.md) and torch + the models load in ~5 s: one after the other they were most of
a cold `check-claim`. Loading the models (torch releases the GIL in most of its work, and the API
server is another process) while the server starts hides one behind the other.
"""

from __future__ import annotations

__all__ = ["start_api"]


def start_api() -> str:
    """The Prefect API this process's flows report to: $PREFECT_API_URL, else the embedded
    (ephemeral) server, started now and reused by the flows (and stopped at exit, or by
    `flows.runners.stop_local_servers`)."""
    import flows  # noqa: F401 -- Prefect's offline settings go into the environment before prefect is imported
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    url = PREFECT_API_URL.value()
    if url:
        return url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance the flows' clients use (one per process)
    server.start(timeout=PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    return server.api_url
