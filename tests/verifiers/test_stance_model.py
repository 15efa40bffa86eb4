"""The trained stance model (models/stance/), its calibration, and verdict aggregation."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pytest

from factledger.records import (
    Claim, ClaimResult, Evidence, FetchStatus, Label, Passage, Source, Stance, StanceScores, Verdict,
)
from factledger.settings import Thresholds
from verifiers.calibration import Calibration, expected_calibration_error, fit_temperature, reliability_bins, softmax
from verifiers.stance_model import DEFAULT_MODEL_DIR, CrossEncoderStance, model_available
from verifiers.verdict import decide, independent_groups

T = Thresholds()


@pytest.fixture(scope="module")
def stance():
    if not model_available(DEFAULT_MODEL_DIR):
        if os.environ.get("CI"):
            pytest.fail(f"the trained stance model is missing: {DEFAULT_MODEL_DIR}")
        pytest.skip(f"no stance artefact in {DEFAULT_MODEL_DIR} (run `factledger train stance`)")
    return CrossEncoderStance(DEFAULT_MODEL_DIR)


EIFFEL = "The Eiffel Tower in Paris was completed in 1889 and is 330 metres tall."


def test_model_loads_offline_with_a_versioned_revision(stance):
    assert stance.name == "factledger-stance-minilm"
    version, sha12, *rules = stance.revision.split("+")  # "+rules<w>" when the conflict rule is on
    assert version.startswith("stance-minilm") and len(sha12) == 12
    assert stance.calibration.temperature > 0
    assert set(stance.labels) == {"entailment", "neutral", "contradiction"}
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir() if f.is_file())
    assert size <= 50 * 1024 * 1024


def test_paraphrase_supports(stance):
    (s,) = stance.predict("The Eiffel Tower was finished in 1889.", [EIFFEL])
    assert s.label is Stance.SUPPORTS
    assert abs(s.support + s.refute + s.neutral - 1.0) < 1e-3


@pytest.mark.parametrize("claim", [
    "The Eiffel Tower was completed in 1925.",                # wrong year
    "The Eiffel Tower is 120 metres tall.",                   # wrong number
    "The Eiffel Tower is in London.",                         # swapped city
    "The Eiffel Tower was never completed.",                  # negation
])
def test_wrong_details_do_not_support(stance, claim):
    (s,) = stance.predict(claim, [EIFFEL])
    assert s.label is not Stance.SUPPORTS, (claim, s)
    assert s.refute > s.support, (claim, s)


def test_swapped_country_refutes(stance):
    passage = "Canberra is the capital city of Australia."
    (s,) = stance.predict("Canberra is the capital city of New Zealand.", [passage])
    assert s.label is not Stance.SUPPORTS and s.refute > s.support


def test_batches_match_single_predictions(stance):
    passages = [EIFFEL, "Bananas are rich in potassium.", "Paris is the capital of France."]
    together = stance.predict("The Eiffel Tower is in Paris.", passages)
    alone = [stance.predict("The Eiffel Tower is in Paris.", [p])[0] for p in passages]
    for a, b in zip(together, alone, strict=True):
        assert abs(a.support - b.support) < 1e-3 and abs(a.refute - b.refute) < 1e-3
    assert stance.predict("anything", []) == []


# ---- calibration -------------------------------------------------------------------------------

def test_fit_temperature_recovers_an_over_confident_model():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 2
    p = softmax(true_logits)
    labels = np.array([rng.choice(3, p=row) for row in p])
    t = fit_temperature(true_logits * 2.5, labels)  # the "model" is 2.5x over-confident
    assert 2.1 < t < 2.9
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, abs=0.2)


def test_softmax_and_calibration_from_meta(tmp_path):
    meta = tmp_path / "meta.json"
    meta.write_text('{"temperature": 2.0, "calibration": {"method": "temperature"}}')
    cal = Calibration.from_meta(meta)
    probs = cal.probabilities(np.array([[2.0, 0.0, 0.0]]))
    assert probs.sum() == pytest.approx(1.0)
    assert probs[0, 0] == pytest.approx(softmax(np.array([[1.0, 0.0, 0.0]]))[0, 0])
    with pytest.raises(ValueError):
        softmax(np.zeros((1, 3)), 0.0)


def test_ece_zero_when_calibrated_and_large_when_not():
    conf = [0.8] * 10
    assert expected_calibration_error(conf, [True] * 8 + [False] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([0.95] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.45)
    bins = reliability_bins([0.1, 0.15, 0.9], [False, False, True])
    assert [b["count"] for b in bins] == [2, 1]


# ---- verdicts ----------------------------------------------------------------------------------

def ev(src_hash: str | None, url: str, text: str, sim: float, support: float, refute: float,
       rank: int = 1, emb: tuple[float, ...] | None = None) -> Evidence:
    src = Source("corpus", url, datetime.now(UTC), FetchStatus.OK, "ok", text_sha256=src_hash)
    p = Passage(src.source_id, text, 0, len(text), emb)
    return Evidence("c1", p, src, rank, sim, None, StanceScores(support, refute, max(0.0, 1 - support - refute)))


def test_near_duplicates_count_once():
    items = [
        ev("h1", "https://a.example/x", "The tower opened in 1889.", 0.8, 0.9, 0.0, 1, (1.0, 0.0)),
        ev("h2", "https://b.example/y", "The Tower opened in 1889!", 0.8, 0.9, 0.0, 2, (0.0, 1.0)),  # same text
        ev("h3", "https://c.example/z", "Opened 1889, the tower was.", 0.8, 0.9, 0.0, 3, (0.999, 0.04)),  # ~same vector
        ev("h4", "https://d.example/w", "Something else entirely.", 0.8, 0.9, 0.0, 4, (-1.0, 0.0)),
    ]
    groups = independent_groups(items, T.near_duplicate_cosine)
    assert groups[0] == groups[1] == groups[2] != groups[3]
    v = decide("c1", items, T)
    assert v.label is Label.SUPPORTED and v.rationale.startswith("2 source(s) support")


def test_needs_review_below_the_named_threshold():
    sure = decide("c1", [ev("a", "u1", "p", 0.8, 0.95, 0.0)], T)
    unsure = decide("c1", [ev("a", "u1", "p", 0.8, T.review_below_confidence - 0.1, 0.0)], T)
    assert sure.label is unsure.label is Label.SUPPORTED
    assert not sure.needs_review and unsure.needs_review
    assert Verdict("c", Label.SUPPORTED, 0.9, "x").needs_review is False


def test_conflicting_needs_strong_sides_from_different_sources():
    both = [ev("a", "u1", "p1", 0.8, 0.9, 0.0), ev("b", "u2", "p2", 0.8, 0.0, 0.8, 2)]
    assert decide("c1", both, T).label is Label.CONFLICTING
    # the same page saying both things is one source: the stronger side wins
    same = [ev("a", "u1", "p1", 0.8, 0.9, 0.0), ev("a", "u1", "p2", 0.8, 0.0, 0.8, 2)]
    assert decide("c1", same, T).label is Label.SUPPORTED
    # a weak refutation next to a strong support is not a conflict
    weak = [ev("a", "u1", "p1", 0.8, 0.9, 0.0), ev("b", "u2", "p2", 0.8, 0.0, T.conflict_min_prob - 0.05, 2)]
    assert decide("c1", weak, T).label is Label.SUPPORTED


def test_similarity_alone_never_supports():
    v = decide("c1", [ev("a", "u1", "p", 0.99, 0.3, 0.1)], T)
    assert v.label is Label.NOT_ENOUGH_EVIDENCE
    assert decide("c1", [ev("a", "u1", "p", 0.5, 0.95, 0.0)], T).label is Label.NOT_ENOUGH_EVIDENCE


def test_needs_review_is_stored(db):
    from warehouse.store import store_claim_results

    claim = Claim("The tower opened in 1889.", None, None, 1.0)
    verdict = Verdict(claim.claim_id, Label.NOT_ENOUGH_EVIDENCE, 0.4, "none", needs_review=True)
    store_claim_results(db, "run-1", [ClaimResult(claim, (), (), (), verdict)])
    assert db.execute("SELECT needs_review FROM verdicts WHERE run_id = 'run-1'").fetchone() == (True,)
