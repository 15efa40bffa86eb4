"""The review desk through the warm service: `POST /reviews` and `GET /reviews/queue` on a real
uvicorn server on a free loopback port (the service's app, no models or flow runs needed for
reviews), and the CLI in a separate process finding it through the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT
from tests.flows.test_service import q
from tests.reviewdesk import Machine, check, claim_id
from warehouse.db import connect

BIN = Path(sys.executable).parent
EIFFEL = "The Eiffel Tower was completed in 1889."
MOON = "The Moon is made of cheese."


@contextmanager
def serving(db: Path, home: Path):
    """The service's app for `db` on a free loopback port in a thread (no models: reviews and
    pages need none), its state file in `home` as `factledger serve` writes it."""
    import uvicorn

    from factledger.client import ensure_token, remove_state, write_state
    from flows.service import CheckService, _bind, create_app

    token = ensure_token()
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    service = CheckService(db=db)
    server = uvicorn.Server(uvicorn.Config(create_app(service, token), log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="desk-service", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    assert server.started
    write_state("127.0.0.1", port, db)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "db": db, "token": token, "service": service,
               "env": {**os.environ, "FACTLEDGER_HOME": str(home)}, "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        server.should_exit = True
        thread.join(30)
        remove_state()
        sock.close()


@pytest.fixture()
def desk(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FACTLEDGER_HOME", str(home))
    db = (tmp_path / "desk.duckdb").resolve()
    con = connect(db)
    run = check(con, Machine(EIFFEL, "supported", 0.5, needs_review=True, passages=("It opened in 1889.",)),
                Machine(MOON, "conflicting", 0.6))
    con.close()
    with serving(db, home) as served:
        yield {**served, "run": run}


def cli(desk, *argv):
    return subprocess.run([str(BIN / "factledger"), *argv, "--db", str(desk["db"])], env=desk["env"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_review_endpoints_need_the_token(desk):
    for method, path in (("post", "/reviews"), ("get", "/reviews/queue")):
        r = getattr(requests, method)(desk["url"] + path, json={}, timeout=10)
        assert r.status_code == 401, (path, r.text)
    assert q(desk["db"], "SELECT count(*) FROM reviews") == [(0,)]
    paths = requests.get(desk["url"] + "/openapi.json", timeout=10).json()["paths"]
    assert {"/reviews", "/reviews/queue"} <= set(paths)


def test_a_review_and_the_queue_over_http(desk):
    url, h = desk["url"], desk["auth"]
    queue = requests.get(url + "/reviews/queue", headers=h, timeout=10).json()["queue"]
    assert [r["claim_id"] for r in queue] == [claim_id(EIFFEL), claim_id(MOON)]
    assert [r["claim_id"] for r in requests.get(url + "/reviews/queue", params={"limit": 1}, headers=h,
                                                 timeout=10).json()["queue"]] == [claim_id(EIFFEL)]
    r = requests.post(url + "/reviews", json={"claim_id": claim_id(EIFFEL), "label": "refuted", "note": "opened later",
                                              "reviewer": "ana", "relied": ["1"]}, headers=h, timeout=10)
    assert r.status_code == 201, r.text
    review = r.json()["review"]
    assert (review["run_id"], review["machine_label"], review["label"]) == (desk["run"], "supported", "refuted")
    assert q(desk["db"], "SELECT label, decided_by, reviewer FROM verdicts_current WHERE claim_id = ?",
             [claim_id(EIFFEL)]) == [("refuted", "reviewer", "ana")]
    assert [r["claim_id"] for r in requests.get(url + "/reviews/queue", headers=h, timeout=10).json()["queue"]] == [
        claim_id(MOON)]


@pytest.mark.parametrize("body, status, names", [
    ({"claim_id": "no-such-claim", "label": "refuted", "note": "n", "reviewer": "a"}, 422, "no such claim: no-such-claim"),
    ({"claim_id": claim_id(EIFFEL), "label": "mostly-true", "note": "n", "reviewer": "a"}, 422, "mostly-true"),
    ({"claim_id": claim_id(EIFFEL), "label": "refuted", "note": " ", "reviewer": "a"}, 422, "note"),
    ({"claim_id": claim_id(EIFFEL), "label": "refuted", "note": "n", "reviewer": "a", "relied": ["#4"]}, 422, "#4"),
    ({"claim_id": claim_id(EIFFEL), "label": "refuted", "note": "n"}, 422, "reviewer"),
])
def test_bad_reviews_are_refused_naming_the_input(desk, body, status, names):
    r = requests.post(desk["url"] + "/reviews", json=body, headers=desk["auth"], timeout=10)
    assert r.status_code == status and names in r.json()["error"] and "\n" not in r.json()["error"], r.text
    assert q(desk["db"], "SELECT count(*) FROM reviews") == [(0,)]


def test_the_cli_reviews_through_the_service(desk):
    queue = cli(desk, "review", "--queue", "--format", "json")
    assert queue.returncode == 0 and queue.stderr == "", queue.stderr
    assert [r["claim_id"] for r in json.loads(queue.stdout)] == [claim_id(EIFFEL), claim_id(MOON)]
    done = cli(desk, "review", claim_id(MOON), "--verdict", "refuted", "--note", "It is rock.", "--reviewer", "bo")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "conflicting -> refuted (overruled" in done.stdout
    assert desk["service"].reviews == 1  # stored by the service, not by the CLI's process
    bad = cli(desk, "review", "nope", "--verdict", "refuted", "--note", "n")
    assert bad.returncode == 2 and bad.stderr == "Error: no such claim: nope\n"
    label = cli(desk, "review", claim_id(MOON), "--verdict", "True", "--note", "n")
    assert label.returncode == 2 and label.stderr.count("\n") == 1 and label.stderr.rstrip().endswith(": True")
    assert desk["service"].reviews == 1
    assert q(desk["db"], "SELECT reviewer, label FROM reviews") == [("bo", "refuted")]


def test_a_stale_review_through_the_service_says_so(desk):
    con = connect(desk["db"])
    run2 = check(con, Machine(EIFFEL, "refuted", 0.9, passages=("It opened in 1889.",)))  # re-checked meanwhile
    con.close()
    r = requests.post(desk["url"] + "/reviews", json={"claim_id": claim_id(EIFFEL), "label": "refuted", "note": "n",
                                                      "reviewer": "ana", "run_id": desk["run"]},
                      headers=desk["auth"], timeout=10)
    assert r.status_code == 409 and r.json()["kind"] == "stale" and run2 in r.json()["error"], r.text
    stale = cli(desk, "review", claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--run", desk["run"])
    assert stale.returncode == 2 and stale.stderr.count("\n") == 1 and "re-checked" in stale.stderr, stale.stderr
    assert q(desk["db"], "SELECT count(*) FROM reviews") == [(0,)]
    ok = cli(desk, "review", claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--run", run2)
    assert ok.returncode == 0, ok.stderr
    assert q(desk["db"], "SELECT run_id FROM reviews") == [(run2,)]


def test_two_reviewers_at_once_lose_nothing(desk):
    """Two reviewers post at the same moment, many times, on the same claims: every review is
    stored once, each supersedes exactly the one before it, and the last one decides."""
    url, h = desk["url"], desk["auth"]
    start = threading.Barrier(2)
    answers: dict[str, list] = {"ana": [], "bo": []}

    def reviewer(name: str, label: str) -> None:
        start.wait()
        with requests.Session() as s:
            for i in range(10):
                for text in (EIFFEL, MOON):
                    r = s.post(url + "/reviews", json={"claim_id": claim_id(text), "label": label,
                                                       "note": f"{name} {i}", "reviewer": name}, headers=h, timeout=60)
                    answers[name].append((r.status_code, r.json()))

    threads = [threading.Thread(target=reviewer, args=("ana", "refuted")),
               threading.Thread(target=reviewer, args=("bo", "supported"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    sent = [a for name in answers for a in answers[name]]
    assert len(sent) == 40 and {status for status, _ in sent} == {201}, [a for a in sent if a[0] != 201][:2]
    returned = {body["review"]["review_id"] for _, body in sent}
    stored = q(desk["db"], "SELECT review_id, claim_id, review_seq, supersedes, reviewer, label, note FROM reviews "
                           "ORDER BY claim_id, review_seq")
    assert {r[0] for r in stored} == returned and len(stored) == 40
    assert len({r[2] for r in stored}) == 40
    for text in (EIFFEL, MOON):
        chain = [r for r in stored if r[1] == claim_id(text)]
        assert len(chain) == 20
        assert {r[6] for r in chain} == {f"{n} {i}" for n in ("ana", "bo") for i in range(10)}
        assert [r[3] for r in chain] == [None] + [r[0] for r in chain[:-1]]  # each supersedes the one before
        last = chain[-1]
        assert q(desk["db"], "SELECT label, reviewer, review_id FROM verdicts_current WHERE claim_id = ?",
                 [claim_id(text)]) == [(last[5], last[4], last[0])]
        assert q(desk["db"], "SELECT review_id FROM review_history WHERE claim_id = ? AND is_current",
                 [claim_id(text)]) == [(last[0],)]
    assert desk["service"].reviews == 40


def test_two_cli_reviewers_at_once_through_the_service(desk):
    procs = [subprocess.Popen([str(BIN / "factledger"), "review", claim_id(text), "--verdict", label, "--note", "n",
                               "--reviewer", name, "--db", str(desk["db"])], env=desk["env"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for text, label, name in ((EIFFEL, "refuted", "ana"), (EIFFEL, "supported", "bo"),
                                       (MOON, "refuted", "ana"))]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert all(err == "" for _, err in outs)
    assert desk["service"].reviews == 3
    assert sorted(q(desk["db"], "SELECT reviewer, label FROM reviews")) == [("ana", "refuted"), ("ana", "refuted"),
                                                                          ("bo", "supported")]
    chain = q(desk["db"], "SELECT review_id, supersedes FROM reviews WHERE claim_id = ? ORDER BY review_seq",
              [claim_id(EIFFEL)])
    assert chain[0][1] is None and chain[1][1] == chain[0][0]
