"""Fault injection over real HTTP on 127.0.0.1: every failure gets its named status, the run goes on,
and no verdict is built from a failed source."""

from __future__ import annotations

import gzip
import json
import socket
import uuid

import pytest

from extractors.claims import claims_from_texts
from factledger.net import Fetcher
from factledger.records import FetchStatus, Label
from factledger.settings import Thresholds
from tests.faults import RawServer, drip, gzipped, html, reply, reset_mid_body, send, stall
from verifiers.pipeline import Verifier
from verifiers.providers import WikipediaProvider
from verifiers.stance import ConflictRuleStance
from verifiers.web import UrlsProvider
from warehouse.store import RunInfo, finish_run, start_run, store_claim_results

CLAIM = "The harbour bridge in Portvale opened to traffic on 1 May 2024."
GOOD = ("<html><head><title>Portvale bridge</title></head><body><article><p>The harbour bridge in Portvale opened "
        "to traffic on 1 May 2024 after four years of construction work by the city.</p>"
        "<p>It carries six lanes across the estuary and cost 450 million euros in total.</p></article></body></html>")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def servers():
    main, robots_no, robots_5xx, robots_slow = RawServer(), RawServer(), RawServer(), RawServer()
    main.routes.update({
        "/robots.txt": html("User-agent: *\nAllow: /\n", ctype="text/plain"),
        "/good": html(GOOD),
        "/timeout": stall(3.0),
        "/drip": drip("text/html", 400, 0.02),
        "/429-after": html("slow down", "429 Too Many Requests", "text/plain", **{"Retry-After": "1"}),
        "/429": html("slow down", "429 Too Many Requests", "text/plain"),
        "/500": html("oops", "500 Internal Server Error"),
        "/502": html("bad gateway", "502 Bad Gateway"),
        "/503": html("unavailable", "503 Service Unavailable"),
        "/404": html("missing", "404 Not Found"),
        "/410": html("gone", "410 Gone"),
        "/reset": reset_mid_body(),
        "/truncated-gzip": gzipped(GOOD.encode() * 20, truncate=True),
        "/gzip-bomb": gzipped(b"<p>" + b"0" * (30 * 1024 * 1024) + b"</p>"),
        "/too-big": html(b"<p>" + b"word " * 400_000 + b"</p>"),
        "/image": html(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, ctype="image/png"),
        "/no-type": send(reply("200 OK", {}, GOOD.encode())),
        "/binary": html(bytes(range(256)) * 20, ctype="text/html"),
        "/bad-charset": html(GOOD, ctype="text/html; charset=x-no-such-charset"),
        "/scripts": html("<html><head><script>var a=1;</script></head><body><script>document.write('x')</script>"
                         "<noscript></noscript></body></html>"),
        "/empty": html(b""),
        "/loop-a": send(reply("302 Found", {"Location": "/loop-b"})),
        "/loop-b": send(reply("302 Found", {"Location": "/loop-a"})),
        "/to-private": send(reply("302 Found", {"Location": "http://10.11.12.13/admin"})),
        "/to-metadata": send(reply("301 Moved Permanently", {"Location": "http://169.254.169.254/latest/meta-data"})),
        "/w/api.php": html('{"batchcomplete": true, "query": {"search": [', ctype="application/json"),
    })
    robots_no.routes["/robots.txt"] = html("User-agent: *\nDisallow: /\n", ctype="text/plain")
    robots_5xx.routes["/robots.txt"] = html("down", "503 Service Unavailable", "text/plain")
    robots_slow.routes["/robots.txt"] = stall(3.0)
    yield main, robots_no, robots_5xx, robots_slow
    for s in (main, robots_no, robots_5xx, robots_slow):
        s.close()


def fetcher(**kw) -> Fetcher:
    base = dict(timeout=(1.0, 1.0), max_seconds=2.0, max_bytes=1024 * 1024, retries=1, backoff=0.01,
                max_retry_after=2.0, min_interval=0, allow_loopback=True)
    return Fetcher(**{**base, **kw})


