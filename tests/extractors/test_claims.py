from __future__ import annotations

import pytest

from extractors.articles import load_article
from extractors.atomic import atomic_claims
from extractors.checkworthy import RuleScorer
from extractors.claims import extract_claims
from extractors.sentences import is_boilerplate_line
from factledger.settings import Thresholds
from tests.conftest import EXAMPLES

# Short key phrases (not whole sentences) that identify sentences of the seed article.
FACT_KEYS = ["July 3, 2025", "from 1979 to 1989"]
OPINION_ONLY_KEYS = [
    "dangerously short-sighted",
    "questionable at best",
    "sends a damaging signal",
    "domino effect of recognition",
    "must be cautious",
    "new Great Game has begun",
    "comes with immense risk",
    "may very well accelerate",
]


@pytest.fixture(scope="module")
def seed_claims(seed_path, splitter):
    art = load_article(str(seed_path))
    claims = extract_claims(art, splitter, RuleScorer(), min_score=Thresholds().checkworthy_min_score)
    return art, claims


def test_seed_claims_include_the_dated_facts(seed_claims):
    _, claims = seed_claims
    for key in FACT_KEYS:
        assert any(key in c.text for c in claims), f"no claim contains {key!r}"


def test_seed_top_claims_hold_no_opinion_only_sentence(seed_claims):
    _, claims = seed_claims
    assert claims, "no claims found"
    top = claims[:10]
    for key in OPINION_ONLY_KEYS:
        assert not any(key in c.text for c in top), f"opinion sentence among top claims: {key!r}"


def test_seed_no_boilerplate_or_title_claim(seed_claims):
    art, claims = seed_claims
    assert not any("Scroll to Top" in c.text for c in claims)
    assert not any(art.title and c.text == art.title for c in claims)


def test_claim_spans_point_into_the_article(seed_claims):
    art, claims = seed_claims
    for c in claims:
        # the span is the sentence's; the claim text is the checkable (atomic) part of it
        assert art.text[c.start:c.end] == c.sentence_text
    assert [c.rank for c in claims] == list(range(1, len(claims) + 1))
    assert all(a.score >= b.score for a, b in zip(claims, claims[1:]))


def test_sample_article_claims_skip_opinion_and_furniture(splitter):
    art = load_article(str(EXAMPLES / "sample_article.md"))
    claims = extract_claims(art, splitter, RuleScorer(), min_score=Thresholds().checkworthy_min_score)
    texts = " ".join(c.text for c in claims)
    assert "completed in 1889" in texts
    assert "We think" not in texts and "Share this" not in texts and "Scroll" not in texts


@pytest.mark.parametrize("line", ["Scroll to Top", "Share this article", "Subscribe now", "Cookie settings",
                                  "A Short Heading", "Back to top"])
def test_boilerplate_lines(line):
    assert is_boilerplate_line(line)


def test_real_sentence_is_not_boilerplate():
    assert not is_boilerplate_line("The bridge opened to traffic on 1 May 2024 after four years of work.")


# --- trained scorer, atomic claims and subject resolution (issue: check-worthy claim detection)

# Key phrases of seed sentences stating verifiable facts: dates, "firsts", attacks, rights
# restrictions, historical events.
SEED_FACT_SENTENCE_KEYS = [
    "July 3, 2025",
    "first country to formally acknowledge",
    "return to power in August 2021",
    "mounting deadly attacks",
    "erased from public life",
    "from 1979 to 1989",
]
# Sentences that are only opinion, prediction or attributed intent.
SEED_NOT_A_CLAIM_KEYS = OPINION_ONLY_KEYS + [
    "appears driven by a combination",
    "aims to position itself",
    "also hopes to secure",
    "not a neutral geopolitical move",
    "will only deepen",
    "formal endorsement could embolden",
]


@pytest.fixture(scope="module")
def trained_seed_claims(seed_path, splitter):
    from extractors.checkworthy_model import TrainedScorer, artefact_exists

    if not artefact_exists():
        pytest.skip("no check-worthiness artefact")
    art = load_article(str(seed_path))
    return art, extract_claims(art, splitter, TrainedScorer(),
                               min_score=Thresholds().checkworthy_min_score)


