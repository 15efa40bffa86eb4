from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from factledger.errors import WarehouseError
from factledger.records import FetchStatus, Passage, Source
from warehouse.db import connect, fts_extension_path, load_fts, migrate, rebuild_fts
from warehouse.store import store_sources

VIEW_COLUMNS = ["run_id", "article_ref", "claim_id", "claim_text", "label", "confidence", "evidence_rank",
                "source_url", "passage_text", "passage_sha256", "fetched_at", "similarity", "stance",
                "input_id", "source_external_id"]  # columns are only ever added at the end: queries written against the view keep working


def test_migrations_are_recorded_and_idempotent(db):
    from importlib import resources

    files = sorted(f.name for f in (resources.files("warehouse") / "sql").iterdir() if f.name[:3].isdigit())
    recorded = db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [f"{v:03d}_{n}.sql" for v, n in recorded] == files
    assert recorded[0] == (1, "init")
    assert migrate(db) == []
    tables = {r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"runs", "articles", "claims", "sources", "passages", "evidence", "verdicts"} <= tables


def test_verdict_evidence_view_has_the_contracted_columns(db):
    cols = [r[0] for r in db.execute("DESCRIBE verdict_evidence").fetchall()]
    assert cols == VIEW_COLUMNS


def _fts_loaded(con) -> bool:
    return con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'fts'").fetchone()[0]


def test_fts_comes_from_the_packaged_file_on_demand_and_nothing_autoinstalls(db):
    assert fts_extension_path().is_file()
    assert db.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False
    assert not _fts_loaded(db)  # a connect does not pay for it; BM25 users load it
    load_fts(db)
    load_fts(db)  # idempotent
    assert _fts_loaded(db)


def test_views_are_recreated_only_when_views_sql_changed(db):
    db.execute("DROP VIEW verdict_evidence")
    assert migrate(db) == []  # views.sql unchanged since the last apply: left as they are
    assert not db.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'verdict_evidence'").fetchone()[0]
    db.execute("UPDATE schema_meta SET value = 'an older views.sql' WHERE key = 'views_sha256'")
    migrate(db)
    assert [r[0] for r in db.execute("DESCRIBE verdict_evidence").fetchall()] == VIEW_COLUMNS


def test_bm25_and_vector_search(db):
    src = Source(provider="corpus", url="https://example.org/a", fetched_at=datetime.now(UTC),
                 fetch_status=FetchStatus.OK, status_reason="ok", raw_sha256="0" * 64)
    texts = ["The harbour bridge opened in 2024.", "Apples grow on trees in orchards.", "Bridges span rivers."]
    vecs = [[1.0] + [0.0] * 383, [0.0, 1.0] + [0.0] * 382, [0.7, 0.7] + [0.0] * 382]
    passages = [Passage(src.source_id, t, i * 100, i * 100 + len(t), tuple(v)) for i, (t, v) in enumerate(zip(texts, vecs))]
    store_sources(db, "run-1", [src], passages)
    store_sources(db, "run-2", [src], passages)  # same content again: no duplicates
    assert db.execute("SELECT count(*) FROM passages").fetchone()[0] == 3
    rebuild_fts(db)
    hits = db.execute(
        "SELECT text FROM (SELECT text, fts_main_passage_search.match_bm25(passage_id, 'bridge') AS s FROM passages) "
        "WHERE s IS NOT NULL ORDER BY s DESC"
    ).fetchall()
    assert hits[0][0].startswith("The harbour bridge")
    top = db.execute(
        "SELECT text FROM passages ORDER BY array_cosine_similarity(embedding, ?::FLOAT[384]) DESC LIMIT 1",
        [[1.0] + [0.0] * 383],
    ).fetchone()[0]
    assert top.startswith("The harbour bridge")


