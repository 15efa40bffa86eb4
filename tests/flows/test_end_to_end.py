"""The whole pipeline under a real Prefect run, real DuckDB file, real packaged MiniLM model."""

from __future__ import annotations

import hashlib

import pytest

from factledger.app import Runtime
from tests.conftest import example_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, prefect_harness, seed_path, splitter, real_embedder):
    import flows
    from flows.runners import run_flow

    db = tmp_path_factory.mktemp("e2e") / "ledger.duckdb"
    rt = Runtime(splitter=splitter, embedder=real_embedder)
    example_corpus(db, splitter, real_embedder)
    flows.set_runtime(rt)
    rows = run_flow(flows.check_article_flow, article=str(seed_path), db=str(db), quiet=True)
    yield db, rows
    flows.set_runtime(None)


def q(db, sql, params=None):
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_seed_claims_and_verdicts(e2e):
    db, rows = e2e
    claims = [r["claim"] for r in rows]
    assert any("July 3, 2025" in c for c in claims)
    assert any("from 1979 to 1989" in c for c in claims)
    assert not any("Scroll to Top" in c for c in claims)
    labels = {r["label"] for r in rows}
    assert labels <= {"supported", "refuted", "not_enough_evidence", "conflicting"}
    recognition = next(r for r in rows if "July 3, 2025" in r["claim"])
    assert recognition["label"] == "supported", recognition


def test_every_verdict_evidence_row_has_provenance(e2e):
    db, _ = e2e
    rows = q(db, """SELECT ve.run_id, ve.source_url, ve.fetched_at, ve.passage_text, ve.passage_sha256,
                           r.embedder_name, r.stance_model, r.checkworthy_model, r.status
                    FROM verdict_evidence ve JOIN runs r USING (run_id)""")
    assert rows
    for run_id, url, fetched_at, text, sha, emb, stance, cw, status in rows:
        assert run_id and url and fetched_at
        assert hashlib.sha256(text.encode()).hexdigest() == sha
        assert emb == "sentence-transformers/all-MiniLM-L6-v2" and stance and cw
        assert status == "completed"
    (n_runs,) = q(db, "SELECT count(*) FROM runs WHERE flow_name = 'check-article'")[0]
    assert n_runs == 1


def test_rerun_does_not_duplicate(e2e):
    import flows
    from flows.runners import run_flow

    db, _ = e2e
    counts = lambda: q(db, "SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM sources), "
                           "(SELECT count(*) FROM passages), (SELECT count(*) FROM articles)")[0]
    before = counts()
    run_flow(flows.check_article_flow, article=_seed(), db=str(db), quiet=True)
    assert counts() == before
    assert q(db, "SELECT count(DISTINCT run_id) FROM verdicts")[0][0] == 2


def _seed():
    from tests.conftest import SEED

    return str(SEED)


# The seed article's recognition claim with one fact changed: none may come out `supported`.
PERTURBED = {
    "wrong year": "Russia officially recognised the Taliban government on 3 July 2021.",
    "swapped country": "China officially recognised the Taliban government on 3 July 2025.",
    "negation": "Russia has never officially recognised the Taliban government.",
    "wrong first": "Russia became the last country in the world to formally recognise the Taliban-led government.",
}


def test_perturbed_claims_are_not_supported(e2e):
    import flows
    from flows.runners import run_flow

    db, _ = e2e
    good, *bad = run_flow(
        flows.check_claim_flow,
        claims=["Russia officially recognised the Taliban government on 3 July 2025.", *PERTURBED.values()],
        db=str(db), quiet=True,
    )
    assert good["label"] == "supported"
    for (what, claim), row in zip(PERTURBED.items(), bad, strict=True):
        assert row["label"] in ("refuted", "not_enough_evidence"), (what, row["rationale"], row["confidence"])
    stored = q(db, "SELECT label FROM latest_verdicts WHERE claim_text LIKE '%3 July 2021.'")
    assert stored == [(bad[0]["label"],)]


def test_runs_publish_a_summary_artifact(e2e):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    import asyncio

    async def fetch():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["article-verdicts"])))

    arts = asyncio.run(fetch())
    assert arts and arts[0].type == "table"


def test_check_claim_keeps_the_callers_ids_and_the_text_as_given(e2e):
    import flows
    from flows.runners import run_flow

    db, _ = e2e
    given = ["Big Ben  was completed in 1859.", "The Eiffel Tower was completed in 1889."]
    rows = run_flow(flows.check_claim_flow, claims=given, input_ids=["row-7", "row-9"], db=str(db), quiet=True)
    assert [r["input_id"] for r in rows] == ["row-7", "row-9"]
    stored = dict(q(db, "SELECT input_id, sentence_text FROM claims WHERE input_id IS NOT NULL"))
    assert stored == {"row-7": given[0], "row-9": given[1]}  # exactly as given, double space included
    latest = {r[0]: r[1] for r in q(db, "SELECT input_id, claim_text FROM latest_verdicts WHERE input_id IS NOT NULL")}
    assert latest == {"row-7": "Big Ben was completed in 1859.", "row-9": given[1]}
    assert q(db, "SELECT count(DISTINCT input_id) FROM verdict_evidence WHERE input_id IS NOT NULL")[0][0] == 2
