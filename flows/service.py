"""The warm FactLedger service behind `factledger serve`: models and the corpus index loaded once,
checks answered over HTTP on loopback.

A small FastAPI app on uvicorn (both come with Prefect). Each check runs as a Prefect flow run
(`check-claim`, `check-article`) in this process, one at a time: the service is the warehouse's
one writer, and its run id is the flow run's id, as when the CLI runs the flow itself. Between
checks it holds no connection, so `factledger sql` and `corpus add` open the file as before
(a new corpus is seen by the next check); after each store it publishes the analysts' snapshot
(`warehouse.snapshot`), which `factledger sql` reads while a writer holds the file.

API (JSON; the OpenAPI page is `/docs`, the schema `/openapi.json`):

- `POST /claims/check` `{"claims": [...], "input_ids": [...]?, "providers": [...]?, "urls": [...]?,
  "before": "YYYY-MM-DD"?}` -> `{"run_id", "status", "results": [...]}` (the rows `check-claim
  --format json` prints)
- `POST /articles/check` `{"article": PATH_OR_URL, "max_claims"?, "max_article_mb"?, "providers"?,
  "urls"?, "before"?}` -> the same, for `check`
- either, with `Accept: application/x-ndjson`: a stream of events, one JSON object a line, sent as
  the check goes (`CheckEvent`): `started` (the run id), `claims` (how many will be verified),
  `progress` (what the CLI's bar shows: claims checked of all, the current step), one `verdict` per
  claim when the verdicts are decided (before they are stored), then `done` (what the plain call
  answers: run id, status, results) or `error` (what the plain call's error says, and its HTTP status)
- `GET /runs/{run_id}` -> the run (`run_summary`) and its verdicts
- `POST /reviews` `{"claim_id", "label", "note", "reviewer", "run_id"?, "relied"?, "rejected"?}` ->
  `{"review": {...}}` (201; 409 when the claim was re-checked since the verdict reviewed), and
  `GET /reviews/queue?limit=N` -> `{"queue": [...]}` (the review desk, `warehouse.reviews`)
- `GET /health` -> status, pid, database, version, checks served
- `POST /checks/{request_id}/cancel` `{"signal": "SIGINT"|"SIGTERM"?}` -> cancels the check sent with
  that `request_id` (the CLI does on Ctrl-C): in flight, it stops at its next check and is recorded
  as cancelled (its caller gets 409 with the run id); not started yet, it will not start

Access: a bearer token (`~/.factledger/service-token`, 0600, generated at the first start) on every
request but the documentation pages; loopback only unless `--allow-remote`. Request bodies are
capped (`MAX_BODY_BYTES`, 413). Errors are JSON `{"error": one line, "kind", "run_id"?}`:
400 malformed JSON, 401 no or wrong token, 404, 409 a stale review, 413, 422 input refused, 503 stopping, 500 a run
that failed (recorded as failed; the service goes on). SIGTERM / SIGINT: in-flight runs stop at
their next check and are recorded as cancelled (`flows.stopping`), the state file is removed.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import queue
import secrets
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Literal, Sequence

import uvicorn
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPBearer
from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from factledger import __version__
from factledger import progress
from factledger.client import NDJSON, is_loopback
from factledger.errors import Cancelled, ConfigError, ExtractionError, FactLedgerError, InputError
from factledger.records import record_to_plain
from factledger.settings import PROVIDERS
from flows.review_page import COOKIE, PAGE_OPEN_PATHS, add_review_pages, is_page
from warehouse.reviews import MAX_NOTE_CHARS

__all__ = ["MAX_BODY_BYTES", "CheckEvent", "CheckEvents", "CheckService", "create_app", "is_loopback", "serve_checks"]

log = logging.getLogger(__name__)

# Largest request body accepted. A check-claim file may hold up to the article limit (2 MB of
# text, `Limits.max_article_mb`), which JSON escaping can grow; articles travel as a path or URL.
# Chosen, not measured: twice the largest claims file the CLI sends.
MAX_BODY_BYTES = 4_000_000
MAX_CLAIMS = 10_000  # claims in one request (a 2 MB claims file of 10-character claims holds ~180k; chosen)
MAX_CLAIM_CHARS = 10_000
# How long uvicorn waits for in-flight requests after SIGTERM before it cancels them; a run that
# has not reached its next check by then is recorded as cancelled from here.
STOP_GRACE_S = 5.0
OPEN_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")  # documentation: no data, no actions
DEFAULT_PORT = 8765

Provider = Literal[PROVIDERS]  # type: ignore[valid-type]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CLAIM_CHARS)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Accept = Annotated[str | None, Header(description=f"`{NDJSON}`: answer with the stream of the check's events")]
CANCELLED_EARLY_KEPT = 100  # cancels of checks not started yet that are remembered (chosen; the CLI sends one at most)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimsCheck(_Strict):
    """Claims typed in by hand, checked in one run (as `factledger check-claim`)."""

    claims: list[Text] = Field(min_length=1, max_length=MAX_CLAIMS, description="the claims, as typed")
    input_ids: list[str | None] | None = Field(None, description="the caller's id of each claim, stored with it")
    providers: list[Provider] | None = Field(None, description="source providers (default: the service's)")
    urls: list[Url] = Field(default_factory=list, max_length=100, description="candidate pages (urls provider)")
    before: date | None = Field(None, description="ignore sources published after this date")
    request_id: RequestId | None = Field(None, description="the caller's id of this check, to cancel it by")


class ArticleCheck(_Strict):
    """One article by path (on the service's machine) or http(s) URL (as `factledger check`)."""

    article: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    max_claims: int | None = Field(None, ge=1, description="verify at most this many claims, best first")
    max_article_mb: float | None = Field(None, gt=0, description="refuse a larger article text")
    providers: list[Provider] | None = None
    urls: list[Url] = Field(default_factory=list, max_length=100)
    before: date | None = None
    request_id: RequestId | None = Field(None, description="the caller's id of this check, to cancel it by")


class Cancel(_Strict):
    """Why the check is cancelled: the signal its client got (recorded in `runs.error`)."""

    signal: Literal["SIGINT", "SIGTERM"] | None = None


class ReviewIn(_Strict):
    """A person's decision on a claim's machine verdict (as `factledger review CLAIM_ID`)."""

    claim_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    label: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="supported | refuted | not_enough_evidence | conflicting")
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE_CHARS)]
    reviewer: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    run_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="the run of the verdict reviewed (default: the claim's latest); refused (409) when the "
                          "claim was re-checked since")
    relied: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=1000, description="passages relied on: passage ids or evidence ranks")
    rejected: list[Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=list, max_length=1000, description="passages rejected: passage ids or evidence ranks")


