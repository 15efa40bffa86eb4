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
from pathlib import Path
from typing import Callable, Sequence

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from extractors.articles import load_article
from extractors.claims import claims_from_texts, extract_claims
from factledger.app import Runtime, make_providers, make_verifier, result_rows, run_info
from factledger.errors import Cancelled, InputError
from factledger.progress import CLAIMS, report
from factledger.records import Article, Claim, ClaimResult
from factledger.settings import Limits, Thresholds
from flows import stopping
from flows.runners import chunks, env_task_runner, parallel_slots
from flows.stopping import check_stop
from warehouse.db import opened
from warehouse.store import finish_run, start_run, store_article_results, store_claim_results

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
    """The article's claims, best first: at most `max_claims` when the caller asked for that many,
    else at most `cap` (`Limits.max_claims_per_article`), with a warning naming what was left."""
    rt = get_runtime(spec)
    check_stop()
    claims = extract_claims(article, rt.splitter, rt.scorer, min_score=rt.thresholds.checkworthy_min_score,
                            max_claims=max_claims, cache=rt.cache)
    check_stop()
    cap = cap or Limits.from_env().max_claims_per_article
    if max_claims is None and len(claims) > cap:
        log.warning("%s has %d check-worthy claims: verifying the %d most check-worthy (--max-claims N or "
                    "FACTLEDGER_MAX_CLAIMS_PER_ARTICLE to change the limit)", article.ref, len(claims), cap)
        claims = claims[:cap]
    return claims


@task(name="extract-claims", cache_policy=NO_CACHE)
def extract_claims_task(article: Article, max_claims: int | None, spec: RuntimeSpec | None = None,
                        cap: int | None = None) -> list[Claim]:
    return _claims(article, max_claims, spec, cap)


def _verify(claims: Sequence[Claim], providers: Sequence[str], db: str, quiet: bool, urls: Sequence[str],
            before: str | None, spec: RuntimeSpec | None, first: int = 0, total: int | None = None,
            scope: str = "") -> list[ClaimResult]:
    """Verify `claims`, reporting progress (`factledger.progress`, unless `quiet`): the claims
    checked of `total` (all the run's claims; `first` is where this chunk starts), the evidence
    searched for claim by claim, then the weighing of it (the stance model reads every claim's
    passages together, so claims are checked when that ends)."""
    rt = get_runtime(spec)
    n = total or len(claims)
    searched = 0

    def progress(i: int, _n: int, claim: Claim) -> None:  # called once per claim: a stop is seen here
        nonlocal searched
        check_stop()
        if not quiet:
            searched += 1
            note = (f"searching evidence: claim {first + searched} of {n}" if searched < len(claims)
                    else "weighing the evidence")
            report(CLAIMS, n, note=note, scope=scope)

    check_stop()
    with stopping.reading(db) as con:
        verifier = make_verifier(make_providers(providers, con, rt, urls), rt, before=before)
        results = verifier.check(list(claims), progress=progress)
    check_stop()
    if not quiet:
        report(CLAIMS, n, len(claims), note="", scope=scope)
    return results


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
    if not quiet:
        report(CLAIMS, None, note="finding check-worthy claims", scope=article.article_id)
    claims = _claims(article, max_claims, spec, cap)
    return _verify(claims, providers, db, quiet, urls, before, spec, scope=article.article_id)


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


# The store steps are plain functions the flow calls, not tasks: they run in the flow process
# (the one writer) anyway, and Prefect walks every parameter of a task call looking for futures,
# which over an article's results (passages with 384-float vectors) cost ~0.3 s a call.

# Each commits before it returns; the writer's close (DuckDB's checkpoint of the commit into the
# file) finishes in the background while the flow run wraps up (`warehouse.db.close_soon`).

# A stop requested before a store begins cancels it; one that comes during a store waits for its
# commit (`flows.stopping.writing`).

def store_article(db: str, run_id: str, article: Article, results: Sequence[ClaimResult]) -> None:
    with stopping.writing():
        check_stop()
        with opened(db, close_in_background=True) as con:
            store_article_results(con, run_id, article, results)
            finish_run(con, run_id)
        stopping.finished(run_id, "completed")


def store_claims(db: str, run_id: str, results: Sequence[ClaimResult]) -> None:
    with stopping.writing():
        check_stop()
        with opened(db, close_in_background=True) as con:
            store_claim_results(con, run_id, results)
            finish_run(con, run_id)
        stopping.finished(run_id, "completed")


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


def _db_path(db: str) -> str:
    """Absolute, so that workers in other processes (same path on other machines) find the file."""
    return str(Path(db).expanduser().resolve())


def _begin(db: str, run_id: str, flow_name: str, providers: Sequence[str], params: dict) -> None:
    with stopping.writing():
        check_stop()
        with opened(db) as con:
            start_run(con, run_info(run_id, flow_name, get_runtime(), providers, params))
        stopping.run_begun(run_id, db)


def _fail(db: str, run_id: str, exc: BaseException) -> None:
    """Record the run as failed, or as cancelled when a stop ended it."""
    cancelled = isinstance(exc, Cancelled) or stopping.stop_requested()
    status = "cancelled" if cancelled else "failed"
    error = f"cancelled: {stopping.stop_signal()}" if cancelled else _first_line(exc)
    with stopping.writing():
        with opened(db) as con:
            finish_run(con, run_id, error=error, status=status)
        stopping.finished(run_id, status)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc).strip() else type(exc).__name__


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
    spec = _flow_runtime(device)
    limits = Limits.from_env(max_article_mb=max_article_mb)
    check_stop()
    # Loaded here, not in a task (a few ms of work against ~0.1 s of task bookkeeping); bad input
    # fails here, before the warehouse is touched. The CLI has loaded it already, to check it.
    art = get_runtime().articles.pop(article, None) or load_article(article, get_runtime().fetcher)
    limits.check_article_text(art.text, article)
    cap = limits.max_claims_per_article
    params = {"article": article, "max_claims": max_claims, "urls": list(urls), "before": before,
              "limits": limits.as_dict()}
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
    texts = ([text] if text else []) + list(claims or [])
    ids = ([None] if text else []) + list(input_ids) if input_ids is not None else None
    limits = Limits.from_env()
    for i, t in enumerate(texts, start=1):
        limits.check_claim_text(t, label=f"claim {i} of {len(texts)} ({t.strip()!r})" if len(texts) > 1 else "claim",
                                source="check-claim" if len(texts) > 1 else None)
    claim_records = claims_from_texts(texts, ids)
    if not claim_records:
        raise InputError("no claim given (pass text or claims)")
    run_id, db = _run_id(), _db_path(db)
    spec = _flow_runtime(device)
    _begin(db, run_id, "check-claim", providers, {"claims": len(claim_records), "urls": list(urls), "before": before,
                                                  "limits": limits.as_dict()})
    try:
        results = verify_in_chunks(claim_records, providers, db, quiet, urls, before, spec, claims_per_task)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    rows = result_rows(results)
    await _store_and_publish(lambda: store_claims(db, run_id, results), db, run_id,
                             "claim-verdicts", rows, f"Verdicts for {len(rows)} claims checked by hand")
    return rows
