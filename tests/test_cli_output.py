"""What `check` / `check-claim` print: per claim the verdict, confidence, review flag, rationale and
deciding passages with their sources; long text wraps, nothing is cut."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from extractors.claims import claims_from_texts
from factledger.app import deciding_evidence, result_rows
from factledger.cli import PLAIN_WIDTH, _print_results, format_results
from factledger.records import ClaimResult, Evidence, FetchStatus, Passage, Source, StanceScores
from factledger.settings import Thresholds
from verifiers.verdict import decide

LONG_CLAIM = ("The harbour bridge, which was designed by the city engineer after a competition that drew "
              "entries from eleven countries, opened to traffic on the nineteenth of March 1932.")
PASSAGES = [
    ("https://news.example/bridge", "ev-1", "The harbour bridge opened to traffic on 19 March 1932, after eight "
     "years of construction and a design competition with entries from eleven countries.", 0.82, 0.93, 0.02),
    ("https://archive.example/1932/03/20", None, "Crowds lined the shore as the bridge opened on 19 March 1932; "
     "the city engineer who designed it cut the ribbon.", 0.74, 0.88, 0.03),
    ("https://other.example/weather", None, "It rained in the harbour city for most of March.", 0.31, 0.05, 0.04),
]


def _results() -> list[ClaimResult]:
    t = Thresholds()
    out = []
    for claim in claims_from_texts([LONG_CLAIM, "The moon is made of green cheese and always was."], ["row-1", None]):
        evidence = []
        if claim.input_id:  # the first claim has evidence; the second none at all
            for rank, (url, ext, text, sim, sup, ref) in enumerate(PASSAGES, start=1):
                src = Source("corpus", url, datetime.now(UTC), FetchStatus.OK, "ok", text_sha256=url, external_id=ext)
                evidence.append(Evidence(claim.claim_id, Passage(src.source_id, text, 0, len(text)), src, rank, sim,
                                         None, StanceScores(sup, ref, round(1 - sup - ref, 4))))
        verdict = decide(claim.claim_id, evidence, t)
        out.append(ClaimResult(claim, tuple(e.source for e in evidence), tuple(e.passage for e in evidence),
                               tuple(evidence), verdict, ()))
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_each_claim_shows_verdict_review_rationale_and_deciding_passages_with_sources():
    results = _results()
    rows = result_rows(results)
    text = format_results(rows, width=80)
    blocks = text.split("\n\n")
    assert len(blocks) == len(results)
    for block, r, row in zip(blocks, results, rows, strict=True):
        head = block.splitlines()[0]
        assert r.verdict.label.value.replace("_", " ").upper() in head
        assert f"confidence {r.verdict.confidence:.2f}" in head
        assert f"needs review: {'yes' if r.verdict.needs_review else 'no'}" in head
        flat = _flat(block)
        assert _flat(r.claim.text) in flat  # whole, not cut at 60 characters
        assert f"why: {_flat(r.verdict.rationale)}" in flat
        deciding = deciding_evidence(r)
        assert [d["rank"] for d in row["deciding"]] == [e.rank for e in deciding]
        for e in deciding:  # each deciding passage, whole, with its source (and the source's own id)
            assert f"#{e.rank} {e.stance.label.value}" in flat
            assert _flat(e.passage.text) in flat
            assert e.source.url in flat
            if e.source.external_id:
                assert f"{e.source.url} (id {e.source.external_id})" in flat
        shown = set(re.findall(r"#(\d+) (?:supports|refutes|neutral) \(similarity", block))
        assert shown == {str(e.rank) for e in deciding}  # not merely the top-ranked ones
    first, second = blocks
    assert "id: row-1" in first and "deciding passages: none" in second
    assert "https://other.example/weather" not in first  # an off-topic passage does not decide


def test_long_text_wraps_to_the_width_instead_of_being_cut():
    rows = result_rows(_results())
    for width in (60, 80, 120):
        text = format_results(rows, width=width)
        assert "\u2026" not in text
        assert max(len(line) for line in text.splitlines()) <= width
        assert _flat(LONG_CLAIM) in _flat(text)


def test_not_a_terminal_wraps_at_100_columns(capsys):
    rows = result_rows(_results())
    _print_results(rows, "table")  # capsys: stdout is not a terminal
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= PLAIN_WIDTH
    assert max(len(line) for line in lines) > 80  # wrapped at 100, not at a narrower width
    assert out == format_results(rows, PLAIN_WIDTH) + "\n"
