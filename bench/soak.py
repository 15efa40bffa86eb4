"""Soak: one batch run over 200 articles served locally, 10% of them failing in the ways the web fails.

    .venv/bin/python bench/soak.py [--articles 200] [--fail-every 10]

Every article must be accounted for (checked or failed with a named reason). Prints one JSON object
with articles, accounted, verdicts, failures_by_reason, retries, peak_rss_mb, and the wall time next
to a baseline measured in the same run (the same articles loaded and split, no verification).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults import RawServer, drip, html, reply, reset_mid_body, send, stall  # noqa: E402

CITIES = ["Portvale", "Eastmere", "Northholm", "Riverton", "Lakeside", "Hillcrest", "Stonebridge", "Westfall"]
THINGS = ["bridge", "library", "hospital", "tram line", "stadium", "school", "museum", "power plant"]


def article(i: int) -> str:
    city, thing = CITIES[i % len(CITIES)], THINGS[(i // len(CITIES)) % len(THINGS)]
    year, cost = 2000 + i % 25, 10 + (i * 7) % 400
    return (f"<html><head><title>{city} {thing} story {i}</title></head><body><article>"
            f"<p>The new {thing} in {city} opened to the public on 1 May {year} after three years of work.</p>"
            f"<p>According to the city council, the project cost {cost} million euros, more than first planned.</p>"
            f"<p>We think it is a wonderful addition and everyone should visit it soon.</p>"
            f"<p>The mayor of {city} said on Tuesday that {i % 9 + 2} more projects would follow by {year + 3}.</p>"
            f"<p>Share this article</p></article></body></html>")


FAULTS = [
    ("http_404", html("missing", "404 Not Found")),
    ("http_500", html("oops", "500 Internal Server Error")),
    ("timeout", stall(4.0)),
    ("too_large", html(b"<p>" + b"word " * 3_000_000 + b"</p>")),
    ("not_html", html(b"\x89PNG\r\n\x1a\n", ctype="image/png")),
    ("empty_text", html("<html><body><script>x()</script></body></html>")),
    ("connection_reset", reset_mid_body()),
    ("redirect_loop", send(reply("302 Found", {"Location": "/loop"}))),
    ("binary_content", html(bytes(range(256)) * 10)),
    ("too_slow", drip("text/html", 300, 0.05)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--fail-every", type=int, default=10)
    args = ap.parse_args()
    server = RawServer()
    server.routes["/robots.txt"] = html("User-agent: *\nAllow: /\n", ctype="text/plain")
    server.routes["/loop"] = send(reply("302 Found", {"Location": "/loop"}))
    expected_failures: dict[str, int] = {}
    urls = []
    for i in range(args.articles):
        path = f"/a/{i}"
        if i % args.fail_every == args.fail_every - 1:
            reason, handler = FAULTS[(i // args.fail_every) % len(FAULTS)]
            expected_failures[reason] = expected_failures.get(reason, 0) + 1
            server.routes[path] = handler
        else:
            server.routes[path] = html(article(i))
        urls.append(server.url(path))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.update({"PREFECT_HOME": str(tmp / "prefect"), "FACTLEDGER_ALLOW_LOOPBACK": "1",
                           "FACTLEDGER_HOME": str(tmp / "home")})
        import flows
        from flows.runners import run_flow
        from extractors.articles import load_article
        from factledger.app import Runtime
        from factledger.corpus import ingest
        from factledger.errors import FactLedgerError
        from factledger.net import Fetcher
        from warehouse.db import opened

        db = tmp / "soak.duckdb"
        fetcher = Fetcher(timeout=(2.0, 2.0), max_seconds=5.0, max_bytes=2 * 1024 * 1024, retries=2, backoff=0.05,
                          min_interval=0, allow_loopback=True)
        rt = Runtime(fetcher=fetcher)
        with opened(db) as con:
            ingest(con, "soak-corpus", [ROOT / "examples" / "corpus"], rt.splitter, rt.embedder)
        lst = tmp / "urls.txt"
        lst.write_text("\n".join(urls) + "\n")

        # baseline in the same run: load and split every good article, nothing else
        t0 = time.perf_counter()
        for u in urls:
            try:
                rt.splitter.analyze(load_article(u, Fetcher(timeout=(2.0, 2.0), max_seconds=5.0, retries=0,
                                                            min_interval=0, allow_loopback=True)).text)
            except FactLedgerError:
                pass
        baseline_s = time.perf_counter() - t0

        flows.set_runtime(rt)
        t0 = time.perf_counter()
        counts = run_flow(flows.batch_flow, url_lists=[str(lst)], db=str(db), max_articles=args.articles,
                          providers=["corpus"])
        wall = time.perf_counter() - t0
        with opened(db, analyst=True) as con:
            accounted = con.execute("SELECT count(*) FROM batch_items").fetchone()[0]
            reasons = dict(con.execute("SELECT reason, count(*) FROM batch_items WHERE status = 'failed' "
                                       "GROUP BY 1 ORDER BY 1").fetchall())
            verdicts = con.execute("SELECT count(*) FROM verdicts").fetchone()[0]
            articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    server.close()
    print(json.dumps({
        "articles": args.articles,
        "accounted": accounted,
        "checked": counts["checked"],
        "articles_stored": articles,
        "verdicts": verdicts,
        "failures_by_reason": reasons,
        "expected_failures_by_reason": dict(sorted(expected_failures.items())),
        "retries": fetcher.retry_count,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_seconds": round(wall, 1),
        "articles_per_minute": round(60 * args.articles / wall, 1),
        "baseline_load_split_seconds": round(baseline_s, 1),
        "ratio_to_baseline": round(wall / baseline_s, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
