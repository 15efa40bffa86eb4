"""The warm check service (`factledger serve`): a real uvicorn server on a free loopback port, in
this process, under the session's Prefect harness, with cheap models (hashing embedder, rule
stance and scorer) against the example corpus; the CLI as a separate process finds and uses it."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import EXAMPLES, ROOT, example_corpus
from tests.test_signals import claims_being_checked, screen, start, wait_for
from tests.warehouse.test_snapshot import sql, writer_holding

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CLAIM = "The Eiffel Tower was completed in 1889 for the World's Fair."
NDJSON = "application/x-ndjson"


class GatedStance:
    """The rule stance, which waits at `gate` while `armed`: a check caught in a model call."""

    name = "conflict-rules-gated"
    revision = "v1"

    def __init__(self, inner) -> None:
        self.inner = inner
        self.armed = False
        self.entered = threading.Event()
        self.gate = threading.Event()

    def predict(self, claim, passages):
        if self.armed:
            self.entered.set()
            self.gate.wait(30)
        return self.inner.predict(claim, passages)


@pytest.fixture(scope="module")
def service(tmp_path_factory, prefect_harness, splitter, embedder):
    import flows
    from extractors.checkworthy import RuleScorer
    from factledger.app import Runtime
    from flows import stopping
    from flows.service import serve_checks
    from verifiers.stance import ConflictRuleStance

    tmp = tmp_path_factory.mktemp("service")
    home = tmp / "home"
    db = tmp / "served.duckdb"
    example_corpus(db, splitter, embedder)
    stance = GatedStance(ConflictRuleStance(splitter.nlp))
    saved = os.environ.get("FACTLEDGER_HOME")
    os.environ["FACTLEDGER_HOME"] = str(home)
    ready: dict = {}
    started = threading.Event()
    result: dict = {}

    def on_ready(url, server):
        ready.update(url=url, server=server)
        started.set()

    def run():
        try:
            result["code"] = serve_checks(
                db, lambda: Runtime(splitter=splitter, embedder=embedder, scorer=RuleScorer(), stance=stance),
                host="127.0.0.1", port=0, on_ready=on_ready, say=lambda msg: result.setdefault("said", []).append(msg))
        except BaseException as exc:
            result["error"] = exc
            started.set()

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="service", daemon=True)
    thread.start()
    assert started.wait(180) and "error" not in result, result
    token = (home / "service-token").read_text().strip()
    env = {**os.environ, "FACTLEDGER_HOME": str(home), "PREFECT_HOME": str(tmp / "prefect")}
    yield {"url": ready["url"], "server": ready["server"], "token": token, "db": db, "home": home, "env": env,
           "stance": stance, "thread": thread, "result": result}
    if thread.is_alive():
        ready["server"].handle_exit(signal.SIGTERM, None)
        thread.join(30)
    stance.gate.set()
    stopping.reset()
    flows.set_runtime(None)
    if saved is None:
        os.environ.pop("FACTLEDGER_HOME", None)
    else:
        os.environ["FACTLEDGER_HOME"] = saved


def auth(service) -> dict:
    return {"Authorization": f"Bearer {service['token']}"}


def q(db, sql, params=()):
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_token_file_and_state_file(service):
    home = service["home"]
    assert (home / "service-token").stat().st_mode & 0o777 == 0o600
    state = json.loads((home / "service.json").read_text())
    assert state["pid"] == os.getpid() and state["db"] == str(service["db"].resolve())
    assert service["url"] == f"http://127.0.0.1:{state['port']}"


def test_every_request_needs_the_token(service):
    url = service["url"]
    for method, path in (("get", "/health"), ("post", "/claims/check"), ("post", "/articles/check"),
                         ("get", "/runs/x")):
        r = getattr(requests, method)(url + path, json={"claims": [CLAIM]}, timeout=10)
        assert r.status_code == 401, (path, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer" and "token" in r.json()["error"]
        wrong = getattr(requests, method)(url + path, json={"claims": [CLAIM]}, timeout=10,
                                          headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
    health = requests.get(url + "/health", headers=auth(service), timeout=10)
    assert health.status_code == 200 and health.json()["pid"] == os.getpid() and health.json()["cancel"] is True
    docs = requests.get(url + "/openapi.json", timeout=10).json()  # the documentation needs no token
    assert {"/claims/check", "/articles/check", "/runs/{run_id}", "/health"} <= set(docs["paths"])


def test_bad_requests_get_a_clear_4xx(service):
    url, h = service["url"], {**auth(service), "Content-Type": "application/json"}
    r = requests.post(url + "/claims/check", data=b'{"claims": [', headers=h, timeout=10)
    assert r.status_code == 400 and r.json()["error"].startswith("malformed JSON")
    r = requests.post(url + "/claims/check", json={"claims": []}, headers=h, timeout=10)
    assert r.status_code == 422 and "claims" in r.json()["error"]
    r = requests.post(url + "/claims/check", json={"claims": [CLAIM], "providers": ["nope"]}, headers=h, timeout=10)
    assert r.status_code == 422
    from flows.service import MAX_BODY_BYTES

    big = b'{"claims": ["' + b"a" * (MAX_BODY_BYTES + 10) + b'"]}'
    r = requests.post(url + "/claims/check", data=big, headers=h, timeout=30)
    assert r.status_code == 413 and "over" in r.json()["error"]
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))  # no Content-Length: counted as read
    r = requests.post(url + "/claims/check", data=chunks, headers=h, timeout=30)
    assert r.status_code == 413


def test_a_claim_check_returns_its_verdict_and_run_id(service):
    r = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM], "input_ids": ["c1"]},
                      headers=auth(service), timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    (row,) = body["results"]
    assert row["claim"] == CLAIM and row["input_id"] == "c1"
    assert row["label"] in {"supported", "refuted", "not_enough_evidence", "conflicting"}
    (stored,) = q(service["db"], "SELECT r.flow_name, r.status, v.label FROM runs r JOIN verdicts v USING (run_id) "
                                 "WHERE r.run_id = ?", [body["run_id"]])
    assert stored == ("check-claim", "completed", row["label"])
    run = requests.get(f"{service['url']}/runs/{body['run_id']}", headers=auth(service), timeout=30).json()
    assert run["run"]["status"] == "completed" and run["verdicts"][0]["label"] == row["label"]


def test_a_failed_check_is_recorded_and_the_service_goes_on(service):
    h = auth(service)
    r = requests.post(service["url"] + "/articles/check", json={"article": str(service["db"].parent / "gone.md")},
                      headers=h, timeout=120)
    assert r.status_code == 422 and "gone.md" in r.json()["error"] and r.json()["run_id"]
    assert q(service["db"], "SELECT status FROM runs WHERE run_id = ?", [r.json()["run_id"]]) in ([], [("failed",)])
    ok = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM]}, headers=h, timeout=120)
    assert ok.status_code == 200


def test_the_cli_sends_check_and_check_claim_to_the_service(service):
    before = requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()["checks"]
    proc = subprocess.run([str(BIN / "factledger"), "check-claim", CLAIM, "--db", str(service["db"]), "--format",
                           "json"], env=service["env"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["claim"] == CLAIM and proc.stderr == ""
    after = requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()["checks"]
    assert after == before + 1  # answered by the service, not in the CLI's process
    article = subprocess.run([str(BIN / "factledger"), "check", str(EXAMPLES / "sample_article.md"), "--db",
                              str(service["db"]), "--format", "json"], env=service["env"], capture_output=True,
                             text=True, timeout=120, cwd=ROOT)
    assert article.returncode == 0 and article.stderr == "", article.stderr
    rows = json.loads(article.stdout)
    assert rows and {r["article"] for r in rows} == {str((EXAMPLES / "sample_article.md").resolve())}
    assert requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()["checks"] == after + 1
    refused = subprocess.run([str(BIN / "factledger"), "check-claim", "x" * 5 + " y", "--db", str(service["db"])],
                             env=service["env"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1  # refused before anything is sent


def test_a_stale_state_file_falls_back_to_a_local_check_with_one_line(service, tmp_path, monkeypatch, capsys):
    """The state file names a process that is gone: the CLI says so once and checks in-process."""
    import flows
    from factledger.cli import main

    home = tmp_path / "home"
    home.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    db = tmp_path / "local.duckdb"
    (home / "service.json").write_text(json.dumps({"host": "127.0.0.1", "port": 9, "pid": gone.pid,
                                                   "db": str(db.resolve())}))
    monkeypatch.setenv("FACTLEDGER_HOME", str(home))
    served = flows.check.get_runtime()  # the service's models: the local check sets this process's own
    try:
        code = main(["check-claim", CLAIM, "--db", str(db), "--format", "json", "--quiet", "--provider", "urls",
                     "--url", "http://127.0.0.1:9/none"])
    finally:
        flows.set_runtime(served)
    out, err = capsys.readouterr()
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["label"] == "not_enough_evidence"
    notes = [line for line in err.splitlines() if line.strip()]
    assert len(notes) == 1 and f"pid {gone.pid}" in notes[0] and "checking in this process" in notes[0], err
    assert q(db, "SELECT count(*) FROM runs WHERE flow_name = 'check-claim' AND status = 'completed'") == [(1,)]


def test_ctrl_c_of_a_cli_check_cancels_its_run_in_the_service(service):
    """SIGINT to a CLI check that the service is answering: the service stops that run at its next
    check and records it as cancelled, the CLI exits 130 naming the run, and the service goes on."""
    from flows import stopping

    stance, db = service["stance"], service["db"]
    stance.armed = True
    # started with SIGINT ignored, as a background job of a script is (and as CI may run the suite): the
    # command still answers SIGINT, as its local path does
    proc = subprocess.Popen([str(BIN / "factledger"), "check-claim", CLAIM + " Stopped by Ctrl-C.", "--db", str(db)],
                            env=service["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert stance.entered.wait(60), proc.stderr.read() if proc.poll() is not None else "no model call"
        # Meanwhile an analyst's query reads the warehouse (the service reads it too, and writes it
        # only to record the run and to store its results): the run is there, running.
        shown = subprocess.run([str(BIN / "factledger"), "sql", "SELECT status FROM runs WHERE flow_name = "
                                "'check-claim' ORDER BY started_at DESC LIMIT 1", "--db", str(db), "--format", "csv"],
                               env=service["env"], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert shown.returncode == 0 and shown.stdout.splitlines() == ["status", "running"], shown.stderr
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 60  # a wait limit, not a timing check: CI machines are slow
        while not stopping.stop_requested():  # the cancel reached the service while the run is in a model call
            assert time.monotonic() < deadline and proc.poll() is None, "the service was not asked to cancel"
            time.sleep(0.05)
        stance.armed = False
        stance.gate.set()
        out, err = proc.communicate(timeout=60)
    finally:
        stance.armed = False
        stance.gate.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: stopped by SIGINT; run cancelled, nothing half-written stored: "), err
    run_id = last.rsplit(" ", 1)[1]
    assert q(db, "SELECT flow_name, status, error FROM runs WHERE run_id = ?", [run_id]) == [
        ("check-claim", "cancelled", "cancelled: SIGINT at the client")]
    assert q(db, "SELECT count(*) FROM verdicts WHERE run_id = ?", [run_id]) == [(0,)]
    assert not stopping.stop_requested() and out == ""
    stance.gate.clear()
    stance.entered.clear()
    ok = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM]}, headers=auth(service), timeout=120)
    assert ok.status_code == 200, ok.text  # the service goes on
    early = requests.post(service["url"] + "/checks/never-sent/cancel", json={}, headers=auth(service), timeout=10)
    assert early.status_code == 202 and early.json() == {"status": "cancelled", "run_id": None}
    refused = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM], "request_id": "never-sent"},
                            headers=auth(service), timeout=120)
    assert refused.status_code == 409 and refused.json()["kind"] == "cancelled"  # cancelled before it started


@contextlib.contextmanager
def held_in_a_model_call(stance):
    """While the block runs, the service's stance model waits at its gate (a check caught in a model
    call); then it is let go and the gate made ready for the next test."""
    stance.armed = True
    try:
        yield stance
    finally:
        stance.armed = False
        stance.gate.set()
        time.sleep(0.2)
        stance.gate.clear()
        stance.entered.clear()


def ended(proc: subprocess.Popen) -> int:
    """The command's exit code, once it ends (killed after a minute: a wait limit, not a timing check)."""
    try:
        return proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def landmarks_article(path: Path, *sentences: str) -> Path:
    """An article of check-worthy sentences about the example corpus (new ones: no cached result)."""
    path.write_text("# Landmarks\n\n" + " ".join(sentences) + "\n", encoding="utf-8")
    return path


