"""The model-output cache: a re-run computes no embedding and no stance; a new revision recomputes."""

from __future__ import annotations

import numpy as np
import pytest

from extractors.claims import claims_from_texts
from factledger.corpus import ingest
from factledger.settings import Thresholds
from tests.conftest import EXAMPLES
from tests.fakes import HashingEmbedder
from verifiers.cache import CachedEmbedder, CachedStance, ScoreCache
from verifiers.pipeline import Verifier
from verifiers.providers import CorpusProvider
from verifiers.stance import ConflictRuleStance


class Counting:
    """Wraps a model and records every input it was asked to compute."""

    def __init__(self, inner, revision: str = "1") -> None:
        self.inner, self.name, self.revision = inner, inner.name, revision
        self.seen: list = []

    def encode(self, texts):
        self.seen += list(texts)
        return self.inner.encode(texts)

    def predict(self, claim, passages):
        self.seen += [(claim, p) for p in passages]
        return self.inner.predict(claim, passages)


def test_cached_embedder_encodes_each_text_once_per_revision(tmp_path):
    cache = ScoreCache(tmp_path / "c.sqlite")
    model = Counting(HashingEmbedder())
    emb = CachedEmbedder(model, cache)
    texts = ["Paris is in France.", "The tower is 330 metres tall.", "Paris is in France."]
    first = emb.encode(texts)
    assert model.seen == texts[:2]  # the repeated text is encoded once
    np.testing.assert_allclose(first, HashingEmbedder().encode(texts), atol=1e-7)
    # A new process (fresh wrapper, same file) reads the stored vectors.
    again = CachedEmbedder(model, ScoreCache(tmp_path / "c.sqlite"))
    np.testing.assert_array_equal(again.encode(texts), first)
    assert again.computed == 0 and again.served == 3 and len(model.seen) == 2
    # Another revision of the model never reads the old entries.
    retrained = Counting(HashingEmbedder(), revision="2")
    CachedEmbedder(retrained, cache).encode(texts[:1])
    assert retrained.seen == texts[:1]


def test_rerun_of_the_same_claims_embeds_and_scores_nothing(db, splitter, tmp_path):
    raw_embedder = Counting(HashingEmbedder())
    ingest(db, "corpus-run", [EXAMPLES / "corpus"], splitter, raw_embedder)
    cache = ScoreCache(tmp_path / "c.sqlite")
    embedder = CachedEmbedder(raw_embedder, cache)
    stance = Counting(ConflictRuleStance(splitter.nlp))
    t = Thresholds(support_min_similarity=0.3, topical_min_similarity=0.2)
    verifier = Verifier([CorpusProvider(db)], embedder, CachedStance(stance, cache), t)
    claims = claims_from_texts(["Russia officially recognised the Taliban government on 3 July 2025.",
                                "The Eiffel Tower is 330 metres tall."])
    raw_embedder.seen.clear()
    first = verifier.check(claims)
    assert raw_embedder.seen and stance.seen
    raw_embedder.seen.clear()
    stance.seen.clear()
    second = verifier.check(claims)
    assert raw_embedder.seen == [] and stance.seen == []
    for a, b in zip(first, second, strict=True):
        assert a.verdict.label == b.verdict.label and a.verdict.confidence == b.verdict.confidence
        assert [e.passage.passage_id for e in a.evidence] == [e.passage.passage_id for e in b.evidence]
        assert [e.stance for e in a.evidence] == [e.stance for e in b.evidence]


def test_corpus_vectors_reload_when_the_corpus_changes(tmp_path, splitter):
    from warehouse.db import connect

    embedder = HashingEmbedder()
    con = connect(tmp_path / "w.duckdb")
    (claim,) = claims_from_texts(["The lighthouse of Portvale was painted green in 1911."])
    qvec = embedder.encode([claim.text])[0]
    before = CorpusProvider(con).search(claim, qvec)
    assert not any("lighthouse" in p.text for p in before.passages)
    doc = tmp_path / "lighthouse.txt"
    doc.write_text("The Portvale lighthouse was painted green in 1911 by the harbour board.\n", encoding="utf-8")
    ingest(con, "corpus-run-2", [doc], splitter, embedder)
    after = CorpusProvider(con).search(claim, qvec)
    assert any("lighthouse" in p.text for p in after.passages)
    con.close()


