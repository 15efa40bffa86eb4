"""What the stance model reads: quantities in one form, title in front, windows of text."""

import pytest

from verifiers.evidence import joint_premise, normalize_quantities, premise


@pytest.mark.parametrize("a, b", [
    ("visited by about six million people", "About 6 million people visit"),
    ("6,000,000 visitors", "six million visitors"),
    ("weighs roughly 10,100 tonnes", "weighs around 10100 tonnes"),
    ("It is 330 m tall", "It is 330 metres tall"),
    ("330 meters", "330 metres"),
    ("45 per cent", "45%"),
    ("twenty-five years", "25 years"),
    ("1.5 billion", "1,500,000,000"),
])
def test_equal_amounts_read_as_equal_strings(a, b):
    def amount(text):
        return [w for w in normalize_quantities(text).lower().split() if any(ch.isdigit() for ch in w) or w in
                ("million", "billion", "metres", "tonnes", "visitors", "years")]
    assert amount(a)[:2] == amount(b)[:2]


@pytest.mark.parametrize("a, b", [
    ("six million people", "sixty million people"),
    ("10,100 tonnes", "20,100 tonnes"),
    ("330 metres", "530 m"),
])
def test_different_amounts_stay_different(a, b):
    assert normalize_quantities(a) != normalize_quantities(b)


def test_words_that_are_not_amounts_are_left_alone():
    text = "It is one of the most visited monuments, and a man with no name was there in 1889."
    assert normalize_quantities(text) == text


def test_premise_puts_the_title_in_front_once():
    assert premise("Eiffel Tower", "It is 330 m tall.") == "Eiffel Tower: It is 330 metres tall."
    assert premise("Eiffel Tower", "The Eiffel Tower is in Paris.") == "The Eiffel Tower is in Paris."
    assert premise("Is the minimum wage $7.25?", "Yes.") == "Is the minimum wage $7.25? Yes."
    assert premise(None, "Plain text.") == "Plain text."
    assert joint_premise([("A", "one."), ("B", "it is 5 m.")]) == "A: one. B: it is 5 metres."


def test_a_passage_must_name_what_the_claim_names():
    from verifiers.evidence import names, shares_subject

    claim = "China officially recognised the Taliban government on 3 July 2025."
    assert names(claim) == {"china", "taliban"}  # months and sentence-initial function words are not names
    assert not shares_subject(claim, "Russia-Taliban relations: On 3 July 2025, Russia officially recognised the Taliban.")
    assert shares_subject(claim.replace("China", "Russia"), "On 3 July 2025, Russia officially recognised the Taliban.")
    assert not shares_subject("The Eiffel Tower was completed in 1889.", "Big Ben: The clock tower, the Elizabeth Tower")
    assert shares_subject("It rained a lot.", "anything at all")
