"""The trained check-worthiness model: artefact loads offline, ranks facts above opinion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extractors.checkworthy_model import ARTEFACT_DIR, TrainedScorer, artefact_exists, feature_names
from factledger.settings import Thresholds

pytestmark = pytest.mark.skipif(not artefact_exists(), reason="no artefact in models/checkworthiness")


@pytest.fixture(scope="module")
def scorer(real_embedder):
    return TrainedScorer(real_embedder)


def test_artefact_is_small_plain_and_documented():
    meta = json.loads((ARTEFACT_DIR / "meta.json").read_text())
    size = sum(p.stat().st_size for p in ARTEFACT_DIR.iterdir())
    assert size < 5_000_000
    assert not list(ARTEFACT_DIR.glob("*.pkl")) and not list(ARTEFACT_DIR.glob("*.joblib"))
    assert (ARTEFACT_DIR / "MODEL_CARD.md").is_file()
    assert all(len(f["sha256"]) == 64 for f in meta["training_files"])
    assert meta["features"] == feature_names()
    with np.load(ARTEFACT_DIR / "weights.npz", allow_pickle=False) as z:
        first = z["W1"] if "W1" in z.files else z["coef"]
        assert first.shape[0] == len(feature_names())
    # the run threshold is the one chosen on the dev split and recorded with the artefact
    assert Thresholds().checkworthy_min_score == pytest.approx(meta["threshold"])


def test_fact_scores_above_opinion(scorer, splitter):
    fact = "The Soviet Union invaded Afghanistan in December 1979 and withdrew its last troops in 1989."
    opinion = "I think this is a terrible idea and we should all be very worried about it."
    a = splitter.analyze(fact)
    b = splitter.analyze(opinion)
    s_fact, s_opinion = scorer.score(a)[0], scorer.score(b)[0]
    assert s_fact > s_opinion
    assert s_fact >= Thresholds().checkworthy_min_score > s_opinion


def test_boilerplate_scores_zero_and_empty_input(scorer, splitter):
    items = splitter.analyze("Scroll to Top\nThe bridge opened to traffic on 1 May 2024 after four years of work.")
    scores = scorer.score(items)
    assert scores[0] == 0.0 and scores[1] > 0.0
    assert scorer.score([]) == []
