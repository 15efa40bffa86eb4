"""The DuckDB warehouse: migrations, writers, analyst views (no Prefect here)."""

from warehouse.db import connect, migrate, query_sql, rebuild_fts
from warehouse.store import (
    RunInfo,
    finish_run,
    start_run,
    store_article_results,
    store_claim_results,
    store_sources,
)

__all__ = [
    "RunInfo",
    "connect",
    "finish_run",
    "migrate",
    "query_sql",
    "rebuild_fts",
    "start_run",
    "store_article_results",
    "store_claim_results",
    "store_sources",
]
