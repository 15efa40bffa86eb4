"""The steps of a check, as plain functions: what the Prefect flows (`flows.check`, `flows.batch`)
wrap in tasks and what `flows.local` runs in-process without Prefect. No Prefect here.

Each step takes the models (`Runtime`) and plain values and returns records; only the store
steps write, each in one transaction, under `flows.stopping.writing`.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Sequence

from extractors.articles import load_article
from extractors.claims import claims_from_texts, extract_claims
from factledger.app import Runtime, make_providers, make_verifier, run_info
from factledger.errors import Cancelled, InputError
from factledger.progress import CLAIMS, decided, report
from factledger.records import Article, Claim, ClaimResult
from factledger.settings import Limits
from flows import stopping
from flows.stopping import check_stop
from warehouse.db import opened
from warehouse.store import finish_run, start_run, store_article_results, store_claim_results

__all__ = ["analyse_article", "article_claims", "begin", "claims_given", "db_path", "fail", "first_line", "given_article", "new_run_id",
           "run_id_of", "store_article", "store_claims", "verify", "with_run_id"]

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """A run id outside Prefect: a uuid, as Prefect's flow-run ids are."""
    return str(uuid.uuid4())


def with_run_id(exc: BaseException, run_id: str) -> BaseException:
    """`exc`, marked as having ended run `run_id` (for the CLI's one-line error); returned."""
    try:
        exc._factledger_run_id = run_id  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__
        pass
    return exc


def run_id_of(exc: BaseException) -> str | None:
    """The id of the run that `exc` ended (see `with_run_id`), or None."""
    return getattr(exc, "_factledger_run_id", None)


def db_path(db: str) -> str:
    """Absolute, so that workers in other processes (same path on other machines) find the file."""
    return str(Path(db).expanduser().resolve())


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc).strip() else type(exc).__name__


def claims_given(text: str | None, claims: Sequence[str] | None, input_ids: Sequence[str | None] | None,
                 urls: Sequence[str], before: str | None) -> tuple[list[Claim], dict]:
    """The claims typed in by hand (`text` and/or `claims`, with the caller's `input_ids`) as
    records, each checked against the limits, and the parameters their run records."""
    texts = ([text] if text else []) + list(claims or [])
    ids = ([None] if text else []) + list(input_ids) if input_ids is not None else None
    limits = Limits.from_env()
    for i, t in enumerate(texts, start=1):
        limits.check_claim_text(t, label=f"claim {i} of {len(texts)} ({t.strip()!r})" if len(texts) > 1 else "claim",
                                source="check-claim" if len(texts) > 1 else None)
    records = claims_from_texts(texts, ids)
    if not records:
        raise InputError("no claim given (pass text or claims)")
    return records, {"claims": len(records), "urls": list(urls), "before": before, "limits": limits.as_dict()}


def given_article(rt: Runtime, article: str, max_claims: int | None, urls: Sequence[str], before: str | None,
                  max_article_mb: float | None) -> tuple[Article, int, dict]:
    """The article (taken from `rt.articles` when the caller loaded it already, else read or
    fetched), checked against the limits; the claims cap; the parameters its run records."""
    limits = Limits.from_env(max_article_mb=max_article_mb)
    check_stop()
    art = rt.articles.pop(article, None) or load_article(article, rt.fetcher)
    limits.check_article_text(art.text, article)
    params = {"article": article, "max_claims": max_claims, "urls": list(urls), "before": before,
              "limits": limits.as_dict()}
    return art, limits.max_claims_per_article, params


def article_claims(rt: Runtime, article: Article, max_claims: int | None, cap: int | None = None) -> list[Claim]:
    """The article's claims, best first: at most `max_claims` when the caller asked for that many,
    else at most `cap` (`Limits.max_claims_per_article`), with a warning naming what was left."""
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


