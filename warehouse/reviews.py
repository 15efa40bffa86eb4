"""The review desk's writes and reads: a person confirms or overrules a machine verdict.

Reviews are only ever inserted (`reviews`, migration 011): a later review of a claim supersedes
the earlier ones, which stay, and `verdicts_current` reads the latest. A review names the machine
verdict it reviews (its run); when the claim was re-checked since, the review is refused
(`StaleReview`) rather than applied to a verdict the reviewer did not see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Sequence

import duckdb

from factledger.errors import InputError, WarehouseError
from factledger.records import Label

__all__ = ["MAX_NOTE_CHARS", "PAIR_LABEL", "Review", "ReviewedPair", "StaleReview", "check_label", "check_text",
           "record_review", "claim_for_review", "review_queue", "reviewed_pairs", "training_pairs"]

MAX_NOTE_CHARS = 10_000  # a note longer than this is refused (chosen: a page of text)
LABELS = tuple(label.value for label in Label)


class StaleReview(InputError):
    """The verdict a review names is no longer the claim's latest: it was re-checked since."""

    def __init__(self, message: str, claim_id: str, reviewed_run: str, latest_run: str):
        super().__init__(message)
        self.claim_id, self.reviewed_run, self.latest_run = claim_id, reviewed_run, latest_run

    def __reduce__(self):
        return type(self), (str(self), self.claim_id, self.reviewed_run, self.latest_run)


@dataclass(frozen=True, slots=True)
class Review:
    """One stored review (a row of `reviews`)."""

    review_id: str
    claim_id: str
    run_id: str
    machine_label: str
    machine_confidence: float
    label: str
    note: str
    relied_passages: tuple[str, ...]
    rejected_passages: tuple[str, ...]
    reviewer: str
    reviewed_at: datetime
    supersedes: str | None


def check_label(label: str) -> str:
    """`label` if it is one of the four verdicts, else an InputError naming it."""
    if label not in LABELS:
        raise InputError(f"unknown verdict label (choose from {', '.join(LABELS)}): {label}")
    return label


def check_text(note: str, reviewer: str) -> None:
    """The note and reviewer name a review needs: not blank, the note at most MAX_NOTE_CHARS."""
    if not note or not note.strip():
        raise InputError("a review needs a note (--note TEXT): why the verdict is confirmed or overruled")
    if len(note) > MAX_NOTE_CHARS:
        raise InputError(f"note too long ({len(note)} characters, limit {MAX_NOTE_CHARS})")
    if not reviewer or not reviewer.strip():
        raise InputError("a review needs a reviewer name (--reviewer NAME)")


def record_review(con: duckdb.DuckDBPyConnection, claim_id: str, label: str, note: str, reviewer: str, *,
                  run_id: str | None = None, relied: Sequence[str] = (), rejected: Sequence[str] = ()) -> Review:
    """Store a review of claim `claim_id`'s machine verdict of run `run_id` (default: its latest),
    in one transaction, and return it.

    Refused with an InputError naming the input, nothing written: an unknown claim or label, a
    claim never checked, a run with no verdict for the claim, a passage that is not evidence of
    that verdict (`relied` / `rejected` take passage ids or evidence ranks), a blank note. A run
    that is not the claim's latest is refused with `StaleReview`: the claim was re-checked since.
    """
    check_label(label)
    check_text(note, reviewer)
    con.execute("BEGIN TRANSACTION")
    try:
        review = _write(con, claim_id, label, note.strip(), reviewer.strip(), run_id, relied, rejected)
        con.execute("COMMIT")
    except InputError:
        con.execute("ROLLBACK")
        raise
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise WarehouseError(f"could not store the review of claim {claim_id}: {str(exc).splitlines()[0]}") from exc
    return review


