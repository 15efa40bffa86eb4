from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACTLEDGER_SHARED", ROOT.parent / "shared"))
SEED = SHARED / "seeds" / "000_cc55e849e0e8cc2e.txt"
EXAMPLES = ROOT / "examples"

os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def example_corpus(db: Path, splitter, embedder) -> Path:
    """`db` created with examples/corpus ingested in it (as `factledger corpus add examples/corpus`)."""
    from factledger.corpus import ingest
    from warehouse.db import connect

    con = connect(db)
    try:
        ingest(con, "corpus-test", [EXAMPLES / "corpus"], splitter, embedder)
    finally:
        con.close()
    return db


def need_shared(path: Path) -> Path:
    """Data from ../shared: a loud failure in CI when missing, a skip elsewhere."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"required shared data is missing in CI: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return need_shared(SEED)


@pytest.fixture(scope="session")
def splitter():
    from extractors.sentences import Splitter

    return Splitter()


@pytest.fixture(scope="session")
def embedder():
    from tests.fakes import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from verifiers.embed import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture()
def db_path(tmp_path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture()
def db(db_path):
    from warehouse.db import connect

    con = connect(db_path)
    yield con
    con.close()


@pytest.fixture()
def fetcher():
    from factledger.net import Fetcher

    f = Fetcher(timeout=(2.0, 2.0), retries=2, backoff=0.01, max_retry_after=2.0, min_interval=0,
                allow_loopback=True, obey_robots=False)
    yield f
    f.close()


@pytest.fixture(scope="session")
def prefect_harness():
    from flows._env import configure

    configure()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
