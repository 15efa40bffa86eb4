"""Progress on stderr (`factledger.progress`): a bar where someone watches a terminal, nothing
in a pipe or with --quiet; what the flows and `corpus add` report."""

from __future__ import annotations

import io

import pytest

from factledger import progress
from tests.conftest import EXAMPLES, example_corpus


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.closed = False

    def __call__(self, what, total, advance, done, note, scope) -> None:
        self.events.append((what, total, advance, done, note, scope))

    def close(self) -> None:
        self.closed = True

    def done(self, what: str) -> dict[str, int]:
        """Items of `what` done per scope, and the totals seen."""
        out: dict[str, int] = {}
        for w, _total, advance, done, _note, scope in self.events:
            if w == what:
                out[scope] = done if done is not None else out.get(scope, 0) + advance
        return out

    def totals(self, what: str) -> set:
        return {(scope, total) for w, total, *_rest, scope in self.events if w == what and total is not None}


def test_wanted_only_on_a_terminal_and_not_quiet():
    assert progress.wanted(False, Terminal())
    assert not progress.wanted(True, Terminal())
    assert not progress.wanted(False, io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not progress.wanted(False, closed)


def test_reports_reach_the_display_only_while_it_is_shown():
    rec = Recorder()
    progress.report(progress.CLAIMS, 3, 1)  # no display: nowhere, no error
    with progress.shown(rec):
        progress.report(progress.CLAIMS, 3, 1, note="searching")
    progress.report(progress.CLAIMS, 3, 1)
    assert rec.events == [(progress.CLAIMS, 3, 1, None, "searching", "")] and rec.closed


def test_the_bar_counts_done_of_total_and_restarts_for_a_new_scope():
    term = Terminal()
    with progress.shown(progress.ProgressBar(term)):
        progress.report(progress.CLAIMS, 4, 4, scope="article-1")
        progress.report(progress.CLAIMS, 7, 2, note="weighing the evidence", scope="article-2")
    out = term.getvalue()
    assert "claims checked" in out and "2/7" in out and "weighing the evidence" in out
    assert "6/7" not in out and "6/4" not in out  # the second article's count started again


def _corpus_add(monkeypatch, capsys, db, *extra, terminal: bool) -> str:
    from factledger.cli import main

    err = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db), *extra]) == 0
    capsys.readouterr()
    return err.getvalue()


@pytest.mark.slow
def test_corpus_add_shows_documents_ingested_on_a_terminal_only(tmp_path, monkeypatch, capsys):
    from factledger.corpus import count_documents

    n = count_documents([EXAMPLES / "corpus"])
    assert n == 10
    shown = _corpus_add(monkeypatch, capsys, tmp_path / "a.duckdb", terminal=True)
    assert "documents ingested" in shown and f"{n}/{n}" in shown
    assert _corpus_add(monkeypatch, capsys, tmp_path / "b.duckdb", "--quiet", terminal=True) == ""
    assert "documents ingested" not in _corpus_add(monkeypatch, capsys, tmp_path / "c.duckdb", terminal=False)


@pytest.fixture()
def fake_runtime(splitter, embedder):
    import flows
    from extractors.checkworthy import RuleScorer
    from factledger.app import Runtime
    from verifiers.stance import ConflictRuleStance

    flows.set_runtime(Runtime(splitter=splitter, embedder=embedder, scorer=RuleScorer(),
                              stance=ConflictRuleStance(splitter.nlp)))
    yield
    flows.set_runtime(None)


@pytest.fixture()
def corpus_db(tmp_path, splitter, embedder):
    return example_corpus(tmp_path / "p.duckdb", splitter, embedder)


@pytest.mark.slow
def test_check_claim_reports_every_claim_checked_of_all(prefect_harness, fake_runtime, corpus_db):
    import flows
    from flows.runners import run_flow

    claims = ["The Eiffel Tower was completed in 1889.", "Big Ben was completed in 1859.",
              "The Chrysler Building was finished in 1930."]
    rec = Recorder()
    with progress.shown(rec):
        rows = run_flow(flows.check_claim_flow, claims=claims, db=str(corpus_db), claims_per_task=2)
    assert len(rows) == len(claims)
    assert rec.done(progress.CLAIMS) == {"": len(claims)}  # two chunks, one count of all three
    assert rec.totals(progress.CLAIMS) == {("", len(claims))}
    notes = [note for what, *_r, note, _s in rec.events if what == progress.CLAIMS and note]
    assert any(n.startswith("searching evidence: claim") for n in notes) and "weighing the evidence" in notes
    quiet = Recorder()
    with progress.shown(quiet):
        run_flow(flows.check_claim_flow, claims=claims[:1], db=str(corpus_db), quiet=True)
    assert quiet.events == []


@pytest.mark.slow
def test_batch_reports_articles_and_each_articles_claims(prefect_harness, fake_runtime, corpus_db, tmp_path):
    import flows
    from flows.runners import run_flow

    texts = ["The Eiffel Tower in Paris was completed in 1889 for the world's fair. It is about 330 metres tall.\n",
             "Big Ben in London was completed in 1859. The Chrysler Building was finished in 1930 in New York.\n"]
    urls = tmp_path / "urls.txt"
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"a{i}.md")
        paths[-1].write_text(text, encoding="utf-8")
    urls.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    rec = Recorder()
    with progress.shown(rec):
        counts = run_flow(flows.batch_flow, url_lists=[str(urls)], db=str(corpus_db))
    assert counts["checked"] == 2
    assert rec.done(progress.ARTICLES) == {"": 2} and rec.totals(progress.ARTICLES) == {("", 2)}
    per_article = rec.done(progress.CLAIMS)
    assert len(per_article) == 2  # one count per article (its id), each to that article's claims
    from warehouse.db import connect

    con = connect(corpus_db, read_only=True)
    try:
        stored = dict(con.execute("SELECT article_id, count(*) FROM claims GROUP BY 1").fetchall())
    finally:
        con.close()
    assert per_article == stored
    assert sorted(rec.totals(progress.CLAIMS)) == sorted(stored.items())  # each article counted of its own claims
