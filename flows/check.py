"""`check-article` and `check-claim` flows. Coarse tasks; one DuckDB writer per flow run."""

from __future__ import annotations

import logging
import sys
from typing import Sequence

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from extractors.articles import load_article
from extractors.claims import claims_from_texts, extract_claims
from factledger.app import Runtime, make_providers, make_verifier, result_rows, run_info
from factledger.records import Article, Claim, ClaimResult
from factledger.errors import InputError
from warehouse.db import opened
from warehouse.store import finish_run, start_run, store_article_results, store_claim_results

__all__ = ["check_article_flow", "check_claim_flow", "set_runtime"]

log = logging.getLogger(__name__)
_RUNTIME: Runtime | None = None


def set_runtime(rt: Runtime | None) -> None:
    """Use these models and clients for the flows in this process (tests inject fakes here)."""
    global _RUNTIME
    _RUNTIME = rt


def get_runtime() -> Runtime:
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = Runtime()
    return _RUNTIME


def _progress(i: int, n: int, claim: Claim) -> None:
    print(f"[{i}/{n}] {claim.text[:90]}", file=sys.stderr, flush=True)


@task(name="load-article", cache_policy=NO_CACHE, retries=0)
def load_article_task(ref: str) -> Article:
    return load_article(ref, get_runtime().fetcher)


@task(name="extract-claims", cache_policy=NO_CACHE)
def extract_claims_task(article: Article, max_claims: int | None) -> list[Claim]:
    rt = get_runtime()
    return extract_claims(article, rt.splitter, rt.scorer, min_score=rt.thresholds.checkworthy_min_score,
                          max_claims=max_claims)


@task(name="verify-claims", cache_policy=NO_CACHE)
def verify_claims_task(claims: list[Claim], providers: list[str], db: str, quiet: bool,
                       urls: Sequence[str] = (), before: str | None = None) -> list[ClaimResult]:
    """Retrieve, score and decide, reading the warehouse through a read-only connection."""
    rt = get_runtime()
    with opened(db, read_only=True) as con:
        verifier = make_verifier(make_providers(providers, con, rt, urls), rt, before=before)
        return verifier.check(claims, progress=None if quiet else _progress)


@task(name="store-article", cache_policy=NO_CACHE)
def store_article_task(db: str, run_id: str, article: Article, results: list[ClaimResult]) -> None:
    with opened(db) as con:
        store_article_results(con, run_id, article, results)
        finish_run(con, run_id)


@task(name="store-claims", cache_policy=NO_CACHE)
def store_claims_task(db: str, run_id: str, results: list[ClaimResult]) -> None:
    with opened(db) as con:
        store_claim_results(con, run_id, results)
        finish_run(con, run_id)


def _artifact(key: str, rows: list[dict], description: str) -> None:
    """A summary table in the Prefect UI. A courtesy: the record of truth is DuckDB."""
    from prefect.artifacts import create_table_artifact

    try:
        create_table_artifact(key=key, table=rows or [{"note": "nothing to report"}], description=description)
    except Exception as exc:
        log.warning("could not publish artifact %s: %s", key, exc)


def _summary(rows: list[dict]) -> list[dict]:
    return [{"rank": r["rank"], "label": r["label"], "confidence": r["confidence"], "claim": r["claim"][:160],
             "source": r["source_url"] or ""} for r in rows]


def _run_id() -> str:
    return str(flow_run.get_id())


def _begin(db: str, run_id: str, flow_name: str, providers: Sequence[str], params: dict) -> None:
    with opened(db) as con:
        start_run(con, run_info(run_id, flow_name, get_runtime(), providers, params))


def _fail(db: str, run_id: str, exc: BaseException) -> None:
    with opened(db) as con:
        finish_run(con, run_id, error=str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__)


@flow(name="check-article", log_prints=False)
def check_article_flow(
    article: str,
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    max_claims: int | None = None,
    quiet: bool = False,
    urls: Sequence[str] = (),
    before: str | None = None,
) -> list[dict]:
    """Extract check-worthy claims from one article (path or URL), verify each, store everything.

    The write lock is taken only to record the run and to store the article (one transaction).
    """
    run_id = _run_id()
    art = load_article_task(article)  # bad input fails here, before the warehouse is touched
    _begin(db, run_id, "check-article", providers,
           {"article": article, "max_claims": max_claims, "urls": list(urls), "before": before})
    try:
        claims = extract_claims_task(art, max_claims)
        results = verify_claims_task(claims, list(providers), db, quiet, list(urls), before)
        store_article_task(db, run_id, art, results)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    rows = result_rows(results, art)
    _artifact("article-verdicts", _summary(rows), f"Verdicts for {article}")
    return rows


@flow(name="check-claim", log_prints=False)
def check_claim_flow(
    text: str | None = None,
    claims: Sequence[str] | None = None,
    db: str = "factledger.duckdb",
    providers: Sequence[str] = ("corpus",),
    quiet: bool = False,
    urls: Sequence[str] = (),
    before: str | None = None,
) -> list[dict]:
    """Verify one claim (`text`) or many (`claims`) typed in by hand, models loaded once."""
    texts = ([text] if text else []) + list(claims or [])
    claim_records = claims_from_texts(texts)
    if not claim_records:
        raise InputError("no claim given (pass text or claims)")
    run_id = _run_id()
    _begin(db, run_id, "check-claim", providers, {"claims": len(claim_records), "urls": list(urls), "before": before})
    try:
        results = verify_claims_task(claim_records, list(providers), db, quiet, list(urls), before)
        store_claims_task(db, run_id, results)
    except BaseException as exc:
        _fail(db, run_id, exc)
        raise
    rows = result_rows(results)
    _artifact("claim-verdicts", _summary(rows), f"Verdicts for {len(rows)} claims checked by hand")
    return rows
