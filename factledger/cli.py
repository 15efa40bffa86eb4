"""The `factledger` command: a thin layer over the library and the flows."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Sequence

from factledger import __version__
from factledger.errors import FactLedgerError, InputError
from factledger.settings import default_db_path

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# Each trainer is a module `training.<name>` (a package the product never imports) with `run(argv: list[str]) -> int`.
TRAINERS = {
    "checkworthiness": "train the check-worthiness classifier (writes models/checkworthiness/)",
    "stance": "fine-tune the stance cross-encoder from MiniLM (writes models/stance/)",
    "verdict": "fit the claim-level verdict aggregator on real fact-checked claims (writes models/verdict/)",
}


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
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factledger", description="Fact-check articles and claims with provenance.")
    parser.add_argument("--version", action="version", version=f"factledger {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="extract check-worthy claims from an article and verify them")
    p.add_argument("article", help="a .txt/.md/.html file or an http(s) URL")
    p.add_argument("--max-claims", type=int, default=None, help="verify at most N claims, best first")
    _add_db(p)
    _add_providers(p)
    _add_runner(p)

    p = sub.add_parser("check-claim", help="verify one claim, or a file of claims, typed in by hand")
    p.add_argument("text", nargs="?", help="the claim")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="claims, one per line or JSON Lines with a \"claim\" field")
    _add_db(p)
    _add_providers(p)
    _add_runner(p)

    p = sub.add_parser("corpus", help="manage the local evidence corpus")
    corpus_sub = p.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    pa = corpus_sub.add_parser("add", help="ingest .txt/.md/.html files, folders and JSON Lines")
    pa.add_argument("paths", nargs="+", metavar="PATH")
    _add_db(pa)
    _add_device(pa)

    p = sub.add_parser("export", help="export a view or table (CSV, Parquet, JSON Lines) or draft ClaimReview JSON-LD")
    p.add_argument("--format", choices=("csv", "parquet", "jsonl", "claimreview"), default="csv")
    p.add_argument("--view", default="verdict_evidence", help="view or table to export (default: verdict_evidence)")
    p.add_argument("--out", required=True, metavar="PATH", help="output file")
    p.add_argument("--article", default=None, help="claimreview: only this article (ref, URL or id)")
    p.add_argument("--publisher", default="FactLedger (draft)", help="claimreview: the reviewing organisation")
    p.add_argument("--review-base-url", default="https://factcheck.example.org/reviews/",
                   help="claimreview: where the published reviews will live")
    _add_db(p)

    p = sub.add_parser("report", help="write a self-contained HTML report of one checked article")
    p.add_argument("article", help="the article's path, URL or id as stored")
    p.add_argument("--out", required=True, metavar="PATH", help="output .html file")
    _add_db(p)

    p = sub.add_parser("batch", help="check the new articles of feeds and URL lists once, now")
    p.add_argument("--feed", action="append", dest="feeds", default=[], metavar="URL", help="RSS/Atom feed, repeatable")
    p.add_argument("--url-list", action="append", dest="url_lists", default=[], metavar="FILE_OR_URL",
                   help="file or URL with one article URL (or path) per line, repeatable")
    p.add_argument("--max-articles", type=int, default=50, help="articles per run at most")
    p.add_argument("--provider", action="append", dest="providers", metavar="NAME", help="source provider, repeatable")
    p.add_argument("--format", choices=("table", "json"), default="table")
    _add_db(p)
    _add_runner(p)

    p = sub.add_parser("serve", help="serve the Prefect deployments: scheduled batch, manual checks, re-checks")
    p.add_argument("--feed", action="append", dest="feeds", default=[], metavar="URL", help="RSS/Atom feed, repeatable")
    p.add_argument("--url-list", action="append", dest="url_lists", default=[], metavar="FILE_OR_URL",
                   help="file or URL with one article URL per line, repeatable")
    p.add_argument("--cron", default="0 * * * *", help="batch schedule (default: hourly)")
    p.add_argument("--recheck-cron", default="30 3 * * *", help="re-check schedule (default: daily 03:30)")
    p.add_argument("--recheck-days", type=float, default=7.0, help="re-check claims whose verdict is older than this")
    p.add_argument("--max-articles", type=int, default=50, help="articles per batch run at most")
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


def _print_results(rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=_jsonable))
        return
    if not rows:
        print("No check-worthy claims found.")
        return
    cols = ["rank", "label", "confidence", "review", "claim", "source_url"]
    table_rows = [[r[c] for c in cols] for r in ({**r, "review": "yes" if r.get("needs_review") else ""} for r in rows)]
    if any(r.get("input_id") for r in rows):  # the caller's ids, to join results back to the input
        cols.insert(1, "input_id")
        for row, r in zip(table_rows, rows):
            row.insert(1, r.get("input_id") or "")
    if any(r.get("fact_checks") for r in rows):  # published fact-checks come first
        cols.insert(1, "published_fact_check")
        for row, r in zip(table_rows, rows):
            f = r["fact_checks"][0] if r.get("fact_checks") else None
            row.insert(1, f"{f['publisher']}: {f['rating']} ({f['url']})" if f else "")
    print(_table(cols, table_rows))


def _providers(args) -> list[str]:
    names = list(args.providers or ["corpus"])
    if args.urls and "urls" not in names:
        names.append("urls")
    return names


def _runtime(args):
    """The models and clients of this process, on `--device` (a missing GPU is a ConfigError here,
    before Prefect starts)."""
    from factledger.app import Runtime

    return Runtime(wikipedia_api=getattr(args, "wikipedia_api", None), device=args.device)


def _runner(args) -> tuple[str, str | None]:
    return args.runner or ("dask" if args.dask_address else "thread"), args.dask_address


def _run(args, flow, **params):
    """Run a flow on the chosen task runner; tasks on Dask workers build their own models on `--device`."""
    from flows.runners import run_flow

    runner, address = _runner(args)
    return run_flow(flow, runner, address, device=args.device, **params)


def cmd_check(args) -> int:
    if "://" not in args.article:  # a local file: refuse bad input at once, before Prefect starts
        from extractors.articles import load_article

        load_article(args.article)
    rt = _runtime(args)
    import flows

    flows.set_runtime(rt)
    rows = _run(
        args, flows.check_article_flow,
        article=args.article, db=str(args.db or default_db_path()), providers=_providers(args),
        max_claims=args.max_claims, quiet=args.quiet, urls=args.urls, before=args.before,
    )
    _print_results(rows, args.format)
    return EXIT_OK


def cmd_check_claim(args) -> int:
    from factledger.app import read_claims_file

    given = ([(None, args.text)] if args.text else []) + (read_claims_file(args.from_file) if args.from_file else [])
    texts = [t for _, t in given]
    if not any(t.strip() for t in texts):
        raise InputError("no claim given (pass TEXT or --from FILE)")
    rt = _runtime(args)
    import flows

    flows.set_runtime(rt)
    ids = [i for i, _ in given]
    rows = _run(args, flows.check_claim_flow, claims=texts, input_ids=ids if any(ids) else None,
                db=str(args.db or default_db_path()),
                providers=_providers(args), quiet=args.quiet, urls=args.urls, before=args.before)
    _print_results(rows, args.format)
    return EXIT_OK


def cmd_corpus_add(args) -> int:
    from extractors.sentences import Splitter
    from factledger.app import Runtime, run_info
    from factledger.corpus import ingest
    from warehouse.db import connect
    from factledger.corpus import check_paths
    from warehouse.store import finish_run, start_run

    check_paths(args.paths)  # before the database is created or a model loads
    rt = Runtime(device=args.device)
    run_id = f"corpus-{uuid.uuid4()}"
    con = connect(args.db or default_db_path())
    try:
        start_run(con, run_info(run_id, "corpus-add", rt, ["corpus"], {"paths": [str(p) for p in args.paths]}))
        try:
            stats = ingest(con, run_id, args.paths, rt.splitter or Splitter(), rt.embedder,
                           progress=(lambda msg: print(msg, file=sys.stderr, flush=True)) if sys.stderr.isatty() else None)
        except BaseException as exc:
            finish_run(con, run_id, error=str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__)
            raise
        finish_run(con, run_id)
    finally:
        con.close()
    for url, reason in stats.skipped:
        if reason != "already_stored":
            print(f"skipped ({reason}): {url}", file=sys.stderr)
    print(stats.summary())
    if not stats.new_documents and not any(r == "already_stored" for _, r in stats.skipped):
        return EXIT_FAILED  # nothing at all was added, and nothing was there already
    return EXIT_OK


def cmd_sql(args) -> int:
    from warehouse.analyst import run_query
    from warehouse.db import opened

    with opened(args.db or default_db_path(), analyst=True) as con:
        columns, rows = run_query(con, args.query)
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
    from warehouse.export import export_table, write_claimreview

    with opened(args.db or default_db_path(), read_only=True) as con:
        if args.format == "claimreview":
            n = write_claimreview(con, args.out, publisher=args.publisher, review_base_url=args.review_base_url,
                                  article=_article_key(args.article))
        else:
            n = export_table(con, args.view, args.format, args.out)
    print(f"{n} rows written to {args.out}")
    return EXIT_OK


def _article_key(value: str | None) -> str | None:
    """Stored refs of files are absolute paths: accept the path as typed."""
    from pathlib import Path

    if value and "://" not in value and Path(value).exists():
        return str(Path(value).resolve())
    return value


def cmd_report(args) -> int:
    from pathlib import Path

    from warehouse.db import opened
    from warehouse.report import article_report

    out = Path(args.out)
    if out.is_dir():
        raise InputError(f"is a directory, not an output file: {out}")
    with opened(args.db or default_db_path(), read_only=True) as con:
        html = article_report(con, _article_key(args.article))
    out.write_text(html, encoding="utf-8")
    print(f"report written to {out}")
    return EXIT_OK


def cmd_batch(args) -> int:
    if not args.feeds and not args.url_lists:
        raise InputError("nothing to do: give --feed URL or --url-list FILE")
    rt = _runtime(args)
    import flows

    flows.set_runtime(rt)
    counts = _run(args, flows.batch_flow, feeds=args.feeds, url_lists=args.url_lists,
                  db=str(args.db or default_db_path()), providers=args.providers or ["corpus"],
                  max_articles=args.max_articles)
    print(json.dumps(counts) if args.format == "json" else
          ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    return EXIT_OK if not counts.get("failed") else EXIT_FAILED


def cmd_serve(args) -> int:
    if args.device:  # each flow run builds its models on it: refuse a missing GPU now
        from verifiers.embed import resolve_device

        resolve_device(args.device)
    import flows
    from flows.serve import serve_deployments

    flows.set_runtime(None)
    runner, address = _runner(args)
    serve_deployments(args.db or default_db_path(), runner=runner, dask_address=address, feeds=args.feeds,
                      url_lists=args.url_lists, providers=args.providers or ["corpus"], cron=args.cron,
                      recheck_cron=args.recheck_cron, recheck_days=args.recheck_days,
                      max_articles=args.max_articles, device=args.device)
    return EXIT_OK


def cmd_train(args) -> int:
    import importlib

    try:
        module = importlib.import_module(f"training.{args.train_command}")
    except ModuleNotFoundError as exc:
        raise InputError(f"no trainer for {args.train_command!r} in this build") from exc
    return module.run(list(args.train_args))


COMMANDS = {"check": cmd_check, "check-claim": cmd_check_claim, "corpus": cmd_corpus_add, "sql": cmd_sql,
            "train": cmd_train, "serve": cmd_serve, "export": cmd_export, "report": cmd_report,
            "batch": cmd_batch}


def _quiet_libraries() -> None:
    """No model-load reports or "Loading weights" bars from transformers / huggingface_hub, no
    Prefect INFO lines on a normal run (`--verbose` shows them all)."""
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    for name in ("transformers", "sentence_transformers", "huggingface_hub", "prefect", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


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
    try:
        return COMMANDS[args.command](args)
    except FactLedgerError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