FAULTS = [
    ("connect refused", lambda s: f"http://127.0.0.1:{closed_port()}/x", "connection_refused"),
    ("read timeout", lambda s: s[0].url("/timeout"), "timeout"),
    ("slow-drip body", lambda s: s[0].url("/drip"), "too_slow"),
    ("429 with Retry-After", lambda s: s[0].url("/429-after"), "http_429"),
    ("429 without Retry-After", lambda s: s[0].url("/429"), "http_429"),
    ("500", lambda s: s[0].url("/500"), "http_500"),
    ("502", lambda s: s[0].url("/502"), "http_502"),
    ("503", lambda s: s[0].url("/503"), "http_503"),
    ("404", lambda s: s[0].url("/404"), "http_404"),
    ("410", lambda s: s[0].url("/410"), "http_410"),
    ("connection reset mid-body", lambda s: s[0].url("/reset"), "connection_reset"),
    ("truncated gzip", lambda s: s[0].url("/truncated-gzip"), "bad_encoding"),
    ("gzip bomb", lambda s: s[0].url("/gzip-bomb"), "too_large"),
    ("body over the size cap", lambda s: s[0].url("/too-big"), "too_large"),
    ("wrong content-type", lambda s: s[0].url("/image"), "not_html"),
    ("missing content-type", lambda s: s[0].url("/no-type"), "no_content_type"),
    ("binary served as text/html", lambda s: s[0].url("/binary"), "binary_content"),
    ("HTML with only scripts", lambda s: s[0].url("/scripts"), "empty_text"),
    ("empty page", lambda s: s[0].url("/empty"), "empty_text"),
    ("redirect loop", lambda s: s[0].url("/loop-a"), "redirect_loop"),
    ("redirect to a private address", lambda s: s[0].url("/to-private"), "blocked_address"),
    ("redirect to link-local metadata", lambda s: s[0].url("/to-metadata"), "blocked_address"),
    ("robots.txt disallow", lambda s: s[1].url("/article"), "robots_disallowed"),
    ("robots.txt 5xx", lambda s: s[2].url("/article"), "robots_unavailable"),
    ("robots.txt timing out", lambda s: s[3].url("/article"), "robots_unavailable"),
]


@pytest.mark.parametrize("kind, make_url, reason", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_gets_named_status_and_no_verdict(servers, kind, make_url, reason, splitter, embedder, db):
    bad_url, good_url = make_url(servers), servers[0].url("/good")
    provider = UrlsProvider(fetcher(), splitter, [bad_url, good_url])
    t = Thresholds(support_min_similarity=0.3, topical_min_similarity=0.2)
    (result,) = Verifier([provider], embedder, ConflictRuleStance(splitter.nlp), t).check(claims_from_texts([CLAIM]))
    by_url = {s.url: s for s in result.sources}
    bad = by_url[bad_url]
    assert (bad.fetch_status, bad.status_reason) == (FetchStatus.FAILED, reason), kind
    assert by_url[good_url].fetch_status is FetchStatus.OK  # the run went on
    assert result.evidence and all(e.source.url == good_url for e in result.evidence)
    run_id = str(uuid.uuid4())
    start_run(db, RunInfo(run_id, "faults", "t", "e", "1", "s", "1", "c", "sp", ("urls",)))
    store_claim_results(db, run_id, [result])
    finish_run(db, run_id)
    stored = db.execute("SELECT fetch_status, status_reason FROM sources WHERE url = ?", [bad_url]).fetchall()
    assert stored == [("failed", reason)]
    assert db.execute("SELECT count(*) FROM verdict_evidence WHERE source_url = ?", [bad_url]).fetchone()[0] == 0


def test_charset_fallback_is_not_a_failure(servers, splitter, embedder):
    url = servers[0].url("/bad-charset")
    found = UrlsProvider(fetcher(), splitter, [url]).search(claims_from_texts([CLAIM])[0], embedder.encode([CLAIM])[0])
    assert found.sources[0].status_reason == "ok" and any("1 May 2024" in p.text for p in found.passages)


def test_malformed_json_from_a_provider(servers, splitter, embedder):
    p = WikipediaProvider(fetcher(), splitter, api_url=servers[0].url("/w/api.php"))
    (claim,) = claims_from_texts([CLAIM])
    result = Verifier([p], embedder, ConflictRuleStance(), Thresholds()).check([claim])[0]
    assert [(s.fetch_status, s.status_reason) for s in result.sources] == [(FetchStatus.FAILED, "bad_json")]
    assert result.evidence == () and result.verdict.label is Label.NOT_ENOUGH_EVIDENCE


def test_transient_failures_were_retried(servers):
    f = fetcher()
    for path in ("/503", "/429-after"):
        with pytest.raises(Exception):
            f.get(servers[0].url(path))
    assert f.retry_count == 2
    assert servers[0].requests.count("/429-after") >= 2
