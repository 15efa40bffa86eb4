"""WiCE claims as the product meets them: each claim against the sentences of the page it cites.

Shared by the benchmark (`bench/verdicts.py`, WiCE test) and the evidence reader's trainer
(`training.reader`, WiCE dev), so the reader learns from the same evidence the benchmark measures.
WiCE labels a claim supported only when the cited page supports all of it; a partly supported claim
is, for the claim as a whole, not enough evidence (`LABEL_OF`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import numpy as np

from factledger.records import Claim, FetchStatus, Passage, Source
from verifiers.providers import Candidates

__all__ = ["LABEL_OF", "PageProvider", "title_of", "wice_claims", "wice_pages"]

LABEL_OF = {"SUPPORTED": "supported", "PARTIALLY_SUPPORTED": "not_enough_evidence",
            "NOT_SUPPORTED": "not_enough_evidence"}
_META = "(meta data)"


def wice_claims(data: Path, split: str) -> list[dict]:
    """The claims of `data`/wice/claims_`split`.jsonl that cite a page with text, keyed by the claim as
    the verifier sees it (whitespace collapsed, as `claims_from_texts` does): a claim text that comes
    twice (with two cited pages) is kept once, with its first page."""
    with (data / "wice" / f"claims_{split}.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if any(not e["text"].startswith(_META) for e in r["evidence"])]
    for r in rows:
        r["claim"] = " ".join(r["claim"].split())
    return list({r["claim"]: r for r in reversed(rows)}.values())[::-1]


def title_of(row: dict) -> str | None:
    """The cited page's title (WiCE's "(meta data) TITLE: ..." line), or None."""
    return next((e["text"].removeprefix(f"{_META} TITLE:").strip() for e in row["evidence"]
                 if e["text"].startswith(_META)), None)


def wice_pages(rows: list[dict], split: str, encode: Callable[[list[str]], np.ndarray]):
    """Each claim's cited page as a source with its sentences as passages (each one's window is its
    neighbours), embedded with `encode`: ({claim: (source, passages)}, {claim: {(text, start): evidence id}})."""
    now = datetime.now(UTC)
    texts = sorted({e["text"] for r in rows for e in r["evidence"] if not e["text"].startswith(_META)})
    vec_of = dict(zip(texts, encode(texts), strict=True))
    pages, ev_ids = {}, {}
    for k, r in enumerate(rows):
        ev = [e for e in r["evidence"] if not e["text"].startswith(_META)]
        src = Source("wice", f"https://wice.example/{split}/{k}", now, FetchStatus.OK, "ok", title=title_of(r),
                     text_sha256=f"wice-{split}-{k}")
        sents = [e["text"] for e in ev]
        contexts = [" ".join(sents[max(0, i - 1):i + 2]) for i in range(len(sents))]
        passages = tuple(Passage(src.source_id, e["text"], i, i + 1, tuple(float(x) for x in vec_of[e["text"]]),
                                 context=contexts[i]) for i, e in enumerate(ev))
        pages[r["claim"]] = (src, passages)
        ev_ids[r["claim"]] = {(p.text, p.start): e["id"] for p, e in zip(passages, ev, strict=True)}
    return pages, ev_ids


class PageProvider:
    """The sentences of each claim's cited page, as a web provider would return them."""

    name = "wice-page"

    def __init__(self, pages: dict[str, tuple[Source, tuple[Passage, ...]]]):
        self.pages = pages

    def search(self, claim: Claim, query_vector) -> Candidates:
        src, passages = self.pages[claim.text]
        return Candidates((src,), passages)