def _write(con, claim_id: str, label: str, note: str, reviewer: str, run_id: str | None,
           relied: Sequence[str], rejected: Sequence[str]) -> Review:
    if not con.execute("SELECT 1 FROM claims WHERE claim_id = ?", [claim_id]).fetchone():
        raise InputError(f"no such claim: {claim_id}")
    latest = con.execute("SELECT run_id, label, checked_at FROM claim_latest WHERE claim_id = ?", [claim_id]).fetchone()
    if latest is None:
        raise InputError(f"claim has no verdict to review: {claim_id}")
    run_id = run_id or latest[0]
    row = con.execute("SELECT label, confidence FROM verdicts WHERE run_id = ? AND claim_id = ?",
                      [run_id, claim_id]).fetchone()
    if row is None:
        raise InputError(f"run {run_id} gave no verdict for claim {claim_id}")
    if run_id != latest[0]:
        raise StaleReview(f"claim {claim_id} was re-checked since the verdict reviewed (run {run_id}): its latest "
                          f"verdict is {latest[1]} from run {latest[0]} at {latest[2]:%Y-%m-%d %H:%M:%S %Z}; "
                          f"review that one (--run {latest[0]})", claim_id, run_id, latest[0])
    evidence = con.execute("SELECT passage_id, evidence_rank FROM evidence WHERE run_id = ? AND claim_id = ?",
                           [run_id, claim_id]).fetchall()
    relied_ids = _passages(relied, evidence, claim_id, run_id)
    rejected_ids = _passages(rejected, evidence, claim_id, run_id)
    both = sorted(set(relied_ids) & set(rejected_ids))
    if both:
        raise InputError(f"passage both relied on and rejected: {both[0]}")
    previous = con.execute("SELECT review_id FROM reviews WHERE claim_id = ? ORDER BY review_seq DESC LIMIT 1",
                           [claim_id]).fetchone()
    review = Review(review_id=str(uuid.uuid4()), claim_id=claim_id, run_id=run_id, machine_label=row[0],
                    machine_confidence=row[1], label=label, note=note, relied_passages=relied_ids,
                    rejected_passages=rejected_ids, reviewer=reviewer, reviewed_at=datetime.now(UTC),
                    supersedes=previous[0] if previous else None)
    con.execute(
        "INSERT INTO reviews (review_id, claim_id, run_id, machine_label, machine_confidence, label, note, "
        "relied_passages, rejected_passages, reviewer, reviewed_at, supersedes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [review.review_id, claim_id, run_id, review.machine_label, review.machine_confidence, label, note,
         list(relied_ids), list(rejected_ids), reviewer, review.reviewed_at, review.supersedes])
    return review


def _passages(given: Sequence[str], evidence: list[tuple[str, int]], claim_id: str, run_id: str) -> tuple[str, ...]:
    """Passage ids for `given` passage ids or evidence ranks ("2", "#2"), each one evidence of the verdict.
    A passage id is taken as one first: an id can be all digits (one passage in ~12,000)."""
    by_rank = {str(rank): pid for pid, rank in evidence}
    ids = {pid for pid, _ in evidence}
    out: list[str] = []
    for item in given:
        key = str(item).strip()
        pid = key if key in ids else by_rank.get(key.lstrip("#"))
        if pid not in ids:
            raise InputError(f"not a passage of the verdict reviewed (claim {claim_id}, run {run_id}): {item}")
        if pid not in out:
            out.append(pid)
    return tuple(out)


QUEUE_COLUMNS = ("queue_rank", "claim_id", "claim_text", "article_ref", "label", "confidence", "reasons", "priority",
                 "run_id", "checked_at")