def test_an_article_check_streams_its_events_as_it_goes(service, tmp_path):
    """`Accept: application/x-ndjson`: the run's id, its claims and the progress arrive while the
    check works (here held in a model call), then each verdict, then `done` with the plain answer."""
    article = landmarks_article(tmp_path / "streamed.md", "The Eiffel Tower in Paris was finished in 1887.",
                                "Big Ben in London was completed in 1859 after a fire.",
                                "The Chrysler Building in New York was finished in 1930.")
    events: list[dict] = []
    with held_in_a_model_call(service["stance"]) as stance:
        with requests.post(service["url"] + "/articles/check", json={"article": str(article)}, stream=True,
                           headers={**auth(service), "Accept": NDJSON}, timeout=120) as r:
            assert r.status_code == 200 and r.headers["content-type"] == NDJSON, r.text
            lines = r.iter_lines(chunk_size=None)
            for line in lines:
                events.append(json.loads(line))
                if events[-1].get("note") == "weighing the evidence":
                    break
            assert stance.entered.wait(60)  # the check is in a model call: what came so far came while it works
            health = requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()
            assert health["busy"] is True
            assert {e["event"] for e in events} == {"started", "claims", "progress"}, events
            stance.gate.set()
            events += [json.loads(line) for line in lines if line]
    kinds = [e["event"] for e in events]
    started, done = events[0], events[-1]
    assert kinds[0] == "started" and kinds[-1] == "done" and kinds.count("done") == 1 and "error" not in kinds
    assert set(done) == {"event", "run_id", "status", "results"} and done["status"] == "completed"
    assert started["run_id"] == done["run_id"]
    (claims,) = [e for e in events if e["event"] == "claims"]
    verdicts = [e for e in events if e["event"] == "verdict"]
    assert claims["count"] == len(verdicts) == len(done["results"]) > 0
    assert kinds.index("claims") < kinds.index("verdict") and kinds[-len(verdicts) - 2:-2] == ["verdict"] * len(verdicts)
    assert [(v["claim_id"], v["claim"], v["label"], v["confidence"]) for v in verdicts] == [
        (r["claim_id"], r["claim"], r["label"], r["confidence"]) for r in done["results"]]
    counts = [e["done"] for e in events if e["event"] == "progress"]
    assert counts == sorted(counts) and counts[-1] == claims["count"]
    assert {e["what"] for e in events if e["event"] == "progress"} == {"claims checked"}
    stored = q(service["db"], "SELECT claim_id, label FROM verdicts WHERE run_id = ? ORDER BY claim_id", [done["run_id"]])
    assert stored == sorted((r["claim_id"], r["label"]) for r in done["results"])
    plain = requests.post(service["url"] + "/articles/check", json={"article": str(article)}, headers=auth(service),
                          timeout=120).json()  # the same article again, answered in one piece
    assert plain["results"] == done["results"] and plain["run_id"] != done["run_id"]
    doc = requests.get(service["url"] + "/openapi.json", timeout=10).json()["paths"]
    for path in ("/articles/check", "/claims/check"):
        answer = doc[path]["post"]["responses"]["200"]
        assert NDJSON in answer["content"] and "application/json" in answer["content"]
        assert "started" in answer["content"][NDJSON]["schema"]["properties"]["event"]["enum"]
        assert any(p["name"] == "accept" for p in doc[path]["post"]["parameters"])


