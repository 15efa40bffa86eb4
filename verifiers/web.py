"""Web providers: published fact-checks, news (GDELT), web search (SearXNG), explicit URLs.

Every request goes through the project's `Fetcher` (timeouts, caps, retries, robots, SSRF).
API keys come from the environment only and travel in headers, never in URLs, logs or rows.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Sequence
from urllib.parse import urlencode, urlsplit

import numpy as np

from extractors.articles import html_to_text, page_metadata, trafilatura_version
from factledger.errors import ConfigError, FetchError
from factledger.net import HTML_TYPES, TEXT_TYPES, Fetcher
from factledger.records import Claim, FactCheck, FetchStatus, Passage, Source, sha256_text
from verifiers.providers import Candidates, keyword_query

__all__ = ["FactCheckProvider", "GdeltProvider", "PageFetcher", "SearxngProvider", "UrlsProvider"]

log = logging.getLogger(__name__)

FACTCHECK_KEY_VARS = ("FACTLEDGER_FACTCHECK_API_KEY", "GOOGLE_FACTCHECK_API_KEY")


def _failed(provider: str, url: str, exc: FetchError) -> Source:
    return Source(provider=provider, url=url, fetched_at=datetime.now(UTC), fetch_status=FetchStatus.FAILED,
                  status_reason=exc.reason, http_status=exc.status)


class PageFetcher:
    """Fetch a web page once per run and turn it into a `Source` and sentence passages."""

    def __init__(self, fetcher: Fetcher, splitter) -> None:
        self.fetcher = fetcher
        self.splitter = splitter
        self._pages: dict[tuple[str, str], tuple[Source, tuple[Passage, ...]]] = {}

    def page(self, provider: str, url: str, *, title: str | None = None, published: str | None = None):
        key = (provider, url)
        if key not in self._pages:
            self._pages[key] = self._fetch(provider, url, title, published)
        return self._pages[key]

    def _fetch(self, provider: str, url: str, title: str | None, published: str | None):
        try:
            res = self.fetcher.get(url, accept=HTML_TYPES + TEXT_TYPES)
        except FetchError as exc:
            return _failed(provider, url, exc), ()
        body = res.text()
        if res.content_type in HTML_TYPES:
            meta = page_metadata(body)
            text, extractor = html_to_text(body, url=res.final_url), trafilatura_version()
            title, published = meta["title"] or title, meta["published"] or published
        else:
            text, extractor = body.strip(), "plain"
        base = dict(provider=provider, url=url, final_url=res.final_url, title=title, fetched_at=res.fetched_at,
                    http_status=res.status, content_type=res.content_type, raw_sha256=res.sha256,
                    extractor=extractor, published=published)
        if len(text.split()) < 5:
            return Source(**base, fetch_status=FetchStatus.FAILED, status_reason="empty_text"), ()
        source = Source(**base, text_sha256=sha256_text(text), fetch_status=FetchStatus.OK, status_reason="ok")
        return source, self.splitter.passages(source.source_id, text)


def _collect(pages: PageFetcher, provider: str, hits: Sequence[tuple[str, str | None, str | None]]) -> Candidates:
    sources, passages = [], []
    for url, title, published in hits:
        src, ps = pages.page(provider, url, title=title, published=published)
        sources.append(src)
        passages.extend(ps)
    return Candidates(tuple(sources), tuple(passages))


class FactCheckProvider:
    """Google Fact Check Tools `claims:search`: published ClaimReviews that match the claim."""

    name = "factchecks"
    DEFAULT_API = "https://factchecktools.googleapis.com/v1alpha1/claims:search"

    def __init__(self, fetcher: Fetcher, embedder, *, api_url: str | None = None, api_key: str | None = None,
                 language: str = "en", page_size: int = 10) -> None:
        self.fetcher = fetcher
        self.embedder = embedder
        self.api_url = api_url or os.environ.get("FACTLEDGER_FACTCHECK_API") or self.DEFAULT_API
        self.api_key = api_key or next((os.environ[v] for v in FACTCHECK_KEY_VARS if os.environ.get(v)), None)
        if not self.api_key:
            raise ConfigError(f"missing API key for the factchecks provider: set {FACTCHECK_KEY_VARS[0]}")
        self.language = language
        self.page_size = page_size

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        params = {"query": claim.text[:500], "languageCode": self.language, "pageSize": self.page_size}
        shown_url = f"{self.api_url}?{urlencode(params)}"  # the key is sent as a header, never in the URL
        try:
            data, res = self.fetcher.get_json(self.api_url, params=params, headers={"X-Goog-Api-Key": self.api_key})
        except FetchError as exc:
            return Candidates(sources=(_failed(self.name, shown_url, exc),))
        if not isinstance(data, dict):
            return Candidates(sources=(_failed(self.name, shown_url, FetchError(shown_url, "bad_response")),))
        reviews = []
        for item in data.get("claims", []):  # the key is absent when nothing matches
            for review in item.get("claimReview", []):
                if review.get("url"):
                    reviews.append((item, review))
        if not reviews:
            return Candidates()
        texts = [item.get("text") or review.get("title") or "" for item, review in reviews]
        sims = self.embedder.encode(texts) @ query_vector
        checks = []
        for (item, review), sim in zip(reviews, sims.tolist(), strict=True):
            publisher = review.get("publisher") or {}
            checks.append(FactCheck(
                claim_id=claim.claim_id, publisher=publisher.get("name"), publisher_site=publisher.get("site"),
                review_url=review["url"], title=review.get("title"), textual_rating=review.get("textualRating"),
                review_date=review.get("reviewDate"), claim_reviewed=item.get("text"), claimant=item.get("claimant"),
                claim_date=item.get("claimDate"), language=review.get("languageCode"), similarity=round(sim, 6),
                fetched_at=res.fetched_at,
            ))
        checks.sort(key=lambda f: -f.similarity)
        return Candidates(fact_checks=tuple(checks))


class GdeltProvider:
    """GDELT DOC 2.0 `mode=ArtList&format=json`: news coverage, then each article's text."""

    name = "gdelt"
    DEFAULT_API = "https://api.gdeltproject.org/api/v2/doc/doc"

    def __init__(self, fetcher: Fetcher, splitter, *, api_url: str | None = None, articles: int = 3,
                 timespan: str | None = None) -> None:
        self.fetcher = fetcher
        self.api_url = api_url or os.environ.get("FACTLEDGER_GDELT_API") or self.DEFAULT_API
        self.articles = articles
        self.timespan = timespan
        self.pages = PageFetcher(fetcher, splitter)

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        params = {"query": keyword_query(claim.text, max_terms=6), "mode": "ArtList", "format": "json",
                  "maxrecords": max(10, self.articles), "sort": "HybridRel"}
        if self.timespan:
            params["timespan"] = self.timespan
        shown_url = f"{self.api_url}?{urlencode(params)}"
        try:
            res = self.fetcher.get(self.api_url, params=params, robots=False, use_cache=False,
                                   accept=("application/json", "text/html", "text/plain"))
        except FetchError as exc:
            return Candidates(sources=(_failed(self.name, shown_url, exc),))
        if res.content_type != "application/json":
            # GDELT reports bad queries and throttling as a short text/html message with HTTP 200
            text = res.text().strip()
            reason = "rate_limited" if "limit requests" in text.lower() else "api_error"
            return Candidates(sources=(_failed(self.name, shown_url, FetchError(shown_url, reason, text[:120])),))
        import json

        try:
            data = json.loads(res.text() or "{}")
        except ValueError:
            return Candidates(sources=(_failed(self.name, shown_url, FetchError(shown_url, "bad_json")),))
        hits = [(a["url"], a.get("title"), _gdelt_date(a.get("seendate")))
                for a in (data.get("articles") or []) if a.get("url")][: self.articles]
        return _collect(self.pages, self.name, hits)


