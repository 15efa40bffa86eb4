"""The `factledger` command: a thin layer over the library and the flows.

Exit codes: 0 done; 1 the work failed (a run, a query, some articles of a batch); 2 the input was
refused before anything started (argparse errors too); 130 / 143 stopped by SIGINT / SIGTERM.
Every check of the input runs before a model loads or Prefect starts, and every error is one line
on stderr (`--debug` adds the traceback). Only light modules are imported at the top.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Sequence

from factledger import __version__
from factledger.errors import ConfigError, ExtractionError, FactLedgerError, InputError, TransientFetchError
from factledger.settings import PROVIDERS, Limits, default_db_path

__all__ = ["main", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# A run asked to stop (SIGINT, SIGTERM) gets this long to reach its next check (between claims,
# before a store) and record itself as cancelled; after it the process records the cancellation
# itself and ends. Chosen so that stopping takes well under 10 s, store and exit included.
STOP_GRACE_S = 3.0
# A check that the service answers is cancelled there (`_service_call`) and stops at its next
# check; the CLI waits this long for the service to say so, then ends all the same (the service
# still records the run as cancelled when it gets there). Chosen: a stop "within seconds".
SERVICE_STOP_WAIT_S = 10.0


# Each trainer is a module `training.<name>` (a package the product never imports) with `run(argv: list[str]) -> int`.
TRAINERS = {
    "checkworthiness": "train the check-worthiness classifier (writes models/checkworthiness/)",
    "stance": "fine-tune the stance cross-encoder from MiniLM (writes models/stance/)",
    "reader": "fine-tune the evidence reader from the stance model on real fact-checked claims (writes models/reader/)",
    "verdict": "fit the claim-level verdict aggregator on real fact-checked claims (writes models/verdict/)",
}


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return n


def _positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return x


def _add_max_article(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-article-mb", type=_positive_float, default=None, metavar="MB",
                   help=f"refuse an article whose text is larger (default: $FACTLEDGER_MAX_ARTICLE_MB or "
                        f"{Limits().max_article_mb:g})")


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from None


def _device(value: str) -> str:
    v = value.strip().lower()
    if v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit()):
        return v
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N: {value}")


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", type=_device, default=None, metavar="{auto,cpu,cuda,cuda:N}",
                   help="where the models run (default: $FACTLEDGER_DEVICE or auto: CUDA when torch sees a GPU)")


def _add_runner(p: argparse.ArgumentParser) -> None:
    _add_device(p)
    p.add_argument("--runner", choices=("thread", "dask"), default=None,
                   help="where the tasks run: thread (default: this process) or dask (a Dask cluster; "
                        "a temporary local one without --dask-address)")
    p.add_argument("--dask-address", default=None, metavar="tcp://HOST:8786",
                   help="the scheduler of a running Dask cluster (implies --runner dask)")


def _add_local(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true",
                   help="check in this process even when a `factledger serve` for this database is running")
    p.add_argument("--prefect", action="store_true",
                   help="check in this process as a Prefect flow run (starts Prefect's embedded API unless "
                        "$PREFECT_API_URL names a server); implied by --runner dask and by $PREFECT_API_URL")


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, help="DuckDB file (default: $FACTLEDGER_DB or ./factledger.duckdb)")


def _add_providers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", action="append", dest="providers", metavar="NAME",
                   help="source provider, repeatable: corpus (default), wikipedia, factchecks, gdelt, searxng, urls")
    p.add_argument("--url", action="append", dest="urls", default=[], metavar="URL",
                   help="a candidate source page, repeatable (adds the urls provider)")
    p.add_argument("--before", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                   help="ignore sources published after this date (the claim's or article's date)")
    p.add_argument("--wikipedia-api", default=None, metavar="URL",
                   help="MediaWiki API endpoint (default: $FACTLEDGER_WIKIPEDIA_API or en.wikipedia.org)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factledger", description="Fact-check articles and claims with provenance.")
    parser.add_argument("--version", action="version", version=f"factledger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the full traceback (and Prefect's own error logs)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="extract check-worthy claims from an article and verify them")
    p.add_argument("article", help="a .txt/.md/.html file or an http(s) URL")
    p.add_argument("--max-claims", type=_positive_int, default=None,
                   help=f"verify at most N claims, best first (default: $FACTLEDGER_MAX_CLAIMS_PER_ARTICLE or "
                        f"{Limits().max_claims_per_article}, with a warning when more were found)")
    _add_max_article(p)
    _add_db(p)
    _add_providers(p)
    _add_runner(p)
    _add_local(p)

    p = sub.add_parser("check-claim", help="verify one claim, or a file of claims, typed in by hand")
    p.add_argument("text", nargs="?", help="the claim")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="claims, one per line or JSON Lines with a \"claim\" field")
    _add_db(p)
    _add_providers(p)
    _add_runner(p)
    _add_local(p)

    p = sub.add_parser("corpus", help="manage the local evidence corpus")
    corpus_sub = p.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    pa = corpus_sub.add_parser("add", help="ingest .txt/.md/.html files, folders and JSON Lines")
    pa.add_argument("paths", nargs="+", metavar="PATH")
    pa.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_db(pa)
    _add_device(pa)

    p = sub.add_parser("export", help="export a view or table (CSV, Parquet, JSON Lines), ClaimReview JSON-LD, or "
                                      "the reviewed (claim, passage, label) pairs for training")
    p.add_argument("--format", choices=("csv", "parquet", "jsonl", "claimreview", "training"), default="csv",
                   help="training: the reviewed pairs as JSON Lines in the nli-train schema (--view is not used)")
    p.add_argument("--view", default="verdict_evidence", help="view or table to export (default: verdict_evidence)")
    p.add_argument("--out", required=True, metavar="PATH", help="output file")
    p.add_argument("--article", default=None, help="claimreview: only this article (ref, URL or id)")
    p.add_argument("--publisher", default="FactLedger (draft)", help="claimreview: the reviewing organisation")
    p.add_argument("--review-base-url", default="https://factcheck.example.org/reviews/",
                   help="claimreview: where the published reviews will live")
    _add_db(p)

    p = sub.add_parser("review", help="the review desk: list the claims waiting for a person (--queue), or record "
                                      "a person's verdict on a claim (CLAIM_ID --verdict LABEL --note TEXT)")
    p.add_argument("claim_id", nargs="?", metavar="CLAIM_ID", help="the claim reviewed (claims.claim_id)")
    p.add_argument("--queue", action="store_true", help="list the claims waiting for review, most urgent first")
    p.add_argument("--limit", type=_positive_int, default=None, help="--queue: at most N claims")
    p.add_argument("--verdict", default=None, metavar="LABEL",
                   help="the verdict: supported, refuted, not_enough_evidence or conflicting")
    p.add_argument("--note", default=None, metavar="TEXT", help="why: what the verdict rests on")
    p.add_argument("--reviewer", default=None, metavar="NAME", help="who decides (default: the login name)")
    p.add_argument("--run", default=None, metavar="RUN_ID",
                   help="the run of the verdict reviewed (default: the claim's latest); refused if the claim was "
                        "re-checked since")
    p.add_argument("--relied", action="append", default=[], metavar="PASSAGE",
                   help="a passage relied on: its evidence rank (#1) or passage id, repeatable")
    p.add_argument("--rejected", action="append", default=[], metavar="PASSAGE",
                   help="a passage rejected as irrelevant or wrong: its evidence rank or passage id, repeatable")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    _add_db(p)
    _add_local(p)

    p = sub.add_parser("report", help="write a self-contained HTML report of one checked article")
    p.add_argument("article", help="the article's path, URL or id as stored")
    p.add_argument("--out", required=True, metavar="PATH", help="output .html file")
    _add_db(p)

    p = sub.add_parser("batch", help="check the new articles of feeds and URL lists once, now")
    p.add_argument("--feed", action="append", dest="feeds", default=[], metavar="URL", help="RSS/Atom feed, repeatable")
    p.add_argument("--url-list", action="append", dest="url_lists", default=[], metavar="FILE_OR_URL",
                   help="file or URL with one article URL (or path) per line, repeatable")
    p.add_argument("--max-articles", type=_positive_int, default=50, help="articles per run at most")
    p.add_argument("--max-claims", type=_positive_int, default=None,
                   help=f"verify at most N claims per article, best first (default: "
                        f"$FACTLEDGER_MAX_CLAIMS_PER_ARTICLE or {Limits().max_claims_per_article})")
    _add_max_article(p)
    p.add_argument("--provider", action="append", dest="providers", metavar="NAME", help="source provider, repeatable")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_db(p)
    _add_runner(p)

    p = sub.add_parser("serve", help="answer checks over HTTP with the models loaded, and serve the Prefect "
                                     "deployments: scheduled batch, manual checks, re-checks")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8765, help="port of the check API (default: 8765; 0: any free port)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that is not a loopback address (other machines; the token is still required)")
    p.add_argument("--no-deployments", action="store_true",
                   help="only the check API: do not register or serve the Prefect deployments")
    p.add_argument("--feed", action="append", dest="feeds", default=[], metavar="URL", help="RSS/Atom feed, repeatable")
    p.add_argument("--url-list", action="append", dest="url_lists", default=[], metavar="FILE_OR_URL",
                   help="file or URL with one article URL per line, repeatable")
    p.add_argument("--cron", default="0 * * * *", help="batch schedule (default: hourly)")
    p.add_argument("--recheck-cron", default="30 3 * * *", help="re-check schedule (default: daily 03:30)")
    p.add_argument("--recheck-days", type=float, default=7.0, help="re-check claims whose verdict is older than this")
    p.add_argument("--max-articles", type=_positive_int, default=50, help="articles per batch run at most")
    p.add_argument("--provider", action="append", dest="providers", metavar="NAME", help="source provider, repeatable")
    _add_db(p)
    _add_runner(p)

    p = sub.add_parser("train", help="train one of FactLedger's own models from ../shared/data")
    train_sub = p.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    for name, helptext in TRAINERS.items():
        pt = train_sub.add_parser(name, help=helptext, add_help=False)
        pt.add_argument("train_args", nargs=argparse.REMAINDER, help="options of the trainer (--help)")

    p = sub.add_parser("sql", help="run a read-only SQL query against the warehouse")
    p.add_argument("query")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_db(p)
    return parser


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[Sequence], width: int = 60) -> str:
    def cell(v) -> str:
        s = "" if v is None else str(v).replace("\n", " ")
        return s if len(s) <= width else s[: width - 1] + "…"

    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


# Width of the results when stdout is not a terminal (a file, a pipe): long text wraps to it.
PLAIN_WIDTH = 100


def _output_width() -> int:
    import shutil

    return max(40, shutil.get_terminal_size((PLAIN_WIDTH, 24)).columns) if sys.stdout.isatty() else PLAIN_WIDTH


def format_results(rows: Sequence[dict], width: int = PLAIN_WIDTH) -> str:
    """The results of a check as text, one block per claim: its verdict, confidence and review
    flag, the rationale, and the deciding passages (those the verdict rests on, numbered by their
    evidence rank as the rationale names them), each with its source. Long text wraps to `width`;
    nothing is cut."""
    import textwrap

    def wrapped(label: str, text: str, indent: int, hang: int | None = None) -> list[str]:
        """`label` + `text` at `indent`, continued under the text (or at `hang`); a word longer than
        the line (a URL) is kept whole."""
        head = " " * indent + label
        return textwrap.wrap(" ".join(str(text).split()), width=width, initial_indent=head,
                             subsequent_indent=" " * (len(head) if hang is None else hang), break_long_words=False,
                             break_on_hyphens=False) or [head.rstrip()]

    blocks = []
    for number, r in enumerate(rows, start=1):
        review = "yes" if r.get("needs_review") else "no"
        lines = [f"{r.get('rank') or number}. {r['label'].replace('_', ' ').upper()}  "
                 f"confidence {r['confidence']:.2f}  needs review: {review}"]
        lines += wrapped("claim: ", r["claim"], 3)
        if r.get("input_id"):
            lines += wrapped("id: ", r["input_id"], 3)
        for f in r.get("fact_checks") or ():
            lines += wrapped("published fact-check: ", f"{f['publisher']}: {f['rating']} ({f['url']})", 3)
        lines += wrapped("why: ", r.get("rationale") or "", 3)
        deciding = r.get("deciding") or []
        if not deciding:
            lines.append("   deciding passages: none")
        else:
            lines.append("   deciding passages:")
            for d in deciding:
                source = d["source_url"] + (f" (id {d['source_external_id']})" if d.get("source_external_id") else "")
                lines += wrapped("", f"#{d['rank']} {d['stance']} (similarity {d['similarity']:.2f}): {source}", 5,
                                 hang=8)
                lines += wrapped("", f"\u201c{d['passage']}\u201d", 8)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _print_results(rows: list[dict], fmt: str) -> None:
    _print_rows(rows, fmt, "No check-worthy claims found.", lambda: format_results(rows, _output_width()))


def _print_rows(rows: list[dict], fmt: str, empty: str, text: Callable[[], str]) -> None:
    """`rows` as JSON, or `text()` (`empty` when there are none)."""
    if fmt == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=_jsonable))
    else:
        print(text() if rows else empty)


def _providers(args) -> list[str]:
    names = list(args.providers or ["corpus"])
    if getattr(args, "urls", None) and "urls" not in names:
        names.append("urls")
    return names


# Checks of the input. They run before any model loads or Prefect starts, import nothing heavy,
# and raise InputError naming the input (exit code 2).

def _check_url(url: str, what: str = "URL") -> None:
    """An http(s) URL with a host, no spaces, a valid port."""
    from urllib.parse import urlsplit

    if any(c.isspace() for c in url) or any(ord(c) < 32 for c in url):
        raise InputError(f"not a valid {what} (it contains spaces): {url}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError:
        raise InputError(f"not a valid {what}: {url}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"not an http(s) {what}: {url}")
    if not parts.hostname:
        raise InputError(f"not a valid {what} (no host): {url}")


def _check_readable_file(path: str | Path, what: str = "file") -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such {what}: {path}")
    if p.is_dir():
        raise InputError(f"is a directory, not a {what}: {path}")
    if not os.access(p, os.R_OK):
        raise InputError(f"{what} is not readable: {path}")
    return p


def _check_db_for_writing(db: Path) -> None:
    """The database can be opened for writing, or created: DuckDB also writes `<db>.wal` beside it."""
    if db.is_dir():
        raise InputError(f"is a directory, not a database file: {db}")
    parent = db.parent
    if not parent.is_dir():
        raise InputError(f"database directory does not exist: {db}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"database directory is not writable: {db}")
    if db.exists() and not os.access(db, os.R_OK | os.W_OK):
        raise InputError(f"database is not writable: {db}")
    _check_writer_settings()


def _check_writer_settings() -> None:
    """What every writer connection reads: a custom source-credibility list."""
    custom = os.environ.get("FACTLEDGER_CREDIBILITY")
    if custom:
        _check_readable_file(custom, "credibility list (FACTLEDGER_CREDIBILITY)")


def _check_db_for_reading(db: Path) -> None:
    if not db.exists():
        raise InputError(f"no such database: {db}")
    _check_readable_file(db, "database file")


def _check_output_file(out: Path) -> None:
    if out.is_dir():
        raise InputError(f"is a directory, not an output file: {out}")
    if not out.parent.is_dir():
        raise InputError(f"output directory does not exist: {out}")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InputError(f"output directory is not writable: {out}")
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError(f"output file is not writable: {out}")


# The variables verifiers.web reads the fact-check API key from (FACTCHECK_KEY_VARS; a test pins the two).
FACTCHECK_KEY_VARS = ("FACTLEDGER_FACTCHECK_API_KEY", "GOOGLE_FACTCHECK_API_KEY")


def _check_providers(args) -> None:
    """Known names; what each named provider needs (a ConfigError for a missing setting, as the
    provider itself would raise once the run had started)."""
    names = _providers(args)
    for name in names:
        if name not in PROVIDERS:
            raise InputError(f"unknown provider (choose from {', '.join(PROVIDERS)}): {name}")
    if "searxng" in names:
        if not os.environ.get("FACTLEDGER_SEARXNG_URL"):
            raise ConfigError("missing SearXNG address for the searxng provider: set FACTLEDGER_SEARXNG_URL")
        _check_url(os.environ["FACTLEDGER_SEARXNG_URL"], "FACTLEDGER_SEARXNG_URL")
    if "factchecks" in names and not any(os.environ.get(v) for v in FACTCHECK_KEY_VARS):
        raise ConfigError(f"missing API key for the factchecks provider: set {FACTCHECK_KEY_VARS[0]}")
    if "urls" in names and not getattr(args, "urls", None):
        raise InputError("the urls provider needs at least one --url URL")
    for url in getattr(args, "urls", None) or ():
        _check_url(url, "--url")
    if getattr(args, "wikipedia_api", None):
        _check_url(args.wikipedia_api, "--wikipedia-api URL")


def _check_runner(args) -> None:
    """Refuse a runner choice that cannot work (a ConfigError, as `flows.runners` would raise), and
    a `--device` this machine does not have (only when one is named: torch is heavy to import)."""
    runner, address = _runner(args)
    if runner == "thread" and address:
        raise ConfigError(f"--dask-address needs --runner dask ({address})")
    if args.device not in (None, "auto", "cpu"):
        from verifiers.embed import resolve_device

        resolve_device(args.device)


def _db(args) -> Path:
    return Path(args.db) if args.db else default_db_path()


def _prepare_check(args) -> None:
    _check_runner(args)
    _check_db_for_writing(_db(args))
    _check_providers(args)
    limits = Limits.from_env(max_article_mb=args.max_article_mb)
    ref = args.article
    fetcher = None
    if "://" in ref:
        _check_url(ref, "article URL")
        from factledger.app import default_fetcher

        fetcher = default_fetcher()
    from extractors.articles import load_article

    article = load_article(ref, fetcher)  # type, size, encoding, text, language; a URL is fetched once
    limits.check_article_text(article.text, ref)
    args.loaded = {"article": article, "fetcher": fetcher}


def _prepare_check_claim(args) -> None:
    _check_runner(args)
    _check_db_for_writing(_db(args))
    _check_providers(args)
    limits = Limits.from_env()
    given: list[tuple[str | None, str]] = []
    if args.text is not None:
        limits.check_claim_text(args.text)
        given.append((None, args.text))
    if args.from_file:
        from factledger.app import read_claims_file

        p = _check_readable_file(args.from_file, "claims file")
        size = p.stat().st_size
        if size > limits.max_article_mb * 1_000_000:
            raise InputError(f"claims file too large ({size / 1_000_000:.3g} MB, limit {limits.max_article_mb:g} MB; "
                             f"FACTLEDGER_MAX_ARTICLE_MB): {args.from_file}")
        claims = read_claims_file(args.from_file)
        for i, (_, text) in enumerate(claims, start=1):
            limits.check_claim_text(text, label=f"claim {i} ({text.strip()!r})", source=args.from_file)
        given += claims
    if not given:
        raise InputError("no claim given (pass TEXT or --from FILE)")
    args.loaded = {"claims": given}


def _prepare_batch(args) -> None:
    _check_runner(args)
    if not args.feeds and not args.url_lists:
        raise InputError("nothing to do: give --feed URL or --url-list FILE")
    for feed in args.feeds:
        _check_url(feed, "feed URL")
    for lst in args.url_lists:
        if "://" in lst:
            _check_url(lst, "URL list")
        else:
            _check_readable_file(lst, "URL list file")
    _check_db_for_writing(_db(args))
    _check_providers(args)
    Limits.from_env(max_article_mb=args.max_article_mb)  # a bad $FACTLEDGER_* value is refused now


def _prepare_corpus_add(args) -> None:
    from factledger.corpus import check_paths

    for given in args.paths:
        p = Path(given)
        if p.exists() and not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
            raise InputError(f"not readable: {given}")
    check_paths(args.paths)  # missing, unsupported type, empty: before the database is created or a model loads
    _check_db_for_writing(_db(args))


def _prepare_report(args) -> None:
    if not args.article.strip():
        raise InputError("no article given (its path, URL or id as stored)")
    _check_output_file(Path(args.out))
    _check_db_for_reading(_db(args))


def _prepare_export(args) -> None:
    _check_output_file(Path(args.out))
    _check_db_for_reading(_db(args))


def _prepare_review(args) -> None:
    from warehouse.reviews import check_label, check_text

    if args.queue:
        given = [o for o, v in (("CLAIM_ID", args.claim_id), ("--verdict", args.verdict), ("--note", args.note),
                                ("--reviewer", args.reviewer), ("--run", args.run), ("--relied", args.relied),
                                ("--rejected", args.rejected)) if v]
        if given:
            raise InputError(f"--queue lists the queue; it takes no {given[0]}")
    else:
        if not args.claim_id:
            raise InputError("no claim given (factledger review CLAIM_ID --verdict LABEL --note TEXT, or --queue)")
        if args.limit:
            raise InputError(f"--limit goes with --queue ({args.limit})")
        if args.verdict is None:
            raise InputError(f"no verdict given for claim {args.claim_id} (--verdict LABEL)")
        check_label(args.verdict)
        if args.reviewer is None:
            import getpass

            args.reviewer = getpass.getuser()
        check_text(args.note or "", args.reviewer)
    _check_db_for_reading(_db(args))


def _prepare_serve(args) -> None:
    _check_runner(args)
    if not 0 <= args.port <= 65535:
        raise InputError(f"not a port number (0-65535): {args.port}")
    from factledger.client import is_loopback

    if not args.allow_remote and not is_loopback(args.host):
        raise InputError(f"not a loopback address; pass --allow-remote to serve other machines: {args.host}")
    _check_db_for_writing(_db(args))
    _check_providers(args)


PREPARE: dict[str, Callable[[Any], None]] = {
    "check": _prepare_check, "check-claim": _prepare_check_claim, "batch": _prepare_batch,
    "corpus": _prepare_corpus_add, "report": _prepare_report, "export": _prepare_export,
    "serve": _prepare_serve, "review": _prepare_review,
}


def _runtime(args, **given):
    """The models and clients of this process, on `--device` (a missing GPU is a ConfigError here,
    before Prefect starts)."""
    from factledger.app import Runtime

    return Runtime(wikipedia_api=getattr(args, "wikipedia_api", None), device=args.device, **given)


def _runner(args) -> tuple[str, str | None]:
    return args.runner or ("dask" if args.dask_address else "thread"), args.dask_address


def _run(args, flow, **params):
    """Run a flow on the chosen task runner; tasks on Dask workers build their own models on `--device`."""
    from flows.runners import run_flow

    if not (args.verbose or args.debug):
        _hide_prefect_logs()
    runner, address = _runner(args)
    return run_flow(flow, runner, address, device=args.device, **params)


def _hide_prefect_logs() -> None:
    """Keep Prefect's own log lines (a failed run's "Finished in state Failed", its traceback) off
    the terminal, whatever $PREFECT_LOGGING_LEVEL says: this command reports the failure in one line
    with the run id. They still reach the Prefect API, where the run id finds them."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _NotPrefect) for f in handler.filters):
            handler.addFilter(_NotPrefect())