def test_trained_seed_claims_cover_every_factual_sentence(trained_seed_claims):
    _, claims = trained_seed_claims
    for key in SEED_FACT_SENTENCE_KEYS:
        assert any(key in (c.sentence_text or "") for c in claims), f"factual sentence missed: {key!r}"
    for key in FACT_KEYS:
        assert any(key in c.text for c in claims), f"no claim text contains {key!r}"


def test_trained_seed_claims_hold_no_opinion_only_sentence(trained_seed_claims):
    _, claims = trained_seed_claims
    for key in SEED_NOT_A_CLAIM_KEYS:
        assert not any(key in (c.sentence_text or "") for c in claims), f"opinion sentence kept: {key!r}"


def test_seed_claims_are_atomic_self_contained_and_dated(trained_seed_claims):
    art, claims = trained_seed_claims
    dated = next(c for c in claims if "July 3, 2025" in c.text)
    # the opinion wrapper ("marks a troubling ... shift") is not part of the checkable claim
    assert "troubling" not in dated.text and "troubling" in dated.sentence_text
    first = next(c for c in claims if "first country" in c.text)
    assert "Moscow" in first.sentence_text and first.text.count("Russia") >= 1 and "Moscow" not in first.text
    assert len({c.claim_id for c in claims}) == len(claims)
    assert all(c.context_date == art.published for c in claims)
    assert [c.rank for c in claims] == list(range(1, len(claims) + 1))


def _atoms(splitter, text: str) -> list[str]:
    sents = list(splitter.nlp(text).sents)
    gpes = {e.text for s in sents for e in s.ents if e.label_ == "GPE"}
    return atomic_claims(sents[-1], sents[:-1], gpes)


def test_opinion_wrapper_is_dropped(splitter):
    assert _atoms(splitter, "The bridge opened on 1 May 2024, marking a troubling shift in policy.") == [
        "The bridge opened on 1 May 2024."]


def test_two_facts_give_two_claims(splitter):
    atoms = _atoms(splitter, "The army seized the airport in 2021 and the rebels closed the border in 2022.")
    assert atoms == ["The army seized the airport in 2021.", "The rebels closed the border in 2022."]


def test_two_claims_from_one_sentence_have_distinct_ids(splitter):
    from factledger.records import Article
    from datetime import datetime, timezone

    text = "The army seized the airport in 2021 and the rebels closed the border in 2022."
    art = Article(ref="made-up", text=text, title=None, url=None, fetched_at=datetime.now(timezone.utc),
                  raw_sha256="x", text_sha256="y", extractor="test", published="2024-05-02")
    claims = extract_claims(art, splitter, RuleScorer(), min_score=0.0)
    assert len(claims) == 2 and claims[0].claim_id != claims[1].claim_id
    assert {(c.start, c.end) for c in claims} == {(0, len(text))}
    assert all(c.sentence_text == text and c.context_date == "2024-05-02" for c in claims)


@pytest.mark.parametrize("text, expected", [
    ("Russia recognised the Taliban in July. Moscow sent an ambassador to Kabul in August.",
     "Russia sent an ambassador to Kabul in August."),
    ("Russia's recognition of the Taliban came in July. This recognition made Russia the first state to do so.",
     "Russia's recognition of the Taliban made Russia the first state to do so."),
    ("The Eiffel Tower was completed in 1889. It was the tallest structure in the world until 1930.",
     "The Eiffel Tower was the tallest structure in the world until 1930."),
])
def test_subject_resolved_from_context(splitter, text, expected):
    assert _atoms(splitter, text) == [expected]


def test_subject_left_alone_when_context_is_unclear(splitter):
    # "Moscow" is not resolved when the article never names Russia; "It" with no antecedent stays
    assert _atoms(splitter, "Moscow sent an ambassador to Kabul in August.") == [
        "Moscow sent an ambassador to Kabul in August."]
    assert _atoms(splitter, "It opened in 1889.") == ["It opened in 1889."]


