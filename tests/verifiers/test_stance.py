from __future__ import annotations

import pytest

from factledger.records import Stance
from verifiers.stance import ConflictRuleStance

PASSAGE = "On 3 July 2025, Russia became the first country to formally recognise the Taliban government of Afghanistan."


@pytest.fixture(scope="module")
def stance(splitter):
    return ConflictRuleStance(splitter.nlp)


def label(stance, claim, passage=PASSAGE):
    return stance.predict(claim, [passage])[0].label


def test_paraphrase_with_matching_facts_supports(stance):
    assert label(stance, "Russia formally recognised the Taliban government on 3 July 2025.") is Stance.SUPPORTS


def test_wrong_year_is_not_support(stance):
    assert label(stance, "Russia formally recognised the Taliban government on 3 July 2023.") is Stance.REFUTES


def test_swapped_country_is_not_support(stance):
    assert label(stance, "China became the first country to formally recognise the Taliban government.") is Stance.REFUTES


def test_swapped_city(stance):
    scores = stance.predict("The Eiffel Tower is located in London.",
                            ["The Eiffel Tower is a wrought-iron lattice tower in Paris, France."])[0]
    assert scores.label is Stance.REFUTES


def test_negation_on_one_side(stance):
    assert label(stance, "Russia did not recognise the Taliban government in July 2025.") is Stance.REFUTES


def test_unrelated_passage_is_neutral(stance):
    assert label(stance, "The Chrysler Building was completed in 1930.") is Stance.NEUTRAL


def test_probabilities_sum_to_one(stance):
    for s in stance.predict("Russia recognised the Taliban in 2025.", [PASSAGE, "Apples grow on trees."]):
        assert abs(s.support + s.refute + s.neutral - 1.0) < 1e-6
