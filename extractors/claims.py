"""From an article to ranked check-worthy claims with character spans.

Each kept sentence yields one or more atomic claims (`extractors.atomic`): `Claim.text` is the
checkable claim (opinion wrapper dropped, vague subject resolved from the previous sentences),
`Claim.sentence_text` and `start`/`end` are the original sentence and its span in the article, and
`context_date` is the article's publication date, for resolving relative dates.
"""

from __future__ import annotations

import logging
from typing import Sequence

from extractors.atomic import atomic_claims
from extractors.checkworthy import CheckworthinessScorer
from extractors.sentences import Splitter
from factledger.records import Article, Claim

__all__ = ["claims_from_texts", "extract_claims"]

log = logging.getLogger(__name__)


def extract_claims(
    article: Article,
    splitter: Splitter,
    scorer: CheckworthinessScorer,
    *,
    min_score: float,
    max_claims: int | None = None,
) -> list[Claim]:
    """Atomic claims of the sentences scoring at least `min_score`, best first.

    Every claim keeps its sentence's span in `article.text`; a sentence with two facts gives two
    claims (same span and score, different text, so different claim ids).
    """
    analyzed = splitter.analyze(article.text)
    scores = scorer.score(analyzed)
    body = [item for item in analyzed if not item.boilerplate]
    gpes = {e.text.removeprefix("the ") for item in body for e in item.doc.ents if e.label_ == "GPE"}
    position = {id(item): k for k, item in enumerate(body)}
    kept = [
        (score, item)
        for score, item in zip(scores, analyzed, strict=True)
        if not item.boilerplate and score >= min_score
    ]
    kept.sort(key=lambda pair: (-pair[0], pair[1].sentence.start))
    pieces: list[tuple[float, object, str]] = []
    for score, item in kept:
        k = position[id(item)]
        previous = [p.doc for p in body[max(0, k - 6):k]]
        try:
            texts = atomic_claims(item.doc, previous, gpes)  # [] = no checkable claim in it
        except Exception:  # a parse the rules do not expect: keep the sentence as it is
            log.exception("atomic split failed at %s", item.sentence.start)
            texts = [item.sentence.text]
        for text in texts:
            pieces.append((score, item, text))
    if max_claims is not None:
        pieces = pieces[:max_claims]
    return [
        Claim(
            text=text,
            start=item.sentence.start,
            end=item.sentence.end,
            score=round(score, 6),
            article_id=article.article_id,
            sentence_text=item.sentence.text,
            rank=rank,
            context_date=article.published,
        )
        for rank, (score, item, text) in enumerate(pieces, start=1)
    ]


def claims_from_texts(texts: Sequence[str]) -> list[Claim]:
    """Claims typed in by hand: no article, no span, check-worthiness taken as given (1.0)."""
    out = []
    for i, text in enumerate(texts, start=1):
        text = " ".join(text.split())
        if text:
            out.append(Claim(text=text, start=None, end=None, score=1.0, rank=i))
    return out
