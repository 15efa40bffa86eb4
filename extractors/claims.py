"""From an article to ranked check-worthy claims with character spans."""

from __future__ import annotations

from typing import Sequence

from extractors.checkworthy import CheckworthinessScorer
from extractors.sentences import Splitter
from factledger.records import Article, Claim

__all__ = ["claims_from_texts", "extract_claims"]


def extract_claims(
    article: Article,
    splitter: Splitter,
    scorer: CheckworthinessScorer,
    *,
    min_score: float,
    max_claims: int | None = None,
) -> list[Claim]:
    """Sentences scoring at least `min_score`, best first, each with its span in `article.text`."""
    analyzed = splitter.analyze(article.text)
    scores = scorer.score(analyzed)
    kept = [
        (score, item)
        for score, item in zip(scores, analyzed, strict=True)
        if not item.boilerplate and score >= min_score
    ]
    kept.sort(key=lambda pair: (-pair[0], pair[1].sentence.start))
    if max_claims is not None:
        kept = kept[:max_claims]
    return [
        Claim(
            text=item.sentence.text,
            start=item.sentence.start,
            end=item.sentence.end,
            score=round(score, 6),
            article_id=article.article_id,
            sentence_text=item.sentence.text,
            rank=rank,
        )
        for rank, (score, item) in enumerate(kept, start=1)
    ]


def claims_from_texts(texts: Sequence[str]) -> list[Claim]:
    """Claims typed in by hand: no article, no span, check-worthiness taken as given (1.0)."""
    out = []
    for i, text in enumerate(texts, start=1):
        text = " ".join(text.split())
        if text:
            out.append(Claim(text=text, start=None, end=None, score=1.0, rank=i))
    return out