def test_a_streamed_check_ends_with_the_error_the_plain_call_answers(service, tmp_path):
    gone = str(tmp_path / "gone.md")
    plain = requests.post(service["url"] + "/articles/check", json={"article": gone}, headers=auth(service),
                          timeout=120)
    assert plain.status_code == 422
    with requests.post(service["url"] + "/articles/check", json={"article": gone}, stream=True,
                       headers={**auth(service), "Accept": NDJSON}, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"] == NDJSON
        *before, last = [json.loads(line) for line in r.iter_lines() if line]
    assert [e["event"] for e in before] == ["started"]
    assert last == {"event": "error", "error": plain.json()["error"], "kind": "input", "run_id": before[0]["run_id"],
                    "http_status": 422}
    refused = requests.post(service["url"] + "/articles/check", json={"article": ""}, timeout=30,
                            headers={**auth(service), "Accept": NDJSON})  # refused before a check starts: as ever
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/json"


def test_the_cli_shows_the_services_progress_and_prints_the_same_output(service, tmp_path):
    """`factledger check` answered by the service: the stream drives the progress bar on a terminal
    (while the service's check is held in a model call), and stdout is the plain answer's rows."""
    article = landmarks_article(tmp_path / "shown.md", "The Eiffel Tower in Paris was finished in 1886.",
                                "Big Ben in London was completed in 1858 after a fire.")
    err, out = tmp_path / "check.err", tmp_path / "check.out"
    before = requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()["checks"]
    with held_in_a_model_call(service["stance"]) as stance:
        proc = start(["check", str(article), "--db", str(service["db"]), "--format", "json"], service["env"], err,
                     terminal=True, out=out)
        try:
            wait_for(lambda: (stance.entered.is_set() and claims_being_checked(err)) or proc.poll() is not None, 120,
                     "the progress bar of the service's check")
            assert proc.poll() is None, screen(err)[-2000:]
        finally:
            stance.gate.set()
    assert ended(proc) == 0, screen(err)[-2000:]
    assert "Error" not in screen(err) and "note:" not in screen(err)
    rows = json.loads(out.read_text())
    assert requests.get(service["url"] + "/health", headers=auth(service), timeout=10).json()["checks"] == before + 1
    plain = requests.post(service["url"] + "/articles/check", json={"article": str(article)}, headers=auth(service),
                          timeout=120).json()
    assert rows == plain["results"] and rows


def test_sigterm_to_a_streamed_check_cancels_its_run_in_the_service(service, tmp_path):
    """SIGTERM to `factledger check` while its progress streams from the service: the service stops
    the run at its next check and records it as cancelled; the CLI's last line names it, exit 143."""
    from flows import stopping

    db = service["db"]
    article = landmarks_article(tmp_path / "stopped.md", "The Eiffel Tower in Paris was finished in 1885.",
                                "Big Ben in London was completed in 1857 after a fire.")
    err = tmp_path / "stopped.err"
    with held_in_a_model_call(service["stance"]) as stance:
        proc = start(["check", str(article), "--db", str(db)], service["env"], err, terminal=True)
        try:
            wait_for(lambda: (stance.entered.is_set() and claims_being_checked(err)) or proc.poll() is not None, 120,
                     "the progress bar of the service's check")
            assert proc.poll() is None, screen(err)[-2000:]
            proc.send_signal(signal.SIGTERM)
            wait_for(lambda: stopping.stop_requested() or proc.poll() is not None, 60, "the service to be asked to cancel")
            assert stopping.stop_requested(), screen(err)[-2000:]
        finally:
            stance.gate.set()
    ended(proc)
    assert proc.returncode == 143, screen(err)[-2000:]
    wait_for(lambda: "Error:" in screen(err), 5, "the last line to be copied")
    lines = [line for line in screen(err).splitlines() if line.strip()]
    assert lines[-1].startswith("Error: stopped by SIGTERM; run cancelled, nothing half-written stored: "), lines
    assert [line for line in lines[:-1] if "claims checked" not in line] == []  # the bar's lines, then that one
    run_id = lines[-1].rsplit(" ", 1)[1]
    assert q(db, "SELECT flow_name, status, error FROM runs WHERE run_id = ?", [run_id]) == [
        ("check-article", "cancelled", "cancelled: SIGTERM at the client")]
    assert q(db, "SELECT count(*) FROM verdicts WHERE run_id = ?", [run_id]) == [(0,)]
    assert q(db, "SELECT count(*) FROM claims WHERE run_id = ?", [run_id]) == [(0,)]
    assert not stopping.stop_requested()


def test_sql_reads_the_services_snapshot_while_another_process_holds_the_file(service):
    """The service publishes the analysts' snapshot after its store: with the file held by a writer
    (another process), `factledger sql` answers from it, the verdict there."""
    from warehouse.snapshot import await_publish

    r = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM + " Published."]},
                      headers=auth(service), timeout=120)
    assert r.status_code == 200, r.text
    assert await_publish(service["db"], timeout=60)
    with writer_holding(service["db"]):
        proc = sql(service["db"], f"SELECT claim_text, label FROM latest_verdicts WHERE run_id = '{r.json()['run_id']}'")
    assert proc.returncode == 0, proc.stderr
    (row,) = r.json()["results"]
    assert json.loads(proc.stdout) == [{"claim_text": row["claim"], "label": row["label"]}]
    assert proc.stderr.count("\n") == 1 and "reading its snapshot published" in proc.stderr


