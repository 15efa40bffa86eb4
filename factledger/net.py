"""The one network seam: every HTTP request FactLedger makes goes through `Fetcher`.

Policies, each in exactly one place:
- a timeout on every request, a streamed download with a byte cap, a content-type allow-list;
- redirects followed by hand (at most `max_redirects`), each hop checked;
- SSRF protection: the host is resolved and every address must be public (no private, loopback,
  link-local, CGNAT, multicast, reserved, or IPv4 embedded in IPv6 via mapping, NAT64, 6to4);
  loopback is allowed only when `allow_loopback=True` (tests);
- robots.txt per host (protego), cached; a 5xx or unreachable robots.txt refuses the host for now;
- a per-host minimum interval between requests;
- one retry layer for transient failures only (connection errors, timeouts, 429, 5xx), honouring
  Retry-After up to a ceiling;
- an HTTP cache with ETag / Last-Modified revalidation (SQLite), so an unchanged page is served
  after a 304 without downloading it again. (requests-cache reads the whole body before a byte cap
  can apply, so the cache is kept here, after the cap.)
- optional WARC capture of every response (warcio), so the exact bytes can be shown later.
Errors carry the URL and a named reason.
"""

from __future__ import annotations

import dataclasses
import email.utils
import ipaddress
import json
import logging
import random
import re
import socket
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from factledger.errors import PermanentFetchError, TransientFetchError
from factledger.records import sha256_bytes
from factledger.settings import USER_AGENT

__all__ = ["FetchResult", "Fetcher", "HTML_TYPES", "HttpCache", "JSON_TYPES", "TEXT_TYPES", "check_address"]

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")
JSON_TYPES = ("application/json",)
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml")
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
_HEADERS_OF_INTEREST = ("content-type", "etag", "last-modified", "date", "retry-after", "content-length",
                        "cache-control", "content-encoding", "x-robots-tag")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIXTOFOUR = ipaddress.ip_network("2002::/16")


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
    redirects: tuple[str, ...] = ()
    from_cache: bool = False  # True when a 304 revalidation served the stored body

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.body)

    def text(self) -> str:
        """Decode the body: header charset, then <meta charset>, then UTF-8, then cp1252.

        requests' ISO-8859-1 default for text/* without a charset is deliberately not used.
        """
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


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped:
        return addr.ipv4_mapped
    if any(addr in net for net in _NAT64):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _SIXTOFOUR:
        return addr.sixtofour
    if addr.teredo:
        return addr.teredo[1]
    return None


def check_address(ip: str, *, allow_loopback: bool = False) -> str | None:
    """None if `ip` may be fetched, else the reason it may not."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            reason = check_address(str(inner), allow_loopback=allow_loopback)
            return reason and f"{reason} (embedded in {addr})"
    if addr.is_loopback:
        return None if allow_loopback else "loopback address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "carrier-grade NAT address"
    if addr.is_link_local:
        return "link-local address"
    if addr.is_multicast or addr.is_reserved or addr.is_unspecified:
        return "reserved address"
    if addr.is_private:
        return "private address"
    return None


def _decoded(raw_chunks, decoder, cap: int):
    """Decompress as the bytes arrive, never more than `cap` + one chunk at a time (gzip bombs)."""
    for raw in raw_chunks:
        try:
            out = decoder.decompress(raw, cap + 1)
            while True:
                if out:
                    yield out
                if not decoder.unconsumed_tail:
                    break
                out = decoder.decompress(decoder.unconsumed_tail, cap + 1)
        except zlib.error as exc:
            raise requests.exceptions.ContentDecodingError(str(exc)) from exc


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


class HttpCache:
    """Bodies of 200 responses that carry an ETag or Last-Modified, for conditional re-fetches."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
            " final_url TEXT, content_type TEXT, charset TEXT, headers TEXT, body BLOB, stored_at TEXT)"
        )
        self._db.commit()

    def get(self, url: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified, final_url, content_type, charset, headers, body FROM responses WHERE url = ?",
                (url,),
            ).fetchone()
        if not row:
            return None
        keys = ("etag", "last_modified", "final_url", "content_type", "charset", "headers", "body")
        entry = dict(zip(keys, row))
        entry["headers"] = json.loads(entry["headers"])
        return entry

    def put(self, url: str, result: FetchResult) -> None:
        etag, modified = result.headers.get("etag"), result.headers.get("last-modified")
        if result.status != 200 or not (etag or modified) or "no-store" in result.headers.get("cache-control", ""):
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (url, etag, modified, result.final_url, result.content_type, result.charset,
                 json.dumps(result.headers), result.body, datetime.now(UTC).isoformat()),
            )
            self._db.commit()

    def close(self) -> None:
        self._db.close()


