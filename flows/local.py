"""A check run in this process without Prefect: the steps of the `check-claim` and `check-article`
flows (`flows.steps`), in the same order, recorded in the warehouse as those flows record them.

For the CLI's cold path. Starting Prefect's embedded API server costs 6-12 s on the 2-core
reference machine (../shared/PREFECT.md), more than loading torch and the models; a check typed
at the shell with no `factledger serve` running pays neither that nor `import prefect`. The run
gets a uuid for its id (a Prefect flow-run id is one too) and the same rows as a flow run: `runs`
(flow name, models and revisions, thresholds, providers, parameters, status), then claims,
sources, passages, evidence and verdicts in one transaction. Stopping works as in a flow
(`flows.stopping`); an error carries the run id (`flows.steps.run_id_of`).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from factledger import progress
from factledger.app import Runtime, result_rows
from flows import steps

__all__ = ["check_article", "check_claims"]

T = TypeVar("T")


def check_claims(rt: Runtime, db: str, *, text: str | None = None, claims: Sequence[str] | None = None,
                 input_ids: Sequence[str | None] | None = None, providers: Sequence[str] = ("corpus",),
                 quiet: bool = False, urls: Sequence[str] = (), before: str | None = None) -> list[dict]:
    """As `flows.check.check_claim_flow`, here: verify the claims, store them, return the rows."""
    records, params = steps.claims_given(text, claims, input_ids, urls, before)
    run_id, db = steps.new_run_id(), steps.db_path(db)
    progress.started(run_id)
    _begun(rt, db, run_id, "check-claim", providers, params)
    results = _recorded(db, run_id, lambda: steps.verify(rt, records, providers, db, quiet, urls, before))
    rows = result_rows(results)
    _recorded(db, run_id, lambda: steps.store_claims(db, run_id, results, publish=False))
    return rows


def check_article(rt: Runtime, db: str, article: str, *, providers: Sequence[str] = ("corpus",),
                  max_claims: int | None = None, quiet: bool = False, urls: Sequence[str] = (),
                  before: str | None = None, max_article_mb: float | None = None) -> list[dict]:
    """As `flows.check.check_article_flow`, here: extract the article's claims, verify them, store
    the article with its results, return the rows."""
    art, cap, params = steps.given_article(rt, article, max_claims, urls, before, max_article_mb)
    run_id, db = steps.new_run_id(), steps.db_path(db)
    progress.started(run_id)
    _begun(rt, db, run_id, "check-article", providers, params)
    results = _recorded(db, run_id, lambda: steps.analyse_article(rt, art, providers, db, max_claims, quiet, urls,
                                                                  before, cap))
    rows = result_rows(results, art)
    _recorded(db, run_id, lambda: steps.store_article(db, run_id, art, results, publish=False))
    return rows


def _begun(rt: Runtime, db: str, run_id: str, flow_name: str, providers: Sequence[str], params: dict) -> None:
    """Record the run; an error here names the run id, though no row may have been written."""
    try:
        steps.begin(rt, db, run_id, flow_name, providers, params)
    except BaseException as exc:
        steps.with_run_id(exc, run_id)
        raise


def _recorded(db: str, run_id: str, work: Callable[[], T]) -> T:
    """`work()`; if it raises, the run is recorded as failed (or cancelled) and the error names it."""
    try:
        return work()
    except BaseException as exc:
        steps.with_run_id(exc, run_id)
        steps.fail(db, run_id, exc)
        raise