def _page(title: str, url: str, texts: list[str]) -> tuple[Source, list[Passage]]:
    src = Source(provider="corpus", url=url, title=title, fetched_at=datetime.now(UTC),
                 fetch_status=FetchStatus.OK, status_reason="ok", raw_sha256=url.encode().hex()[:64].ljust(64, "0"))
    return src, [Passage(src.source_id, t, i * 100, i * 100 + len(t), tuple([float(i + 1)] + [0.0] * 383))
                 for i, t in enumerate(texts)]


def _bm25_hits(con, query: str) -> list[str]:
    import numpy as np

    from factledger.records import Claim
    from verifiers.providers import CorpusProvider

    claim = Claim(article_id="a", text=query, start=0, end=len(query), score=1.0)
    found = CorpusProvider(con).search_many([claim], np.zeros((1, 384), dtype=np.float32))[0]
    texts = {p.passage_id: p.text for p in found.passages}
    return [texts[pid] for pid, _ in sorted(found.lexical.items(), key=lambda kv: -kv[1])]


def test_bm25_finds_a_passage_by_the_title_of_its_page(db):
    keeling, kp = _page("Keeling Curve", "https://example.org/keeling", ["It was first measured in 1958 on Mauna Loa."])
    other, op = _page("Volcanoes", "https://example.org/volcanoes", ["Mauna Loa erupted in 1984, and it was measured."])
    store_sources(db, "run-1", [keeling, other], kp + op)
    rebuild_fts(db)
    assert db.execute("SELECT count(*) FROM passage_search").fetchone()[0] == 2
    # Both passages share "Mauna Loa" and "measured"; only the first page's title says "Keeling Curve".
    assert _bm25_hits(db, "The Keeling Curve was measured on Mauna Loa")[0].startswith("It was first measured")
    assert _bm25_hits(db, "Keeling Curve") == ["It was first measured in 1958 on Mauna Loa."]


def test_a_writer_rebuilds_a_bm25_index_built_by_an_older_version(db_path, caplog):
    con = connect(db_path)
    keeling, kp = _page("Keeling Curve", "https://example.org/keeling", ["It was first measured in 1958."])
    store_sources(con, "run-1", [keeling], kp)
    load_fts(con)  # what versions before migration 007 built: an index over passages alone
    con.execute("PRAGMA create_fts_index('passages', 'passage_id', 'text', overwrite=1)")
    con.close()
    with duckdb.connect(str(db_path)) as raw:
        assert raw.execute("SELECT count(*) FROM passage_search").fetchone()[0] == 0
    with caplog.at_level("WARNING", logger="warehouse.db"):
        con = connect(db_path)
    assert [r.message for r in caplog.records if "rebuilding the BM25 index" in r.message]
    try:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        assert "fts_main_passages" not in schemas and "fts_main_passage_search" in schemas
        assert _bm25_hits(con, "Keeling Curve") == ["It was first measured in 1958."]
    finally:
        con.close()


def test_read_only_connection_refuses_writes_and_files(db_path):
    connect(db_path).close()
    ro = connect(db_path, analyst=True)
    with pytest.raises(duckdb.Error):
        ro.execute("INSERT INTO runs (run_id, flow_name, started_at, status, code_version) VALUES ('x','f',now(),'s','v')")
    with pytest.raises(duckdb.Error):
        ro.execute("SELECT * FROM read_csv('/etc/passwd')")
    ro.close()


def test_missing_database_for_reading_and_directory(tmp_path):
    with pytest.raises(WarehouseError, match="no such database"):
        connect(tmp_path / "nope.duckdb", read_only=True)
    with pytest.raises(WarehouseError, match="is a directory"):
        connect(tmp_path)