@pytest.mark.parametrize("text, expected", [
    # a "first" in the fronted clause, the hedged main clause is interpretation: one claim
    ("By becoming the first state to ban the pesticide, Norway has effectively reshaped the market.",
     ["Norway became the first state to ban the pesticide."]),
    # a dated fronted fact and a plain main clause: two claims
    ("By winning the 2019 election, the party took control of parliament.",
     ["The party won the 2019 election.", "The party took control of parliament."]),
    # the adverb before the gerund stays
    ("By officially opening the 2012 games, the queen drew a record audience.",
     ["The queen officially opened the 2012 games.", "The queen drew a record audience."]),
])
def test_fronted_by_clause_yields_its_fact(splitter, text, expected):
    assert _atoms(splitter, text) == expected


@pytest.mark.parametrize("text, expected", [
    # the main clause attributes a belief ("appears to have concluded"): only the fronted fact
    ("With the Northern Militia (NM) staging raids across the valley including attacks on border posts "
     "the council appears to have concluded that talks are the safer course.",
     ["The Northern Militia (NM) has been staging raids across the valley including attacks on border posts."]),
    # a plural subject, a number and a checkable main clause: two claims
    ("With rebels holding three airports in the north, Chile has closed its embassy.",
     ["Rebels have been holding three airports in the north.", "Chile has closed its embassy."]),
    # the main clause attributes intent: only the fronted fact
    ("With inflation rising above 9 percent in 2022, the bank hopes to raise rates twice.",
     ["Inflation has been rising above 9 percent in 2022."]),
    # no gerund, or nothing checkable in the fronted part: the sentence is left as it is
    ("With two goals in the final, Messi won the match.", ["With two goals in the final, Messi won the match."]),
    ("With prices going up, families spend less on food.", ["With prices going up, families spend less on food."]),
])
def test_fronted_with_clause_yields_its_fact(splitter, text, expected):
    assert _atoms(splitter, text) == expected


@pytest.mark.parametrize("text, expected", [
    # three facts in a list with "and" only before the last: one claim each (this raised a TypeError)
    ("The bridge opened in 1937, carried six lanes of traffic, and cost 35 million dollars.",
     ["The bridge opened in 1937.", "The bridge carried six lanes of traffic.", "The bridge cost 35 million dollars."]),
    # a hyphenated verb the tokenizer splits ("co", "-", "sponsored") is one verb, not two facts
    ("The senator also co-sponsored the Clean Water Act to protect rivers from industrial pollution.",
     ["The senator also co-sponsored the Clean Water Act to protect rivers from industrial pollution."]),
])
def test_listed_facts_about_one_subject_are_split_and_hyphenated_verbs_kept_whole(splitter, text, expected):
    assert _atoms(splitter, text) == expected


def test_fronted_by_clause_left_alone_without_a_fact_or_with_intent(splitter):
    # nothing checkable in the fronted clause: the sentence is kept as it is
    assert _atoms(splitter, "By granting formal recognition, the council has broken ranks with its allies.") == [
        "By granting formal recognition, the council has broken ranks with its allies."]
    # the main verb attributes intent: no claim, as without the fronted clause
    assert _atoms(splitter, "By recognising the government in 2025, Norway aims to secure new contracts.") == []


def test_a_documents_own_short_lines_are_kept_when_asked(splitter):
    text = "Did the minimum wage rise in 2020?\nNo\n$7.25 per hour"
    assert [c.text for c in splitter.split(text)] == ["Did the minimum wage rise in 2020?"]  # chrome rules drop the rest
    kept = splitter.split(text, drop_boilerplate=False)
    assert " ".join(c.text for c in kept).split() == text.split()


def test_each_passage_carries_its_neighbours_as_context(splitter):
    text = ("The Eiffel Tower is a lattice tower in Paris, France. It is 330 metres tall including its antennas. "
            "About 6 million people visit the tower each year.")
    passages = splitter.passages("s1", text)
    assert [p.text for p in passages][1] == "It is 330 metres tall including its antennas."
    assert passages[1].context == text
    assert passages[0].context.startswith("The Eiffel Tower") and "330 metres" in passages[0].context
    assert "lattice" not in passages[2].context.split("...")[-1] or passages[2].context.endswith("each year.")
