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


# --- the fitted aggregator -----------------------------------------------------------------------

def _aggregator(tmp_path, coef_by_label):
    """An aggregator whose scores read one feature per verdict (a hand-set, readable model)."""
    import json

    from verifiers.verdict import FEATURES, Aggregator

    labels = ["supported", "refuted", "not_enough_evidence", "conflicting"]
    coef = [[coef_by_label[lab].get(f, 0.0) for f in FEATURES] for lab in labels]
    path = tmp_path / "aggregator.json"
    path.write_text(json.dumps({"version": "test", "features": list(FEATURES), "labels": labels,
                                "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES), "coef": coef,
                                "intercept": [0.0, 0.0, 1.0, 0.0]}), encoding="utf-8")
    return Aggregator.load(path)


def _hand_model(tmp_path):
    return _aggregator(tmp_path, {"supported": {"support_max": 8.0}, "refuted": {"refute_max": 8.0},
                                  "not_enough_evidence": {}, "conflicting": {"both_strong": 20.0}})


def test_off_topic_passages_never_decide(tmp_path):
    from verifiers.verdict import decide_fitted

    agg = _hand_model(tmp_path)
    on = decide_fitted("c1", [ev("a", "u1", 0.8, 0.0, 0.95)], T, agg, None)
    off = decide_fitted("c1", [ev("a", "u1", T.topical_min_similarity - 0.2, 0.0, 0.95)], T, agg, None)
    assert on.label is Label.REFUTED and "#1" in on.rationale
    assert off.label is Label.NOT_ENOUGH_EVIDENCE and "1 off-topic" in off.rationale


def test_the_fitted_verdict_is_its_most_probable_label_with_that_probability(tmp_path):
    from verifiers.verdict import decide_fitted, features

    agg = _hand_model(tmp_path)
    items = [ev("a", "u1", 0.8, 0.9, 0.05)]
    v = decide_fitted("c1", items, T, agg, None)
    probs = agg.probabilities(features(items, T, None))
    assert v.label is Label.SUPPORTED and v.confidence == round(probs[Label.SUPPORTED], 4)
    assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert v.needs_review is (v.confidence < T.review_below_confidence)


def test_conflicting_only_when_both_sides_are_strong(tmp_path):
    from verifiers.verdict import decide_fitted

    agg = _aggregator(tmp_path, {"supported": {"support_max": 2.0}, "refuted": {}, "not_enough_evidence": {},
                                 "conflicting": {"refute_max": 30.0}})  # a model that says "conflicting" too eagerly
    one_sided = decide_fitted("c1", [ev("a", "u1", 0.8, 0.1, 0.9)], T, agg, None)
    assert one_sided.label is not Label.CONFLICTING
    both = decide_fitted("c1", [ev("a", "u1", 0.8, 0.9, 0.0), ev("b", "u2", 0.8, 0.0, 0.9, 2)], T, agg, None)
    assert both.label is Label.CONFLICTING


