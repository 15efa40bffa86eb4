"""Frozen records that cross package boundaries, and the enums for labels and statuses."""

from __future__ import annotations

import hashlib
import os
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import Enum, StrEnum

__all__ = [
    "Article",
    "Claim",
    "ClaimResult",
    "Evidence",
    "FactCheck",
    "FetchStatus",
    "Label",
    "Passage",
    "Sentence",
    "Source",
    "Stance",
    "StanceScores",
    "Verdict",
    "record_from_plain",
    "record_to_plain",
    "sha256_bytes",
    "sha256_file",
    "sha256_text",
    "stable_id",
]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (model weights, training data)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stable_id(*parts: object) -> str:
    """A short deterministic id from its parts (so re-runs do not duplicate rows)."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return sha256_text(joined)[:20]


class Label(StrEnum):
    SUPPORTED = "supported"
    REFUTED = "refuted"
    NOT_ENOUGH_EVIDENCE = "not_enough_evidence"
    CONFLICTING = "conflicting"


class Stance(StrEnum):
    SUPPORTS = "supports"
    REFUTES = "refutes"
    NEUTRAL = "neutral"


class FetchStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Article:
    ref: str  # what the user gave: a path or a URL
    text: str
    title: str | None
    url: str | None
    fetched_at: datetime
    raw_sha256: str
    text_sha256: str
    extractor: str
    published: str | None = None

    @property
    def article_id(self) -> str:
        return stable_id("article", self.ref, self.text_sha256)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int  # character offsets into the article text
    end: int


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    start: int | None  # character span of the sentence in the article
    end: int | None
    score: float  # check-worthiness
    article_id: str | None = None
    sentence_text: str | None = None
    rank: int | None = None
    context_date: str | None = None  # the article's publication date, for resolving relative dates
    input_id: str | None = None  # the caller's id for a claim checked by hand (`check-claim --from` JSONL "id")

    @property
    def claim_id(self) -> str:
        if self.input_id is not None:  # the same text under two of the caller's ids is two claims
            return stable_id("claim", self.article_id, self.start, self.end, self.text, self.input_id)
        return stable_id("claim", self.article_id, self.start, self.end, self.text)


@dataclass(frozen=True, slots=True)
class Source:
    provider: str
    url: str
    fetched_at: datetime
    fetch_status: FetchStatus
    status_reason: str  # "ok" or a named reason: timeout, http_404, too_large, ...
    final_url: str | None = None
    title: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    raw_sha256: str | None = None
    text_sha256: str | None = None
    extractor: str | None = None
    extractor_version: str | None = None
    published: str | None = None  # publication date from the page's metadata, when it has one
    # The id the source had where it came from (a corpus JSON Lines record's "id"); not part of its identity.
    external_id: str | None = field(default=None, compare=False)

    @property
    def source_id(self) -> str:
        return stable_id("source", self.provider, self.url, self.raw_sha256, self.status_reason)


@dataclass(frozen=True, slots=True)
class Passage:
    source_id: str
    text: str
    start: int
    end: int
    embedding: tuple[float, ...] | None = field(default=None, compare=False, repr=False)
    # The passage with its neighbours in the page (extractors.sentences.windows): what the stance
    # model reads. Not part of the passage's identity.
    context: str | None = field(default=None, compare=False, repr=False)

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    @property
    def passage_id(self) -> str:
        return stable_id("passage", self.source_id, self.start, self.end, self.sha256)


@dataclass(frozen=True, slots=True)
class StanceScores:
    support: float
    refute: float
    neutral: float

    @property
    def label(self) -> Stance:
        best = max(self.support, self.refute, self.neutral)
        if best == self.support and self.support > self.neutral:
            return Stance.SUPPORTS
        if best == self.refute and self.refute > self.neutral:
            return Stance.REFUTES
        return Stance.NEUTRAL


@dataclass(frozen=True, slots=True)
class Evidence:
    claim_id: str
    passage: Passage
    source: Source
    rank: int
    similarity: float
    lexical: float | None
    stance: StanceScores
    # The relevance gate's answer (verifiers.verdict.relevant): close enough to the claim and about
    # what it names. None for evidence judged before the gate existed (similarity alone then).
    on_topic: bool | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    claim_id: str
    label: Label
    confidence: float
    rationale: str
    needs_review: bool = False  # calibrated confidence below Thresholds.review_below_confidence


@dataclass(frozen=True, slots=True)
class FactCheck:
    """A published fact-check (schema.org ClaimReview) that matches a claim: evidence of its own kind."""

    claim_id: str
    publisher: str | None
    publisher_site: str | None
    review_url: str
    title: str | None
    textual_rating: str | None
    review_date: str | None
    claim_reviewed: str | None
    claimant: str | None
    claim_date: str | None
    language: str | None
    similarity: float
    fetched_at: datetime
    provider: str = "factchecks"

    @property
    def fact_check_id(self) -> str:
        return stable_id("factcheck", self.claim_id, self.review_url, self.textual_rating)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """Everything found for one claim: the sources tried, the evidence kept, the verdict."""

    claim: Claim
    sources: tuple[Source, ...]
    passages: tuple[Passage, ...]
    evidence: tuple[Evidence, ...]
    verdict: Verdict
    fact_checks: tuple[FactCheck, ...] = ()


def record_to_plain(obj: object) -> object:
    """A record as JSON-ready data (dicts, lists, strings, numbers): for caches, not for the warehouse."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: record_to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (tuple, list)):
        if obj and type(obj[0]) in (float, int, str) and all(type(x) is type(obj[0]) for x in obj):
            return list(obj)  # vectors: hundreds of numbers, nothing to convert (~10x faster)
        return [record_to_plain(x) for x in obj]
    return obj


def record_from_plain(tp: object, data: object) -> object:
    """The inverse of `record_to_plain`, driven by the record's type hints."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return record_from_plain(next(a for a in typing.get_args(tp) if a is not type(None)), data)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if item in (float, int, str):  # vectors: hundreds of numbers, no conversion needed
            return tuple(data)
        return tuple(record_from_plain(item, x) for x in data)
    if isinstance(tp, type) and is_dataclass(tp):
        hints = _hints(tp)
        return tp(**{k: record_from_plain(hints[k], v) for k, v in data.items()})
    if tp is datetime:
        return datetime.fromisoformat(data)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    return data


_HINTS: dict[type, dict[str, object]] = {}


def _hints(cls: type) -> dict[str, object]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]
