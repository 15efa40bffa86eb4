"""The editable, versioned source-credibility list: a CSV loaded into `source_credibility`."""

from __future__ import annotations

import csv
import io
import os
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from factledger.errors import InputError
from factledger.records import sha256_text

__all__ = ["BLOCK_CATEGORIES", "blocked_domains", "domain_of", "load_credibility"]

CATEGORIES = {"primary", "official", "wire", "outlet", "reference", "fact-checker", "blog", "social",
              "known-misinformation"}
BLOCK_CATEGORIES = {"known-misinformation"}


def _default_text() -> tuple[str, str]:
    custom = os.environ.get("FACTLEDGER_CREDIBILITY")
    if custom:
        p = Path(custom)
        if not p.is_file():
            raise InputError(f"no such credibility list: {custom}")
        return p.read_text(encoding="utf-8"), str(p)
    return (resources.files("factledger") / "data" / "credibility.csv").read_text(encoding="utf-8"), "builtin"


def load_credibility(con: duckdb.DuckDBPyConnection, text: str | None = None, origin: str = "builtin") -> str:
    """Load a list (domain,category,rationale) unless this exact version is loaded; return its version."""
    if text is None:
        text, origin = _default_text()
    version = sha256_text(text)[:12]
    if con.execute("SELECT count(*) FROM source_credibility WHERE list_version = ?", [version]).fetchone()[0]:
        return version
    rows = []
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        domain = (row.get("domain") or "").strip().lower()
        category = (row.get("category") or "").strip().lower()
        if not domain or category not in CATEGORIES:
            raise InputError(f"bad credibility row on line {i} (domain and one of {sorted(CATEGORIES)}): {origin}")
        rows.append((domain, category, (row.get("rationale") or "").strip(), version))
    con.executemany("INSERT OR REPLACE INTO source_credibility (domain, category, rationale, list_version) "
                    "VALUES (?, ?, ?, ?)", rows)
    return version


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def blocked_domains(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT domain FROM current_source_credibility WHERE category IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(BLOCK_CATEGORIES)],
    ).fetchall()
    return {r[0] for r in rows}