class CheckResult(BaseModel):
    run_id: str = Field(description="the Prefect flow-run id, also `runs.run_id` in the warehouse")
    status: str
    results: list[dict[str, Any]]


class ErrorBody(BaseModel):
    error: str
    kind: str
    run_id: str | None = None


class CheckEvent(BaseModel):
    """One line of a check's NDJSON stream (`Accept: application/x-ndjson`); each event has the
    fields its `event` names, no others."""

    event: Literal["started", "claims", "progress", "verdict", "done", "error"] = Field(
        description="started: the run began; claims: the claims to verify are known; progress: more work done; "
                    "verdict: one claim's verdict was decided (stored with the others at the end); done: the check "
                    "ended, stored (the last event); error: the check failed (the last event)")
    run_id: str | None = Field(None, description="started, done, error: the run's id (the Prefect flow-run id; "
                                                 "error: null when no run began)")
    count: int | None = Field(None, description="claims: how many claims will be verified")
    what: str | None = Field(None, description="progress: what is counted (`claims checked`)")
    done: int | None = Field(None, description="progress: how many are done")
    total: int | None = Field(None, description="progress: of how many (null: not known yet)")
    note: str | None = Field(None, description="progress: what is happening now; absent: as before")
    scope: str | None = Field(None, description="claims, progress: the article's id (empty for claims typed in)")
    claim_id: str | None = Field(None, description="verdict: the claim's id")
    input_id: str | None = Field(None, description="verdict: the caller's id of the claim (`input_ids`)")
    rank: int | None = Field(None, description="verdict: the claim's check-worthiness rank in the article")
    claim: str | None = Field(None, description="verdict: the claim's text")
    label: str | None = Field(None, description="verdict: supported | refuted | not_enough_evidence | conflicting")
    confidence: float | None = Field(None, description="verdict: the verdict's confidence")
    needs_review: bool | None = Field(None, description="verdict: below the review threshold")
    status: str | None = Field(None, description="done: `completed`")
    results: list[dict[str, Any]] | None = Field(None, description="done: the rows the plain call answers")
    error: str | None = Field(None, description="error: one line")
    kind: str | None = Field(None, description="error: as in the plain call's error body")
    http_status: int | None = Field(None, description="error: the status the plain call would have answered")


