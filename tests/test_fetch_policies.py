"""Fetcher policies over real HTTP on 127.0.0.1: robots, SSRF, redirects, revalidation, WARC."""

from __future__ import annotations

import socket

import pytest
from werkzeug import Response

from factledger.errors import PermanentFetchError
from factledger.net import Fetcher, check_address


def make(**kw) -> Fetcher:
    base = dict(timeout=(2.0, 2.0), retries=1, backoff=0.01, min_interval=0, allow_loopback=True)
    base.update(kw)
    return Fetcher(**base)


def test_robots_disallow_is_obeyed_and_cached(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n",
                                                               content_type="text/plain")
    httpserver.expect_request("/public").respond_with_data("<p>ok</p>", content_type="text/html")
    f = make()
    assert f.get(httpserver.url_for("/public")).status == 200
    with pytest.raises(PermanentFetchError) as err:
        f.get(httpserver.url_for("/private/page"))
    assert err.value.reason == "robots_disallowed"
    paths = [req.path for req, _ in httpserver.log]
    assert paths.count("/robots.txt") == 1 and "/private/page" not in paths


def test_robots_for_our_user_agent(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: FactLedger\nDisallow: /\n",
                                                               content_type="text/plain")
    with pytest.raises(PermanentFetchError, match="robots_disallowed"):
        make().get(httpserver.url_for("/anything"))


def test_missing_robots_allows_and_failing_robots_refuses(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=404, content_type="text/plain")
    httpserver.expect_request("/page").respond_with_data("hi", content_type="text/plain")
    assert make().get(httpserver.url_for("/page")).text() == "hi"
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503, content_type="text/plain")
    with pytest.raises(PermanentFetchError) as err:
        make().get(httpserver.url_for("/page"))
    assert err.value.reason == "robots_unavailable"


@pytest.mark.parametrize(
    "ip, blocked",
    [
        ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"), ("100.64.0.1", "carrier-grade"), ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"), ("64:ff9b::a00:1", "private"), ("2002:c0a8:101::", "private"),
        ("fe80::1", "link-local"), ("fc00::1", "private"), ("0.0.0.0", "reserved"), ("224.0.0.1", "reserved"),
        ("8.8.8.8", None), ("2606:4700:4700::1111", None),
    ],
)
def test_address_policy(ip, blocked):
    reason = check_address(ip)
    assert (reason is None) if blocked is None else (blocked in reason)


def test_loopback_refused_unless_allowed(httpserver):
    httpserver.expect_request("/x").respond_with_data("secret", content_type="text/plain")
    with pytest.raises(PermanentFetchError) as err:
        make(allow_loopback=False, obey_robots=False).get(httpserver.url_for("/x"))
    assert err.value.reason == "blocked_address"
    assert "loopback address; FACTLEDGER_ALLOW_LOOPBACK=1 allows it" in str(err.value)  # the opt-in is named
    assert httpserver.log == []


def _public_dns_for_localhost(host, port, *args, **kwargs):
    """A resolver that says 'localhost' is a public host (as a hostile DNS name would)."""
    if host == "localhost":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port))]
    return socket.getaddrinfo(host, port, *args, **kwargs)


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/secret", "http://10.0.0.7/admin",
                                    "http://[::ffff:127.0.0.1]:{port}/secret", "http://169.254.169.254/latest"])
def test_redirect_to_internal_address_is_refused(httpserver, target):
    target = target.format(port=httpserver.port)
    httpserver.expect_request("/start").respond_with_data("", status=302, headers={"Location": target})
    httpserver.expect_request("/secret").respond_with_data("secret", content_type="text/plain")
    f = make(allow_loopback=False, obey_robots=False, resolver=_public_dns_for_localhost)
    with pytest.raises(PermanentFetchError) as err:
        f.get(f"http://localhost:{httpserver.port}/start")
    assert err.value.reason == "blocked_address"
    assert [req.path for req, _ in httpserver.log] == ["/start"]


def test_redirects_followed_and_recorded_with_limits(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/c"})
    httpserver.expect_request("/c").respond_with_data("done", content_type="text/plain")
    httpserver.expect_request("/loop1").respond_with_data("", status=302, headers={"Location": "/loop2"})
    httpserver.expect_request("/loop2").respond_with_data("", status=302, headers={"Location": "/loop1"})
    f = make(obey_robots=False)
    res = f.get(httpserver.url_for("/a"))
    assert res.final_url == httpserver.url_for("/c") and len(res.redirects) == 2 and res.url == httpserver.url_for("/a")
    with pytest.raises(PermanentFetchError, match="redirect_loop"):
        f.get(httpserver.url_for("/loop1"))
    with pytest.raises(PermanentFetchError, match="too_many_redirects"):
        make(obey_robots=False, max_redirects=1).get(httpserver.url_for("/a"))


def test_unchanged_page_is_revalidated_not_downloaded(httpserver, tmp_path):
    body = "<html><body><p>" + "stable text " * 200 + "</p></body></html>"
    seen = []

    def handler(req):
        seen.append(req.headers.get("If-None-Match"))
        if req.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(body, content_type="text/html; charset=utf-8", headers={"ETag": '"v1"'})

    httpserver.expect_request("/page").respond_with_handler(handler)
    f = make(obey_robots=False, cache_path=tmp_path / "http.sqlite")
    first = f.get(httpserver.url_for("/page"))
    second = f.get(httpserver.url_for("/page"))
    assert not first.from_cache and second.from_cache
    assert second.body == first.body and second.sha256 == first.sha256
    assert seen == [None, '"v1"']
    assert [resp.status_code for _, resp in httpserver.log] == [200, 304]


def test_responses_captured_as_warc(httpserver, tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    httpserver.expect_request("/w").respond_with_data("<p>exact bytes</p>", content_type="text/html")
    warc = tmp_path / "capture.warc.gz"
    make(obey_robots=False, warc_path=warc).get(httpserver.url_for("/w"))
    with warc.open("rb") as fh:
        records = [(r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                   for r in ArchiveIterator(fh) if r.rec_type == "response"]
    assert records == [(httpserver.url_for("/w"), b"<p>exact bytes</p>")]


def test_per_host_interval(httpserver):
    import time

    httpserver.expect_request("/t").respond_with_data("x", content_type="text/plain")
    f = make(obey_robots=False, min_interval=0.3)
    t0 = time.monotonic()
    for _ in range(3):
        f.get(httpserver.url_for("/t"))
    assert time.monotonic() - t0 >= 0.6
