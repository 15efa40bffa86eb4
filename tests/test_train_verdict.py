"""The verdict aggregator's fitter measures and calibrates the verdict the product shows."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("sklearn")


def _data(n=400, seed=3):
    """Synthetic claims: feature 0 says supported, feature 1 refuted; the rest is noise."""
    from verifiers.verdict import FEATURES

    rng = random.Random(seed)
    x, y = [], []
    for i in range(n):
        lab = ["supported", "refuted", "not_enough_evidence", "conflicting"][i % 4 if i % 5 else 1]
        row = [rng.random() * 1.5 for _ in FEATURES]
        row[0] += 1.0 if lab == "supported" else 0.0
        row[1] += 1.0 if lab == "refuted" else 0.0
        row[2] += 1.0 if lab == "conflicting" else 0.0
        x.append(row)
        y.append(lab)
    return x, y


def test_cross_validation_scores_the_allowed_verdict():
    from training.verdict import fit

    x, y = _data()
    free, free_report = fit(x, y)
    # the evidence never allows "supported": the product cannot show it, so neither may the CV
    never = [["refuted", "not_enough_evidence", "conflicting"]] * len(y)
    _, gated_report = fit(x, y, never)
    share_supported = y.count("supported") / len(y)
    assert free_report["cv_accuracy"] > gated_report["cv_accuracy"]  # the free model gets supported claims right
    assert gated_report["cv_accuracy"] <= 1 - share_supported + 1e-9
    assert free["confidence_calibration"]["method"] == "platt"
    assert 0.0 <= gated_report["cv_ece_calibrated"] <= 1.0


def test_climate_fever_halves_are_disjoint_fixed_and_cover_every_claim():
    from training.verdict import climate_halves

    dev, test = climate_halves(1535)
    assert set(dev).isdisjoint(test) and sorted(dev + test) == list(range(1535))
    assert (len(dev), len(test)) == (767, 768)
    assert climate_halves(1535) == (dev, test)  # the bench measures the half the fitter never saw


def test_climate_fever_corpus_has_one_document_per_article_with_each_sentence_once():
    from training.verdict import climate_records

    rows = [{"evidence": [{"source": "Sea level rise", "text": "Seas rose 20 cm."},
                          {"source": "Global warming", "text": "It is warming."}]},
            {"evidence": [{"source": "Sea level rise", "text": "Seas rose 20 cm."},
                          {"source": "Sea level rise", "text": "The rate is rising."}]}]
    docs = {d["title"]: d for d in climate_records(rows)}
    assert set(docs) == {"Sea level rise", "Global warming"}
    assert docs["Sea level rise"]["text"].splitlines() == ["Seas rose 20 cm.", "The rate is rising."]
    assert docs["Sea level rise"]["url"] == "https://en.wikipedia.org/wiki/Sea_level_rise"