VERDICT_FIELDS = ("claim_id", "input_id", "rank", "claim", "label", "confidence", "needs_review")


class CheckEvents:
    """A progress display (`factledger.progress`) that turns a check's reports into the events of
    its NDJSON stream (`CheckEvent`), handed to `put` as plain dicts: counts made absolute, the
    claims to verify announced once per article, each decided verdict."""

    def __init__(self, put: Callable[[dict], None]) -> None:
        self._put = put
        self._counts: dict[str, tuple[str, int]] = {}  # what -> (scope, done)
        self._counted: set[str] = set()  # scopes whose claims were announced
        self._lock = threading.Lock()  # reports come from the task runner's threads

    def started(self, run_id: str) -> None:
        self._put({"event": "started", "run_id": run_id})

    def __call__(self, what: str, total: int | None, advance: int, done: int | None, note: str | None,
                 scope: str) -> None:
        with self._lock:
            counted_scope, count = self._counts.get(what, (scope, 0))
            count = done if done is not None else (count if counted_scope == scope else 0) + advance
            self._counts[what] = (scope, count)
            if what == progress.CLAIMS and total is not None and scope not in self._counted:
                self._counted.add(scope)
                self._put({"event": "claims", "count": total, "scope": scope})
            event = {"event": "progress", "what": what, "done": count, "total": total, "scope": scope}
            self._put(event if note is None else {**event, "note": note})

    def decided(self, results: Sequence[Any], scope: str) -> None:
        from factledger.app import result_rows

        with self._lock:
            for row in result_rows(results):
                self._put({"event": "verdict", **{k: row[k] for k in VERDICT_FIELDS}})

    def close(self) -> None:
        pass


class CheckFailed(Exception):
    """A check's flow run ended with an error; carries what the HTTP answer says."""

    def __init__(self, status: int, kind: str, message: str, run_id: str | None):
        super().__init__(message)
        self.status, self.kind, self.run_id = status, kind, run_id


