from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factledger.errors import WarehouseError
from warehouse.ann import DIM, HnswParams, build_index, index_passages, load_index, save_index, search

N, QUERIES = 3000, 50


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 40 topic centres (text embeddings cluster; i.i.d. noise would not)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((40, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(N, seed=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(QUERIES, seed=2)  # held out: drawn from the same mixture, not in the index


def store_passages(db, vectors: np.ndarray) -> list[str]:
    """Passages of one corpus source with embeddings, plus one web passage without one."""
    ids = [f"p{i:05d}" for i in range(len(vectors))]
    db.execute("INSERT INTO sources (source_id, provider, url, fetched_at, fetch_status, status_reason, run_id) VALUES "
               "('corpus-src', 'corpus', 'corpus://a', now(), 'ok', 'ok', 'r1'), "
               "('web-src', 'web', 'https://example.org/', now(), 'ok', 'ok', 'r1')")
    frame = pd.DataFrame({"passage_id": ids, "embedding": list(vectors)})
    db.execute("INSERT INTO passages SELECT passage_id, 'corpus-src', 'text ' || passage_id, 0, 10, 'x', "
               "embedding::FLOAT[384], 'r1', NULL FROM frame")
    db.execute("INSERT INTO passages VALUES ('no-vector', 'web-src', 'web text', 0, 8, 'y', NULL, 'r1', NULL)")
    return ids


def recall(hits, truth_rows, ids) -> float:
    return float(np.mean([len({h.passage_id for h in hs} & {ids[r] for r in tr}) / 10 for hs, tr in zip(hits, truth_rows)]))


def test_index_over_the_passages_table_finds_the_exact_top_10(db, vectors, queries):
    ids = store_passages(db, vectors)
    index = index_passages(db, HnswParams(m=16, ef_construction=64, ef_search=64))
    assert len(index) == N and "no-vector" not in index.passage_ids
    hits = search(index, queries, k=10)
    truth = exact_top(vectors, queries)
    assert recall(hits, truth, ids) >= 0.95
    best = hits[0][0]
    assert best.score == pytest.approx(float(vectors[ids.index(best.passage_id)] @ queries[0]), abs=1e-4)
    assert [h.score for h in hits[0]] == sorted((h.score for h in hits[0]), reverse=True)
    assert len(index_passages(db, provider="corpus")) == N
    with pytest.raises(WarehouseError, match="provider web"):
        index_passages(db, provider="web")


def test_saved_index_loads_and_answers_the_same(tmp_path, vectors, queries):
    ids = [f"p{i}" for i in range(N)]
    index = build_index(vectors, ids, HnswParams(m=16, ef_construction=40, ef_search=32))
    folder = save_index(index, tmp_path / "ann")
    loaded = load_index(folder)
    assert loaded.params == index.params and loaded.passage_ids == index.passage_ids
    assert search(loaded, queries[:5]) == search(index, queries[:5])
    assert search(index, queries[0], k=3)[0][0].passage_id == ids[int(exact_top(vectors, queries[:1])[0, 0])]
    assert search(build_index(vectors[:0], []), queries[:2]) == [[], []]


def test_mismatched_or_missing_parts_are_refused(db, tmp_path, vectors):
    with pytest.raises(WarehouseError, match="no passages with embeddings"):
        index_passages(db)
    with pytest.raises(WarehouseError, match="2 vectors for 1 passage ids"):
        build_index(vectors[:2], ["a"])
    folder = save_index(build_index(vectors[:20], [f"p{i}" for i in range(20)]), tmp_path / "ann")
    (folder / "passage_ids.txt").write_text("p0\n", encoding="utf-8")
    with pytest.raises(WarehouseError, match="parts disagree"):
        load_index(folder)
    with pytest.raises(WarehouseError, match="cannot load"):
        load_index(tmp_path / "nowhere")
