"""Web providers against local imitations of the real services (their JSON shapes and quirks)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from werkzeug import Response

from factledger.errors import ConfigError
from factledger.net import Fetcher
from factledger.records import Claim, FetchStatus
from verifiers.web import FactCheckProvider, GdeltProvider, SearxngProvider, UrlsProvider

FAKE_KEY = "AIzaFAKE-test-key-0123456789"
CLAIM = Claim("Russia recognised the Taliban government in July 2025.", None, None, 1.0)
ARTICLE = """<html><head><title>Moscow recognises Taliban</title>
<meta property="article:published_time" content="2025-07-04T08:00:00Z"></head><body><article>
<p>Russia on Thursday became the first country to formally recognise the Taliban government in Afghanistan.</p>
<p>The decision was announced by the foreign ministry in Moscow on 3 July 2025 after talks with Kabul.</p>
</article></body></html>"""

CLAIMREVIEW = {
    "claims": [{
        "text": "Russia recognised the Taliban government in July 2025",
        "claimant": "Social media posts",
        "claimDate": "2025-07-03T00:00:00Z",
        "claimReview": [{
            "publisher": {"name": "Example Checks", "site": "checks.example.org"},
            "url": "https://checks.example.org/2025/07/russia-taliban",
            "title": "Yes, Russia recognised the Taliban",
            "reviewDate": "2025-07-05T00:00:00Z",
            "textualRating": "True",
            "languageCode": "en",
        }],
    }],
    "nextPageToken": "CAo",
}


def polite_fetcher() -> Fetcher:
    return Fetcher(timeout=(2, 2), retries=1, backoff=0.01, min_interval=0, allow_loopback=True)


def factcheck_handler(req):
    if req.headers.get("X-Goog-Api-Key") != FAKE_KEY:
        return Response(json.dumps({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                              "status": "INVALID_ARGUMENT"}}), status=400,
                        content_type="application/json; charset=UTF-8")
    if "nothing" in req.args.get("query", ""):
        return Response("{}\n", content_type="application/json; charset=UTF-8")
    return Response(json.dumps(CLAIMREVIEW), content_type="application/json; charset=UTF-8")


def test_factchecks_claimreview_becomes_a_fact_check(httpserver, embedder):
    httpserver.expect_request("/v1alpha1/claims:search").respond_with_handler(factcheck_handler)
    p = FactCheckProvider(polite_fetcher(), embedder, api_url=httpserver.url_for("/v1alpha1/claims:search"),
                          api_key=FAKE_KEY)
    found = p.search(CLAIM, embedder.encode([CLAIM.text])[0])
    (fc,) = found.fact_checks
    assert (fc.publisher, fc.textual_rating, fc.review_date) == ("Example Checks", "True", "2025-07-05T00:00:00Z")
    assert fc.review_url == "https://checks.example.org/2025/07/russia-taliban" and fc.claimant == "Social media posts"
    assert fc.similarity > 0.5
    req, _ = httpserver.log[-1]
    assert FAKE_KEY not in req.url and req.args["query"].startswith("Russia")
    empty = p.search(Claim("nothing matches this", None, None, 1.0), np.zeros(384))
    assert empty.fact_checks == () and empty.sources == ()


def test_factchecks_bad_key_is_a_named_failure_without_the_key(httpserver, embedder):
    httpserver.expect_request("/v1alpha1/claims:search").respond_with_handler(factcheck_handler)
    p = FactCheckProvider(polite_fetcher(), embedder, api_url=httpserver.url_for("/v1alpha1/claims:search"),
                          api_key="wrong-key")
    (src,) = p.search(CLAIM, np.zeros(384)).sources
    assert src.fetch_status is FetchStatus.FAILED and src.status_reason == "http_400"
    assert "wrong-key" not in src.url


def test_factchecks_missing_key_names_the_variable(monkeypatch, embedder):
    monkeypatch.delenv("FACTLEDGER_FACTCHECK_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_FACTCHECK_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="FACTLEDGER_FACTCHECK_API_KEY"):
        FactCheckProvider(polite_fetcher(), embedder)


@pytest.fixture()
def news_site(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n",
                                                               content_type="text/plain")
    httpserver.expect_request("/news/moscow-taliban").respond_with_data(ARTICLE, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/private/memo").respond_with_data(ARTICLE, content_type="text/html")
    return httpserver


def gdelt_handler(server):
    def handler(req):
        q = req.args.get("query", "")
        if req.args.get("format") != "json" or req.args.get("mode") != "ArtList":
            return Response("Invalid mode", content_type="text/html")
        if q == "":
            return Response("Your search contained a phrase that was too short.", content_type="text/html")
        if "Throttle" in q:
            return Response("Please limit requests to one every 5 seconds or contact us.", content_type="text/plain")
        if "Nothing" in q:
            return Response("{}", content_type="application/json")
        return Response(json.dumps({"articles": [{
            "url": server.url_for("/news/moscow-taliban"), "url_mobile": "", "title": "Moscow recognises Taliban",
            "seendate": "20250704T081500Z", "socialimage": "", "domain": "127.0.0.1", "language": "English",
            "sourcecountry": "United States"}]}), content_type="application/json; charset=utf-8")
    return handler


def test_gdelt_articles_fetched_and_split(news_site, splitter):
    news_site.expect_request("/api/v2/doc/doc").respond_with_handler(gdelt_handler(news_site))
    p = GdeltProvider(polite_fetcher(), splitter, api_url=news_site.url_for("/api/v2/doc/doc"))
    found = p.search(CLAIM, np.zeros(384))
    (src,) = found.sources
    assert src.fetch_status is FetchStatus.OK and src.published == "2025-07-04T08:00:00Z"
    assert src.title == "Moscow recognises Taliban"
    assert any("3 July 2025" in ps.text for ps in found.passages)


@pytest.mark.parametrize("text, reason", [("Throttle this", "rate_limited"), ("", "api_error")])
def test_gdelt_text_errors_are_named(news_site, splitter, text, reason):
    news_site.expect_request("/api/v2/doc/doc").respond_with_handler(gdelt_handler(news_site))
    p = GdeltProvider(polite_fetcher(), splitter, api_url=news_site.url_for("/api/v2/doc/doc"))
    (src,) = p.search(Claim(text or "a an the", None, None, 1.0), np.zeros(384)).sources
    assert src.status_reason == reason


def test_gdelt_empty_result_has_no_articles_key(news_site, splitter):
    news_site.expect_request("/api/v2/doc/doc").respond_with_handler(gdelt_handler(news_site))
    p = GdeltProvider(polite_fetcher(), splitter, api_url=news_site.url_for("/api/v2/doc/doc"))
    found = p.search(Claim("Nothing will match here", None, None, 1.0), np.zeros(384))
    assert found.sources == () and found.passages == ()


def test_searxng_results_and_403(news_site, splitter):
    body = {"query": "x", "number_of_results": 0, "results": [
        {"url": news_site.url_for("/news/moscow-taliban"), "title": "Moscow recognises Taliban",
         "content": "Russia became the first...", "engine": "duckduckgo", "engines": ["duckduckgo"],
         "score": 1.0, "category": "general", "publishedDate": None},
        {"url": news_site.url_for("/private/memo"), "title": "memo", "engine": "bing", "score": 0.5}],
        "answers": [], "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []}
    news_site.expect_request("/search").respond_with_json(body)
    p = SearxngProvider(polite_fetcher(), splitter, base_url=news_site.url_for("/"))
    found = p.search(CLAIM, np.zeros(384))
    reasons = {s.url.rsplit("/", 1)[-1]: s.status_reason for s in found.sources}
    assert reasons == {"moscow-taliban": "ok", "memo": "robots_disallowed"}
    news_site.clear()
    news_site.expect_request("/search").respond_with_data("Forbidden", status=403, content_type="text/html")
    with pytest.raises(ConfigError, match="search.formats"):
        SearxngProvider(polite_fetcher(), splitter, base_url=news_site.url_for("/")).search(CLAIM, np.zeros(384))


def test_urls_provider_fetches_each_page_once(news_site, splitter):
    p = UrlsProvider(polite_fetcher(), splitter, [news_site.url_for("/news/moscow-taliban")])
    a = p.search(CLAIM, np.zeros(384))
    b = p.search(Claim("Another claim about Kabul.", None, None, 1.0), np.zeros(384))
    assert a.sources == b.sources and a.passages
    assert [r.path for r, _ in news_site.log].count("/news/moscow-taliban") == 1
    with pytest.raises(ConfigError):
        UrlsProvider(polite_fetcher(), splitter, ["file:///etc/passwd"])


def test_before_date_drops_later_sources(news_site, splitter, embedder):
    from factledger.settings import Thresholds
    from verifiers.pipeline import Verifier
    from verifiers.stance import ConflictRuleStance

    p = UrlsProvider(polite_fetcher(), splitter, [news_site.url_for("/news/moscow-taliban")])
    t = Thresholds()
    after = Verifier([p], embedder, ConflictRuleStance(), t, before="2025-07-01").check([CLAIM])[0]
    assert after.evidence == () and after.verdict.label.value == "not_enough_evidence"
    assert after.sources[0].published == "2025-07-04T08:00:00Z"  # still recorded as tried
    kept = Verifier([p], embedder, ConflictRuleStance(), t, before="2025-07-31").check([CLAIM])[0]
    assert kept.evidence