@dataclass
class CheckService:
    """What the HTTP app serves from: the database, the default providers, and one lock so that
    checks take turns (one writer; the models serve one check at a time)."""

    db: Path
    providers: Sequence[str] = ("corpus",)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.time)
    checks: int = 0
    failed: int = 0
    reviews: int = 0
    busy: bool = False
    current: str | None = None  # the request id of the check in flight
    cancelling: str | None = None  # the stop its client asked for (`cancel`), while it runs
    cancelled_early: deque = field(default_factory=lambda: deque(maxlen=CANCELLED_EARLY_KEPT))
    _state: threading.Lock = field(default_factory=threading.Lock)

    def run(self, flow, request_id: str | None = None, events: CheckEvents | None = None,
            **params: Any) -> CheckResult:
        """Run `flow` to its end here (it is async: its own event loop, in this worker thread);
        with `events`, its progress goes there (else it runs quiet)."""
        from flows import stopping

        with self.lock:
            if stopping.stop_requested():
                raise CheckFailed(503, "stopping", "the service is stopping", None)
            with self._state:
                if request_id is not None and request_id in self.cancelled_early:
                    self.cancelled_early.remove(request_id)
                    raise CheckFailed(409, "cancelled", "check cancelled by its client before it started", None)
                self.current, self.cancelling = request_id, None
            self.busy = True
            try:
                with progress.shown(events):
                    state = flow(**params, db=str(self.db), quiet=events is None, return_state=True)
                    if asyncio.iscoroutine(state):
                        state = asyncio.run(state)
            finally:
                self.busy = False
                self.checks += 1
                with self._state:
                    cancelled_by, self.current, self.cancelling = self.cancelling, None, None
                if cancelled_by:  # that run has ended: the next check must not see its stop
                    stopping.withdraw_stop(cancelled_by)
        run_id = str(state.state_details.flow_run_id)
        result = state.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            failure = _failure(result, run_id, cancelled_by)
            self.failed += failure.kind != "cancelled"
            raise failure from result
        return CheckResult(run_id=run_id, status="completed", results=result)

    def review(self, body: ReviewIn) -> dict:
        """Store a review, taking its turn with the checks (the service is the one writer)."""
        from flows import stopping
        from warehouse.db import opened
        from warehouse.reviews import StaleReview, record_review

        with self.lock:
            if stopping.stop_requested():
                raise CheckFailed(503, "stopping", "the service is stopping", None)
            try:
                with opened(self.db, publish=True) as con:
                    review = record_review(con, body.claim_id, body.label, body.note, body.reviewer,
                                           run_id=body.run_id, relied=body.relied, rejected=body.rejected)
            except StaleReview as exc:
                raise CheckFailed(409, "stale", str(exc), exc.reviewed_run) from exc
            except InputError as exc:
                raise CheckFailed(422, "input", str(exc), None) from exc
            self.reviews += 1
        return {"review": record_to_plain(review)}

    def read(self, fn, *args):
        """`fn(con, *args)` on a read-only connection, taking turns with the service's own writes."""
        from warehouse.db import opened

        with self.lock:
            with opened(self.db, read_only=True) as con:
                return fn(con, *args)

    def queue(self, limit: int | None) -> dict:
        from warehouse.reviews import review_queue

        return json.loads(json.dumps({"queue": self.read(review_queue, limit)}, default=str))

    def cancel(self, request_id: str, signal_name: str | None = None) -> dict:
        """Stop the check sent with `request_id` at its next check (recorded as cancelled), or, not
        started yet, never start it. The run id when it has one already."""
        from flows import stopping

        with self._state:
            if self.current != request_id:
                self.cancelled_early.append(request_id)
                return {"status": "cancelled", "run_id": None}
            if self.cancelling is None:
                self.cancelling = f"{signal_name} at the client" if signal_name else "cancelled by the client"
                stopping.request_stop(self.cancelling)
            runs = stopping.open_runs()
            return {"status": "cancelling", "run_id": runs[0] if runs else None}


def _failure(exc: BaseException, run_id: str | None, cancelled_by: str | None = None) -> CheckFailed:
    from flows import stopping

    text = " ".join(str(exc).split()) or type(exc).__name__
    if cancelled_by and isinstance(exc, Cancelled):
        return CheckFailed(409, "cancelled", f"run cancelled by its client ({cancelled_by})", run_id)
    if isinstance(exc, Cancelled) or stopping.stop_requested():
        return CheckFailed(503, "cancelled", f"run cancelled: the service is stopping ({stopping.stop_signal()})",
                           run_id)
    if isinstance(exc, (InputError, ExtractionError)):
        return CheckFailed(422, "input", text, run_id)
    if isinstance(exc, ConfigError):
        return CheckFailed(500, "config", text, run_id)
    if not isinstance(exc, FactLedgerError):
        text = f"{type(exc).__name__}: {text}"
    return CheckFailed(500, "failed", text, run_id)


