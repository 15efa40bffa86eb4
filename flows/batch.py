"""Scheduled work: a batch over feeds and URL lists, and a re-check of stored claims."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from extractors.articles import load_article
from extractors.feeds import fetch_feed
from factledger.errors import FactLedgerError, FetchError, InputError
from factledger.net import TEXT_TYPES
from flows.check import (
    _artifact,
    _begin,
    _fail,
    _run_id,
    check_article_flow,
    get_runtime,
    store_claims_task,
    verify_claims_task,
)
from warehouse.db import opened
from warehouse.queries import claims_due_for_recheck, known_article_refs, known_text_hashes
from warehouse.store import finish_run, record_batch_item

__all__ = ["batch_flow", "recheck_flow"]

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


@flow(name="batch", log_prints=False)
def batch_flow(
    feeds: Sequence[str] = (),
    url_lists: Sequence[str] = (),
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    max_articles: int = 50,
    max_claims: int | None = None,
) -> dict:
    """Check the new articles of feeds and URL lists, one `check-article` sub-run per article.

    New means: a URL not stored before, whose text is not already stored under another URL.
    One article failing does not stop the batch; every candidate is accounted for in `batch_items`.
    """
    run_id = _run_id()
    _begin(db, run_id, "batch", providers, {"feeds": list(feeds), "url_lists": list(url_lists)})
    counts = {"checked": 0, "seen_before": 0, "duplicate_content": 0, "failed": 0}
    items: list[dict] = []
    try:
        candidates = discover_task(list(feeds), list(url_lists))
        with opened(db, read_only=True) as con:
            seen = known_article_refs(con, [u for u, _ in candidates])
            hashes = known_text_hashes(con)
        rt = get_runtime()
        todo = 0
        for url, origin in candidates:
            status, reason, article_id, child = "checked", None, None, None
            if origin.startswith(("feed-error:", "list-error:")):
                status, reason = "failed", origin.split(":", 1)[1][:200]
            elif url in seen:
                status = "seen_before"
            elif todo >= max_articles:
                continue  # left for the next run
            else:
                todo += 1
                try:
                    art = load_article(url, rt.fetcher)
                    article_id = art.article_id
                    if art.text_sha256 in hashes:
                        status = "duplicate_content"
                    else:
                        state = check_article_flow(article=url, db=db, providers=providers, max_claims=max_claims,
                                                   quiet=True, return_state=True)
                        child = str(state.state_details.flow_run_id) if state.state_details else None
                        if state.is_failed():
                            status, reason = "failed", _reason(state)
                        else:
                            hashes.add(art.text_sha256)
                except FactLedgerError as exc:
                    status, reason = "failed", _short(exc)
            counts[status] += 1
            items.append({"url": url, "status": status, "reason": reason or ""})
            with opened(db) as con:
                record_batch_item(con, run_id, url, origin, status, reason, article_id, child)
        with opened(db) as con:
            finish_run(con, run_id)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    _artifact("batch-summary", items, f"Batch {run_id}: {counts}")
    return counts


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    cause = exc.__cause__
    if cause is not None and getattr(cause, "reason", None):
        return str(cause.reason)
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _reason(state) -> str:
    try:
        state.result()
    except BaseException as exc:  # the sub-run's own exception
        return _short(exc)
    return state.name


@flow(name="recheck", log_prints=False)
def recheck_flow(
    db: str = "factledger.duckdb",
    older_than_days: float = 7.0,
    limit: int = 100,
    providers: Sequence[str] = ("corpus",),
) -> dict:
    """Verify again the claims whose latest verdict is older than `older_than_days`.

    Each re-check adds verdict and evidence rows under this run; nothing is overwritten. Sources
    are fetched again, so a changed page gets a new source row (new hash) and a vanished page a
    failed one: see the `source_changes` view.
    """
    with opened(db, read_only=True) as con:
        claims = claims_due_for_recheck(con, older_than_days, limit)
    run_id = _run_id()
    _begin(db, run_id, "recheck", providers, {"older_than_days": older_than_days, "limit": limit})
    try:
        results = verify_claims_task(claims, list(providers), db, True) if claims else []
        store_claims_task(db, run_id, results)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    changed = sum(1 for r in results if r.verdict)
    _artifact("recheck-summary", [{"claim": r.claim.text[:120], "label": r.verdict.label.value,
                                   "confidence": r.verdict.confidence} for r in results],
              f"Re-checked {changed} claims older than {older_than_days} days")
    return {"rechecked": len(results)}
