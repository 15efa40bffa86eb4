"""`check-article` and `check-claim` flows. Coarse tasks; one DuckDB writer per flow run.

The flows are `async def` for one reason: Prefect ends a sync flow run by joining its heartbeat
thread, which sleeps in one-second steps (~1 s per run, most of a warm article's orchestration
cost); an async run does not wait for it. Their bodies block as sync code would (tasks run on the
task runner; the loop has nothing else to do), and `flows.runners.run_flow` runs them from sync code.

Tasks do pure work and return records; they are submitted to the flow's task runner (the thread
pool by default, a Dask cluster with `flows.runners.run_flow(..., runner="dask")`), so on a
cluster they run in worker processes that build their own models once, from a `RuntimeSpec`.
Only the flow process writes to DuckDB, once to record the run and once to store the results.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from factledger import progress
from factledger.app import Runtime, result_rows
from factledger.records import Article, Claim, ClaimResult
from factledger.settings import Thresholds
from flows import steps
from flows.runners import chunks, env_task_runner, parallel_slots
from flows.steps import db_path as _db_path
from flows.steps import fail as _fail
from flows.steps import store_article, store_claims

__all__ = ["RuntimeSpec", "check_article_flow", "check_claim_flow", "get_runtime", "set_runtime"]

log = logging.getLogger(__name__)
_RUNTIME: Runtime | None = None
_SPEC: RuntimeSpec | None = None  # what _RUNTIME was built from (or, injected, what it amounts to)
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class RuntimeSpec:
    """The plain settings a worker process needs to build the same Runtime as the flow process.
    Models, connections and clients never travel between processes; this does."""

    device: str | None = None
    wikipedia_api: str | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def of(cls, rt: Runtime) -> RuntimeSpec:
        return cls(rt.device, rt.wikipedia_api, rt.thresholds)

    def build(self) -> Runtime:
        return Runtime(device=self.device, wikipedia_api=self.wikipedia_api, thresholds=self.thresholds)


def set_runtime(rt: Runtime | None) -> None:
    """Use these models and clients for the flows in this process (tests inject fakes here).

    Tasks that run in other processes (a Dask cluster) build the packaged models instead."""
    global _RUNTIME, _SPEC
    with _LOCK:
        _RUNTIME, _SPEC = rt, (RuntimeSpec.of(rt) if rt is not None else None)


def get_runtime(spec: RuntimeSpec | None = None) -> Runtime:
    """This process's Runtime, built on first use and then reused: once per flow process, once per
    Dask worker process. A task passes the flow's `spec`; a different one builds a new Runtime."""
    global _RUNTIME, _SPEC
    with _LOCK:
        if _RUNTIME is None or (spec is not None and spec != _SPEC):
            spec = spec or RuntimeSpec()
            _RUNTIME, _SPEC = spec.build(), spec
        return _RUNTIME


def _flow_runtime(device: str | None) -> RuntimeSpec:
    """The spec of the flow process's Runtime, rebuilt first if the flow's `device` asks for another."""
    rt = get_runtime()
    if device and device != rt.device:
        rt = get_runtime(RuntimeSpec(device, rt.wikipedia_api, rt.thresholds))
    return RuntimeSpec.of(rt)


def _claims(article: Article, max_claims: int | None, spec: RuntimeSpec | None,
            cap: int | None = None) -> list[Claim]:
    return steps.article_claims(get_runtime(spec), article, max_claims, cap)


@task(name="extract-claims", cache_policy=NO_CACHE)
def extract_claims_task(article: Article, max_claims: int | None, spec: RuntimeSpec | None = None,
                        cap: int | None = None) -> list[Claim]:
    return _claims(article, max_claims, spec, cap)


def _verify(claims: Sequence[Claim], providers: Sequence[str], db: str, quiet: bool, urls: Sequence[str],
            before: str | None, spec: RuntimeSpec | None, first: int = 0, total: int | None = None,
            scope: str = "") -> list[ClaimResult]:
    return steps.verify(get_runtime(spec), claims, providers, db, quiet, urls, before, first, total, scope)


@task(name="verify-claims", cache_policy=NO_CACHE)
def verify_claims_task(claims: list[Claim], providers: list[str], db: str, quiet: bool,
                       urls: Sequence[str] = (), before: str | None = None,
                       spec: RuntimeSpec | None = None, first: int = 0, total: int | None = None
                       ) -> list[ClaimResult]:
    """Retrieve, score and decide, reading the warehouse through a read-only connection.
    (`first`, `total`: where this chunk sits among all the claims, for the progress lines.)"""
    return _verify(claims, providers, db, quiet, urls, before, spec, first, total)


@task(name="analyse-article", cache_policy=NO_CACHE)
def analyse_article_task(article: Article, providers: list[str], db: str, max_claims: int | None,
                         spec: RuntimeSpec | None = None, quiet: bool = True, urls: Sequence[str] = (),
                         before: str | None = None, cap: int | None = None) -> list[ClaimResult]:
    """The heavy part of checking one article, on whichever worker gets it: extract its claims and
    verify them, reading the warehouse read-only. Returns records; stores nothing. (One task where
    two would do the same work: each Prefect task costs ~0.1 s of bookkeeping.)"""
    return steps.analyse_article(get_runtime(spec), article, providers, db, max_claims, quiet, urls, before, cap)


def verify_in_chunks(claims: Sequence[Claim], providers: Sequence[str], db: str, quiet: bool,
                     urls: Sequence[str] = (), before: str | None = None, spec: RuntimeSpec | None = None,
                     claims_per_task: int | None = None) -> list[ClaimResult]:
    """Submit the claims to the task runner in chunks (one chunk on the thread pool, one per worker
    thread on Dask, `claims_per_task` if given) and gather the results in the claims' order."""
    parts = chunks(claims, parallel_slots(), claims_per_task) or [[]]  # no claims: still check the providers
    starts = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    futures = [verify_claims_task.submit(part, list(providers), db, quiet, list(urls), before, spec, first, len(claims))
               for part, first in zip(parts, starts)]
    return [r for f in futures for r in f.result()]