def _error(status: int, kind: str, message: str, run_id: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind, "run_id": run_id}, status_code=status, headers=headers)


def _unexpected(exc: BaseException) -> CheckFailed:
    """An error no handler expected, as a one-line 500 (the service goes on)."""
    return CheckFailed(500, "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500], None)


def _wants_stream(accept: str | None) -> bool:
    """The client asked for the NDJSON stream: `application/x-ndjson` among its Accept types."""
    return any(part.split(";")[0].strip().lower() == NDJSON for part in (accept or "").split(","))


def _answered(accept: str | None, run: Callable[[CheckEvents | None], CheckResult]) -> CheckResult | StreamingResponse:
    """`run(None)`'s result (JSON), or, when the client accepts NDJSON, a stream of the check's
    events (`CheckEvent`) while `run(events)` works in a thread of its own: its last line is `done`
    with the result, or `error` with what the error answer would say and its HTTP status. A client
    that goes away does not stop the check (as with the plain call): `POST /checks/{id}/cancel` does."""
    if not _wants_stream(accept):
        return run(None)
    events: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        try:
            events.put({"event": "done", **run(CheckEvents(events.put)).model_dump()})
        except Exception as exc:
            if not isinstance(exc, CheckFailed):
                log.exception("a streamed check failed")
                exc = _unexpected(exc)
            events.put({"event": "error", "error": str(exc), "kind": exc.kind, "run_id": exc.run_id,
                        "http_status": exc.status})
        finally:
            events.put(None)

    # the request's context goes along (Prefect's settings: a test harness, the service's API)
    threading.Thread(target=contextvars.copy_context().run, args=(work,), name="check-stream", daemon=True).start()

    def lines() -> Iterator[bytes]:
        while (event := events.get()) is not None:
            yield (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode("utf-8")

    return StreamingResponse(lines(), media_type=NDJSON, headers={"Cache-Control": "no-store"})


class Guard:
    """ASGI middleware in front of the app: the bearer token on every request but the
    documentation (401 before the body is read), then the body read whole up to `max_body` bytes
    (413 beyond it, whatever Content-Length says) and handed on."""

    def __init__(self, app, token: str, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self._token = f"Bearer {token}".encode()
        self.max_body = max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path = scope["path"]
        if path not in OPEN_PATHS and path not in PAGE_OPEN_PATHS and not self._allowed(path, headers):
            if is_page(path) and scope["method"] == "GET":  # a person in a browser: the sign-in page
                query = scope.get("query_string", b"").decode("latin-1")
                response = RedirectResponse("/login?next=" + quote(path + ("?" + query if query else ""), safe=""),
                                            status_code=303)
            else:
                response = _error(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token "
                                                       "from ~/.factledger/service-token>)",
                                  headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_body
            except ValueError:
                await _error(400, "bad_request", "invalid Content-Length")(scope, receive, send)
                return
            if too_big:
                await self._too_large(scope, receive, send)
                return
        body = bytearray()
        more = scope["method"] in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._too_large(scope, receive, send)
                return
            more = message.get("more_body", False)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _allowed(self, path: str, headers: dict) -> bool:
        """The bearer token in the header; on the review pages, also the cookie `/login` sets."""
        if secrets.compare_digest(headers.get(b"authorization", b""), self._token):
            return True
        if not is_page(path):
            return False
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
        except CookieError:
            return False
        given = cookies.get(COOKIE)
        return given is not None and secrets.compare_digest(f"Bearer {given.value}".encode(), self._token)

    async def _too_large(self, scope, receive, send) -> None:
        await _error(413, "too_large", f"request body over {self.max_body} bytes")(scope, receive, send)


def create_app(service: CheckService, token: str, *, max_body: int = MAX_BODY_BYTES):
    """The ASGI app (FastAPI behind `Guard`)."""
    from flows.check import check_article_flow, check_claim_flow

    bearer = HTTPBearer(auto_error=False, description="the token in ~/.factledger/service-token")  # for /docs
    app = FastAPI(title="FactLedger", version=__version__,
                  description="Checks claims and articles with the models loaded; every check is a Prefect "
                              "flow run stored in the warehouse under its run id.",
                  dependencies=[Depends(bearer)])
    errors = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 409: {"model": ErrorBody},
              413: {"model": ErrorBody}, 422: {"model": ErrorBody}, 500: {"model": ErrorBody},
              503: {"model": ErrorBody}}
    streamed = {**errors, 200: {
        "description": "The check's result (`application/json`); with `Accept: application/x-ndjson`, a stream of "
                       "its events, one JSON object a line, sent as the check goes: `started`, `claims`, `progress`, "
                       "one `verdict` per claim, then `done` (the same result) or `error` (the same error, its HTTP "
                       "status in `http_status`). Errors before the check starts (400, 401, 413, 422 for the "
                       "request) are answered as without the stream.",
        "content": {NDJSON: {"schema": CheckEvent.model_json_schema()}}}}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            e = next(e for e in errs if e.get("type") == "json_invalid")
            return _error(400, "bad_request", f"malformed JSON: {e.get('ctx', {}).get('error', e.get('msg'))}")
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body') or 'body'}: {e.get('msg')}"
                 for e in errs[:5]]
        return _error(422, "invalid", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http", str(exc.detail))

    @app.exception_handler(CheckFailed)
    async def check_failed(request: Request, exc: CheckFailed) -> JSONResponse:
        return _error(exc.status, exc.kind, str(exc), exc.run_id)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # one line; the service goes on
        log.exception("request failed: %s", request.url.path)
        return _error(500, "failed", str(_unexpected(exc)))

    @app.get("/health")
    def health() -> dict:
        """The service is up: what it serves and how many checks it ran."""
        return {"status": "ok", "version": __version__, "pid": os.getpid(), "db": str(service.db),
                "providers": list(service.providers), "checks": service.checks, "failed": service.failed,
                "reviews": service.reviews, "busy": service.busy, "uptime_s": round(time.time() - service.started, 1),
                "cancel": True}  # takes a check's request_id and POST /checks/{request_id}/cancel

    @app.post("/claims/check", response_model=CheckResult, responses=streamed)
    def check_claims(body: ClaimsCheck, accept: Accept = None):
        """Verify claims typed in by hand, in one `check-claim` flow run. With `Accept:
        application/x-ndjson`, the answer is the stream of the check's events (see the 200 answer)."""
        if body.input_ids is not None and len(body.input_ids) != len(body.claims):
            raise CheckFailed(422, "invalid", f"{len(body.input_ids)} input_ids for {len(body.claims)} claims", None)
        return _answered(accept, lambda events: service.run(
            check_claim_flow, request_id=body.request_id, events=events, claims=list(body.claims),
            input_ids=list(body.input_ids) if body.input_ids is not None else None,
            providers=list(body.providers or service.providers), urls=list(body.urls),
            before=body.before.isoformat() if body.before else None))

    @app.post("/articles/check", response_model=CheckResult, responses=streamed)
    def check_article(body: ArticleCheck, accept: Accept = None):
        """Extract an article's check-worthy claims and verify them, in one `check-article` flow run.
        With `Accept: application/x-ndjson`, the answer is the stream of the check's events (see the
        200 answer): a long article shows its progress as it goes."""
        article = body.article
        if "://" not in article:
            article = str(Path(article).expanduser().resolve())
        return _answered(accept, lambda events: service.run(
            check_article_flow, request_id=body.request_id, events=events, article=article,
            max_claims=body.max_claims, max_article_mb=body.max_article_mb,
            providers=list(body.providers or service.providers), urls=list(body.urls),
            before=body.before.isoformat() if body.before else None))

    @app.post("/checks/{request_id}/cancel", status_code=202)
    def cancel_check(request_id: RequestId, body: Cancel | None = None) -> dict:
        """Cancel the check sent with this `request_id` (the CLI does on Ctrl-C): one in flight stops at
        its next check and is recorded as cancelled, its caller answered 409 with the run id; one not
        started yet never starts."""
        return service.cancel(request_id, body.signal if body else None)

    @app.post("/reviews", status_code=201, responses={**errors, 409: {"model": ErrorBody}})
    def post_review(body: ReviewIn) -> dict:
        """Store a person's verdict on a claim (append-only; it supersedes earlier reviews of the
        claim). 422 for an unknown claim, label or passage; 409 when the verdict named by `run_id`
        is no longer the claim's latest (re-checked since)."""
        return service.review(body)

    @app.get("/reviews/queue", responses=errors)
    def get_review_queue(limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> dict:
        """The claims waiting for a person (`review_queue`), most urgent first."""
        return service.queue(limit)

    add_review_pages(app, service, token)

    @app.get("/runs/{run_id}", responses={404: {"model": ErrorBody}})
    def get_run(run_id: str) -> dict:
        """A run as the warehouse holds it (`run_summary`), with its verdicts."""
        return _run_record(service, run_id)

    return Guard(app, token, max_body=max_body)


def _run_record(service: CheckService, run_id: str) -> dict:
    from warehouse.db import opened

    with service.lock:  # the service's own writes take turns with this read
        with opened(service.db, read_only=True) as con:
            cur = con.execute("SELECT * FROM run_summary WHERE run_id = ?", [run_id])
            row = cur.fetchone()
            if row is None:
                raise CheckFailed(404, "not_found", f"no such run: {run_id}", None)
            run = dict(zip([d[0] for d in cur.description], row))
            cur = con.execute(
                "SELECT v.claim_id, c.input_id, c.text AS claim, v.label, v.confidence, v.rationale, v.checked_at "
                "FROM verdicts v JOIN claims c USING (claim_id) WHERE v.run_id = ? "
                "ORDER BY c.claim_rank NULLS LAST, v.claim_id", [run_id])
            verdicts = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    return json.loads(json.dumps({"run": run, "verdicts": verdicts}, default=str))


# ------------------------------------------------------------------------------------------- serving

# A claim the warm-up verifies against the corpus (nothing stored): BM25 tables, the corpus
# matrix, the tokenizers and the models' first forward passes are loaded before the first check.
WARM_UP_CLAIM = "The Eiffel Tower in Paris was completed in 1889."
WARM_UP_TEXT = ("FactLedger loads its models before the first check. The Eiffel Tower in Paris was completed in "
                "1889 for the World's Fair, and it was the tallest structure in the world for forty-one years.")


@flow(name="service-start", log_prints=False)
async def service_start_flow() -> str:
    """The service's first flow run: Prefect's engine and API client are ready before the first check."""
    return "ready"


def warm_up(rt, db: Path, providers: Sequence[str]) -> dict:
    """Load everything a check uses, in this process: the models (the parser and the
    check-worthiness scorer too, for articles), the language identifier, the warehouse (created
    and migrated if new), the corpus index, and one verification of `WARM_UP_CLAIM` (stored
    nowhere). Returns what was loaded."""
    from extractors.articles import check_english
    from extractors.claims import claims_from_texts
    from factledger.app import load_corpus_index, load_models, make_providers, make_verifier
    from warehouse.db import opened

    load_models(rt, articles=True)
    rt.scorer.score(rt.splitter.analyze(WARM_UP_TEXT))
    check_english(WARM_UP_TEXT * 2, "warm-up")
    with opened(db, publish=True):  # created and migrated (the service is its writer); the analysts' snapshot
        pass
    passages = load_corpus_index(db)
    if "corpus" in providers and passages:
        with opened(db, read_only=True) as con:
            make_verifier(make_providers(["corpus"], con, rt), rt).check(claims_from_texts([WARM_UP_CLAIM]))
    return {"corpus_passages": passages}


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_checks(db: str | Path, runtime: Callable[[], Any], *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 providers: Sequence[str] = ("corpus",), allow_remote: bool = False,
                 deployments: Callable[[], Callable[[], None]] | None = None,
                 max_body: int = MAX_BODY_BYTES, say: Callable[[str], None] | None = None,
                 on_ready: Callable[[str, uvicorn.Server], None] | None = None) -> int:
    """Serve checks of `db` on host:port until SIGTERM or SIGINT; returns the exit code (0).

    `runtime()` builds the models (called in a thread while Prefect starts). `deployments()`, if
    given, starts the Prefect deployments (`flows.serve`) once Prefect's API is up, and returns
    the function that stops them. The state file the CLI looks for is written once the service
    answers and removed when it stops. `on_ready(url, server)` is called then (tests stop the
    server with `server.handle_exit(signal.SIGTERM, None)`, what the signal handler calls)."""
    from factledger.client import ensure_token, remove_state, token_path, write_state
    from factledger.app import while_loading
    from flows import set_runtime, stopping
    from flows.warm import start_api

    say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if not allow_remote and not is_loopback(host):
        raise ConfigError(f"refusing to listen on {host}, which is not a loopback address: pass --allow-remote "
                          "to serve other machines (every request still needs the token)")
    db = Path(db).expanduser().resolve()
    token = ensure_token()
    sock = _bind(host, port)  # a port in use is refused before anything loads
    port = sock.getsockname()[1]
    stopping.reset()
    # Prefect's event worker says so when a flow run's loop ends with an event still to send: noise.
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    loaded: dict = {}

    def load():
        rt = runtime()
        loaded.update(warm_up(rt, db, providers))
        return rt

    stop_deployments: Callable[[], None] | None = None

    def meanwhile() -> None:
        nonlocal stop_deployments
        start_api()
        if deployments:  # their runs are processes of their own: they need not wait for these models
            stop_deployments = deployments()

    try:
        rt = while_loading(load, meanwhile)  # the models load while Prefect's API starts
        set_runtime(rt)
        state = service_start_flow(return_state=True)
        if asyncio.iscoroutine(state):
            asyncio.run(state)
    except BaseException:
        if stop_deployments:
            stop_deployments()
        sock.close()
        raise
    service = CheckService(db=db, providers=tuple(providers))
    config = uvicorn.Config(create_app(service, token, max_body=max_body), log_level="warning",
                            timeout_graceful_shutdown=int(STOP_GRACE_S), lifespan="off", access_log=False)
    server = _Server(config)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            write_state(host, port, db, url=url, version=__version__, providers=list(providers))
            say(f"FactLedger service ready in {time.perf_counter() - t0:.1f} s: {url} (API docs {url}/docs; "
                f"token in {token_path()}), database {db}, {loaded.get('corpus_passages', 0)} corpus passages loaded")
            if on_ready:
                on_ready(url, server)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        remove_state()
        signame = server.signal_name or "shutdown"
        cancelled, missed = stopping.cancel_open_runs(signame) if stopping.open_runs() else ([], [])
        if stop_deployments:
            stop_deployments()
        if missed:
            say(f"stopped by {signame}; could not record these runs as cancelled (database busy): {', '.join(missed)}")
        elif cancelled:
            say(f"stopped by {signame}; in-flight runs recorded as cancelled: {', '.join(cancelled)}")
        else:
            say(f"stopped by {signame}; no check was in progress")
        sock.close()
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, which on SIGTERM / SIGINT also asks in-flight runs to stop at their next
    check (recorded as cancelled) and does not re-raise the signal once it has shut down."""

    signal_name: str | None = None

    def handle_exit(self, sig: int, frame) -> None:
        from flows import stopping

        name = signal.Signals(sig).name
        self.signal_name = self.signal_name or name
        stopping.request_stop(name)
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True