def test_sigterm_marks_the_run_in_flight_cancelled(service):
    """Last: stops the service. A check caught in a model call when SIGTERM arrives is recorded as
    cancelled, its caller told so (503), nothing of it stored, and the state file removed."""
    stance, server = service["stance"], service["server"]
    stance.armed = True
    answer: dict = {}

    def call():
        answer["r"] = requests.post(service["url"] + "/claims/check", json={"claims": [CLAIM + " Again."]},
                                    headers=auth(service), timeout=120)

    caller = threading.Thread(target=call)
    caller.start()
    assert stance.entered.wait(60)
    server.handle_exit(signal.SIGTERM, None)  # what uvicorn's signal handler calls
    time.sleep(0.5)
    stance.gate.set()
    caller.join(60)
    service["thread"].join(60)
    r = answer["r"]
    assert r.status_code == 503 and r.json()["kind"] == "cancelled", r.text
    run_id = r.json()["run_id"]
    assert q(service["db"], "SELECT status, error FROM runs WHERE run_id = ?", [run_id]) == [
        ("cancelled", "cancelled: SIGTERM")]
    assert q(service["db"], "SELECT count(*) FROM verdicts WHERE run_id = ?", [run_id]) == [(0,)]
    assert service["result"].get("code") == 0
    assert not (service["home"] / "service.json").exists()
    assert any("cancelled" in m or "SIGTERM" in m for m in service["result"]["said"])