class _NotPrefect(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "prefect" or record.name.startswith("prefect.")) or record.levelno >= logging.CRITICAL


class _Stopped(BaseException):
    """A signal (SIGINT, SIGTERM) arrived before a run started: end now, nothing to record."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signum)


def _signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _stoppable(work: Callable[[], Any]) -> Any:
    """Run `work` (load the models, run a flow) in a thread while this one waits for SIGINT or
    SIGTERM. On a signal the run is asked to stop (`flows.stopping`): it stops at its next check
    and records itself as cancelled; after STOP_GRACE_S the cancellation is recorded from here
    and the process ends (exit code 128 + the signal's number), within seconds whatever the run
    was doing. Nothing half-written stays: each store is one transaction, and no store starts
    after the stop."""
    import contextvars
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return work()  # signals reach only the main thread: nothing to wait for here
    from flows import stopping

    stopping.reset()
    box: dict[str, Any] = {}
    context = contextvars.copy_context()  # Prefect's settings (a test harness, a temporary API) go along

    def target() -> None:
        try:
            box["value"] = context.run(work)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    received: list[int] = []

    def on_signal(signum, frame) -> None:
        received.append(signum)
        stopping.request_stop(_signal_name(signum))

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        thread = threading.Thread(target=target, name="factledger-run", daemon=True)
        thread.start()
        while thread.is_alive() and not received:
            thread.join(0.1)
        if received:
            _stop_run(thread, received)  # does not return
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _stop_run(thread, received: list[int]) -> None:
    import time

    from flows import stopping

    signum = received[0]
    name = _signal_name(signum)
    deadline = time.monotonic() + STOP_GRACE_S
    _bars_off()
    # Wait for the run to stop at its next check, while one is recorded as running (a second
    # signal: no more waiting); a run begun meanwhile is cancelled below all the same.
    while thread.is_alive() and time.monotonic() < deadline and len(received) == 1 and stopping.open_runs():
        thread.join(0.1)
    cancelled, missed = stopping.cancel_open_runs(name)
    if missed:
        msg = f"stopped by {name}; could not record the run as cancelled (database busy): {', '.join(missed)}"
    elif cancelled:
        msg = f"stopped by {name}; run cancelled, nothing half-written stored: {', '.join(cancelled)}"
    elif stopping.ended_runs():  # the stop came after the run had recorded how it ended
        msg = f"stopped by {name} after the run ended: " + ", ".join(
            f"{run_id} ({status})" for run_id, status in stopping.ended_runs().items())
    else:
        msg = f"stopped by {name} (no run was in progress)"
    _end_process(128 + signum, f"Error: {msg}")


def _bars_off() -> None:
    """The progress bars off the terminal, before a last line."""
    if "factledger.progress" in sys.modules:
        sys.modules["factledger.progress"].close()


def _end_process(code: int, last_line: str | None = None) -> None:
    """End now with `code`, although threads may still be busy (a model call does not stop half-way):
    the temporary Prefect server is stopped, the database closes finish (a few seconds at most),
    the exit handlers get a moment, then `last_line` goes to stderr (last: whatever the shutdown
    prints, such as asyncio's CancelledError from a stopped batch flow, comes before it), then os._exit."""
    import atexit
    import threading

    sys.stdout.flush()
    sys.stderr.flush()
    if "flows.runners" in sys.modules:
        from flows.runners import stop_local_servers

        try:
            stop_local_servers()
        except Exception:  # already gone
            pass
    for t in threading.enumerate():
        if t.name.startswith("duckdb-close:"):  # a committed store being checkpointed (warehouse.db.close_soon)
            t.join(2.0)
    handlers = threading.Thread(target=atexit._run_exitfuncs, name="exit-handlers", daemon=True)
    handlers.start()
    handlers.join(1.5)
    sys.stdout.flush()
    if last_line:
        print(last_line, file=sys.stderr)
    sys.stderr.flush()
    os._exit(code)


def cmd_check(args) -> int:
    loaded = args.loaded
    ref = args.article if "://" in args.article else str(Path(args.article).resolve())
    params = dict(db=str(_db(args)), providers=_providers(args), max_claims=args.max_claims, quiet=args.quiet,
                  urls=args.urls, before=args.before, max_article_mb=args.max_article_mb)

    def work():
        rt = _loaded_runtime(args, articles=True, fetcher=loaded["fetcher"], articles_given={args.article: loaded["article"]})
        if not _as_flow(args):
            from flows.local import check_article

            return check_article(rt, article=args.article, **params)
        import flows

        flows.set_runtime(rt)
        return _run(args, flows.check_article_flow, article=args.article, **params)

    return _checked(args, work, "/articles/check", {
        "article": ref, "max_claims": args.max_claims, "max_article_mb": args.max_article_mb,
        "providers": _providers(args), "urls": args.urls, "before": args.before})


def cmd_check_claim(args) -> int:
    given = args.loaded["claims"]
    ids = [i for i, _ in given]
    params = dict(claims=[t for _, t in given], input_ids=ids if any(ids) else None, db=str(_db(args)),
                  providers=_providers(args), quiet=args.quiet, urls=args.urls, before=args.before)

    def work():
        rt = _loaded_runtime(args, articles=False, claims=params["claims"])
        if not _as_flow(args):
            from flows.local import check_claims

            return check_claims(rt, **params)
        import flows

        flows.set_runtime(rt)
        return _run(args, flows.check_claim_flow, **params)

    return _checked(args, work, "/claims/check", {
        "claims": params["claims"], "input_ids": params["input_ids"], "providers": _providers(args),
        "urls": args.urls, "before": args.before})


def _checked(args, work: Callable[[], list[dict]], path: str, payload: dict) -> int:
    """The rows from the service (`path` with `payload`, its progress streamed to the bar) or from
    `work()` here, printed; the exit code."""
    with _progress_shown(args):
        rows = _from_service(args, path, payload)
        if isinstance(rows, int):
            return rows
        if rows is None:
            rows = _stoppable(work)
    _print_results(rows, args.format)
    return EXIT_OK


def _progress_shown(args):
    """A progress bar on stderr for the block (`factledger.progress`): when stderr is a terminal
    and --quiet was not given; else reports go nowhere."""
    from factledger import progress

    return progress.shown(progress.ProgressBar() if progress.wanted(args.quiet) else None)


def _as_flow(args) -> bool:
    """Run a local check as a Prefect flow run (`flows.check`), or in this process without Prefect
    (`flows.local`, the same steps and warehouse rows; the default, as Prefect's embedded API takes
    longer to start than the models take to load): a flow with --prefect, a Dask runner (its tasks
    need Prefect), or a Prefect server to report to ($PREFECT_API_URL)."""
    return bool(args.prefect or _runner(args)[0] == "dask" or os.environ.get("PREFECT_API_URL"))


def _from_service(args, path: str, payload: dict) -> list[dict] | int | None:
    """The rows from the running `factledger serve` for this database (`factledger.client`); None
    to check here: `--local`, an option that configures this process (--prefect, --device, --runner,
    --dask-address, --wikipedia-api), no service for this database, or one that is gone or does
    not answer (said in one line). An error answer is reported here: its exit code."""
    if args.local or args.prefect or args.device or args.runner or args.dask_address or args.wikipedia_api:
        return None
    from factledger import client

    try:
        svc = client.find_service(_db(args))
        if svc is None:
            return None
        answer = _service_call(svc, path, payload)
        return answer if isinstance(answer, int) else answer["results"]
    except client.ServiceUnreachable as exc:
        print(f"note: {exc}; checking in this process instead", file=sys.stderr, flush=True)
        return None
    except client.ServiceError as exc:
        note = f" (run {exc.run_id})" if exc.run_id else ""
        _bars_off()
        print(f"Error: {_one_line(exc)}{note}", file=sys.stderr, flush=True)
        return EXIT_USAGE if exc.status == 422 else EXIT_FAILED


def _service_call(svc, path: str, payload: dict) -> dict | int:
    """`client.stream` in a thread while this one waits for SIGINT or SIGTERM; the stream's progress
    events drive the progress bar (`_service_progress`), as a local check's reports do. On a signal
    the service is asked to cancel the check (it stops at its next check and records the run as
    cancelled); the answer is awaited up to SERVICE_STOP_WAIT_S, and the command ends: 128 + the
    signal's number."""
    import threading

    from factledger import client

    request_id = uuid.uuid4().hex
    box: dict[str, Any] = {}
    # An Event, not Thread.join: a join that a signal interrupts can leave the thread reported as
    # ended while it still runs (seen here on Python 3.11).
    done = threading.Event()

    if svc.cancellable:  # a service started before cancels existed refuses a field it does not know
        payload = {**payload, "request_id": request_id}

    def target() -> None:
        try:
            box["value"] = client.stream(svc, path, payload, _service_progress)
        except BaseException as exc:  # handed to this thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="factledger-service-call", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except (KeyboardInterrupt, _Stopped) as stop:
        import signal

        signum = stop.signum if isinstance(stop, _Stopped) else signal.SIGINT
        _cancel_service_check(svc, request_id, done, box, _signal_name(signum))
        return 128 + signum
    if "error" in box:
        raise box["error"]
    return box["value"]


def _service_progress(event: dict) -> None:
    """A `progress` event of the service's stream, reported here as the local check reports it."""
    if event.get("event") == "progress" and isinstance(event.get("what"), str):
        from factledger import progress

        progress.report(event["what"], event.get("total"), done=event.get("done"), note=event.get("note"),
                        scope=str(event.get("scope") or ""))


def _cancel_service_check(svc, request_id: str, done, box: dict, name: str) -> None:
    """Ask the service to cancel the check, wait for its answer a while, and say in one line how the
    run ended."""
    import time

    from factledger import client

    _bars_off()
    if not svc.cancellable:
        print(f"Error: stopped by {name}; the service at {svc.url} cannot cancel the check, which goes on there",
              file=sys.stderr, flush=True)
        return
    try:
        run_id = client.cancel(svc, request_id, name).get("run_id")
    except client.ServiceError as exc:
        print(f"Error: stopped by {name}; {exc}", file=sys.stderr, flush=True)
        return
    deadline = time.monotonic() + SERVICE_STOP_WAIT_S
    try:
        while not done.wait(0.1) and time.monotonic() < deadline:
            pass
    except (KeyboardInterrupt, _Stopped):  # a second signal: no more waiting
        pass
    error, value = box.get("error"), box.get("value")
    if isinstance(error, client.ServiceError) and error.status == 409:
        run_id = error.run_id or run_id
        msg = f"run cancelled, nothing half-written stored: {run_id}" if run_id else "the check never started"
    elif value is not None:
        msg = f"after the run ended: {value['run_id']} ({value['status']})"
    elif error is not None:
        msg = f"{_one_line(error)}" + (f" (run {error.run_id})" if getattr(error, "run_id", None) else "")
    else:
        msg = f"the service was asked to cancel the check{f' (run {run_id})' if run_id else ''}"
    print(f"Error: stopped by {name}; {msg}", file=sys.stderr, flush=True)


def _loaded_runtime(args, *, articles: bool, articles_given=None, claims: Sequence[str] = (), **given):
    """`_runtime` with the models the command uses loaded in a thread (`factledger.app.while_loading`)
    while this one loads the corpus index (the embeddings of every corpus passage, the longest
    part of a cold start after the models) and looks up the BM25 hits of the `claims` typed in
    or, for a Prefect flow run, while Prefect is imported and its API starts (the corpus index
    then loads after the models)."""
    from factledger.app import load_corpus_index, load_models, prefetch_lexical, while_loading

    corpus = "corpus" in _providers(args)
    flow = _as_flow(args)

    def load():
        rt = _runtime(args, articles=articles_given or {}, **given)
        load_models(rt, articles=articles)
        if corpus and flow:
            load_corpus_index(_db(args))
        return rt

    def meanwhile():
        if not flow:
            if corpus:
                load_corpus_index(_db(args))
                if claims:
                    from extractors.claims import claims_from_texts

                    prefetch_lexical(_db(args), claims_from_texts(claims))
        elif _runner(args)[0] == "thread":
            from flows.warm import start_api

            start_api()
        else:  # the Dask path starts the API its workers need itself (flows.runners.workers_api)
            import flows.check  # noqa: F401

    return while_loading(load, meanwhile)


def cmd_corpus_add(args) -> int:
    from extractors.sentences import Splitter
    from factledger.app import Runtime, run_info
    from factledger.corpus import ingest
    from warehouse.db import connect
    from warehouse.snapshot import publish_soon
    from warehouse.store import finish_run, start_run

    rt = Runtime(device=args.device)
    run_id = f"corpus-{uuid.uuid4()}"
    con = connect(_db(args))
    try:
        start_run(con, run_info(run_id, "corpus-add", rt, ["corpus"], {"paths": [str(p) for p in args.paths]}))
        try:
            with _progress_shown(args) as display:
                stats = ingest(con, run_id, args.paths, rt.splitter or Splitter(), rt.embedder,
                               progress=_documents_ingested if display else None)
        except BaseException as exc:
            finish_run(con, run_id, error=str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__)
            raise
        finish_run(con, run_id)
    finally:
        con.close()
    publish_soon(_db(args))  # the analysts' snapshot, with the new passages (this process waits for it at exit)
    for url, reason in stats.skipped:
        if reason != "already_stored":
            print(f"skipped ({reason}): {url}", file=sys.stderr)
    print(stats.summary())
    if not stats.new_documents and not any(r == "already_stored" for _, r in stats.skipped):
        return EXIT_FAILED  # nothing at all was added, and nothing was there already
    return EXIT_OK


def _documents_ingested(done: int, total: int) -> None:
    from factledger import progress

    progress.report(progress.DOCUMENTS, total, done=done)


def cmd_sql(args) -> int:
    from warehouse.analyst import open_for_analysis, run_query

    con, snapshot = open_for_analysis(_db(args))
    try:
        if snapshot is not None:
            print(f"note: {_db(args)} is held by a writer; reading its snapshot published "
                  f"{snapshot.published.astimezone().isoformat(sep=' ', timespec='seconds')} ({snapshot.path})",
                  file=sys.stderr, flush=True)
        columns, rows = run_query(con, args.query)
    finally:
        con.close()
    if args.format == "json":
        print(json.dumps([dict(zip(columns, r)) for r in rows], ensure_ascii=False, default=_jsonable))
    elif args.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows([[_jsonable(v) if v is not None and not isinstance(v, (int, float, str)) else v for v in r] for r in rows])
        sys.stdout.write(buf.getvalue())
    else:
        print(_table(columns, rows))
    return EXIT_OK


def cmd_export(args) -> int:
    from warehouse.db import opened
    from warehouse.export import export_table, write_claimreview, write_training

    with opened(_db(args), read_only=True) as con:
        if args.format == "claimreview":
            n = write_claimreview(con, args.out, publisher=args.publisher, review_base_url=args.review_base_url,
                                  article=_article_key(args.article))
        elif args.format == "training":
            n = write_training(con, args.out)
        else:
            n = export_table(con, args.view, args.format, args.out)
    print(f"{n} rows written to {args.out}")
    return EXIT_OK


def _article_key(value: str | None) -> str | None:
    """Stored refs of files are absolute paths: accept the path as typed."""
    if value and "://" not in value and Path(value).exists():
        return str(Path(value).resolve())
    return value


def cmd_review(args) -> int:
    """The queue, or one review: through the running `factledger serve` for this database (the
    one writer) when there is one, else in this process. Input refused (an unknown claim, a
    passage, a stale run) is exit code 2, nothing written."""
    if args.queue:
        rows = _review_call(args, lambda svc, client: client.fetch(svc, "/reviews/queue", {"limit": args.limit})["queue"],
                            lambda: _local_queue(args))
        if isinstance(rows, int):
            return rows
        _print_queue(rows, args.format)
        return EXIT_OK
    payload = {"claim_id": args.claim_id, "label": args.verdict, "note": args.note, "reviewer": args.reviewer,
               "run_id": args.run, "relied": args.relied, "rejected": args.rejected}
    review = _review_call(args, lambda svc, client: client.call(svc, "/reviews", payload)["review"],
                          lambda: _local_review(args, payload))
    if isinstance(review, int):
        return review
    if args.format == "json":
        print(json.dumps(review, ensure_ascii=False, default=_jsonable))
    else:
        change = "confirmed" if review["label"] == review["machine_label"] else "overruled"
        print(f"review {review['review_id']} stored: claim {review['claim_id']} {review['machine_label']} -> "
              f"{review['label']} ({change}; run {review['run_id']}, reviewer {review['reviewer']})"
              + (f"; supersedes review {review['supersedes']}" if review["supersedes"] else ""))
    return EXIT_OK


def _review_call(args, remote, local):
    """`remote(svc, client)` against the service for this database, else `local()`; an error is
    reported here as its exit code (2: input refused, 1: otherwise)."""
    from factledger import client

    try:
        svc = None if args.local else client.find_service(_db(args))
    except client.ServiceUnreachable as exc:
        print(f"note: {exc}; working in this process instead", file=sys.stderr, flush=True)
        svc = None
    try:
        if svc is not None:
            try:
                return remote(svc, client)
            except client.ServiceUnreachable as exc:
                print(f"note: {exc}; working in this process instead", file=sys.stderr, flush=True)
        return local()
    except client.ServiceError as exc:
        print(f"Error: {_one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_USAGE if exc.status in (409, 422) else EXIT_FAILED
    except InputError as exc:
        _report(exc, args.debug)
        return EXIT_USAGE


def _local_queue(args) -> list[dict]:
    from warehouse.db import opened
    from warehouse.reviews import review_queue

    with opened(_db(args), read_only=True) as con:
        return review_queue(con, args.limit)


def _local_review(args, payload: dict) -> dict:
    from warehouse.db import opened
    from warehouse.reviews import record_review

    from factledger.records import record_to_plain

    with opened(_db(args), publish=True) as con:
        return record_to_plain(record_review(con, payload["claim_id"], payload["label"], payload["note"],
                                             payload["reviewer"], run_id=payload["run_id"], relied=payload["relied"],
                                             rejected=payload["rejected"]))


def _print_queue(rows: list[dict], fmt: str) -> None:
    _print_rows(rows, fmt, "The review queue is empty.", lambda: _table(
        ["#", "claim_id", "label", "confidence", "priority", "reasons", "claim"],
        [(r["queue_rank"], r["claim_id"], r["label"], f"{r['confidence']:.2f}", f"{r['priority']:.3f}",
          ", ".join(r["reasons"]), r["claim_text"]) for r in rows]))


def cmd_report(args) -> int:
    from warehouse.db import opened
    from warehouse.report import article_report

    out = Path(args.out)
    with opened(_db(args), read_only=True) as con:
        html = article_report(con, _article_key(args.article))
    out.write_text(html, encoding="utf-8")
    print(f"report written to {out}")
    return EXIT_OK


def cmd_batch(args) -> int:
    def work():
        import flows

        flows.set_runtime(_runtime(args))
        return _run(args, flows.batch_flow, feeds=args.feeds, url_lists=args.url_lists, db=str(_db(args)),
                    providers=args.providers or ["corpus"], max_articles=args.max_articles,
                    max_claims=args.max_claims, max_article_mb=args.max_article_mb)

    with _progress_shown(args):
        counts = _stoppable(work)
    print(json.dumps(counts) if args.format == "json" else
          ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    return EXIT_OK if not counts.get("failed") else EXIT_FAILED


def cmd_serve(args) -> int:
    if args.device:  # each flow run builds its models on it: refuse a missing GPU now
        from verifiers.embed import resolve_device

        resolve_device(args.device)
    from flows.serve import start_deployments
    from flows.service import serve_checks

    runner, address = _runner(args)
    providers = args.providers or ["corpus"]

    def deployments():
        return start_deployments(_db(args), runner=runner, dask_address=address, feeds=args.feeds,
                                 url_lists=args.url_lists, providers=providers, cron=args.cron,
                                 recheck_cron=args.recheck_cron, recheck_days=args.recheck_days,
                                 max_articles=args.max_articles, device=args.device)

    return serve_checks(_db(args), lambda: _runtime(args), host=args.host, port=args.port, providers=providers,
                        allow_remote=args.allow_remote, deployments=None if args.no_deployments else deployments)


def cmd_train(args) -> int:
    import importlib

    try:
        module = importlib.import_module(f"training.{args.train_command}")
    except ModuleNotFoundError as exc:
        raise InputError(f"no trainer for {args.train_command!r} in this build") from exc
    try:
        return module.run(list(args.train_args))
    except InputError as exc:  # a trainer refuses its input before it trains (a missing --with-reviews DB)
        _report(exc, args.debug)
        return EXIT_USAGE


COMMANDS = {"check": cmd_check, "check-claim": cmd_check_claim, "corpus": cmd_corpus_add, "sql": cmd_sql,
            "train": cmd_train, "serve": cmd_serve, "export": cmd_export, "report": cmd_report,
            "batch": cmd_batch, "review": cmd_review}
STOPPABLE = ("check", "check-claim", "batch")


def _quiet_libraries() -> None:
    """No model-load reports or "Loading weights" bars from transformers / huggingface_hub, no
    Prefect INFO lines on a normal run (`--verbose` shows them all; `--debug` Prefect's error logs
    with their tracebacks, which `_hide_prefect_logs` otherwise keeps off the terminal)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # what reaches the Prefect API; the terminal: _run
    for name in ("transformers", "sentence_transformers", "huggingface_hub", "prefect", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # The variables above are read when a library is imported; one imported already (by a caller of
    # main() in its own process, a test) is told directly.
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
        sys.modules["transformers"].utils.logging.set_verbosity_error()
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()


def _run_note(exc: BaseException) -> str:
    """" (run <id>)" when `exc` ended a run: the id to look up in `runs` (and, for a flow run, in Prefect)."""
    if "flows.steps" not in sys.modules:
        return ""
    from flows.steps import run_id_of

    run_id = run_id_of(exc)
    return f" (run {run_id})" if run_id else ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, FactLedgerError) else f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _refused_code(exc: FactLedgerError) -> int:
    """Exit code of an error found while checking the input: 2, the input cannot be used; 1 for a
    setting (ConfigError) or a fetch that may work later (a timeout, a 5xx)."""
    if isinstance(exc.__cause__, TransientFetchError) or isinstance(exc, ConfigError):
        return EXIT_FAILED
    return EXIT_USAGE if isinstance(exc, (InputError, ExtractionError)) else EXIT_FAILED


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if debug or isinstance(exc, FactLedgerError) else " (--debug shows the traceback)"
    print(f"Error: {_one_line(exc)}{_run_note(exc)}{hint}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # A trainer's own options (`train stance --base DIR --out DIR`) go to the trainer untouched and
    # in order: everything after `train MODEL` (the global options before it take no values).
    # argparse.REMAINDER alone refuses a remainder that starts with an option.
    first = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    trainer_args: list[str] = []
    if first is not None and argv[first] == "train" and len(argv) > first + 1:
        argv, trainer_args = argv[:first + 2], argv[first + 2:]
    args = parser.parse_args(argv)
    if args.command == "train":
        args.train_args = [*args.train_args, *trainer_args]
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        _quiet_libraries()
    restore = _stop_before_the_run() if args.command in STOPPABLE else None
    try:
        try:
            PREPARE.get(args.command, lambda a: None)(args)
        except FactLedgerError as exc:
            _report(exc, args.debug)
            return _refused_code(exc)
        try:
            return COMMANDS[args.command](args)
        except FactLedgerError as exc:
            _report(exc, args.debug)
            return EXIT_FAILED
        except Exception as exc:  # not one of ours: still one line, the traceback with --debug
            _report(exc, args.debug)
            return EXIT_FAILED
    except _Stopped as stop:
        print(f"Error: stopped by {_signal_name(stop.signum)} (no run was in progress)", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("Error: stopped by SIGINT (no run was in progress)", file=sys.stderr)
        return 130
    finally:
        if restore:
            restore()


def run() -> None:
    """The `factledger` program (the console script): `main()`, then, when torch was loaded, an end
    without the interpreter's teardown of torch and the models, which took ~2 s after a cold
    check-claim on the 2-core reference machine (process end 1.1 s sooner with it skipped). What the
    interpreter would do first is done first: the other threads (the warehouse's background closes
    among them) are waited for, the exit handlers run and the output is flushed."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, --version, a usage error
        code = exc.code
    if "torch" not in sys.modules or not isinstance(code, int):
        sys.exit(code)
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


def _stop_before_the_run() -> Callable[[], None] | None:
    """Until a run starts (`_stoppable` takes over), SIGINT and SIGTERM end the command; also when
    the command was started with SIGINT ignored (a background job of a non-interactive shell), in
    which Python installs no KeyboardInterrupt: a check the service answers is then still cancelled."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def on_stop(signum, frame):
        raise _Stopped(signum)

    previous = {s: signal.signal(s, on_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, handler in previous.items():
            signal.signal(s, handler)

    return restore


if __name__ == "__main__":
    run()