def review_queue(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[dict]:
    """The rows of `review_queue`, most urgent first (at most `limit`)."""
    cur = con.execute(f"SELECT {', '.join(QUEUE_COLUMNS)} FROM review_queue ORDER BY queue_rank"
                      + (" LIMIT ?" if limit else ""), [limit] if limit else [])
    return [dict(zip(QUEUE_COLUMNS, row)) for row in cur.fetchall()]


# The nli-train label of a (claim, passage) pair a reviewer relied on, by the reviewer's verdict.
# A passage relied on for `supported` entails the claim, for `refuted` contradicts it; relied on for
# `not_enough_evidence`, it is about the claim but settles nothing (neutral). A rejected passage is
# neutral whatever the verdict (the reviewer says it does not bear on the claim). `conflicting`
# says nothing about one passage alone: its relied-on passages are left out.
PAIR_LABEL = {"supported": "entailment", "refuted": "contradiction", "not_enough_evidence": "neutral"}


@dataclass(frozen=True, slots=True)
class ReviewedPair:
    """One (claim, passage, label) pair of a claim's current review."""

    claim_id: str
    claim: str  # the claim's text
    passage_id: str
    passage: str  # the passage's text
    context: str | None  # its window in the page, what the stance model reads (None before version 8)
    title: str | None  # the title of the passage's page
    label: str  # the nli-train label: entailment, neutral or contradiction
    label_orig: str  # the reviewer's verdict, or `rejected`
    review_id: str
    reviewed_at: datetime

    @property
    def pair_id(self) -> str:
        return f"factledger-reviews:review:{self.claim_id}:{self.passage_id}"

    def to_nli(self) -> dict:
        """The pair in the nli-train schema (`../shared/data/nli-train/README.md`)."""
        return {"id": self.pair_id, "dataset": "factledger-reviews", "split": "review", "premise": self.passage,
                "hypothesis": self.claim, "label": self.label, "label_orig": self.label_orig}


def reviewed_pairs(con: duckdb.DuckDBPyConnection) -> list[ReviewedPair]:
    """The (claim, passage, label) pairs of every claim's current review (superseded reviews are
    left out), labelled by `PAIR_LABEL` (a rejected passage: neutral; a passage relied on for
    `conflicting`: left out), with the passage's window and page title, ordered by pair id. The one
    reader of reviewed pairs: `factledger export --format training` and `factledger train stance
    --with-reviews` both read them here."""
    rows = con.execute(
        """SELECT r.claim_id, c.text, p.passage_id, p.text, p.context, s.title, r.label, kind, r.review_id,
                  r.reviewed_at
           FROM (SELECT * FROM reviews QUALIFY row_number() OVER (PARTITION BY claim_id ORDER BY review_seq DESC) = 1) r
           JOIN claims c ON c.claim_id = r.claim_id,
           LATERAL (SELECT unnest(r.relied_passages) AS passage_id, 'relied' AS kind
                    UNION ALL SELECT unnest(r.rejected_passages), 'rejected') u
           JOIN passages p ON p.passage_id = u.passage_id
           LEFT JOIN sources s ON s.source_id = p.source_id"""
    ).fetchall()
    pairs = []
    for claim_id, claim, passage_id, passage, context, title, label, kind, review_id, reviewed_at in rows:
        pair_label = "neutral" if kind == "rejected" else PAIR_LABEL.get(label)
        if pair_label is None:
            continue
        pairs.append(ReviewedPair(claim_id, claim, passage_id, passage, context, title, pair_label,
                                  label if kind == "relied" else "rejected", review_id, reviewed_at))
    return sorted(pairs, key=lambda p: p.pair_id)


def training_pairs(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The reviewed pairs (`reviewed_pairs`) in the nli-train schema: id, dataset, split, premise
    (the passage), hypothesis (the claim), label, label_orig (the reviewer's verdict, or
    `rejected`). Ordered by id."""
    return [p.to_nli() for p in reviewed_pairs(con)]


# The stances that speak for each verdict: their passages are shown first on the review page.
SIDE = {"supported": ("supports",), "refuted": ("refutes",), "conflicting": ("supports", "refutes"),
        "not_enough_evidence": ()}


def claim_for_review(con: duckdb.DuckDBPyConnection, claim_id: str) -> dict:
    """What a reviewer needs to decide on one claim: the claim and its sentence in the article, the
    decision that stands (`verdicts_current`), the latest machine verdict (label, confidence,
    rationale, needs_review, run), its evidence passages with source, credibility, fetch time and
    hash (those whose stance speaks for the verdict first, then by rank), published fact-checks,
    and the claim's reviews, newest first. InputError for an unknown claim."""
    cur = con.execute("SELECT * FROM verdicts_current WHERE claim_id = ?", [claim_id])
    row = cur.fetchone()
    if row is None:
        raise InputError(f"no checked claim with this id: {claim_id}")
    current = dict(zip([d[0] for d in cur.description], row))
    run_id = current["machine_run_id"]
    claim = _one(con, "SELECT c.text, c.sentence_text, c.span_start, c.span_end, c.checkworthiness, a.ref, a.title, "
                      "a.text AS article_text FROM claims c LEFT JOIN articles a ON a.article_id = c.article_id "
                      "WHERE c.claim_id = ?", [claim_id])
    verdict = _one(con, "SELECT label, confidence, rationale, needs_review, run_id, checked_at FROM verdicts "
                        "WHERE run_id = ? AND claim_id = ?", [run_id, claim_id])
    evidence = _all(con, """SELECT ve.evidence_rank AS rank, e.passage_id, ve.passage_text, ve.source_url,
                                   ve.fetched_at, ve.passage_sha256, ve.stance, ve.similarity, vp.credibility
                            FROM verdict_evidence ve
                            JOIN evidence e ON e.run_id = ve.run_id AND e.claim_id = ve.claim_id
                                 AND e.evidence_rank = ve.evidence_rank
                            JOIN verdict_provenance vp ON vp.run_id = ve.run_id AND vp.claim_id = ve.claim_id
                                 AND vp.evidence_rank = ve.evidence_rank
                            WHERE ve.run_id = ? AND ve.claim_id = ? ORDER BY ve.evidence_rank""", [run_id, claim_id])
    side = SIDE[verdict["label"]]
    for e in evidence:
        e["deciding"] = e["stance"] in side
    evidence.sort(key=lambda e: (not e["deciding"], e["rank"]))
    before = after = sentence = None
    text, start, end = claim["article_text"], claim["span_start"], claim["span_end"]
    if text is not None and start is not None:
        from warehouse.report import hidden_lines, visible_text

        lo, hi = max(0, start - 600), min(len(text), end + 600)
        hidden = hidden_lines(text, claim["title"], [(start, end)])  # page chrome, a repeated title: as the report
        before, sentence, after = visible_text(text, lo, start, hidden), text[start:end], visible_text(text, end, hi, hidden)
    return {"claim_id": claim_id, "claim": claim, "current": current, "verdict": verdict, "evidence": evidence,
            "context": {"before": before, "sentence": sentence, "after": after},
            "fact_checks": _all(con, "SELECT DISTINCT publisher, textual_rating, review_url FROM fact_checks "
                                     "WHERE claim_id = ? ORDER BY review_url", [claim_id]),
            "reviews": _all(con, "SELECT review_id, label, machine_label, note, reviewer, reviewed_at, run_id "
                                 "FROM reviews WHERE claim_id = ? ORDER BY review_seq DESC", [claim_id])}


def _all(con, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _one(con, sql: str, params: list) -> dict:
    rows = _all(con, sql, params)
    return rows[0]
