"""Hybrid retrieval, stance and verdicts over a real DuckDB corpus, with the fake embedder."""

from __future__ import annotations

import pytest

from extractors.claims import claims_from_texts
from factledger.corpus import ingest
from factledger.records import Label
from factledger.settings import Thresholds
from tests.conftest import EXAMPLES
from verifiers.pipeline import Verifier
from verifiers.providers import CorpusProvider
from verifiers.stance import ConflictRuleStance


@pytest.fixture()
def corpus_db(db, splitter, embedder):
    stats = ingest(db, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    assert stats.new_documents == 10 and stats.passages > 20
    return db


def make_verifier(db, splitter, embedder):
    t = Thresholds(support_min_similarity=0.3, topical_min_similarity=0.2)  # the hashing fake is coarser
    return Verifier([CorpusProvider(db)], embedder, ConflictRuleStance(splitter.nlp), t)


def test_reingest_adds_nothing(corpus_db, splitter, embedder):
    n = corpus_db.execute("SELECT count(*) FROM passages").fetchone()[0]
    again = ingest(corpus_db, "corpus-run-2", [EXAMPLES / "corpus"], splitter, embedder)
    assert again.new_documents == 0
    assert corpus_db.execute("SELECT count(*) FROM passages").fetchone()[0] == n


def test_true_claim_supported_and_wrong_year_not(corpus_db, splitter, embedder):
    verifier = make_verifier(corpus_db, splitter, embedder)
    good, bad, swapped = verifier.check(claims_from_texts([
        "Russia officially recognised the Taliban government on 3 July 2025.",
        "Russia officially recognised the Taliban government on 3 July 2019.",
        "China officially recognised the Taliban government on 3 July 2025.",
    ]))
    assert good.verdict.label is Label.SUPPORTED
    assert good.evidence[0].source.url.endswith("russia-taliban-relations")
    assert bad.verdict.label is not Label.SUPPORTED
    assert swapped.verdict.label is not Label.SUPPORTED
    for r in (good, bad, swapped):
        assert 0.0 <= r.verdict.confidence <= 1.0
        assert [e.rank for e in r.evidence] == list(range(1, len(r.evidence) + 1))


def test_off_topic_claim_has_not_enough_evidence(corpus_db, splitter, embedder):
    verifier = make_verifier(corpus_db, splitter, embedder)
    (r,) = verifier.check(claims_from_texts(["The Great Barrier Reef lies off the coast of Queensland."]))
    assert r.verdict.label is Label.NOT_ENOUGH_EVIDENCE


def test_bad_jsonl_line_is_named(db, splitter, embedder, tmp_path):
    from factledger.errors import InputError

    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "1", "text": "ok line."}\n{not json}\n')
    with pytest.raises(InputError, match="line 2"):
        ingest(db, "r", [f], splitter, embedder)
    assert db.execute("SELECT count(*) FROM sources").fetchone()[0] == 0


class _OneStancedPassage:
    """Neutral towards every passage except those containing `marker`, which it fully supports."""

    name, revision = "one-stanced", "t1"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def predict(self, claim, passages):
        from factledger.records import StanceScores

        return [StanceScores(1.0, 0.0, 0.0) if self.marker in p else StanceScores(0.0, 0.0, 1.0) for p in passages]


def test_kept_evidence_is_fused_relevance_plus_weighted_stance(corpus_db, splitter, embedder):
    from dataclasses import replace

    claims = claims_from_texts(["Russia officially recognised the Taliban government on 3 July 2025."])
    base = make_verifier(corpus_db, splitter, embedder).t
    # top_k 10 with a neutral model: the whole pool of top_k 5 (2 x 5 candidates), in fused order
    (pool,) = Verifier([CorpusProvider(corpus_db)], embedder, _OneStancedPassage("\0"),
                       replace(base, top_k=10)).check(claims)
    fused = [e.passage.text for e in pool.evidence]
    assert len(fused) == 10
    last = fused[-1]

    def kept(weight):
        v = Verifier([CorpusProvider(corpus_db)], embedder, _OneStancedPassage(last),
                     replace(base, top_k=5, stance_rerank_weight=weight))
        return [e.passage.text for e in v.check(claims)[0].evidence]

    assert kept(0.0) == fused[:5]  # relevance alone: the five best fused
    assert kept(1.0)[0] == last and kept(1.0)[1:] == fused[:4]  # a dominant stance term lifts the 10th to the top