class _Robots:
    def __init__(self) -> None:
        self.rules: dict[str, tuple[float, object | None, str | None]] = {}
        self.lock = threading.Lock()


class Fetcher:
    """A requests session with FactLedger's policies. Providers take one in their constructor."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (5.0, 20.0),
        max_seconds: float = 60.0,
        max_bytes: int = 10 * 1024 * 1024,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        max_redirects: int = 5,
        min_interval: float = 1.0,
        obey_robots: bool = True,
        robots_ttl: float = 3600.0,
        allow_loopback: bool = False,
        cache_path: str | Path | None = None,
        warc_path: str | Path | None = None,
        user_agent: str = USER_AGENT,
        session: requests.Session | None = None,
        resolver=socket.getaddrinfo,
    ) -> None:
        self.timeout = timeout
        self.max_seconds = max_seconds  # whole download, against bodies that drip slowly
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_redirects = max_redirects
        self.min_interval = min_interval
        self.obey_robots = obey_robots
        self.robots_ttl = robots_ttl
        self.allow_loopback = allow_loopback
        self.user_agent = user_agent
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"  # decoded here, with the cap applied
        self.session.trust_env = False  # no proxies or .netrc from the environment: the checks must see the real host
        self.cache = HttpCache(cache_path) if cache_path else None
        self.warc_path = Path(warc_path) if warc_path else None
        self._warc_lock = threading.Lock()
        self._resolver = resolver
        self._robots = _Robots()
        self._host_lock = threading.Lock()
        self._host_next: dict[str, float] = {}
        self.blocked_domains: set[str] = set()  # refused outright (the credibility list's blocklist)
        self.retry_count = 0  # transient failures retried, for benchmarks and run summaries
        self.request_count = 0  # requests sent over the network (robots.txt included)

    def close(self) -> None:
        self.session.close()
        if self.cache:
            self.cache.close()

    # -- public ------------------------------------------------------------------------------
    def get(
        self,
        url: str,
        *,
        params: dict[str, str | int] | None = None,
        accept: tuple[str, ...] = HTML_TYPES + TEXT_TYPES,
        robots: bool = True,
        use_cache: bool = True,
        headers: dict[str, str] | None = None,
    ) -> FetchResult:
        """GET `url`, retrying transient failures; raise a FetchError with a named reason.

        `robots=False` is for documented APIs called as their terms ask (MediaWiki, GDELT, ...).
        """
        if params:
            url = requests.Request("GET", url, params=params).prepare().url
        self._check_url(url)
        if robots and self.obey_robots:
            self._check_robots(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._follow(url, accept, use_cache, extra_headers=headers)
                return dataclasses.replace(result, attempts=attempt)
            except TransientFetchError as exc:
                if attempt > self.retries:
                    raise
                delay = getattr(exc, "retry_after", None)
                if delay is None:
                    delay = self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4)
                elif delay > self.max_retry_after:
                    raise TransientFetchError(exc.url, exc.reason, f"Retry-After {delay:.0f}s is too long",
                                              exc.status) from exc
                self.retry_count += 1
                log.info("retrying %s in %.1fs after %s (attempt %d)", url, delay, exc.reason, attempt)
                time.sleep(delay)

    def get_json(
        self, url: str, *, params: dict[str, str | int] | None = None, robots: bool = False,
        headers: dict[str, str] | None = None,
    ) -> tuple[object, FetchResult]:
        """GET a JSON API (robots.txt is for crawlers, not for documented APIs) and parse it."""
        result = self.get(url, params=params, accept=JSON_TYPES + ("text/javascript",), robots=robots,
                          use_cache=False, headers=headers)
        try:
            return json.loads(result.text()), result
        except ValueError as exc:
            raise PermanentFetchError(url, "bad_json", str(exc)[:120]) from exc

    # -- checks --------------------------------------------------------------------------------
    def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise PermanentFetchError(url, "bad_scheme", f"scheme {parts.scheme or 'none'!r} not allowed")
        host = parts.hostname
        if not host:
            raise PermanentFetchError(url, "bad_url", "no host")
        if self.blocked_domains:
            labels = host.lower().split(".")
            if any(".".join(labels[i:]) in self.blocked_domains for i in range(len(labels))):
                raise PermanentFetchError(url, "blocklisted", "domain is on the credibility blocklist")
        try:
            infos = self._resolver(host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise PermanentFetchError(url, "dns_error", str(exc)[:80]) from exc
        for info in infos:
            reason = check_address(info[4][0], allow_loopback=self.allow_loopback)
            if reason:
                hint = "; FACTLEDGER_ALLOW_LOOPBACK=1 allows it" if reason.startswith("loopback") else ""
                raise PermanentFetchError(url, "blocked_address", f"{host} resolves to a {reason}{hint}")

    def _check_robots(self, url: str) -> None:
        from protego import Protego

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots.lock:
            cached = self._robots.rules.get(origin)
        if cached is None or cached[0] < time.monotonic():
            rules, failure = None, None
            try:
                res = self._follow(origin + "/robots.txt", TEXT_TYPES + HTML_TYPES + ("",), False, robots_file=True)
                rules = Protego.parse(res.text())
            except PermanentFetchError as exc:
                if exc.status is not None and 400 <= exc.status < 500:
                    rules = None  # no robots.txt: everything allowed
                elif exc.reason in ("not_html", "no_content_type"):
                    rules = None
                else:
                    failure = exc.reason
            except TransientFetchError as exc:
                failure = exc.reason  # 5xx or unreachable: assume disallowed for now (RFC 9309 2.3.1.4)
            cached = (time.monotonic() + (self.robots_ttl if failure is None else 60.0), rules, failure)
            with self._robots.lock:
                self._robots.rules[origin] = cached
        _, rules, failure = cached
        if failure in ("connection_refused", "connection_error", "dns_error"):
            raise TransientFetchError(url, failure, "host unreachable (robots.txt)")  # the page would fail alike
        if failure:
            raise PermanentFetchError(url, "robots_unavailable", f"robots.txt failed: {failure}")
        if rules is not None and not rules.can_fetch(url, self.user_agent.split("/")[0]):
            raise PermanentFetchError(url, "robots_disallowed")

    def _wait_for_host(self, host: str) -> None:
        if self.min_interval <= 0:
            return
        with self._host_lock:
            now = time.monotonic()
            start = max(now, self._host_next.get(host, 0.0))
            self._host_next[host] = start + self.min_interval
        if start > now:
            time.sleep(start - now)

    # -- transport -----------------------------------------------------------------------------
    def _follow(self, url: str, accept: tuple[str, ...], use_cache: bool, robots_file: bool = False,
                extra_headers: dict[str, str] | None = None) -> FetchResult:
        hops: list[str] = []
        current = url
        while True:
            same_host = urlsplit(current).netloc == urlsplit(url).netloc  # credentials never cross hosts
            result = self._get_once(current, accept, use_cache and not hops, extra_headers if same_host else None)
            if result is None or not isinstance(result, str):
                return dataclasses.replace(result, url=url, redirects=tuple(hops))
            target = urljoin(current, result)
            hops.append(current)
            if target in hops or target == current:
                raise PermanentFetchError(url, "redirect_loop", f"via {current}")
            if len(hops) > self.max_redirects:
                raise PermanentFetchError(url, "too_many_redirects", f"more than {self.max_redirects}")
            self._check_url(target)
            if self.obey_robots and not robots_file:
                self._check_robots(target)
            current = target

    def _get_once(self, url: str, accept: tuple[str, ...], use_cache: bool,
                  extra_headers: dict[str, str] | None = None) -> FetchResult | str:
        """One request. Returns the result, or the Location of a redirect."""
        cached = self.cache.get(url) if (self.cache and use_cache) else None
        headers = dict(extra_headers or {})
        if cached:
            if cached["etag"]:
                headers["If-None-Match"] = cached["etag"]
            if cached["last_modified"]:
                headers["If-Modified-Since"] = cached["last_modified"]
        self._wait_for_host(urlsplit(url).hostname or "")
        fetched_at = datetime.now(UTC)
        self.request_count += 1
        try:
            resp = self.session.get(url, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False)
        except requests.exceptions.Timeout as exc:
            raise TransientFetchError(url, "timeout", type(exc).__name__) from exc
        except requests.exceptions.ConnectionError as exc:
            reason = "connection_refused" if "refused" in str(exc).lower() else "connection_error"
            raise TransientFetchError(url, reason, type(exc).__name__) from exc
        except requests.exceptions.RequestException as exc:
            raise PermanentFetchError(url, "request_error", type(exc).__name__) from exc
        with resp:
            if resp.status_code in REDIRECT_STATUSES:
                location = resp.headers.get("Location")
                if not location:
                    raise PermanentFetchError(url, "bad_redirect", "no Location", resp.status_code)
                return location
            if resp.status_code == 304 and cached:
                return FetchResult(url=url, final_url=cached["final_url"], status=200,
                                   content_type=cached["content_type"], charset=cached["charset"],
                                   body=cached["body"], fetched_at=fetched_at, headers=cached["headers"],
                                   from_cache=True)
            if resp.status_code in TRANSIENT_STATUSES:
                err = TransientFetchError(url, f"http_{resp.status_code}", status=resp.status_code)
                err.retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
                raise err
            if resp.status_code >= 400 or resp.status_code < 200:
                raise PermanentFetchError(url, f"http_{resp.status_code}", status=resp.status_code)
            ctype_full = resp.headers.get("Content-Type", "")
            ctype = ctype_full.split(";")[0].strip().lower()
            if accept and ctype not in accept:
                reason = "not_html" if ctype else "no_content_type"
                raise PermanentFetchError(url, reason, f"content type {ctype or 'missing'!r}", resp.status_code)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise PermanentFetchError(url, "too_large", f"{declared} bytes declared", resp.status_code)
            chunks, size = [], 0
            expired = threading.Event()

            def cut() -> None:  # a body that drips slowly never trips the per-read timeout: cut it
                expired.set()
                resp.raw.close() if resp.raw is not None else None

            watchdog = threading.Timer(self.max_seconds, cut)
            watchdog.daemon = True
            watchdog.start()
            encoding = resp.headers.get("Content-Encoding", "").strip().lower()
            decoder = None
            if encoding in ("gzip", "x-gzip"):
                decoder = zlib.decompressobj(wbits=47)  # gzip or zlib header
            elif encoding == "deflate":
                decoder = zlib.decompressobj()
            try:
                if decoder is None:
                    pieces = resp.iter_content(chunk_size=16384)
                else:
                    pieces = _decoded(resp.raw.stream(16384, decode_content=False), decoder, self.max_bytes)
                for chunk in pieces:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PermanentFetchError(url, "too_large", f"over {self.max_bytes} bytes", resp.status_code)
                    chunks.append(chunk)
            except PermanentFetchError:
                raise
            except Exception as exc:
                if expired.is_set():
                    raise TransientFetchError(url, "too_slow", f"body not complete after {self.max_seconds:.0f}s",
                                              resp.status_code) from exc
                if isinstance(exc, requests.exceptions.ContentDecodingError):
                    raise PermanentFetchError(url, "bad_encoding", type(exc).__name__) from exc
                if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
                    raise TransientFetchError(url, "connection_reset", type(exc).__name__) from exc
                if isinstance(exc, requests.exceptions.Timeout):
                    raise TransientFetchError(url, "timeout", "while reading the body") from exc
                raise TransientFetchError(url, "read_error", type(exc).__name__) from exc
            finally:
                watchdog.cancel()
            if decoder is not None and not decoder.eof and not expired.is_set():
                raise PermanentFetchError(url, "bad_encoding", f"truncated {encoding} body", resp.status_code)
            if expired.is_set():
                raise TransientFetchError(url, "too_slow", f"body not complete after {self.max_seconds:.0f}s",
                                          resp.status_code)
            body = b"".join(chunks)
            if ctype in HTML_TYPES + TEXT_TYPES and b"\x00" in body[:4096]:
                raise PermanentFetchError(url, "binary_content", f"binary bytes served as {ctype}", resp.status_code)
            headers_kept = {k: v for k in _HEADERS_OF_INTEREST if (v := resp.headers.get(k))}
            charset = None
            m = re.search(r"charset=([^;\s]+)", ctype_full, re.I)
            if m:
                charset = m.group(1).strip("\"'")
            result = FetchResult(url=url, final_url=url, status=resp.status_code, content_type=ctype,
                                 charset=charset, body=body, fetched_at=fetched_at, headers=headers_kept)
            if self.cache and use_cache:
                self.cache.put(url, result)
            if self.warc_path:
                self._write_warc(resp, result)
            return result

    def _write_warc(self, resp: requests.Response, result: FetchResult) -> None:
        from io import BytesIO

        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        status_line = f"{resp.status_code} {resp.reason or ''}".strip()
        http_headers = StatusAndHeaders(status_line, [(k, v) for k, v in resp.headers.items()
                                                      if k.lower() not in ("content-encoding", "transfer-encoding")],
                                        protocol="HTTP/1.1")
        with self._warc_lock:
            self.warc_path.parent.mkdir(parents=True, exist_ok=True)
            with self.warc_path.open("ab") as fh:
                writer = WARCWriter(fh, gzip=True)
                record = writer.create_warc_record(result.final_url, "response", payload=BytesIO(result.body),
                                                   http_headers=http_headers,
                                                   warc_headers_dict={"WARC-Date": result.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")})
                writer.write_record(record)
