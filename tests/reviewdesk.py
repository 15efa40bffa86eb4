"""Warehouses for the review desk's tests: claims with machine verdicts and evidence, written by the
real store code (`store_claim_results`) from records built here, no models involved."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from factledger.records import (Claim, ClaimResult, Evidence, FactCheck, FetchStatus, Label, Passage, Source,
                                StanceScores, Verdict)
from warehouse.store import RunInfo, finish_run, start_run, store_claim_results


@dataclass(frozen=True)
class Machine:
    """One claim's machine verdict in a run, with its evidence passages (rank 1 first)."""

    text: str
    label: str
    confidence: float
    needs_review: bool = False
    checkworthiness: float = 1.0
    passages: tuple[str, ...] = ()
    rating: str | None = None  # a published fact-check's textual rating


def claim_id(text: str) -> str:
    return Claim(text=text, start=None, end=None, score=1.0).claim_id


def source_of(text: str, fetched_at: datetime | None = None) -> Source:
    """The page the passages of claim `text` come from in `check`."""
    return Source(provider="corpus", url=f"https://example.org/{uuid.uuid5(uuid.NAMESPACE_URL, text)}",
                  fetched_at=fetched_at or datetime.now(UTC), fetch_status=FetchStatus.OK, status_reason="ok",
                  title="Example", raw_sha256="0" * 64, text_sha256="0" * 64)


def check(con, *verdicts: Machine, run_id: str | None = None) -> str:
    """Store one check-claim run giving these verdicts; returns its run id."""
    run_id = run_id or f"run-{uuid.uuid4()}"
    start_run(con, RunInfo(run_id, "check-claim", "test", "test/embedder", "1", "rules", "v1", "rules", "sm",
                           ("corpus",)))
    now = datetime.now(UTC)
    results = []
    for m in verdicts:
        claim = Claim(text=m.text, start=None, end=None, score=m.checkworthiness)
        source = source_of(m.text, now)
        passages = tuple(Passage(source_id=source.source_id, text=t, start=i * 1000, end=i * 1000 + len(t))
                         for i, t in enumerate(m.passages))
        evidence = tuple(Evidence(claim_id=claim.claim_id, passage=p, source=source, rank=i, similarity=0.8,
                                  lexical=1.0, stance=StanceScores(0.6, 0.2, 0.2))
                         for i, p in enumerate(passages, start=1))
        checks = ()
        if m.rating is not None:
            checks = (FactCheck(claim_id=claim.claim_id, publisher="Desk", publisher_site="desk.example",
                                review_url=f"https://desk.example/{claim.claim_id}", title=None,
                                textual_rating=m.rating, review_date="2026-01-01", claim_reviewed=m.text,
                                claimant=None, claim_date=None, language="en", similarity=0.9, fetched_at=now),)
        results.append(ClaimResult(claim=claim, sources=(source,), passages=passages, evidence=evidence,
                                   verdict=Verdict(claim.claim_id, Label(m.label), m.confidence, "test rationale",
                                                   m.needs_review),
                                   fact_checks=checks))
    store_claim_results(con, run_id, results)
    finish_run(con, run_id)
    return run_id


def passage_ids(con, claim: str, run_id: str) -> list[str]:
    """The claim's evidence passage ids in that run, by rank."""
    return [r[0] for r in con.execute("SELECT passage_id FROM evidence WHERE claim_id = ? AND run_id = ? "
                                      "ORDER BY evidence_rank", [claim_id(claim), run_id]).fetchall()]
