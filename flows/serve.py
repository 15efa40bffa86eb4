"""`factledger serve`: the deployments a newsroom runs on a long-lived Prefect server."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

from prefect import serve
from prefect.deployments.runner import EntrypointType

from flows.batch import batch_flow, recheck_flow
from flows.check import check_article_flow, check_claim_flow
from flows.runners import make_task_runner

__all__ = ["build_deployments", "serve_deployments", "start_deployments"]

log = logging.getLogger(__name__)


def build_deployments(
    db: str | Path,
    *,
    feeds: Sequence[str] = (),
    url_lists: Sequence[str] = (),
    providers: Sequence[str] = ("corpus",),
    cron: str | None = "0 * * * *",
    recheck_cron: str | None = "30 3 * * *",
    recheck_days: float = 7.0,
    max_articles: int = 50,
    device: str | None = None,
):
    """batch/scheduled (feeds and URL lists on a cron), check-claim/manual, check-article/manual,
    recheck/scheduled. Runs of each deployment take turns (concurrency limit 1): one DuckDB writer.
    `device` becomes a default parameter of each (a run may override it with --param device=...)."""
    db = str(Path(db).resolve())
    common = dict(entrypoint_type=EntrypointType.MODULE_PATH, concurrency_limit=1)
    dev = {"device": device} if device else {}
    return [
        batch_flow.to_deployment(
            name="scheduled", cron=cron, description="New articles from feeds and URL lists",
            parameters={"feeds": list(feeds), "url_lists": list(url_lists), "db": db, "providers": list(providers),
                        "max_articles": max_articles, **dev},
            tags=["factledger", "batch"], **common,
        ),
        check_claim_flow.to_deployment(
            name="manual", description="Check one claim typed by an editor (--param text=...)",
            parameters={"db": db, "providers": list(providers), **dev}, tags=["factledger", "manual"], **common,
        ),
        check_article_flow.to_deployment(
            name="manual", description="Check one article by path or URL (--param article=...)",
            parameters={"db": db, "providers": list(providers), **dev}, tags=["factledger", "manual"], **common,
        ),
        recheck_flow.to_deployment(
            name="scheduled", cron=recheck_cron, description=f"Re-check claims older than {recheck_days} days",
            parameters={"db": db, "older_than_days": recheck_days, "providers": list(providers), **dev},
            tags=["factledger", "recheck"], **common,
        ),
    ]


def _runner_env(runner: str, dask_address: str | None) -> None:
    make_task_runner(runner, dask_address)  # refuse a bad choice now, not in every run
    os.environ["FACTLEDGER_RUNNER"] = runner
    if dask_address:
        os.environ["FACTLEDGER_DASK_ADDRESS"] = dask_address
    else:
        os.environ.pop("FACTLEDGER_DASK_ADDRESS", None)


def serve_deployments(db: str | Path, *, runner: str = "thread", dask_address: str | None = None, **kwargs) -> None:
    """Register the deployments with the Prefect API and run their flow runs until stopped (SIGTERM).

    Each flow run is a subprocess that imports the flows afresh: `runner` and `dask_address` reach
    it as $FACTLEDGER_RUNNER and $FACTLEDGER_DASK_ADDRESS (see `flows.runners.env_task_runner`)."""
    _runner_env(runner, dask_address)
    serve(*build_deployments(db, **kwargs), print_starting_message=True)


def start_deployments(db: str | Path, *, runner: str = "thread", dask_address: str | None = None,
                      **kwargs) -> Callable[[], None]:
    """`serve_deployments` in a background thread (the warm check service holds the main one);
    returns the function that stops it (the deployments' schedules are paused, as on SIGTERM)."""
    from prefect.runner import Runner

    _runner_env(runner, dask_address)
    deployments = build_deployments(db, **kwargs)
    box: dict = {}
    ready = threading.Event()

    async def main() -> None:
        box["runner"] = r = Runner(pause_on_shutdown=True)
        for d in deployments:
            await r.add_deployment(d)
        ready.set()
        await r.start()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported, not raised: the check service goes on
            log.error("the Prefect deployments stopped: %s", exc)
        finally:
            ready.set()

    thread = threading.Thread(target=target, name="prefect-deployments", daemon=True)
    thread.start()
    ready.wait(120)

    def stop() -> None:
        r = box.get("runner")
        if r is not None and r.started and thread.is_alive():
            try:
                r.execute_in_background(r.astop).result(timeout=15)
            except Exception as exc:  # already stopping
                log.debug("stopping the deployments: %s", exc)
        thread.join(15)

    return stop
