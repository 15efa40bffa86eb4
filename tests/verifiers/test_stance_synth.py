"""FEVER-style contrast pairs for stance training (training.stance_synth)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from training.stance_synth import entity_pool, negate, short_claims, swap_claim, swap_premise, synthesize


@pytest.fixture(scope="module")
def nlp(splitter):
    return splitter.nlp


@pytest.mark.parametrize("text,expected", [
    ("Colombiana is a French film.", "Colombiana is not a French film."),
    ("The bridge was opened in 1932.", "The bridge was not opened in 1932."),
    ("The company can build ships.", "The company cannot build ships."),
    ("Meteora is not an album by Linkin Park.", "Meteora is an album by Linkin Park."),
    ("The band plays jazz.", "The band does not play jazz."),
])
def test_negate_main_clause(nlp, text, expected):
    out = negate(nlp(text), random.Random(0))
    assert out is not None and out[0] == expected


def test_negate_past_verb_in_fever_styles(nlp):
    seen = set()
    for seed in range(40):
        text, how = negate(nlp("Cruz modelled for a fashion label."), random.Random(seed))
        seen.add(text)
        assert "modelled for a fashion label" in text or "model for a fashion label" in text
    assert {"Cruz did not model for a fashion label.", "Cruz refused to model for a fashion label.",
            "Cruz never modelled for a fashion label."} <= seen


@pytest.mark.parametrize("text", [
    "I think this is a decent album.",        # a reporting verb: negating it says nothing of the album
    "Some of the people are wearing hats.",   # quantified: "some are not" does not contradict
    "Workers often commit errors.",           # habitual
])
def test_negate_refuses_what_it_cannot_negate_safely(nlp, text):
    assert negate(nlp(text), random.Random(0)) is None


def test_swap_premise_changes_what_the_claim_states_not_its_subject(nlp):
    premise = nlp("Colombiana is a 2011 French action film directed by Olivier Megaton.")
    rng = random.Random(3)
    kinds = {}
    for _ in range(60):
        out = swap_premise(premise, nlp("Colombiana is a French film released in 2011."), {"NORP": ["German", "Pakistani"]}, rng)
        assert out is not None
        text, kind = out
        kinds[kind] = text
        assert text.startswith("Colombiana is a ")  # the subject is never swapped
        assert text != premise.text
    assert "year" in kinds and "2011" not in kinds["year"]
    assert "norp" in kinds and "French" not in kinds["norp"]
    assert "category" in kinds and " film " not in kinds["category"]


def test_swap_claim_changes_a_detail_its_evidence_states(nlp):
    claim = nlp("Colombiana is a French film released in 2011.")
    evidence = "Colombiana: Colombiana is a 2011 French action film directed by Olivier Megaton."
    rng = random.Random(5)
    kinds = {}
    for _ in range(40):
        out = swap_claim(claim, evidence, {"NORP": ["German", "Pakistani"]}, rng)
        assert out is not None
        text, kind = out
        kinds[kind] = text
        assert text.startswith("Colombiana is a ") and text != claim.text  # never its subject
    assert "year" in kinds and "2011" not in kinds["year"]
    assert kinds["norp"] in ("Colombiana is a German film released in 2011.",
                             "Colombiana is a Pakistani film released in 2011.")
    # nothing the claim states is in the evidence: nothing to alter against it
    assert swap_claim(claim, "Olivier Megaton directed it.", {"NORP": ["German"]}, rng) is None
    # the only replacement is stated by the evidence too: no contradiction made
    only = nlp("The treaty was signed by France.")
    assert swap_claim(only, "The treaty was signed by France and Germany.", {"GPE": ["Germany"]}, rng) is None


def test_swap_premise_leaves_lists_alone(nlp):
    # "painting" is one of a list: another list member does not make "includes painting" false
    premise = nlp("Her work includes sculpture, installation and painting.")
    hyp = nlp("Her work includes sculpture and painting.")
    assert swap_premise(premise, hyp, {}, random.Random(0)) is None


def test_short_claims_read_off_a_wikipedia_sentence(nlp):
    doc = nlp("Colombiana is a 2011 French action film directed by Olivier Megaton.")
    assert set(short_claims(doc)) == {"Colombiana is an action film.", "Colombiana is a 2011 action film.",
                                      "Colombiana is a French action film.", "Colombiana was directed by Olivier Megaton."}
    born = nlp("Marc Quinn (born 8 January 1964) is a British contemporary artist.")
    assert "Marc Quinn was born in 1964." in short_claims(born)
    assert "Marc Quinn is a British artist." in short_claims(born)
    assert short_claims(nlp("He is a singer.")) == []  # no named subject
    assert short_claims(nlp("Her work includes sculpture and painting.")) == []


def test_entity_pool_keeps_repeated_capitalised_entities(nlp):
    docs = list(nlp.pipe(["He moved to Berlin in May.", "Berlin is large.", "She lives in Madrid."]))
    pool = entity_pool(docs)
    assert pool.get("GPE") == ["Berlin"]


@dataclass(frozen=True)
class P:
    premise: str
    hypothesis: str
    label: str
    dataset: str


def test_synthesize_labels_and_provenance(nlp):
    pairs = [
        P("Colombiana is a 2011 French action film directed by Olivier Megaton.", "Colombiana is a French film.",
          "entailment", "conjnli"),
        P("The Tower Bridge in London was opened in 1894.", "The Tower Bridge was opened in 1894.", "entailment", "fm2"),
        P("A man is sleeping.", "A woman is running.", "contradiction", "snli"),  # not an entailment: unused
    ] * 5
    out = synthesize(pairs, nlp, seed=1, per_pair=1.0)
    assert out and all(o.dataset.endswith("+synth") for o in out)
    kinds = {o.kind.split(":")[0] for o in out}
    assert {"negate", "swap", "refer_back", "short_claim"} <= kinds
    claims = {p.hypothesis for p in pairs} | {o.hypothesis for o in out if o.kind == "short_claim"}
    for o in out:
        if o.kind.startswith("negate:"):
            assert o.label == "contradiction" and o.premise in {p.premise for p in pairs}
        elif o.kind.startswith("swap:"):
            assert o.label == "contradiction" and o.hypothesis in claims and o.premise not in {p.premise for p in pairs}
        elif o.kind == "refer_back":
            assert o.label == "entailment" and o.premise.split()[0] in ("It", "The") and o.premise.endswith(
                ("Olivier Megaton.", "1894."))
        elif o.kind == "short_claim":
            assert o.label == "entailment" and o.dataset in ("conjnli+synth", "fm2+synth")
        elif o.kind.startswith("negate_contradiction"):  # the premise contradicts h, so it entails "not h"
            assert o.label == "entailment" and o.hypothesis == "A woman is not running." and o.dataset == "snli+synth"
        else:
            assert o.kind == "swap+negate" and o.label == "entailment"
    # negated claims are as often entailed as contradicted: "not" alone never tells the label
    negs = [o for o in out if o.kind.startswith("negate")]
    assert sum(o.label == "entailment" for o in negs) == sum(o.label == "contradiction" for o in negs)
    assert synthesize(pairs, nlp, seed=1, per_pair=1.0) == out  # deterministic for a seed


def test_retrieved_neutrals_pair_a_claim_with_a_near_premise_of_another_pair():
    from training.stance_synth import retrieved_neutrals

    vecs = {"The Eiffel Tower was completed in 1889.": [1.0, 0.0, 0.0],
            "The Eiffel Tower is 330 metres tall.": [0.6, 0.8, 0.0],
            "Bananas are yellow.": [0.0, 0.0, 1.0],
            "The tower was finished in 1889.": [0.99, 0.141, 0.0],
            "The tower is tall.": [0.6, 0.8, 0.0]}

    def encode(texts):
        return [vecs[t] for t in texts]

    pairs = [P("The Eiffel Tower was completed in 1889.", "The tower was finished in 1889.", "entailment", "fm2"),
             P("The Eiffel Tower is 330 metres tall.", "The tower is tall.", "entailment", "fm2"),
             P("Bananas are yellow.", "The tower is tall.", "neutral", "mnli")]
    out = retrieved_neutrals(pairs, encode, seed=0, n=10)
    got = {(o.hypothesis, o.premise) for o in out}
    assert all(o.label == "neutral" and o.kind == "retrieved_neutral" for o in out)
    # the nearest premise of ANOTHER pair (its own premise, a cosine of 0.99, is never used)
    assert ("The tower was finished in 1889.", "The Eiffel Tower is 330 metres tall.") in got
    # "The tower is tall." is the hypothesis of the height pair and the banana pair: neither premise is its neutral
    assert ("The tower is tall.", "The Eiffel Tower was completed in 1889.") in got
    assert not any(p == "Bananas are yellow." for _, p in got)  # below the cosine floor for both
