"""Exports are written in a stable order: the same warehouse gives the same file, row for row."""

from __future__ import annotations

import json

import pytest

from factledger.cli import main
from warehouse.export import EXPORTABLE, ORDER_BY


@pytest.fixture()
def shuffled_db(tmp_path):
    """Runs and batch items inserted out of key order."""
    from warehouse.db import connect
    from warehouse.store import RunInfo, finish_run, record_batch_item, start_run

    db = tmp_path / "order.duckdb"
    con = connect(db)
    for run_id in ("run-c", "run-a", "run-d", "run-b"):
        start_run(con, RunInfo(run_id, "check-claim", "t", "e", "1", "s", "1", "c", "sp", ("corpus",)))
        finish_run(con, run_id)
    con.execute("UPDATE runs SET started_at = TIMESTAMPTZ '2025-01-01 00:00:00+00'")  # all tied: the id decides
    for url in ("https://z.example/1", "https://a.example/2", "https://m.example/3"):
        record_batch_item(con, "run-b", url, "list.txt", "failed", "http_404")
    con.execute("UPDATE batch_items SET recorded_at = TIMESTAMPTZ '2025-01-01 00:00:00+00'")
    con.close()
    return db


def test_every_exportable_has_an_order_and_exports(tmp_path, shuffled_db, capsys):
    assert set(EXPORTABLE) == set(ORDER_BY)
    for name in EXPORTABLE:  # each key names real columns of its view or table
        assert main(["export", "--view", name, "--out", str(tmp_path / f"{name}.csv"), "--db", str(shuffled_db)]) == 0, name
    capsys.readouterr()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_rows_come_out_in_key_order_every_time(tmp_path, shuffled_db, fmt, capsys):
    outs = []
    for i in range(2):
        for view in ("runs", "batch_items"):
            out = tmp_path / f"{view}-{i}.{fmt}"
            assert main(["export", "--view", view, "--format", fmt, "--out", str(out), "--db", str(shuffled_db)]) == 0
        outs.append([(tmp_path / f"{view}-{i}.{fmt}").read_bytes() for view in ("runs", "batch_items")])
    assert outs[0] == outs[1]
    runs_file, items_file = (tmp_path / f"runs-0.{fmt}"), (tmp_path / f"batch_items-0.{fmt}")
    if fmt == "csv":
        run_ids = [line.split(",")[0] for line in runs_file.read_text().splitlines()[1:]]
        urls = [line.split(",")[1] for line in items_file.read_text().splitlines()[1:]]
    else:
        run_ids = [json.loads(line)["run_id"] for line in runs_file.read_text().splitlines()]
        urls = [json.loads(line)["url"] for line in items_file.read_text().splitlines()]
    assert run_ids == ["run-a", "run-b", "run-c", "run-d"]
    assert urls == ["https://a.example/2", "https://m.example/3", "https://z.example/1"]
    capsys.readouterr()
