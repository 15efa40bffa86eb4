"""From an article to ranked check-worthy claims with character spans.

Each sentence yields zero or more atomic claims (`extractors.atomic`), kept when their
check-worthiness reaches the run's threshold: `Claim.text` is the checkable claim (opinion wrapper
dropped, vague subject resolved from the previous sentences),
`Claim.sentence_text` and `start`/`end` are the original sentence and its span in the article, and
`context_date` is the article's publication date, for resolving relative dates.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path
from typing import Protocol, Sequence

from extractors.atomic import SharedSubjectPart, atomic_claims
from extractors.checkworthy import CheckworthinessScorer
from extractors.sentences import AnalyzedSentence, Splitter
from factledger.records import Article, Claim, sha256_text

__all__ = ["ClaimCache", "claims_from_texts", "extract_claims", "extractor_key"]

log = logging.getLogger(__name__)

_CODE = ("atomic.py", "checkworthy.py", "checkworthy_model.py", "claims.py", "sentences.py")


class ClaimCache(Protocol):
    """Where extracted claims are kept between runs (`verifiers.cache.ScoreCache` is one)."""

    def claims(self, extractor: str, article_sha: str) -> list[dict] | None: ...

    def put_claims(self, extractor: str, article_sha: str, claims: Sequence[dict]) -> None: ...


@cache
def _code_revision() -> str:
    """sha256 of the extractor modules' source: changed rules never read claims cached by old ones."""
    h = hashlib.sha256()
    for name in _CODE:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


@cache
def _folder_revision(folder: str) -> str:
    h = hashlib.sha256()
    for f in sorted(Path(folder).iterdir()):
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def extractor_key(splitter: Splitter, scorer: CheckworthinessScorer, min_score: float, max_claims: int | None) -> str:
    """Everything the claims of an article depend on besides its text: parser model, scorer (name,
    artefact files and the revision of the embedder it reads), extractor code and settings."""
    rev = getattr(scorer, "revision", None)
    folder = getattr(scorer, "folder", None)
    name = getattr(scorer, "name", type(scorer).__name__)
    embedder = getattr(getattr(scorer, "embedder", None), "revision", "")
    scorer_id = f"{name}@{rev or (_folder_revision(str(folder)) if folder else '')}+{embedder}"
    parser = getattr(splitter, "model", type(splitter).__name__)
    return f"claims:{_code_revision()}:{parser}:{scorer_id}:{min_score}:{max_claims}"


def extract_claims(
    article: Article,
    splitter: Splitter,
    scorer: CheckworthinessScorer,
    *,
    min_score: float,
    max_claims: int | None = None,
    cache: ClaimCache | None = None,
) -> list[Claim]:
    """Atomic claims scoring at least `min_score`, best first.

    Every claim keeps its sentence's span in `article.text`; a sentence with two facts gives two
    claims (same span, different text, so different claim ids). A claim whose text is its
    sentence's has the sentence's score; a rewritten one (wrapper dropped, split, subject
    resolved) is scored on its own text. With a `cache`, an article text seen before by the same
    extractor is not parsed or scored again.
    """
    if cache is None:
        return _extract(article, splitter, scorer, min_score, max_claims)
    key = extractor_key(splitter, scorer, min_score, max_claims)
    sha = sha256_text(article.text + "\0" + (article.published or ""))
    stored = cache.claims(key, sha)
    if stored is None:
        claims = _extract(article, splitter, scorer, min_score, max_claims)
        cache.put_claims(key, sha, [{"text": c.text, "start": c.start, "end": c.end, "score": c.score,
                                     "sentence_text": c.sentence_text, "rank": c.rank} for c in claims])
        return claims
    return [Claim(article_id=article.article_id, context_date=article.published, **c) for c in stored]


def _extract(article: Article, splitter: Splitter, scorer: CheckworthinessScorer, min_score: float,
             max_claims: int | None) -> list[Claim]:
    analyzed = splitter.analyze(article.text)
    body = [(score, item) for score, item in zip(scorer.score(analyzed), analyzed, strict=True)
            if not item.boilerplate]
    gpes = {e.text.removeprefix("the ") for _, item in body for e in item.doc.ents if e.label_ == "GPE"}
    pieces: list[tuple[float, AnalyzedSentence, str]] = []
    for k, (score, item) in enumerate(body):
        previous = [p.doc for _, p in body[max(0, k - 12):k]]
        try:
            texts = atomic_claims(item.doc, previous, gpes)  # [] = no checkable claim in it
        except Exception:  # a parse the rules do not expect: keep the sentence as it is
            log.exception("atomic split failed at %s", item.sentence.start)
            texts = [item.sentence.text]
        pieces.extend((score, item, text) for text in texts)
    # A claim that is not its sentence word for word (opinion wrapper dropped, one of two facts,
    # subject resolved) is scored as what it is: its own text, parsed alone.
    own = sorted({text for _, item, text in pieces if text != item.sentence.text})
    own_score = dict(zip(own, scorer.score(splitter.analyze_alone(own)), strict=True))
    pieces = [(max(own_score.get(text, score), score) if isinstance(text, SharedSubjectPart) else own_score.get(text, score),
               item, str(text)) for score, item, text in pieces]
    pieces = [p for p in pieces if p[0] >= min_score]
    pieces.sort(key=lambda p: (-p[0], p[1].sentence.start))
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


def claims_from_texts(texts: Sequence[str], input_ids: Sequence[str | None] | None = None) -> list[Claim]:
    """Claims typed in by hand: no article, no span, check-worthiness taken as given (1.0). The text
    as given is kept as `sentence_text`; the claim text is its whitespace-normalised copy. `input_ids`
    are the caller's ids, one per text (None where there is none)."""
    ids = list(input_ids) if input_ids is not None else [None] * len(texts)
    if len(ids) != len(texts):
        raise ValueError(f"{len(ids)} input ids for {len(texts)} claims")
    out = []
    for i, (given, input_id) in enumerate(zip(texts, ids, strict=True), start=1):
        text = " ".join(given.split())
        if text:
            out.append(Claim(text=text, start=None, end=None, score=1.0, rank=i, sentence_text=given,
                             input_id=None if input_id is None else str(input_id)))
    return out
