"""`corpus add` keeps every document: a JSON Lines record's own text is never page chrome."""

import json
import subprocess
import sys

from tests.conftest import ROOT, SHARED, need_shared

from factledger.corpus import ingest


def _averitec_records():
    path = need_shared(SHARED / "data" / "averitec-dev-a" / "claims.jsonl")
    from training.verdict import averitec_evidence_records

    claims = [json.loads(line) for line in path.open(encoding="utf-8")]
    return averitec_evidence_records(claims)


def test_every_averitec_evidence_item_becomes_a_passage(db, splitter, embedder, tmp_path):
    records = _averitec_records()
    assert len(records) == 710
    corpus = tmp_path / "evidence.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    stats = ingest(db, "corpus", [corpus], splitter, embedder)
    assert stats.documents == 710 and not stats.skipped
    per_doc = dict(db.execute("""SELECT s.url || '|' || s.title, count(p.passage_id) FROM sources s
                                 LEFT JOIN passages p USING (source_id) GROUP BY ALL""").fetchall())
    assert stats.new_documents == db.execute("SELECT count(*) FROM sources").fetchone()[0] == 710
    assert min(per_doc.values()) >= 1
    # the short answers ("No", "$7.25 per hour") are among them, with their question in front
    short = db.execute("""SELECT count(*) FROM passages WHERE length(text) - length(split_part(text, '?', 1)) < 12
                          AND text LIKE '%?%'""").fetchone()[0]
    assert short > 0


def test_documents_that_yield_nothing_are_named_and_counted(db, splitter, embedder, tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "a", "url": "https://a.example/1", "text": "No"}) + "\n"
                      + json.dumps({"id": "b", "url": "https://b.example/2", "text": "   "}) + "\n", encoding="utf-8")
    stats = ingest(db, "corpus", [corpus], splitter, embedder)
    assert (stats.new_documents, stats.skipped) == (1, (("https://b.example/2", "empty_text"),))
    assert stats.summary() == "added 1 documents, 1 passages; 1 skipped: empty_text x 1"
    again = ingest(db, "corpus-2", [corpus], splitter, embedder)
    assert again.new_documents == 0 and ("https://a.example/1", "already_stored") in again.skipped


def test_cli_corpus_add_fails_when_nothing_at_all_is_added(tmp_path):
    corpus = tmp_path / "empty-texts.jsonl"
    corpus.write_text(json.dumps({"id": "x", "text": ""}) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "factledger.cli", "corpus", "add", str(corpus),
                          "--db", str(tmp_path / "x.duckdb")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1, out.stderr
    assert "0 documents, 0 passages; 1 skipped: empty_text x 1" in out.stdout
    assert "skipped (empty_text)" in out.stderr


def test_corpus_add_refuses_a_missing_or_empty_path_before_creating_the_database(tmp_path):
    from factledger.cli import main

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    for bad in (tmp_path / "missing.jsonl", empty):
        db = tmp_path / "never.duckdb"
        assert main(["corpus", "add", str(bad), "--db", str(db)]) == 2  # refused before anything started (exit code 2, issue 23)
        assert not db.exists()


def test_each_records_id_is_kept_as_the_sources_external_id(db, splitter, embedder, tmp_path):
    corpus = tmp_path / "ids.jsonl"
    corpus.write_text(json.dumps({"id": "ev-17", "url": "https://a.example/page", "text": "The bridge opened in 1932."})
                      + "\n" + json.dumps({"id": 42, "text": "Oslo is the capital of Norway."})
                      + "\n" + json.dumps({"text": "A record without an id stays without one."}) + "\n",
                      encoding="utf-8")
    ingest(db, "corpus", [corpus], splitter, embedder)
    rows = db.execute("SELECT url, external_id FROM sources ORDER BY url").fetchall()
    assert rows == [(f"{corpus.resolve().as_uri()}#3", None), (f"{corpus.resolve().as_uri()}#42", "42"),
                    ("https://a.example/page", "ev-17")]
    # queryable through the analyst views too
    assert db.execute("SELECT url FROM source_domains WHERE external_id = 'ev-17'").fetchall() == [("https://a.example/page",)]
    # and read back with the passages a check finds, so the output can show it beside the source
    from extractors.claims import claims_from_texts
    from verifiers.providers import CorpusProvider

    (claim,) = claims_from_texts(["The bridge opened in 1932."])
    (found,) = CorpusProvider(db).search_many([claim], embedder.encode([claim.text]))
    assert {s.url: s.external_id for s in found.sources}.get("https://a.example/page") == "ev-17"


def test_a_record_id_that_is_not_a_string_or_number_is_refused_naming_the_line(db, splitter, embedder, tmp_path):
    import pytest

    from factledger.errors import InputError

    corpus = tmp_path / "bad-id.jsonl"
    corpus.write_text(json.dumps({"id": "ok", "text": "Fine."}) + "\n" + json.dumps({"id": ["x"], "text": "Bad."}) + "\n",
                      encoding="utf-8")
    with pytest.raises(InputError, match=r'^line 2 has an "id" that is not a string or a whole number: .*bad-id\.jsonl$'):
        ingest(db, "corpus", [corpus], splitter, embedder)


def test_a_local_files_passages_carry_the_time_it_was_read_as_fetched_at(db, splitter, embedder, tmp_path):
    import os
    from datetime import UTC, datetime

    txt, jsonl = tmp_path / "note.txt", tmp_path / "records.jsonl"
    txt.write_text("The harbour bridge opened to traffic in 1932.", encoding="utf-8")
    jsonl.write_text(json.dumps({"id": "r1", "text": "Oslo is the capital of Norway."}) + "\n", encoding="utf-8")
    old = datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    for f in (txt, jsonl):  # files last modified long ago: their mtime is not when they were read
        os.utime(f, (old, old))
    before = datetime.now(UTC)
    ingest(db, "corpus", [txt, jsonl], splitter, embedder)
    after = datetime.now(UTC)
    rows = db.execute("""SELECT s.url, s.fetched_at, count(p.passage_id) FROM sources s
                         JOIN passages p USING (source_id) GROUP BY ALL ORDER BY s.url""").fetchall()
    assert [url for url, *_ in rows] == sorted([txt.resolve().as_uri(), f"{jsonl.resolve().as_uri()}#r1"])
    assert all(before <= fetched.astimezone(UTC) <= after for _, fetched, _ in rows), rows
    assert all(n >= 1 for *_, n in rows)
