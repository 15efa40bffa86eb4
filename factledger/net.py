"""The one network seam: every HTTP request FactLedger makes goes through `Fetcher`.

It gives every request a timeout, a byte cap, a User-Agent naming the project, and one retry
layer for transient failures only (connection errors, timeouts, 429, 5xx), honouring
Retry-After. Errors carry the URL and a named reason.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from factledger.errors import PermanentFetchError, TransientFetchError
from factledger.records import sha256_bytes
from factledger.settings import USER_AGENT

__all__ = ["FetchResult", "Fetcher", "HTML_TYPES", "JSON_TYPES", "TEXT_TYPES"]

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")
JSON_TYPES = ("application/json",)
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
_HEADERS_OF_INTEREST = ("content-type", "etag", "last-modified", "date", "retry-after", "content-length")


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    content_type: str  # media type only, lower case, no parameters
    charset: str | None
    body: bytes
    fetched_at: datetime
    headers: dict[str, str] = field(default_factory=dict)
    attempts: int = 1

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.body)

    def text(self) -> str:
        """Decode the body: header charset, then <meta charset>, then UTF-8, then cp1252."""
        candidates = [self.charset]
        if self.content_type in HTML_TYPES:
            m = _META_CHARSET.search(self.body[:4096])
            if m:
                candidates.append(m.group(1).decode("ascii", "ignore"))
        candidates.append("utf-8")
        for enc in candidates:
            if not enc:
                continue
            try:
                return self.body.decode(enc)
            except (LookupError, UnicodeDecodeError):
                continue
        return self.body.decode("cp1252", errors="replace")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """A requests session with FactLedger's policies. Providers take one in their constructor."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_bytes: int = 10 * 1024 * 1024,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        user_agent: str = USER_AGENT,
        session: requests.Session | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.retry_count = 0  # transient failures retried, for benchmarks and run summaries

    def close(self) -> None:
        self.session.close()

    def get(
        self,
        url: str,
        *,
        params: dict[str, str | int] | None = None,
        accept: tuple[str, ...] = HTML_TYPES + TEXT_TYPES,
    ) -> FetchResult:
        """GET `url`, retrying transient failures; raise a FetchError with a named reason."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise PermanentFetchError(url, "bad_scheme", f"scheme {scheme or 'none'!r} not allowed")
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._get_once(url, params, accept)
                return dataclasses.replace(result, attempts=attempt)
            except TransientFetchError as exc:
                if attempt > self.retries:
                    raise
                delay = getattr(exc, "retry_after", None)
                if delay is None:
                    delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
                delay = min(delay, self.max_retry_after)
                self.retry_count += 1
                log.info("retrying %s in %.1fs after %s (attempt %d)", url, delay, exc.reason, attempt)
                time.sleep(delay)

    def get_json(self, url: str, *, params: dict[str, str | int] | None = None) -> tuple[object, FetchResult]:
        import json

        result = self.get(url, params=params, accept=JSON_TYPES + ("text/javascript",))
        try:
            return json.loads(result.text()), result
        except ValueError as exc:
            raise PermanentFetchError(url, "bad_json", str(exc)[:120]) from exc

    def _get_once(self, url: str, params, accept: tuple[str, ...]) -> FetchResult:
        fetched_at = datetime.now(UTC)
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout, stream=True, allow_redirects=True)
        except requests.exceptions.Timeout as exc:
            raise TransientFetchError(url, "timeout", type(exc).__name__) from exc
        except requests.exceptions.TooManyRedirects as exc:
            raise PermanentFetchError(url, "too_many_redirects") from exc
        except requests.exceptions.ConnectionError as exc:
            raise TransientFetchError(url, "connection_error", type(exc).__name__) from exc
        except requests.exceptions.RequestException as exc:
            raise PermanentFetchError(url, "request_error", type(exc).__name__) from exc
        with resp:
            final_url = resp.url
            if resp.status_code in TRANSIENT_STATUSES:
                err = TransientFetchError(final_url, f"http_{resp.status_code}", status=resp.status_code)
                err.retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
                raise err
            if resp.status_code >= 400:
                raise PermanentFetchError(final_url, f"http_{resp.status_code}", status=resp.status_code)
            ctype_full = resp.headers.get("Content-Type", "")
            ctype = ctype_full.split(";")[0].strip().lower()
            if accept and ctype not in accept:
                reason = "not_html" if ctype else "no_content_type"
                raise PermanentFetchError(final_url, reason, f"content type {ctype or 'missing'!r}", resp.status_code)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise PermanentFetchError(final_url, "too_large", f"{declared} bytes declared", resp.status_code)
            chunks, size = [], 0
            try:
                for chunk in resp.iter_content(chunk_size=65536):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PermanentFetchError(final_url, "too_large", f"over {self.max_bytes} bytes", resp.status_code)
                    chunks.append(chunk)
            except requests.exceptions.ConnectionError as exc:
                raise TransientFetchError(final_url, "connection_reset", type(exc).__name__) from exc
            except requests.exceptions.ChunkedEncodingError as exc:
                raise TransientFetchError(final_url, "connection_reset", type(exc).__name__) from exc
            except requests.exceptions.ContentDecodingError as exc:
                raise PermanentFetchError(final_url, "bad_encoding", type(exc).__name__) from exc
            except requests.exceptions.Timeout as exc:
                raise TransientFetchError(final_url, "timeout", "while reading the body") from exc
            headers = {k: v for k in _HEADERS_OF_INTEREST if (v := resp.headers.get(k))}
            return FetchResult(
                url=url,
                final_url=final_url,
                status=resp.status_code,
                content_type=ctype,
                charset=resp.encoding if "charset=" in ctype_full.lower() else None,
                body=b"".join(chunks),
                fetched_at=fetched_at,
                headers=headers,
            )