def _gdelt_date(seen: str | None) -> str | None:
    if not seen or len(seen) < 8:
        return None
    return f"{seen[:4]}-{seen[4:6]}-{seen[6:8]}"


class SearxngProvider:
    """A self-hosted SearXNG instance's JSON API as general web search, then each result's text."""

    name = "searxng"

    def __init__(self, fetcher: Fetcher, splitter, *, base_url: str | None = None, results: int = 3) -> None:
        base_url = base_url or os.environ.get("FACTLEDGER_SEARXNG_URL")
        if not base_url:
            raise ConfigError("missing SearXNG address for the searxng provider: set FACTLEDGER_SEARXNG_URL")
        self.fetcher = fetcher
        self.search_url = base_url.rstrip("/") + "/search"
        self.results = results
        self.pages = PageFetcher(fetcher, splitter)

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        params = {"q": keyword_query(claim.text), "format": "json", "language": "en", "safesearch": 0}
        shown_url = f"{self.search_url}?{urlencode(params)}"
        try:
            data, _ = self.fetcher.get_json(self.search_url, params=params)
        except FetchError as exc:
            if exc.status == 403:
                raise ConfigError(
                    f"SearXNG refused JSON output (HTTP 403): add 'json' to search.formats in its settings.yml: "
                    f"{self.search_url}"
                ) from exc
            return Candidates(sources=(_failed(self.name, shown_url, exc),))
        results = data.get("results", []) if isinstance(data, dict) else []
        hits = [(r["url"], r.get("title"), r.get("publishedDate")) for r in results
                if isinstance(r, dict) and str(r.get("url", "")).startswith(("http://", "https://"))][: self.results]
        return _collect(self.pages, self.name, hits)


class UrlsProvider:
    """Explicit candidate URLs, given per article or per claim: every claim sees them all."""

    name = "urls"

    def __init__(self, fetcher: Fetcher, splitter, urls: Sequence[str]) -> None:
        if not urls:
            raise ConfigError("the urls provider needs at least one --url")
        for u in urls:
            if urlsplit(u).scheme not in ("http", "https"):
                raise ConfigError(f"not an http(s) URL: {u}")
        self.urls = list(dict.fromkeys(urls))
        self.pages = PageFetcher(fetcher, splitter)

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        return _collect(self.pages, self.name, [(u, None, None) for u in self.urls])