def test_another_interface_needs_an_explicit_flag(tmp_path):
    proc = subprocess.run([str(BIN / "factledger"), "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "w.duckdb")],
                          env={**os.environ, "FACTLEDGER_HOME": str(tmp_path / "home")}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "home" / "service.json").exists()


def test_a_service_that_cannot_cancel_gets_no_request_id(tmp_path, httpserver):
    """A service started before checks could be cancelled (its /health does not say `cancel`)
    refuses fields it does not know: the CLI sends it none, and its answer is printed as usual."""
    from werkzeug import Response

    home, db = tmp_path / "home", tmp_path / "old.duckdb"
    home.mkdir(mode=0o700)
    (home / "service-token").write_text("old-token\n")
    (home / "service-token").chmod(0o600)
    (home / "service.json").write_text(json.dumps({"host": "127.0.0.1", "port": httpserver.port, "pid": os.getpid(),
                                                   "db": str(db.resolve())}))
    httpserver.expect_request("/health").respond_with_json({"status": "ok", "pid": os.getpid(), "db": str(db.resolve())})
    row = {"claim": CLAIM, "label": "supported", "confidence": 0.9}

    def check(request):
        body = request.get_json()
        if set(body) - {"claims", "input_ids", "providers", "urls", "before"}:
            return Response(json.dumps({"error": "extra fields not permitted", "kind": "invalid"}), 422,
                            content_type="application/json")
        return Response(json.dumps({"run_id": "r-1", "status": "completed", "results": [row]}),
                        content_type="application/json")

    httpserver.expect_request("/claims/check", method="POST").respond_with_handler(check)
    proc = subprocess.run([str(BIN / "factledger"), "check-claim", CLAIM, "--db", str(db), "--format", "json"],
                          env={**os.environ, "FACTLEDGER_HOME": str(home)}, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [row] and not db.exists()  # answered by that service, not checked here
