"""`factledger corpus add`: files, folders and JSON Lines into passages with embeddings and BM25."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Iterator, Sequence

import duckdb

from extractors.articles import HTML_SUFFIXES, TEXT_SUFFIXES, html_to_text, page_metadata, trafilatura_version
from extractors.sentences import Splitter
from factledger.errors import InputError
from factledger.records import FetchStatus, Passage, Source, sha256_bytes, sha256_text
from verifiers.embed import Embedder
from verifiers.evidence import premise
from warehouse.db import rebuild_fts
from warehouse.store import store_sources

__all__ = ["CorpusDoc", "IngestStats", "count_documents", "ingest", "iter_documents"]

log = logging.getLogger(__name__)
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    url: str
    title: str | None
    text: str
    raw: bytes
    extractor: str
    fetched_at: datetime
    external_id: str | None = None  # a JSON Lines record's "id"


@dataclass(frozen=True, slots=True)
class IngestStats:
    documents: int
    new_documents: int
    passages: int
    # (document URL, reason) for each document that yielded no passage: "empty_text",
    # "already_stored" (same URL and bytes as a stored document)
    skipped: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        """One line: `added N documents, M passages; K skipped: <reason> x n, ...`."""
        line = f"added {self.new_documents} documents, {self.passages} passages"
        if self.skipped:
            reasons = Counter(reason for _, reason in self.skipped)
            line += f"; {len(self.skipped)} skipped: " + ", ".join(f"{r} x {n}" for r, n in sorted(reasons.items()))
        return line


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES:
                yield f
    elif path.is_file():
        if path.suffix.lower() not in TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES:
            raise InputError(f"unsupported corpus file type {path.suffix or '(none)'} (use .txt, .md, .html, .jsonl): {path}")
        yield path
    else:
        raise InputError(f"no such file or folder: {path}")


def check_paths(paths: Sequence[str | Path]) -> None:
    """Refuse a missing path, an unsupported file type or an empty file, before any database is
    created or model loaded (InputError naming the path)."""
    for given in paths:
        files = list(_files(Path(given)))
        if Path(given).is_file() and Path(given).stat().st_size == 0:
            raise InputError(f"empty file: {given}")
        if not files:
            raise InputError(f"no .txt, .md, .html or .jsonl files in folder: {given}")


def count_documents(paths: Sequence[str | Path]) -> int:
    """How many documents `iter_documents` yields: a file each, a JSON Lines file one per
    non-blank line (read, not parsed)."""
    n = 0
    for given in paths:
        for f in _files(Path(given)):
            if f.suffix.lower() in JSONL_SUFFIXES:
                with f.open("rb") as fh:
                    n += sum(1 for line in fh if line.strip())
            else:
                n += 1
    return n


def iter_documents(paths: Sequence[str | Path]) -> Iterator[CorpusDoc]:
    """Every document under `paths`. A bad JSON line raises InputError naming file and line."""
    for given in paths:
        for f in _files(Path(given)):
            read_at = datetime.now(UTC)  # when FactLedger read the file (its fetch), not its mtime
            suffix = f.suffix.lower()
            if suffix in JSONL_SUFFIXES:
                yield from _jsonl_docs(f, read_at)
                continue
            raw = f.read_bytes()
            try:
                decoded = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InputError(f"not valid UTF-8 text: {f}") from exc
            if suffix in HTML_SUFFIXES:
                meta = page_metadata(decoded)
                yield CorpusDoc(meta["canonical"] or f.resolve().as_uri(), meta["title"], html_to_text(decoded),
                                raw, trafilatura_version(), read_at)
            else:
                yield CorpusDoc(f.resolve().as_uri(), None, decoded.strip(), raw, "plain", read_at)


def _jsonl_docs(f: Path, read_at: datetime) -> Iterator[CorpusDoc]:
    with f.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise InputError(f"invalid JSON on line {lineno}: {f}") from exc
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise InputError(f"line {lineno} has no \"text\" field: {f}")
            record_id = obj.get("id")
            if record_id is not None and (isinstance(record_id, bool) or not isinstance(record_id, (str, int))):
                raise InputError(f"line {lineno} has an \"id\" that is not a string or a whole number: {f}")
            external_id = None if record_id in (None, "") else str(record_id)
            url = obj.get("url") or f"{f.resolve().as_uri()}#{external_id or lineno}"
            yield CorpusDoc(str(url), obj.get("title"), obj["text"].strip(), raw.rstrip(b"\r\n"), "jsonl", read_at,
                            external_id)


def ingest(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    paths: Sequence[str | Path],
    splitter: Splitter,
    embedder: Embedder,
    *,
    batch_passages: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> IngestStats:
    """Split documents into sentence-sized passages, embed them, store, and rebuild the BM25 index.

    Page chrome is removed only from text extracted from HTML; a JSON Lines record, a .txt or .md
    file is the author's own text and is kept whole (a short record is one passage). Each passage
    carries its window (neighbouring text) for the stance model, and is embedded with its page
    title in front. Documents already stored (same URL and same bytes) or with no text are skipped
    and named in `IngestStats.skipped`; each batch is one transaction. `progress(done, total)`,
    when given, hears how many documents of all (`count_documents`) are done with: stored or
    skipped, after each batch and at the end.
    """
    total = count_documents(paths) if progress else 0
    existing = {row[0] for row in con.execute("SELECT source_id FROM sources WHERE provider = 'corpus'").fetchall()}
    docs = n_new = n_passages = 0
    skipped: list[tuple[str, str]] = []
    batch_sources: list[Source] = []
    batch_chunks: list[tuple[str | None, Passage]] = []

    def flush() -> None:
        nonlocal n_passages
        if not batch_sources:
            return
        vecs = embedder.encode([premise(title, p.text) for title, p in batch_chunks])
        passages = [replace(p, embedding=tuple(float(x) for x in v)) for (_, p), v in zip(batch_chunks, vecs, strict=True)]
        store_sources(con, run_id, batch_sources, passages)
        n_passages += len(passages)
        if progress:
            progress(docs, max(total, docs))
        batch_sources.clear()
        batch_chunks.clear()

    for doc in iter_documents(paths):
        docs += 1
        if not doc.text:
            skipped.append((doc.url, "empty_text"))
            continue
        source = Source(
            provider="corpus", url=doc.url, final_url=doc.url, title=doc.title, fetched_at=doc.fetched_at,
            content_type=None, raw_sha256=sha256_bytes(doc.raw), text_sha256=sha256_text(doc.text),
            extractor=doc.extractor, fetch_status=FetchStatus.OK, status_reason="ok", external_id=doc.external_id,
        )
        if source.source_id in existing:
            skipped.append((doc.url, "already_stored"))
            continue
        chunks = splitter.passages(source.source_id, doc.text, drop_boilerplate=doc.extractor not in ("jsonl", "plain"))
        if not chunks:
            skipped.append((doc.url, "empty_text"))
            continue
        existing.add(source.source_id)
        n_new += 1
        batch_sources.append(source)
        batch_chunks.extend((doc.title, c) for c in chunks)
        if len(batch_chunks) >= batch_passages:
            flush()
    flush()
    if progress:
        progress(docs, max(total, docs))
    if n_new:
        rebuild_fts(con)
    return IngestStats(documents=docs, new_documents=n_new, passages=n_passages, skipped=tuple(skipped))