# The store steps (`flows.steps.store_article`, `store_claims`) are plain functions the flow calls,
# not tasks: they run in the flow process (the one writer) anyway, and Prefect walks every
# parameter of a task call looking for futures, which over an article's results (passages with
# 384-float vectors) cost ~0.3 s a call.


async def _artifact(key: str, rows: list[dict], description: str) -> None:
    """A summary table in the Prefect UI. A courtesy: the record of truth is DuckDB."""
    from prefect.artifacts import acreate_table_artifact

    try:
        await acreate_table_artifact(key=key, table=rows or [{"note": "nothing to report"}], description=description)
    except Exception as exc:
        log.warning("could not publish artifact %s: %s", key, exc)


async def _store_and_publish(store: Callable[[], None], db: str, run_id: str, key: str, rows: list[dict],
                             description: str) -> None:
    """Store the results (in a thread) while their summary artifact is published: DuckDB's writes
    and the API call overlap (~15 ms an article). A store that fails still fails the run, which
    is recorded as failed; its artifact, a courtesy, may already show what was found."""
    stored = asyncio.create_task(asyncio.to_thread(store))
    await _artifact(key, _summary(rows), description)
    try:
        await stored
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise


def _summary(rows: list[dict]) -> list[dict]:
    return [{"rank": r["rank"], "label": r["label"], "confidence": r["confidence"], "claim": r["claim"][:160],
             "source": r["source_url"] or ""} for r in rows]


def _run_id() -> str:
    return str(flow_run.get_id())


def _begin(db: str, run_id: str, flow_name: str, providers: Sequence[str], params: dict) -> None:
    steps.begin(get_runtime(), db, run_id, flow_name, providers, params)


@flow(name="check-article", log_prints=False, task_runner=env_task_runner())
async def check_article_flow(
    article: str,
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    max_claims: int | None = None,
    quiet: bool = False,
    urls: Sequence[str] = (),
    before: str | None = None,
    device: str | None = None,
    claims_per_task: int | None = None,
    max_article_mb: float | None = None,
) -> list[dict]:
    """Extract check-worthy claims from one article (path or URL), verify each, store everything.

    `device` (auto, cpu, cuda, cuda:N) is where the models run, in this process and on workers;
    unset, $FACTLEDGER_DEVICE or auto. The write lock is taken only to record the run and to
    store the article (one transaction). Limits (`factledger.settings.Limits`): an article over
    `max_article_mb` is refused; without `max_claims`, at most `max_claims_per_article` claims are
    verified, the most check-worthy first, with a warning naming how many were left.
    """
    run_id, db = _run_id(), _db_path(db)
    progress.started(run_id)
    spec = _flow_runtime(device)
    # Loaded here, not in a task (a few ms of work against ~0.1 s of task bookkeeping); bad input
    # fails here, before the warehouse is touched. The CLI has loaded it already, to check it.
    art, cap, params = steps.given_article(get_runtime(), article, max_claims, urls, before, max_article_mb)
    if parallel_slots() == 1 and claims_per_task is None:  # one worker: extract and verify in one task
        analysis = analyse_article_task.submit(art, list(providers), db, max_claims, spec, quiet, list(urls), before,
                                               cap)
        # The run row is written meanwhile (the task extracts claims before it reads the warehouse).
        with ThreadPoolExecutor(1, thread_name_prefix="begin") as pool:
            begun = pool.submit(_begin, db, run_id, "check-article", providers, params)
            try:
                results = analysis.result()
            except BaseException as exc:
                if begun.exception() is None:
                    _fail(db, run_id, exc)
                raise
        begun.result()  # a run that could not be recorded fails here, before anything is stored
    else:  # claims spread over the cluster's workers
        _begin(db, run_id, "check-article", providers, params)
        try:
            claims = extract_claims_task.submit(art, max_claims, spec, cap).result()
            results = verify_in_chunks(claims, providers, db, quiet, urls, before, spec, claims_per_task)
        except BaseException as exc:
            _fail(db, run_id, exc)
            raise
    rows = result_rows(results, art)
    await _store_and_publish(lambda: store_article(db, run_id, art, results), db, run_id,
                             "article-verdicts", rows, f"Verdicts for {article}")
    return rows


@flow(name="check-claim", log_prints=False, task_runner=env_task_runner())
async def check_claim_flow(
    text: str | None = None,
    claims: Sequence[str] | None = None,
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    quiet: bool = False,
    urls: Sequence[str] = (),
    before: str | None = None,
    device: str | None = None,
    claims_per_task: int | None = None,
    input_ids: Sequence[str | None] | None = None,
) -> list[dict]:
    """Verify one claim (`text`) or many (`claims`) typed in by hand, models loaded once;
    `input_ids` are the caller's ids of `claims`, stored with each claim."""
    claim_records, params = steps.claims_given(text, claims, input_ids, urls, before)
    run_id, db = _run_id(), _db_path(db)
    progress.started(run_id)
    spec = _flow_runtime(device)
    _begin(db, run_id, "check-claim", providers, params)
    try:
        results = verify_in_chunks(claim_records, providers, db, quiet, urls, before, spec, claims_per_task)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    rows = result_rows(results)
    await _store_and_publish(lambda: store_claims(db, run_id, results), db, run_id,
                             "claim-verdicts", rows, f"Verdicts for {len(rows)} claims checked by hand")
    return rows
