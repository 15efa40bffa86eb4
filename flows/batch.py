"""Scheduled work: a batch over feeds and URL lists, and a re-check of stored claims."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from extractors.articles import load_article
from extractors.feeds import fetch_feed
from factledger.app import run_info
from factledger.errors import Cancelled, FactLedgerError, FetchError
from factledger.net import TEXT_TYPES
from factledger.progress import ARTICLES, report
from factledger.records import Article, ClaimResult
from factledger.settings import Limits
from flows import stopping
from flows.check import (
    RuntimeSpec,
    _artifact,
    _store_and_publish,
    _begin,
    _db_path,
    _fail,
    _flow_runtime,
    _run_id,
    analyse_article_task,
    get_runtime,
    store_claims,
    verify_in_chunks,
)
from flows.runners import env_task_runner, parallel_slots
from flows.stopping import check_stop
from warehouse.db import opened
from warehouse.queries import claims_by_id, claims_due_for_recheck, known_article_refs, known_text_hashes
from warehouse.store import finish_run, record_batch_item, start_run, store_article_results

__all__ = ["batch_flow", "recheck_claims_flow", "recheck_flow"]

log = logging.getLogger(__name__)


@task(name="discover-articles", cache_policy=NO_CACHE)
def discover_task(feeds: Sequence[str], url_lists: Sequence[str]) -> list[tuple[str, str]]:
    """(article URL, where it came from) for every entry of every feed and URL list, in order."""
    rt = get_runtime()
    found: list[tuple[str, str]] = []
    for feed in feeds:
        try:
            found += [(e.url, feed) for e in fetch_feed(rt.fetcher, feed)]
        except FactLedgerError as exc:
            log.warning("feed skipped: %s", exc)
            found.append((feed, "feed-error:" + str(exc)))
    for lst in url_lists:
        if lst.startswith(("http://", "https://")):
            try:
                text = rt.fetcher.get(lst, accept=TEXT_TYPES).text()
            except FetchError as exc:
                found.append((lst, f"list-error:{exc.reason}"))
                continue
        else:
            p = Path(lst)
            if not p.is_file():
                found.append((lst, "list-error:no_such_file"))
                continue
            text = p.read_text(encoding="utf-8", errors="replace")
        found += [(_ref(line.strip()), lst) for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    return list({url: (url, origin) for url, origin in reversed(found)}.values())[::-1]


def _ref(entry: str) -> str:
    """URLs as they are; local paths made absolute, as articles store them."""
    return entry if "://" in entry else str(Path(entry).expanduser().resolve())


@task(name="load-article", cache_policy=NO_CACHE)
def fetch_article_task(url: str, spec: RuntimeSpec | None = None,
                       limits: Limits | None = None) -> tuple[Article | None, str | None]:
    """(article, None), or (None, the named reason it could not be loaded): an unusable page, or
    one over the article-size limit (article_too_large), is a status row of the batch, not a failed task."""
    try:
        art = load_article(url, get_runtime(spec).fetcher)
        (limits or Limits.from_env()).check_article_text(art.text, url)
        return art, None
    except FactLedgerError as exc:
        return None, _short(exc)


def store_batch_article(db: str, child_run_id: str, providers: list[str], params: dict, article: Article,
                        results: list[ClaimResult]) -> None:
    """One article of a batch as its own `check-article` run: recorded, stored, finished, with
    the write lock held once, in the flow process (a plain call: see `flows.check.store_article`)."""
    with stopping.writing():
        check_stop()  # a stop requested before this article's store: it is not stored
        with opened(db, publish=True) as con:
            start_run(con, run_info(child_run_id, "check-article", get_runtime(), providers, params))
            try:
                store_article_results(con, child_run_id, article, results)
            except BaseException as exc:
                finish_run(con, child_run_id, error=_short(exc))
                raise
            finish_run(con, child_run_id)


def _record(db: str, run_id: str, url: str, origin: str, status: str, reason: str | None = None,
            article_id: str | None = None, child: str | None = None) -> None:
    with stopping.writing(), opened(db) as con:
        record_batch_item(con, run_id, url, origin, status, reason, article_id, child)


@flow(name="batch", log_prints=False, task_runner=env_task_runner())
async def batch_flow(
    feeds: Sequence[str] = (),
    url_lists: Sequence[str] = (),
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    max_articles: int = 50,
    max_claims: int | None = None,
    device: str | None = None,
    max_article_mb: float | None = None,
) -> dict:
    """Check the new articles of feeds and URL lists, each as its own `check-article` run.

    New means: a URL not stored before, whose text is not already stored under another URL.
    One article failing does not stop the batch; every candidate is accounted for in `batch_items`.
    A batch in which an article failed ends Failed (its `runs` row too), its counts still returned.

    Articles go through in windows as wide as the task runner (one at a time on the thread pool,
    one per worker thread on Dask): load them, drop duplicates, extract and verify them on the
    workers, then store them here one at a time. Workers read the warehouse only while a window
    is being verified and this process writes only between windows, so they never wait on
    each other's locks.
    """
    run_id, db = _run_id(), _db_path(db)
    spec = _flow_runtime(device)
    providers = list(providers)
    limits = Limits.from_env(max_article_mb=max_article_mb)
    _begin(db, run_id, "batch", providers, {"feeds": list(feeds), "url_lists": list(url_lists),
                                            "max_claims": max_claims, "limits": limits.as_dict()})
    counts = {"checked": 0, "seen_before": 0, "duplicate_content": 0, "failed": 0}
    items: list[dict] = []
    todo_urls: set[str] = set()  # the candidates this run checks (progress: articles checked of these)

    def account(url: str, origin: str, status: str, reason: str | None = None, article_id: str | None = None,
                child: str | None = None) -> None:
        counts[status] += 1
        items.append({"url": url, "status": status, "reason": reason or ""})
        _record(db, run_id, url, origin, status, reason, article_id, child)
        if url in todo_urls:  # one more of the articles this run takes on is done with
            report(ARTICLES, len(todo_urls), 1, note=f"{status}: {url}")

    try:
        candidates = discover_task(list(feeds), list(url_lists))
        check_stop()
        with stopping.reading(db) as con:
            seen = known_article_refs(con, [u for u, _ in candidates])
            hashes = known_text_hashes(con)
        todo: list[tuple[str, str]] = []
        for url, origin in candidates:
            if origin.startswith(("feed-error:", "list-error:")):
                account(url, origin, "failed", origin.split(":", 1)[1][:200])
            elif url in seen:
                account(url, origin, "seen_before")
            elif len(todo) < max_articles:
                todo.append((url, origin))
            # else: left for the next run
        todo_urls.update(url for url, _ in todo)
        if todo:
            report(ARTICLES, len(todo), note="")
        width = parallel_slots()
        for start in range(0, len(todo), width):
            check_stop()
            window = todo[start:start + width]
            loads = [fetch_article_task.submit(url, spec, limits) for url, _ in window]
            fresh: list[tuple[str, str, Article]] = []
            for (url, origin), future in zip(window, loads):
                try:
                    art, reason = future.result()
                except Cancelled:
                    raise
                except Exception as exc:
                    art, reason = None, _short(exc)
                if art is None:
                    account(url, origin, "failed", reason)
                    continue
                if art.text_sha256 in hashes or any(a.text_sha256 == art.text_sha256 for _, _, a in fresh):
                    account(url, origin, "duplicate_content", article_id=art.article_id)
                else:
                    fresh.append((url, origin, art))
            check_stop()
            analyses = [analyse_article_task.submit(art, providers, db, max_claims, spec, quiet=False,
                                                    cap=limits.max_claims_per_article)
                        for _, _, art in fresh]
            done = []
            for (url, origin, art), future in zip(fresh, analyses):  # the whole window, before any store
                try:
                    done.append((url, origin, art, str(future.task_run_id), future.result()))
                except Cancelled:
                    raise
                except Exception as exc:
                    done.append((url, origin, art, None, exc))
            for url, origin, art, child, results in done:
                if isinstance(results, Exception):
                    account(url, origin, "failed", _short(results), art.article_id)
                    continue
                # child: the article's run id, that of the Prefect task run that analysed it
                try:
                    store_batch_article(db, child, providers, {"article": url, "max_claims": max_claims,
                                                               "batch_run_id": run_id, "limits": limits.as_dict()},
                                        art, results)
                except Cancelled:
                    raise
                except Exception as exc:
                    account(url, origin, "failed", _short(exc), art.article_id, child)
                    continue
                hashes.add(art.text_sha256)
                account(url, origin, "checked", article_id=art.article_id, child=child)
        failed = (f"{counts['failed']} of {len(items)} articles failed (reasons in batch_items)"
                  if counts["failed"] else None)
        with stopping.writing():
            with opened(db, publish=True) as con:
                finish_run(con, run_id, error=failed)
            stopping.finished(run_id, "failed" if failed else "completed")
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    await _artifact("batch-summary", items, f"Batch {run_id}: {counts}")
    if failed:  # the run ends Failed, with its counts as its result (`flows.runners.run_flow` returns them)
        return Failed(message=f"{failed}: {run_id}", data=counts)
    return counts


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    cause = exc.__cause__
    if cause is not None and getattr(cause, "reason", None):
        return str(cause.reason)
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


@flow(name="recheck", log_prints=False, task_runner=env_task_runner())
async def recheck_flow(
    db: str = "factledger.duckdb",
    older_than_days: float = 7.0,
    limit: int = 100,
    providers: Sequence[str] = ("corpus",),
    device: str | None = None,
) -> dict:
    """Verify again the claims whose latest verdict is older than `older_than_days`.

    Each re-check adds verdict and evidence rows under this run; nothing is overwritten. Sources
    are fetched again, so a changed page gets a new source row (new hash) and a vanished page a
    failed one: see the `source_changes` view.
    """
    db = _db_path(db)
    with opened(db, read_only=True) as con:
        claims = claims_due_for_recheck(con, older_than_days, limit)
    run_id = _run_id()
    spec = _flow_runtime(device)
    _begin(db, run_id, "recheck", providers, {"older_than_days": older_than_days, "limit": limit})
    try:
        results = verify_in_chunks(claims, providers, db, True, spec=spec) if claims else []
        store_claims(db, run_id, results)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    changed = sum(1 for r in results if r.verdict)
    await _artifact("recheck-summary", [{"claim": r.claim.text[:120], "label": r.verdict.label.value,
                                   "confidence": r.verdict.confidence} for r in results],
              f"Re-checked {changed} claims older than {older_than_days} days")
    return {"rechecked": len(results)}


@flow(name="recheck-claims", log_prints=False, task_runner=env_task_runner())
async def recheck_claims_flow(
    claim_ids: Sequence[str],
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    quiet: bool = False,
    device: str | None = None,
) -> list[dict]:
    """Verify these stored claims again now (the review page's "check again"): each keeps its id,
    so its new verdict becomes the latest and joins the claim's history; nothing is overwritten.
    Returns the rows of `check-claim --format json`."""
    from factledger.app import result_rows

    db = _db_path(db)
    with opened(db, read_only=True) as con:
        claims = claims_by_id(con, list(claim_ids))
    run_id = _run_id()
    spec = _flow_runtime(device)
    _begin(db, run_id, "recheck", providers, {"claim_ids": list(claim_ids)})
    try:
        results = verify_in_chunks(claims, providers, db, quiet, spec=spec)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    rows = result_rows(results)
    await _store_and_publish(lambda: store_claims(db, run_id, results), db, run_id, "claim-verdicts", rows,
                             f"Checked {len(rows)} claims again")
    return rows