def verify(rt: Runtime, claims: Sequence[Claim], providers: Sequence[str], db: str, quiet: bool,
           urls: Sequence[str], before: str | None, first: int = 0, total: int | None = None,
           scope: str = "") -> list[ClaimResult]:
    """Retrieve, score and decide, reading the warehouse through a read-only connection, reporting
    progress (`factledger.progress`, unless `quiet`): the claims checked of `total` (all the run's
    claims; `first` is where these start), the evidence searched for claim by claim, then the
    weighing of it (the stance model reads every claim's passages together, so claims are checked
    when that ends), and the verdicts decided (`factledger.progress.decided`), before they are stored."""
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
    if not quiet:  # the claims to check are known: their count shows before the first search ends
        report(CLAIMS, n, note="searching evidence", scope=scope)
    with stopping.reading(db) as con:
        verifier = make_verifier(make_providers(providers, con, rt, urls), rt, before=before)
        results = verifier.check(list(claims), progress=progress)
    check_stop()
    if not quiet:
        decided(results, scope)
        report(CLAIMS, n, len(claims), note="", scope=scope)
    return results


def analyse_article(rt: Runtime, article: Article, providers: Sequence[str], db: str, max_claims: int | None,
                    quiet: bool, urls: Sequence[str], before: str | None, cap: int | None = None) -> list[ClaimResult]:
    """The heavy part of checking one article: its claims (`article_claims`), verified (`verify`),
    with progress under the article's id."""
    if not quiet:
        report(CLAIMS, None, note="finding check-worthy claims", scope=article.article_id)
    claims = article_claims(rt, article, max_claims, cap)
    return verify(rt, claims, providers, db, quiet, urls, before, scope=article.article_id)


# The store steps run in the process that records the run (the one writer). Each commits before it
# returns; the writer's close (DuckDB's checkpoint of the commit into the file) finishes in the
# background while the run wraps up (`warehouse.db.close_soon`), and then the analysts' snapshot
# is published (`warehouse.snapshot.publish_soon`) when the process goes on holding the file
# (`publish`: the service, `factledger serve`'s flow runs, batches). A one-shot CLI check leaves it:
# the file is free again when the process exits, and waiting for the publish at exit would add
# 0.2-0.8 s to the cold check (`bench/cold_start.py`). A stop requested before a store
# begins cancels it; one that comes during a store waits for its commit (`flows.stopping.writing`).

def store_article(db: str, run_id: str, article: Article, results: Sequence[ClaimResult], *,
                  publish: bool = True) -> None:
    with stopping.writing():
        check_stop()
        with opened(db, close_in_background=True, publish=publish) as con:
            store_article_results(con, run_id, article, results)
            finish_run(con, run_id)
        stopping.finished(run_id, "completed")


def store_claims(db: str, run_id: str, results: Sequence[ClaimResult], *, publish: bool = True) -> None:
    with stopping.writing():
        check_stop()
        with opened(db, close_in_background=True, publish=publish) as con:
            store_claim_results(con, run_id, results)
            finish_run(con, run_id)
        stopping.finished(run_id, "completed")


def begin(rt: Runtime, db: str, run_id: str, flow_name: str, providers: Sequence[str], params: dict) -> None:
    """Record the run as `running`, with its models, thresholds, providers and parameters."""
    with stopping.writing():
        check_stop()
        with opened(db) as con:
            start_run(con, run_info(run_id, flow_name, rt, providers, params))
        stopping.run_begun(run_id, db)


def fail(db: str, run_id: str, exc: BaseException) -> None:
    """Record the run as failed, or as cancelled when a stop ended it."""
    cancelled = isinstance(exc, Cancelled) or stopping.stop_requested()
    status = "cancelled" if cancelled else "failed"
    error = f"cancelled: {stopping.stop_signal()}" if cancelled else first_line(exc)
    with stopping.writing():
        with opened(db) as con:
            finish_run(con, run_id, error=error, status=status)
        stopping.finished(run_id, status)
