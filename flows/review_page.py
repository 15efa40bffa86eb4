"""The review desk in a browser: server-rendered pages on the warm service's app (`factledger serve`).

`/review` is the queue, `/review/claims/{claim_id}` one claim: its sentence in the article, the
machine verdict with confidence and rationale, every evidence passage with source, credibility,
fetch time and hash (those that speak for the verdict first), a form to confirm or set the verdict,
mark passages relevant or not and add a note, "check again" (a `recheck-claims` flow run), and the
claim's review history. Plain HTML forms
(Jinja2 templates in `flows/templates/`, one stylesheet in `flows/static/`, no script, nothing from
another host): usable offline and by keyboard. Access: the service's token, given once on `/login`,
which sets it as an HttpOnly, SameSite=Strict cookie that these pages (and only these) accept.
Reviews go through `CheckService.review`, like `POST /reviews`: the service stays the one writer.
"""

from __future__ import annotations

import getpass
import secrets
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from factledger.errors import InputError
from factledger.records import Label

__all__ = ["COOKIE", "PAGE_OPEN_PATHS", "add_review_pages", "is_page"]

COOKIE = "factledger_token"
HERE = Path(__file__).resolve().parent
PAGE_OPEN_PATHS = ("/login", "/static/review.css")  # the sign-in form and the stylesheet: no data, no actions


def is_page(path: str) -> bool:
    """A review page, where the token may come from the cookie `/login` set."""
    return path == "/review" or path.startswith("/review/")


def add_review_pages(app: FastAPI, service, token: str) -> None:
    """Register the review pages on `app` (served from `service`, the `CheckService`)."""
    from flows.service import CheckFailed, ReviewIn
    from warehouse.reviews import claim_for_review, review_queue

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    labels = [label.value for label in Label]

    def page(name: str, status: int = 200, **values) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**values), status_code=status)

    async def claim_with_error(claim_id: str, status: int, error: str, reviewer: str) -> HTMLResponse:
        """The claim page again, saying what went wrong (the queue page when the claim is unknown)."""
        try:
            claim = await run_in_threadpool(service.read, claim_for_review, claim_id)
        except InputError as exc:
            return page("queue.html", 404, rows=[], error=str(exc))
        return page("claim.html", status, c=claim, labels=labels, reviewer=reviewer, saved=None, error=error)

    @app.get("/static/review.css", include_in_schema=False)
    def stylesheet() -> FileResponse:
        return FileResponse(HERE / "static" / "review.css", media_type="text/css")

    @app.get("/login", include_in_schema=False)
    def login_form(next: str = "/review") -> HTMLResponse:
        from factledger.client import token_path

        return page("login.html", next=_local(next), token_file=str(token_path()), error=None)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        from factledger.client import token_path

        form = _form(await request.body())
        target = _local(form.get("next", "/review"))
        if not secrets.compare_digest(form.get("token", "").strip().encode(), token.encode()):
            return page("login.html", 401, next=target, token_file=str(token_path()),
                        error="That is not the service's token.")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/review")
        return response

    @app.get("/review", include_in_schema=False)
    async def queue_page() -> HTMLResponse:
        rows = await run_in_threadpool(service.read, review_queue, None)
        return page("queue.html", rows=rows)

    @app.get("/review/claims/{claim_id}", include_in_schema=False)
    async def claim_page(claim_id: str, saved: str | None = None, rechecked: str | None = None) -> HTMLResponse:
        try:
            claim = await run_in_threadpool(service.read, claim_for_review, claim_id)
        except InputError as exc:
            return page("queue.html", 404, rows=[], error=str(exc))
        return page("claim.html", c=claim, labels=labels, reviewer=getpass.getuser(), saved=saved, error=None,
                    rechecked=rechecked)

    @app.post("/review/claims/{claim_id}", include_in_schema=False)
    async def save_review(claim_id: str, request: Request):
        form = _form(await request.body())
        marks = {k[len("passage-"):]: v for k, v in form.items() if k.startswith("passage-")}
        try:
            body = ReviewIn(claim_id=claim_id, label=form.get("verdict", ""), note=form.get("note", ""),
                            reviewer=form.get("reviewer", ""), run_id=form.get("run_id") or None,
                            relied=[p for p, v in marks.items() if v == "relied"],
                            rejected=[p for p, v in marks.items() if v == "rejected"])
            review = (await run_in_threadpool(service.review, body))["review"]
        except CheckFailed as exc:
            error, status = str(exc), exc.status
        except ValueError as exc:  # pydantic: a field too long or missing
            error, status = " ".join(str(exc).split())[:300], 422
        else:
            return RedirectResponse(f"/review/claims/{quote(claim_id)}?saved={quote(review['review_id'])}",
                                    status_code=303)
        return await claim_with_error(claim_id, status, error, form.get("reviewer") or getpass.getuser())

    @app.post("/review/claims/{claim_id}/recheck", include_in_schema=False)
    async def check_again(claim_id: str):
        """Verify the claim again now (a `recheck-claims` flow run, taking its turn as every check)."""
        from flows.batch import recheck_claims_flow

        try:
            result = await run_in_threadpool(service.run, recheck_claims_flow, claim_ids=[claim_id],
                                              providers=list(service.providers))
        except CheckFailed as exc:
            error = str(exc) + (f" (run {exc.run_id})" if exc.run_id else "")
            return await claim_with_error(claim_id, exc.status, error, getpass.getuser())
        return RedirectResponse(f"/review/claims/{quote(claim_id)}?rechecked={quote(result.run_id)}", status_code=303)


def _form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body: the first value of each field."""
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _local(target: str) -> str:
    """Only a review page of this service as the place to go after signing in."""
    return target if is_page(target.split("?", 1)[0]) and "//" not in target else "/review"
