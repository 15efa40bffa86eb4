"""A batch in which an article failed ends Failed (in Prefect and in `runs`), every candidate still
accounted for in `batch_items` with its reason, and its counts still returned."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import example_corpus

pytestmark = pytest.mark.slow

SMALL = ("The Eiffel Tower in Paris was completed in 1889 for the world's fair. It is about 330 metres tall "
         "including its antennas, and it is made of wrought iron.\n")


def test_batch_with_a_failed_article_ends_failed(tmp_path, prefect_harness, splitter, embedder):
    import flows
    from extractors.checkworthy import RuleScorer
    from factledger.app import Runtime
    from flows.runners import run_flow
    from prefect.client.orchestration import get_client
    from verifiers.stance import ConflictRuleStance
    from warehouse.db import connect

    db = tmp_path / "batch.duckdb"
    example_corpus(db, splitter, embedder)
    small, big = tmp_path / "small.md", tmp_path / "big.md"
    small.write_text(SMALL, encoding="utf-8")
    big.write_text(SMALL * 40, encoding="utf-8")  # ~6 KB of text, over the 0.002 MB limit below
    missing = tmp_path / "gone.md"
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{small}\n{big}\n{missing}\n", encoding="utf-8")

    flows.set_runtime(Runtime(splitter=splitter, embedder=embedder, scorer=RuleScorer(),
                              stance=ConflictRuleStance(splitter.nlp)))
    try:
        counts = run_flow(flows.batch_flow, url_lists=[str(urls)], db=str(db), max_article_mb=0.002)
    finally:
        flows.set_runtime(None)
    assert counts == {"checked": 1, "seen_before": 0, "duplicate_content": 0, "failed": 2}

    con = connect(db, read_only=True)
    try:
        (run_id, status, error), = con.execute(
            "SELECT run_id, status, error FROM runs WHERE flow_name = 'batch'").fetchall()
        items = dict(con.execute("SELECT url, coalesce(reason, status) FROM batch_items WHERE run_id = ?",
                                 [run_id]).fetchall())
    finally:
        con.close()
    assert (status, error) == ("failed", "2 of 3 articles failed (reasons in batch_items)")
    assert items == {str(small): "checked", str(big): "article_too_large", str(missing): "no such file: " + str(missing)}

    async def state():
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).state

    flow_state = asyncio.run(state())
    assert flow_state.is_failed(), flow_state
    assert flow_state.message == f"2 of 3 articles failed (reasons in batch_items): {run_id}"