def test_claim_latest_only_moves_forward_and_rebuilds_from_verdicts(db):
    """`latest_verdicts` reads claim_latest, which the store's upsert keeps at the latest
    (checked_at, run_id) of each claim; a rebuild from the verdicts gives the same rows."""
    from warehouse.db import query_sql
    from warehouse.store import rebuild_claim_latest

    db.execute("INSERT INTO claims (claim_id, text, checkworthiness, run_id) VALUES ('c1', 'A claim.', 1.0, 'r1')")

    def verdict(run, label, day):
        db.execute("INSERT INTO verdicts (run_id, claim_id, label, confidence, checked_at) "
                   "VALUES (?, 'c1', ?, 0.9, TIMESTAMPTZ '2026-03-01 00:00:00+00' + ?::INTEGER * INTERVAL 1 DAY)",
                   [run, label, day])
        db.execute(query_sql("claim_latest_upsert"), [run, ["c1"]])
        return db.execute("SELECT run_id, label FROM latest_verdicts WHERE claim_id = 'c1'").fetchall()

    assert verdict("r1", "supported", 1) == [("r1", "supported")]
    assert verdict("r3", "refuted", 3) == [("r3", "refuted")]
    assert verdict("r2", "conflicting", 2) == [("r3", "refuted")]  # an older run stored late does not win
    assert verdict("r4", "not_enough_evidence", 3) == [("r4", "not_enough_evidence")]  # same time: larger run id
    db.execute("DELETE FROM claim_latest")
    rebuild_claim_latest(db)
    assert db.execute("SELECT run_id, label FROM latest_verdicts").fetchall() == [("r4", "not_enough_evidence")]


def test_a_writer_closed_in_the_background_is_awaited_by_the_next_connection(tmp_path):
    """`close_soon` returns before DuckDB's checkpoint; any later connection of this process to the
    file waits for it, so a reader never meets DuckDB's one-configuration-per-process refusal."""
    import threading

    from warehouse.db import close_soon

    path = tmp_path / "w.duckdb"
    con = connect(path)
    store_sources(con, "r1", *_one_source())
    started, release = threading.Event(), threading.Event()

    class SlowClose:  # the real connection, whose close waits until the test lets it go
        def close(self):
            started.set()
            release.wait(10)
            con.close()

    close_soon(SlowClose(), path)
    assert started.wait(10)
    got = []
    reader = threading.Thread(target=lambda: got.append(connect(path, read_only=True)))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and not got  # still waiting for the writer to close
    release.set()
    reader.join(10)
    assert got and got[0].execute("SELECT count(*) FROM passages").fetchone()[0] == 1
    got[0].close()


def test_a_reader_waits_for_a_writer_open_in_another_thread_of_this_process(tmp_path):
    import threading

    path = tmp_path / "w.duckdb"
    writer = connect(path)
    store_sources(writer, "r1", *_one_source())
    threading.Timer(0.2, writer.close).start()
    reader = connect(path, read_only=True, lock_timeout=10)  # refused while the writer is open, then retried
    assert reader.execute("SELECT count(*) FROM passages").fetchone()[0] == 1
    reader.close()
    writer2 = connect(path)
    with pytest.raises(WarehouseError, match="cannot open database"):
        connect(path, read_only=True, lock_timeout=0.2)
    writer2.close()


def _one_source() -> tuple[list[Source], list[Passage]]:
    src = Source(provider="corpus", url="https://example.org/a", final_url="https://example.org/a", title=None,
                 fetched_at=datetime(2025, 1, 1, tzinfo=UTC), content_type=None, raw_sha256="a", text_sha256="a",
                 extractor="test", fetch_status=FetchStatus.OK, status_reason="ok")
    return [src], [Passage(src.source_id, "The bridge opened in 1932.", 0, 26, tuple([0.1] * 384))]


@pytest.mark.parametrize("value", ["O'Brien", "a\\b\\'c", "'; DROP TABLE runs; --", "tête-à-tête ''", "", None])
def test_sql_literal_reads_back_as_the_value_given(db, value):
    from warehouse.db import sql_literal

    assert db.execute(f"SELECT {sql_literal(value)}").fetchone()[0] == value
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0  # nothing ran but the SELECT
