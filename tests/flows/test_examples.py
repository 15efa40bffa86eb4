"""The shipped example, end to end with the shipped models: true facts the corpus states come back
supported, none refuted; the same article with its facts changed comes back refuted."""

from __future__ import annotations

import pytest

from factledger.app import Runtime
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

# A piece of each claim whose fact examples/corpus states.
STATED = ["completed in 1889", "Gustave Eiffel", "330 metres", "1930", "wrought iron", "10,100 tonnes",
          "six million"]
# The same facts changed: (original, changed) in the article text.
CHANGES = [("completed in 1889", "completed in 1899"), ("330 metres", "530 metres"),
           ("10,100 tonnes", "20,100 tonnes"), ("six million", "sixty million"), ("in 1930", "in 1950")]


@pytest.fixture(scope="module")
def example_db(tmp_path_factory, prefect_harness, splitter, real_embedder):
    import flows
    from factledger.corpus import ingest
    from warehouse.db import connect

    db = tmp_path_factory.mktemp("examples") / "ledger.duckdb"
    con = connect(db)
    ingest(con, "corpus-test", [EXAMPLES / "corpus"], splitter, real_embedder)
    con.close()
    flows.set_runtime(Runtime(splitter=splitter, embedder=real_embedder))
    yield db
    flows.set_runtime(None)


def _check(db, article):
    import flows
    from flows.runners import run_flow

    return run_flow(flows.check_article_flow, article=str(article), db=str(db), quiet=True)


def _claim(rows, key):
    found = [r for r in rows if key in r["claim"]]
    assert found, f"no claim contains {key!r}: {[r['claim'] for r in rows]}"
    return found[0]


def test_every_fact_the_corpus_states_is_supported_and_none_refuted(example_db):
    rows = _check(example_db, EXAMPLES / "sample_article.md")
    verdicts = {key: (_claim(rows, key)["label"], _claim(rows, key)["claim"]) for key in STATED}
    assert all(label == "supported" for label, _ in verdicts.values()), verdicts
    assert not [r["claim"] for r in rows if r["label"] == "refuted"]


def test_the_article_with_its_facts_changed_is_refuted(example_db, tmp_path):
    text = (EXAMPLES / "sample_article.md").read_text(encoding="utf-8")
    for old, new in CHANGES:
        assert old in text
        text = text.replace(old, new)
    changed = tmp_path / "changed_article.md"
    changed.write_text(text, encoding="utf-8")
    rows = _check(example_db, changed)
    verdicts = {new: (_claim(rows, new)["label"], _claim(rows, new)["claim"]) for _, new in CHANGES}
    assert all(label == "refuted" for label, _ in verdicts.values()), verdicts


def test_claims_checked_by_hand_against_the_example_corpus(example_db):
    import flows
    from flows.runners import run_flow

    claims = ["The Eiffel Tower was completed in 1889.", "The Eiffel Tower was completed in 1920.",
              "Big Ben was completed in 1859."]
    rows = run_flow(flows.check_claim_flow, claims=claims, db=str(example_db), quiet=True)
    assert [r["label"] for r in rows] == ["supported", "refuted", "supported"], rows
