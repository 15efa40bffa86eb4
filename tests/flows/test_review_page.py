"""The review page in a real browser: Playwright driving Debian's Chromium against the service's
app on a free loopback port, on the example article checked by the real pipeline code (cheap
models). Sign in with the token, open the queue, open a claim, overrule its verdict, see
`verdicts_current` change through `factledger sql`, and see the history keep both decisions.

Needs `apt-get install chromium` and `pip install playwright` (`.ci/run`, `scripts/install.sh`):
in CI (CI=true) a missing one fails the test loudly; elsewhere it is skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.flows.test_review_service import BIN, serving
from tests.flows.test_service import auth, q, service  # noqa: F401 -- `service`: the warm service, cheap models
from tests.warehouse.test_exports import checked_db  # noqa: F401 -- the fixture: the example article, checked

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "bench" / "out" / "review_claim_page.png"
OTHER = {"supported": "refuted", "refuted": "supported", "conflicting": "refuted", "not_enough_evidence": "refuted"}


def need_browser():
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test needs {' and '.join(missing)} in CI")
        pytest.skip(f"browser test needs {' and '.join(missing)}")


@pytest.fixture()
def site(checked_db, tmp_path, monkeypatch):
    need_browser()
    home = tmp_path / "home"
    monkeypatch.setenv("FACTLEDGER_HOME", str(home))
    db = (tmp_path / "page.duckdb").resolve()
    shutil.copy(checked_db[0], db)
    with serving(db, home) as served:
        yield served


@pytest.fixture()
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def sql(site, query):
    proc = subprocess.run([str(BIN / "factledger"), "sql", query, "--db", str(site["db"]), "--format", "json"],
                          env=site["env"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_sign_in_open_the_queue_overrule_a_claim_and_keep_the_history(site, browser, tmp_path):
    queue = sql(site, "SELECT claim_id, claim_text, label FROM review_queue ORDER BY queue_rank")
    assert queue, "the example article should leave claims waiting for review"
    first = queue[0]
    decided = OTHER[first["label"]]
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    page.goto(site["url"] + "/review")
    assert page.url.startswith(site["url"] + "/login")  # no cookie yet: the sign-in page
    page.get_by_label("Token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    assert "not the service's token" in page.get_by_role("alert").inner_text()
    page.get_by_label("Token").fill(site["token"])
    page.keyboard.press("Enter")  # the form works from the keyboard
    page.wait_for_url(site["url"] + "/review")
    rows = page.locator("tbody tr")
    assert rows.count() == len(queue)
    assert first["claim_text"] in rows.nth(0).inner_text()

    page.get_by_role("link", name=first["claim_text"]).click()
    page.wait_for_url(f"{site['url']}/review/claims/{first['claim_id']}")
    assert page.locator("mark").first.inner_text().strip()  # the claim's sentence, highlighted in the article
    assert page.locator("#current-label").text_content() == first["label"].replace("_", " ")
    passages = page.locator(".passage")
    evidence = sql(site, f"SELECT passage_sha256 FROM verdict_evidence ve JOIN latest_verdicts lv USING (run_id, claim_id) "
                         f"WHERE claim_id = '{first['claim_id']}'")
    assert passages.count() == len(evidence) and evidence
    for e in evidence:
        assert e["passage_sha256"] in page.content()

    page.get_by_label(decided.replace("_", " "), exact=True).check()
    page.get_by_label("relevant (relied on)").first.check()
    page.get_by_label("Note (why)").fill("The archive says otherwise.")
    page.get_by_label("Reviewer").fill("ana")
    page.screenshot(path=str(tmp_path / "claim.png"), full_page=True)
    page.get_by_role("button", name="Save review").first.click()
    page.wait_for_url(f"{site['url']}/review/claims/{first['claim_id']}?saved=*")
    assert "Review saved" in page.get_by_role("status").inner_text()
    assert page.locator("#current-label").text_content() == decided.replace("_", " ")

    (current,) = sql(site, f"SELECT label, decided_by, reviewer, machine_label FROM verdicts_current "
                           f"WHERE claim_id = '{first['claim_id']}'")
    assert current == {"label": decided, "decided_by": "reviewer", "reviewer": "ana", "machine_label": first["label"]}
    (relied,) = sql(site, f"SELECT relied_passages FROM reviews WHERE claim_id = '{first['claim_id']}'")
    assert len(relied["relied_passages"]) == 1

    # a second reviewer confirms the machine after all: both decisions stay
    page.get_by_label(first["label"].replace("_", " "), exact=True).check()
    page.get_by_label("Note (why)").fill("Second look: the machine was right.")
    page.get_by_label("Reviewer").fill("bo")
    page.get_by_role("button", name="Save review").first.click()
    page.wait_for_url(f"{site['url']}/review/claims/{first['claim_id']}?saved=*")
    history = page.locator("#history tbody tr")
    assert history.count() == 2
    assert "bo" in history.nth(0).inner_text() and "ana" in history.nth(1).inner_text()
    assert "superseded" in history.nth(1).inner_text()
    rows = sql(site, f"SELECT decided_by, label, reviewer FROM verdict_history WHERE claim_id = '{first['claim_id']}' "
                     "ORDER BY checked_at")
    assert [(r["decided_by"], r["label"], r["reviewer"]) for r in rows] == [
        ("model", first["label"], None), ("reviewer", decided, "ana"), ("reviewer", first["label"], "bo")]
    assert [r["claim_id"] for r in sql(site, "SELECT claim_id FROM review_queue")].count(first["claim_id"]) == 0

    # nothing was loaded from another host: the page works offline
    assert requested and all(u.startswith(site["url"]) for u in requested), [u for u in requested
                                                                          if not u.startswith(site["url"])]
    shot = tmp_path / "claim.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOT)


def recheck(db, claim_id: str, run_id: str) -> None:
    """A re-check of one stored claim (same claim id) by the real store code: a new latest verdict."""
    from factledger.records import Claim, ClaimResult, Label, Verdict
    from warehouse.db import connect
    from warehouse.store import RunInfo, finish_run, start_run, store_claim_results

    con = connect(db)
    try:
        row = con.execute("SELECT article_id, text, span_start, span_end, checkworthiness, sentence_text, claim_rank "
                          "FROM claims WHERE claim_id = ?", [claim_id]).fetchone()
        claim = Claim(text=row[1], start=row[2], end=row[3], score=row[4], article_id=row[0], sentence_text=row[5],
                      rank=row[6])
        assert claim.claim_id == claim_id
        start_run(con, RunInfo(run_id, "recheck", "t", "e", "1", "s", "1", "c", "sp", ("corpus",)))
        store_claim_results(con, run_id, [ClaimResult(claim, (), (), (), Verdict(claim_id, Label.REFUTED, 0.7, "again"))])
        finish_run(con, run_id)
    finally:
        con.close()


def test_a_stale_form_says_so_and_saves_nothing(site, browser):
    first = sql(site, "SELECT claim_id FROM review_queue ORDER BY queue_rank")[0]
    page = browser.new_page()
    page.goto(site["url"] + "/login")
    page.get_by_label("Token").fill(site["token"])
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{site['url']}/review/claims/{first['claim_id']}")
    recheck(site["db"], first["claim_id"], "run-recheck")  # re-checked while the reviewer reads the page
    page.get_by_label("Note (why)").fill("I read the old verdict.")
    page.get_by_role("button", name="Save review").first.click()
    alert = page.get_by_role("alert").inner_text()
    assert "re-checked" in alert and "run-recheck" in alert
    assert sql(site, "SELECT count(*) AS n FROM reviews") == [{"n": 0}]


def test_pages_need_the_cookie_and_the_cookie_opens_only_the_pages(site):
    r = requests.get(site["url"] + "/review/claims/x?a=1", timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Freview%2Fclaims%2Fx%3Fa%3D1"
    r = requests.post(site["url"] + "/review/claims/x", data={"verdict": "refuted"}, timeout=10)
    assert r.status_code == 401
    r = requests.post(site["url"] + "/login", data={"token": site["token"], "next": "https://elsewhere.example/"},
                      timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/review"  # never sent to another site
    cookie = r.cookies.get("factledger_token")
    assert cookie == site["token"] and "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers[
        "set-cookie"]
    assert requests.get(site["url"] + "/review", cookies={"factledger_token": cookie}, timeout=10).status_code == 200
    r = requests.get(site["url"] + "/reviews/queue", cookies={"factledger_token": cookie}, timeout=10)
    assert r.status_code == 401  # the API still wants the bearer token
    assert requests.get(site["url"] + "/review", cookies={"factledger_token": "wrong"}, timeout=10,
                        allow_redirects=False).status_code == 303


def sign_in(page, url: str, token: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/review")


@pytest.mark.slow
def test_check_again_adds_a_machine_verdict_to_the_history(service, browser):
    """The warm service with its (cheap) models: "Check again" on a claim's page runs a
    `recheck-claims` flow, and the claim, keeping its id, has a second machine verdict."""
    text = "The Eiffel Tower was completed in 1889 and is 330 metres tall."
    first = requests.post(service["url"] + "/claims/check", json={"claims": [text]}, headers=auth(service), timeout=120)
    assert first.status_code == 200, first.text
    run1 = first.json()["run_id"]
    ((cid,),) = q(service["db"], "SELECT claim_id FROM verdicts WHERE run_id = ?", [run1])
    page = browser.new_page()
    sign_in(page, service["url"], service["token"])
    page.goto(f"{service['url']}/review/claims/{cid}")
    assert f"run {run1}" in page.locator("main").inner_text()
    page.get_by_role("button", name="Check again").click()
    page.wait_for_url(f"{service['url']}/review/claims/{cid}?rechecked=*")
    run2 = page.url.rsplit("=", 1)[1]
    assert run2 != run1 and f"Checked again: run {run2}" in page.get_by_role("status").inner_text()
    assert f"run {run2}" in page.locator(".panel").nth(1).inner_text()  # the machine verdict shown is the new one
    assert q(service["db"], "SELECT run_id, flow_name FROM verdict_history WHERE claim_id = ? ORDER BY checked_at",
             [cid]) == [(run1, "check-claim"), (run2, "recheck")]
    assert q(service["db"], "SELECT status FROM runs WHERE run_id = ?", [run2]) == [("completed",)]

