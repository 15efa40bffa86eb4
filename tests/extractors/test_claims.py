from __future__ import annotations

import pytest

from extractors.articles import load_article
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
        assert art.text[c.start:c.end] == c.text
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
