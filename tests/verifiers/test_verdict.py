from __future__ import annotations

from datetime import UTC, datetime

from factledger.records import Evidence, FetchStatus, Label, Passage, Source, StanceScores
from factledger.settings import Thresholds
from verifiers.verdict import decide

T = Thresholds()


def ev(text_hash: str, url: str, sim: float, support: float, refute: float, rank: int = 1) -> Evidence:
    src = Source("corpus", url, datetime.now(UTC), FetchStatus.OK, "ok", text_sha256=text_hash)
    p = Passage(src.source_id, f"passage from {url}", 0, 10)
    return Evidence("c1", p, src, rank, sim, None, StanceScores(support, refute, max(0.0, 1 - support - refute)))


def test_supported_with_confidence_and_no_review():
    v = decide("c1", [ev("a", "https://a.example/1", 0.8, 0.9, 0.05)], T)
    assert (v.label, v.confidence) == (Label.SUPPORTED, 0.9)


def test_similarity_alone_never_supports():
    v = decide("c1", [ev("a", "https://a.example/1", 0.95, 0.2, 0.1)], T)
    assert v.label is Label.NOT_ENOUGH_EVIDENCE


def test_support_needs_closeness_and_refutation_needs_topic():
    assert decide("c1", [ev("a", "u1", 0.5, 0.95, 0.0)], T).label is Label.NOT_ENOUGH_EVIDENCE
    assert decide("c1", [ev("a", "u1", 0.5, 0.0, 0.95)], T).label is Label.REFUTED
    assert decide("c1", [ev("a", "u1", 0.2, 0.0, 0.95)], T).label is Label.NOT_ENOUGH_EVIDENCE


def test_conflicting_when_independent_sources_disagree():
    v = decide("c1", [ev("a", "u1", 0.8, 0.9, 0.0), ev("b", "u2", 0.8, 0.0, 0.85, 2)], T)
    assert v.label is Label.CONFLICTING and v.confidence == 0.85


def test_reprints_count_once():
    # the same text (same hash) at two URLs is one source: two reprints do not make a majority
    v = decide("c1", [ev("same", "u1", 0.8, 0.9, 0.0), ev("same", "u2", 0.8, 0.9, 0.0, 2)], T)
    assert v.rationale.startswith("1 source(s) support")