@pytest.mark.parametrize("k", [1, 3])
def test_matrix_search_matches_sql_cosine(db, splitter, k):
    embedder = HashingEmbedder()
    ingest(db, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    (claim,) = claims_from_texts(["The Eiffel Tower was built for the 1889 World's Fair in Paris."])
    qvec = embedder.encode([claim.text])[0]
    exact = [pid for pid, in db.execute(
        "SELECT passage_id FROM passages ORDER BY array_cosine_similarity(embedding, ?::FLOAT[384]) DESC, "
        "passage_id LIMIT ?", [qvec.tolist(), k]).fetchall()]
    provider = CorpusProvider(db, candidates=k)
    provider._has_fts = False  # vector side only
    got = [p.passage_id for p in provider.search(claim, qvec).passages]
    assert set(got) == set(exact)


def test_bm25_hits_are_reused_until_the_corpus_changes(tmp_path, splitter):
    from warehouse.db import connect

    embedder = HashingEmbedder()
    cache = ScoreCache(tmp_path / "c.sqlite")
    con = connect(tmp_path / "w.duckdb")
    ingest(con, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    (claim,) = claims_from_texts(["The lighthouse of Portvale was painted green in 1911."])
    qvec = embedder.encode([claim.text])[0]
    first = CorpusProvider(con, cache=cache).search(claim, qvec)
    again = CorpusProvider(con, cache=cache)
    again._bm25_sql = "SELECT no_such_column"  # a second BM25 query would fail: it must come from the cache
    assert again.search(claim, qvec).lexical == first.lexical
    doc = tmp_path / "lighthouse.txt"
    doc.write_text("The Portvale lighthouse was painted green in 1911 by the harbour board.\n", encoding="utf-8")
    ingest(con, "corpus-run-2", [doc], splitter, embedder)
    after = CorpusProvider(con, cache=cache).search(claim, qvec)  # new corpus state: BM25 runs again
    assert any("lighthouse" in p.text for p in after.passages if p.passage_id in after.lexical)
    con.close()


def test_bm25_hits_looked_up_ahead_are_the_ones_a_search_uses(tmp_path, splitter, monkeypatch):
    """`factledger.app.prefetch_lexical` (run while the models load) fills the cache that the
    verifier's search reads: the search runs no BM25 query of its own and finds the same hits."""
    from factledger.app import prefetch_lexical
    from factledger.settings import Thresholds
    from warehouse.db import connect

    monkeypatch.setenv("FACTLEDGER_HOME", str(tmp_path / "home"))
    embedder = HashingEmbedder()
    db = tmp_path / "w.duckdb"
    con = connect(db)
    ingest(con, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    con.close()
    claims = claims_from_texts(["The Eiffel Tower   was completed in 1889.", "Kabul is the capital of Afghanistan."])
    prefetch_lexical(db, claims)
    con = connect(db, read_only=True)
    try:
        k = Thresholds().retrieve_candidates
        fresh = CorpusProvider(con, candidates=k).search_many(claims, embedder.encode([c.text for c in claims]))
        cached = CorpusProvider(con, candidates=k, cache=ScoreCache(tmp_path / "home" / "model-cache.sqlite"))
        cached._bm25_sql = "SELECT no_such_column"  # a BM25 query of its own would fail
        found = cached.search_many(claims, embedder.encode([c.text for c in claims]))
    finally:
        con.close()
    # the same hits; scores equal up to float rounding (DuckDB sums BM25 terms in parallel, in no fixed order)
    assert all(c.lexical for c in fresh) and [list(c.lexical) for c in found] == [list(c.lexical) for c in fresh]
    assert [c.lexical for c in found] == [pytest.approx(c.lexical, rel=1e-12) for c in fresh]


def test_search_many_answers_each_claim_as_search_does(tmp_path, splitter):
    """One matrix product and one rows query for an article's claims: the same candidates, in the
    same order, as asking for each claim alone."""
    from warehouse.db import connect

    embedder = HashingEmbedder()
    con = connect(tmp_path / "w.duckdb")
    ingest(con, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    claims = claims_from_texts(["The lighthouse of Portvale was painted green in 1911.",
                                "The harbour bridge opened in 2024.", "Quantum zebras sing opera."])
    qvecs = embedder.encode([c.text for c in claims])
    provider = CorpusProvider(con, candidates=5)
    many = provider.search_many(claims, qvecs)
    alone = [CorpusProvider(con, candidates=5).search(c, q) for c, q in zip(claims, qvecs)]
    assert len(many) == 3
    for a, b in zip(many, alone):
        assert [p.passage_id for p in a.passages] == [p.passage_id for p in b.passages]
        assert a.lexical == b.lexical and {s.source_id for s in a.sources} == {s.source_id for s in b.sources}
        assert all(p.embedding is not None for p in a.passages)
    assert many[0].passages and many[0].passages != many[1].passages
    assert provider.search_many([], qvecs[:0]) == []
    con.close()


def test_claims_of_an_article_seen_before_come_from_the_cache(tmp_path, splitter):
    """A re-run does not parse or score the article again; other settings or another text do."""
    from extractors.articles import load_article
    from extractors.checkworthy import RuleScorer
    from extractors.claims import extract_claims

    art = load_article(str(EXAMPLES / "sample_article.md"))
    cache = ScoreCache(tmp_path / "c.sqlite")
    first = extract_claims(art, splitter, RuleScorer(), min_score=0.3, cache=cache)
    assert first

    class NoParsing:
        model = splitter.model

        def analyze(self, text):
            raise AssertionError("parsed again")

    again = extract_claims(art, NoParsing(), RuleScorer(), min_score=0.3, cache=cache)
    assert again == first  # same text, spans, scores, ranks, article id and date
    assert [c.claim_id for c in again] == [c.claim_id for c in first]
    with pytest.raises(AssertionError, match="parsed again"):
        extract_claims(art, NoParsing(), RuleScorer(), min_score=0.5, cache=cache)  # another threshold
    with pytest.raises(AssertionError, match="parsed again"):
        extract_claims(art, NoParsing(), RuleScorer(), min_score=0.3, max_claims=2, cache=cache)


def test_results_are_reused_only_while_corpus_models_and_thresholds_are_unchanged(db, splitter, tmp_path):
    """A re-run of the same claims against the same corpus state gets the stored results back
    (no retrieval, embedding or stance call); a changed corpus, threshold or model recomputes."""
    embedder = HashingEmbedder()
    ingest(db, "corpus-run", [EXAMPLES / "corpus"], splitter, embedder)
    cache = ScoreCache(tmp_path / "c.sqlite")
    stance = Counting(ConflictRuleStance(splitter.nlp))
    t = Thresholds(support_min_similarity=0.3, topical_min_similarity=0.2)
    claims = claims_from_texts(["Russia officially recognised the Taliban government on 3 July 2025.",
                                "The Eiffel Tower is 330 metres tall."])

    def verifier(thresholds=t, model=stance, provider=None):
        return Verifier([provider or CorpusProvider(db)], embedder, model, thresholds, cache=cache)

    first = verifier().check(claims)
    assert stance.seen
    stance.seen.clear()
    provider = CorpusProvider(db)
    provider._rows_sql = "SELECT no_such_column"  # a retrieval would fail: the results must come from the cache
    again = verifier(provider=provider)
    second = again.check(claims)
    assert again.reused == 2 and stance.seen == []
    assert second == first  # claims, sources, passages, evidence (stance, ranks) and verdicts
    # kept without vectors: every passage of a reused result is a corpus passage stored with its vector
    ids = sorted({p.passage_id for r in second for p in (*r.passages, *(e.passage for e in r.evidence))})
    assert ids and all(p.embedding is None for r in second for p in r.passages)
    assert all(e.passage.embedding is None for r in second for e in r.evidence)
    stored = db.execute("SELECT passage_id FROM passages WHERE embedding IS NOT NULL AND passage_id IN "
                        "(SELECT unnest(?::VARCHAR[])) ORDER BY 1", [ids]).fetchall()
    assert [r[0] for r in stored] == ids

    other = Verifier([CorpusProvider(db)], embedder, stance, Thresholds(support_min_similarity=0.31,
                                                                        topical_min_similarity=0.2), cache=cache)
    other.check(claims)
    assert other.reused == 0 and stance.seen  # another threshold
    retrained = Counting(ConflictRuleStance(splitter.nlp), revision="2")
    assert verifier(model=retrained).check(claims[:1]) and retrained.seen  # another stance revision
    doc = tmp_path / "lighthouse.txt"
    doc.write_text("The Portvale lighthouse was painted green in 1911 by the harbour board.\n", encoding="utf-8")
    ingest(db, "corpus-run-2", [doc], splitter, embedder)
    changed = verifier()
    changed.check(claims)
    assert changed.reused == 0  # the corpus changed: everything is checked again


def test_results_are_not_reused_from_providers_without_a_fingerprint(splitter, tmp_path):
    """Web search and fact-check APIs can answer differently tomorrow: their claims are always checked."""
    from verifiers.providers import Candidates

    class Web:
        name = "web"
        calls = 0

        def search(self, claim, qvec):
            Web.calls += 1
            return Candidates()

    cache = ScoreCache(tmp_path / "c.sqlite")
    claims = claims_from_texts(["The Eiffel Tower is 330 metres tall."])
    for _ in range(2):
        v = Verifier([Web()], HashingEmbedder(), ConflictRuleStance(), Thresholds(), cache=cache)
        v.check(claims)
        assert v.reused == 0
    assert Web.calls == 2
