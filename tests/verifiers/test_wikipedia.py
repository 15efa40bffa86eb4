"""WikipediaProvider against a local imitation of the MediaWiki Action API (real JSON shapes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from werkzeug import Response

from factledger.records import Claim, FetchStatus
from verifiers.providers import WikipediaProvider, keyword_query

PAGES = {
    736: {
        "title": "Soviet–Afghan War",
        "lastrevid": 1234567,
        "extract": "The Soviet–Afghan War was fought in Afghanistan from 1979 to 1989.\n\n"
                   "History\nSoviet troops entered the country in December 1979. "
                   "The last Soviet soldiers left Afghanistan on 15 February 1989.",
    },
    4242: {"title": "Afghanistan", "lastrevid": 7654321,
           "extract": "Afghanistan is a landlocked country at the crossroads of Central Asia and South Asia."},
}


def wiki_handler(req):
    args = req.args
    if args.get("format") != "json":
        return Response("<html>not json</html>", content_type="text/html")
    if args.get("list") == "search":
        body = {"batchcomplete": True, "continue": {"sroffset": 2, "continue": "-||"},
                "query": {"searchinfo": {"totalhits": 2},
                          "search": [{"ns": 0, "title": p["title"], "pageid": pid} for pid, p in PAGES.items()]}}
    elif "extracts" in args.get("prop", ""):
        pid = int(args["pageids"])
        page = PAGES[pid]
        body = {"batchcomplete": True, "query": {"pages": [{
            "pageid": pid, "ns": 0, "title": page["title"], "extract": page["extract"],
            "contentmodel": "wikitext", "pagelanguage": "en", "lastrevid": page["lastrevid"],
            "fullurl": "https://en.wikipedia.org/wiki/" + page["title"].replace(" ", "_"),
            "canonicalurl": "https://en.wikipedia.org/wiki/" + page["title"].replace(" ", "_"),
        }]}}
    else:
        body = {"error": {"code": "badvalue", "info": "Unrecognized value"}, "servedby": "mw-test"}
    return Response(json.dumps(body), content_type="application/json; charset=utf-8")


@pytest.fixture()
def wiki_server(httpserver):
    httpserver.expect_request("/w/api.php").respond_with_handler(wiki_handler)
    return httpserver


def test_search_then_extracts_into_passages(wiki_server, fetcher, splitter):
    provider = WikipediaProvider(fetcher, splitter, api_url=wiki_server.url_for("/w/api.php"))
    claim = Claim("The Soviet intervention in Afghanistan lasted from 1979 to 1989.", None, None, 1.0)
    found = provider.search(claim, np.zeros(384, dtype=np.float32))
    assert [s.title for s in found.sources] == ["Soviet–Afghan War", "Afghanistan"]
    src = found.sources[0]
    assert src.fetch_status is FetchStatus.OK and src.http_status == 200
    assert src.url == "https://en.wikipedia.org/wiki/Soviet–Afghan_War"
    assert src.raw_sha256 and src.text_sha256 and src.extractor_version == "1234567"
    texts = [p.text for p in found.passages if p.source_id == src.source_id]
    assert any("15 February 1989" in t for t in texts)
    assert "History" not in texts  # section headings are not passages
    page = PAGES[736]["extract"]
    for p in found.passages:
        if p.source_id == src.source_id:
            assert page[p.start:p.end] == p.text
    # a second claim reuses the fetched pages: 1 search + 0 page requests
    before = len(wiki_server.log)
    provider.search(claim, np.zeros(384, dtype=np.float32))
    assert len(wiki_server.log) - before == 1


def test_failed_api_becomes_a_failed_source(httpserver, fetcher, splitter):
    httpserver.expect_request("/w/api.php").respond_with_data("down", status=404, content_type="text/html")
    provider = WikipediaProvider(fetcher, splitter, api_url=httpserver.url_for("/w/api.php"))
    found = provider.search(Claim("Kabul is the capital of Afghanistan.", None, None, 1.0), np.zeros(384))
    assert found.passages == ()
    assert [(s.fetch_status, s.status_reason) for s in found.sources] == [(FetchStatus.FAILED, "http_404")]


def test_api_error_body_is_named(httpserver, fetcher, splitter):
    httpserver.expect_request("/w/api.php").respond_with_json({"error": {"code": "readonly", "info": "Read-only"}})
    provider = WikipediaProvider(fetcher, splitter, api_url=httpserver.url_for("/w/api.php"))
    found = provider.search(Claim("Kabul is the capital of Afghanistan.", None, None, 1.0), np.zeros(384))
    assert found.sources[0].status_reason == "api_readonly"


def test_keyword_query_keeps_names_and_years():
    q = keyword_query("Russia's official recognition of the Taliban on July 3, 2025, marks a shift.")
    assert q.split()[:4] == ["Russia", "Taliban", "July", "2025"]


def test_maxlag_error_with_http_200_is_waited_for_and_retried(httpserver, fetcher, splitter):
    calls = []

    def handler(req):
        calls.append(req.args.get("maxlag"))
        if len(calls) == 1:
            body = {"error": {"code": "maxlag", "info": "Waiting for a database server: 7 seconds lagged.",
                              "host": "db1", "lag": 7, "type": "db"}, "servedby": "mw-test"}
            return Response(json.dumps(body), content_type="application/json; charset=utf-8",
                            headers={"Retry-After": "1", "X-Database-Lag": "7"})
        return wiki_handler(req)

    httpserver.expect_request("/w/api.php").respond_with_handler(handler)
    provider = WikipediaProvider(fetcher, splitter, api_url=httpserver.url_for("/w/api.php"))
    found = provider.search(Claim("The Soviet intervention lasted from 1979 to 1989.", None, None, 1.0), np.zeros(384))
    assert calls[0] == "5" and len(found.sources) == 2 and all(s.status_reason == "ok" for s in found.sources)