def test_an_aggregator_fitted_on_other_features_is_refused(tmp_path):
    import json

    import pytest

    from verifiers.verdict import Aggregator

    path = tmp_path / "a.json"
    path.write_text(json.dumps({"version": "x", "features": ["something_else"], "labels": [], "mean": [], "scale": [],
                                "coef": [], "intercept": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="features differ"):
        Aggregator.load(path)


def test_the_product_uses_an_aggregator_only_with_the_stance_model_it_was_fitted_on(tmp_path, monkeypatch, caplog):
    import json

    from factledger.app import load_aggregator

    agg = _hand_model(tmp_path)
    meta = json.loads((tmp_path / "aggregator.json").read_text())
    (tmp_path / "aggregator.json").write_text(json.dumps({**meta, "stance_revision": "stance-x+abc"}))
    monkeypatch.setenv("FACTLEDGER_VERDICT_MODEL", str(tmp_path / "aggregator.json"))
    assert load_aggregator("stance-x+abc")[0].labels == agg.labels
    assert load_aggregator("stance-y+def") == (None, None)
    assert "fitted on stance model stance-x+abc" in caplog.text
    monkeypatch.setenv("FACTLEDGER_VERDICT_MODEL", str(tmp_path / "missing.json"))
    assert load_aggregator("stance-x+abc") == (None, None)


def test_supported_needs_a_passage_that_supports(tmp_path):
    from verifiers.verdict import decide_fitted

    # a model that leans to "supported" whatever the passages say
    agg = _aggregator(tmp_path, {"supported": {"similarity_max": 9.0}, "refuted": {"refute_max": 2.0},
                                 "not_enough_evidence": {}, "conflicting": {}})
    v = decide_fitted("c1", [ev("a", "u1", 0.9, 0.2, 0.7)], T, agg, None)
    assert v.label is Label.REFUTED
    assert decide_fitted("c1", [ev("a", "u1", 0.9, 0.7, 0.2)], T, agg, None).label is Label.SUPPORTED


def test_supported_by_passages_read_together_only_when_one_is_about_the_claim(tmp_path):
    from dataclasses import replace

    from verifiers.verdict import decide_fitted

    # a question with its one-word answer, and the page that gives the number: neither passage
    # supports alone, the two read together do
    agg = _aggregator(tmp_path, {"supported": {"joint_support": 9.0}, "refuted": {"refute_max": 2.0},
                                 "not_enough_evidence": {}, "conflicting": {}})
    items = [ev("a", "u1", 0.8, 0.3, 0.2), ev("b", "u2", 0.7, 0.3, 0.1, 2)]
    together = StanceScores(0.8, 0.1, 0.1)
    v = decide_fitted("c1", items, T, agg, together)
    assert v.label is Label.SUPPORTED and "#1, #2 read together support it" in v.rationale
    # the joint reading refutes or stays neutral: no support
    assert decide_fitted("c1", items, T, agg, StanceScores(0.3, 0.6, 0.1)).label is not Label.SUPPORTED
    # none of the passages names what the claim names: no support, whatever the joint reading says
    off = [replace(e, on_topic=False) for e in items]
    assert decide_fitted("c1", off, T, agg, together).label is not Label.SUPPORTED
    # one relevant passage refutes (a year that differs): the joint reading cannot make it supported
    refuting = [items[0], ev("b", "u2", 0.7, 0.05, 0.9, 2)]
    assert decide_fitted("c1", refuting, T, agg, together).label is not Label.SUPPORTED


def test_a_refutation_no_passage_carries_says_so_and_goes_to_review(tmp_path):
    from verifiers.verdict import decide_fitted

    # a model whose prior is "refuted" (as on real fact-checks, where most checked claims are false)
    agg = _aggregator(tmp_path, {"supported": {}, "refuted": {"similarity_max": 9.0},
                                 "not_enough_evidence": {}, "conflicting": {}})
    neutral = [ev("a", "u1", 0.9, 0.1, 0.1), ev("b", "u2", 0.8, 0.1, 0.1, 2)]
    from factledger.app import deciding_evidence
    from factledger.records import Claim, ClaimResult

    def shown(v):  # the passages the output lists as deciding
        return [e.rank for e in deciding_evidence(ClaimResult(Claim("a claim", None, None, 1.0), (), (), tuple(neutral), v))]

    v = decide_fitted("c1", neutral, T, agg, StanceScores(0.1, 0.1, 0.8))
    assert v.label is Label.REFUTED and v.needs_review
    assert "no passage refutes it" in v.rationale and "read together refute" not in v.rationale
    assert shown(v) == []
    # the passages read together refute it: that is what the rationale says, and they are shown
    v = decide_fitted("c1", neutral, T, agg, StanceScores(0.1, 0.8, 0.1))
    assert v.label is Label.REFUTED and "#1, #2 read together refute it" in v.rationale
    assert shown(v) == [1, 2]
    # a passage refutes it: named, and no review forced by the rule
    v = decide_fitted("c1", [ev("a", "u1", 0.9, 0.05, 0.9)], T, agg, None)
    assert "refuted by passage(s) #1" in v.rationale
