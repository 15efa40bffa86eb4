"""The corpus embeddings kept on disk between processes (`corpus_matrix(..., store=...)`): the next
process reads the same matrix from one file instead of every row's vector from DuckDB, and a
changed corpus is read from DuckDB again, its old file removed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from factledger.corpus import ingest
from tests.conftest import EXAMPLES, ROOT
from warehouse.db import connect, query_sql

LOAD = """
import json, sys
from pathlib import Path
import numpy as np
from verifiers.providers import corpus_matrix
from warehouse.db import connect, query_sql
con = connect(sys.argv[1], read_only=True)
m = corpus_matrix(con, query_sql("corpus_vectors"), query_sql("corpus_fingerprint"), store=Path(sys.argv[2]))
np.save(sys.argv[3], np.asarray(m.vectors))
print(json.dumps({"from_disk": isinstance(m.vectors, np.memmap), "ids": m.ids}))
"""


def load_in_a_new_process(db, store, out) -> dict:
    proc = subprocess.run([sys.executable, "-c", LOAD, str(db), str(store), str(out)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=True)
    return {**json.loads(proc.stdout), "vectors": np.load(out)}


def from_duckdb(db) -> tuple[list[str], np.ndarray]:
    con = connect(db, read_only=True)
    try:
        cols = con.execute(query_sql("corpus_vectors")).fetchnumpy()
    finally:
        con.close()
    return [str(x) for x in cols["passage_id"]], np.stack(cols["embedding"]).astype(np.float32)


def test_the_next_process_reads_the_matrix_from_disk_until_the_corpus_changes(tmp_path, splitter, embedder):
    db, store = tmp_path / "c.duckdb", tmp_path / "store"
    con = connect(db)
    ingest(con, "corpus-1", [EXAMPLES / "corpus" / "landmarks.jsonl"], splitter, embedder)
    con.close()
    ids, vectors = from_duckdb(db)
    assert len(ids) > 10

    first = load_in_a_new_process(db, store, tmp_path / "1.npy")
    assert not first["from_disk"] and sorted(p.suffix for p in store.iterdir()) == [".ids", ".npy"]
    again = load_in_a_new_process(db, store, tmp_path / "2.npy")
    assert again["from_disk"]
    for got in (first, again):
        assert got["ids"] == ids and np.array_equal(got["vectors"], vectors)

    con = connect(db)  # the corpus changes: the stored matrix no longer answers for it
    ingest(con, "corpus-2", [EXAMPLES / "corpus" / "afghanistan.jsonl"], splitter, embedder)
    con.close()
    ids, vectors = from_duckdb(db)
    changed = load_in_a_new_process(db, store, tmp_path / "3.npy")
    assert not changed["from_disk"] and changed["ids"] == ids and np.array_equal(changed["vectors"], vectors)
    assert len(list(store.glob("*.npy"))) == 1  # the old corpus state's file is gone
    assert load_in_a_new_process(db, store, tmp_path / "4.npy")["from_disk"]
