"""Where tasks run: Prefect's thread pool in the flow process (the default), or a Dask cluster.

Whatever the runner, only the flow process writes to DuckDB: tasks submitted to the runner do pure
work (load an article, extract claims, verify a chunk of claims, reading the warehouse through
read-only connections) and return records; the flow stores them.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence, TypeVar
from urllib.parse import urlsplit

from prefect import Flow
from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from factledger.errors import ConfigError
from flows._env import share_tls_contexts
from flows.steps import run_id_of, with_run_id

share_tls_contexts()  # every flow module imports this one: the flows' API clients share their TLS contexts

__all__ = ["RUNNERS", "chunks", "env_task_runner", "make_task_runner", "parallel_slots", "run_flow", "run_id_of",
           "stop_local_servers", "workers_api"]

RUNNERS = ("thread", "dask")
# A Dask task costs ~0.2 s of Prefect bookkeeping on top of its work (../shared/PREFECT.md, 2 cores);
# verifying one claim against the example corpus took 0.1-0.3 s on the same machine. So a chunk
# sent to a worker holds at least this many claims: a chosen floor, not tuned.
MIN_CLAIMS_PER_TASK = 4

T = TypeVar("T")


def make_task_runner(runner: str = "thread", dask_address: str | None = None) -> TaskRunner:
    """`thread`: Prefect's thread pool in this process. `dask`: the Dask scheduler at `dask_address`
    (`tcp://host:8786`), or without one a temporary LocalCluster of one single-threaded worker
    process per core (models load once per worker process; torch uses one core in each)."""
    if runner == "thread":
        if dask_address:
            raise ConfigError(f"--dask-address needs --runner dask ({dask_address})")
        return ThreadPoolTaskRunner()
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"processes": True, "threads_per_worker": 1, "dashboard_address": None})
    raise ConfigError(f"unknown task runner {runner!r} (choose from {', '.join(RUNNERS)})")


def env_task_runner() -> TaskRunner:
    """The runner of the flows as deployed: $FACTLEDGER_RUNNER (thread, the default, or dask) and
    $FACTLEDGER_DASK_ADDRESS, read when the flows module is imported (`factledger serve` sets them)."""
    return make_task_runner(os.environ.get("FACTLEDGER_RUNNER") or "thread",
                            os.environ.get("FACTLEDGER_DASK_ADDRESS") or None)


def _loopback(address: str) -> bool:
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


@contextmanager
def workers_api(runner: str, dask_address: str | None = None) -> Iterator[None]:
    """Dask workers report their task runs to the Prefect API, so they need one they can reach.

    With `PREFECT_API_URL` set (a `prefect server start` somewhere), nothing to do. Without it the
    flows would run on an ephemeral API that lives in this process alone: for a cluster on this
    machine, start that local server now and point this process's settings, which travel with
    each task to the workers, at it. A remote cluster needs a real server.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    if runner != "dask" or PREFECT_API_URL.value():
        yield
        return
    if dask_address and not _loopback(dask_address):
        raise ConfigError("--runner dask with a remote cluster needs a Prefect server the workers can reach: "
                          f"start `prefect server start --host 0.0.0.0` and set PREFECT_API_URL ({dask_address})")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same one ephemeral mode would start; stopped at exit
    server.start(timeout=PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def run_flow(flow: Flow, runner: str = "thread", dask_address: str | None = None, **parameters: Any) -> Any:
    """Run `flow(**parameters)` to its end from sync code, with the chosen task runner (picked per
    call, `flow.with_options`). Our flows are async (see `flows.check`): this runs their loop.

    Returns the flow's result, also when the flow ended Failed with a result of its own (a batch in
    which some article failed returns its counts). An exception the flow raised is raised here,
    carrying the flow run's id (`run_id_of`)."""
    if runner == "thread" and not dask_address and type(flow.task_runner) is ThreadPoolTaskRunner:
        chosen = flow  # already on the thread pool: `with_options` rebuilds the flow's parameter schema (~20 ms)
    else:
        chosen = flow.with_options(task_runner=make_task_runner(runner, dask_address))
    with workers_api(runner, dask_address):
        state = chosen(**parameters, return_state=True)
        if inspect.iscoroutine(state):
            state = asyncio.run(state)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        run_id = state.state_details.flow_run_id
        if run_id is not None and run_id_of(result) is None:
            with_run_id(result, str(run_id))
        raise result
    return result


def stop_local_servers() -> None:
    """Stop the temporary Prefect API server this process started (ephemeral mode), without
    waiting for it: for a process about to end before its exit handlers would run."""
    module = sys.modules.get("prefect.server.api.server")  # not imported: no server was started
    if module is None:
        return
    for server in list(getattr(module.SubprocessASGIServer, "_instances", {}).values()):
        process = getattr(server, "server_process", None)
        if process is not None and process.poll() is None:
            process.terminate()


def parallel_slots() -> int:
    """How many tasks the current flow run's runner works on at once, as far as the work is
    concerned: 1 for the thread pool (one process, one set of models: today's sequential order),
    the Dask cluster's worker threads otherwise."""
    ctx = FlowRunContext.get()
    runner = ctx.task_runner if ctx else None
    if "prefect_dask" not in sys.modules:  # never imported, so not in use: spare the thread pool the import
        return 1
    from prefect_dask import DaskTaskRunner

    if isinstance(runner, DaskTaskRunner):
        return max(1, sum(runner.client.nthreads().values()))
    return 1


def chunks(items: Sequence[T], slots: int, size: int | None = None,
           min_size: int = MIN_CLAIMS_PER_TASK) -> list[list[T]]:
    """`items` in order, cut into `size`-long chunks; by default one chunk per slot, never shorter
    than `min_size` (and a single chunk when there is one slot)."""
    items = list(items)
    if not items:
        return []
    if size is None:
        size = len(items) if slots <= 1 else max(min_size, -(-len(items) // slots))
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]
