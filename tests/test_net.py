from __future__ import annotations

import time

import pytest
from werkzeug import Response

from factledger.errors import PermanentFetchError, TransientFetchError
from factledger.net import Fetcher


def test_user_agent_names_the_project(httpserver, fetcher):
    httpserver.expect_request("/ua").respond_with_handler(
        lambda req: Response(req.headers.get("User-Agent", ""), content_type="text/plain")
    )
    assert fetcher.get(httpserver.url_for("/ua")).text().startswith("FactLedger/")


def test_transient_503_is_retried_then_succeeds(httpserver, fetcher):
    calls = []

    def handler(req):
        calls.append(1)
        if len(calls) < 3:
            return Response("busy", status=503, content_type="text/plain")
        return Response("fine", content_type="text/plain")

    httpserver.expect_request("/flaky").respond_with_handler(handler)
    result = fetcher.get(httpserver.url_for("/flaky"))
    assert result.text() == "fine" and result.attempts == 3 and len(calls) == 3
    assert fetcher.retry_count == 2


def test_retry_after_is_honoured(httpserver, fetcher):
    calls = []

    def handler(req):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"}, content_type="text/plain")
        return Response("ok", content_type="text/plain")

    httpserver.expect_request("/limited").respond_with_handler(handler)
    fetcher.get(httpserver.url_for("/limited"))
    assert calls[1] - calls[0] >= 0.9


def test_permanent_404_is_not_retried(httpserver, fetcher):
    calls = []
    httpserver.expect_request("/missing").respond_with_handler(
        lambda req: calls.append(1) or Response("no", status=404, content_type="text/html")
    )
    with pytest.raises(PermanentFetchError) as err:
        fetcher.get(httpserver.url_for("/missing"))
    assert err.value.reason == "http_404" and len(calls) == 1


def test_retries_give_up_with_named_reason(httpserver, fetcher):
    httpserver.expect_request("/down").respond_with_data("x", status=502, content_type="text/plain")
    with pytest.raises(TransientFetchError) as err:
        fetcher.get(httpserver.url_for("/down"))
    assert err.value.reason == "http_502"


def test_size_cap(httpserver):
    httpserver.expect_request("/big").respond_with_data("x" * 5000, content_type="text/plain")
    small = Fetcher(max_bytes=1000, retries=0, allow_loopback=True, obey_robots=False)
    with pytest.raises(PermanentFetchError) as err:
        small.get(httpserver.url_for("/big"))
    assert err.value.reason == "too_large"


def test_content_type_allow_list(httpserver, fetcher):
    httpserver.expect_request("/img").respond_with_data(b"\x89PNG", content_type="image/png")
    with pytest.raises(PermanentFetchError) as err:
        fetcher.get(httpserver.url_for("/img"))
    assert err.value.reason == "not_html"


def test_read_timeout_is_transient(httpserver):
    httpserver.expect_request("/slow").respond_with_handler(
        lambda req: time.sleep(1.5) or Response("late", content_type="text/plain")
    )
    quick = Fetcher(timeout=(1.0, 0.5), retries=0, allow_loopback=True, obey_robots=False)
    with pytest.raises(TransientFetchError) as err:
        quick.get(httpserver.url_for("/slow"))
    assert err.value.reason == "timeout"


def test_non_http_scheme_refused(fetcher):
    with pytest.raises(PermanentFetchError, match="bad_scheme"):
        fetcher.get("file:///etc/passwd")


def test_html_charset_from_meta_when_header_has_none(httpserver, fetcher):
    body = '<html><head><meta charset="windows-1252"></head><body>caf\xe9</body></html>'.encode("cp1252")
    httpserver.expect_request("/latin").respond_with_data(body, content_type="text/html")
    assert "café" in fetcher.get(httpserver.url_for("/latin")).text()


def test_fetch_errors_survive_pickling():
    # Errors raised on a Dask worker cross a process boundary; they must arrive whole.
    import pickle

    from factledger.errors import PermanentFetchError, TransientFetchError

    for exc in (TransientFetchError("https://example.org/a", "timeout", "after 5 s"),
                PermanentFetchError("https://example.org/b", "http_404", status=404)):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert (back.url, back.reason, back.status) == (exc.url, exc.reason, exc.status)
