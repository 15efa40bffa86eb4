"""Finding and calling a running FactLedger service (`factledger serve`) from the CLI.

The service writes a state file (`~/.factledger/service.json`, or under $FACTLEDGER_HOME: host,
port, pid, database) once it answers, and removes it when it stops; its bearer token lives beside
it in a 0600 file (`service-token`), created at its first start. The CLI sends `check` and
`check-claim` to the service that serves the same database, after a `GET /health`; a state file
whose process is gone, or a service that does not answer, is stale: the CLI checks locally and
says so in one line. A check is asked for as a stream of events (`stream`: NDJSON, one event a
line), which the CLI turns into the progress bar of a local check.

Light on purpose (requests and the standard library): no Prefect, no models.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from factledger.errors import ConfigError, FactLedgerError
from factledger.pids import alive
from factledger.settings import factledger_home

__all__ = ["HEALTH_TIMEOUT_S", "NDJSON", "ServiceError", "ServiceInfo", "ServiceUnreachable", "call", "cancel", "ensure_token",
           "fetch", "find_service", "is_loopback", "read_state", "remove_state", "state_path", "stream", "token_path",
           "write_state"]

# How long the CLI waits for `GET /health` before it checks locally instead. A warm service answers
# in milliseconds on loopback; one busy with a check still answers /health from another thread.
HEALTH_TIMEOUT_S = 2.0
# Connecting to the service; the check itself may take as long as it takes (an article with a
# hundred claims, minutes on CPU), so the read has no short timeout.
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 3600.0
# A check's answer as a stream of events, one JSON object a line (`flows.service.CheckEvent`).
NDJSON = "application/x-ndjson"


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def state_path() -> Path:
    return factledger_home() / "service.json"


def token_path() -> Path:
    return factledger_home() / "service-token"


def _home() -> Path:
    home = factledger_home()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def ensure_token() -> str:
    """The service's bearer token: read from `service-token`, or generated into it (mode 0600) at
    the first start. A token file other users can read is refused (ConfigError), not used."""
    path = _home() / token_path().name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    return read_token(path)


def read_token(path: Path | None = None) -> str:
    path = path or token_path()
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"service token file is readable by other users (run chmod 600): {path}")
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ConfigError(f"service token file is empty (delete it to make a new one): {path}")
    return token


def write_state(host: str, port: int, db: str | Path, **extra: Any) -> Path:
    """Record where the service listens (atomically: a reader sees the old file or the new one)."""
    path = _home() / state_path().name
    state = {"host": host, "port": port, "pid": os.getpid(), "db": str(Path(db).resolve()), **extra}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)
    return path


def read_state() -> dict | None:
    try:
        state = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def remove_state(pid: int | None = None) -> None:
    """Remove the state file if it is this process's (or `pid`'s): a newer service's stays."""
    state = read_state()
    if state is not None and state.get("pid") == (pid or os.getpid()):
        try:
            state_path().unlink()
        except FileNotFoundError:
            pass


class ServiceUnreachable(Exception):
    """The service the state file names is gone or does not answer (the CLI checks locally)."""


class ServiceError(FactLedgerError):
    """The service answered with an error: the input refused (`status` 4xx) or the run failed."""

    def __init__(self, message: str, status: int, run_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.run_id = run_id


@dataclass(frozen=True)
class ServiceInfo:
    url: str  # http://host:port
    pid: int
    db: str
    token: str
    cancellable: bool = False  # takes a check's `request_id` and cancels by it (its /health says so)


def find_service(db: str | Path) -> ServiceInfo | None:
    """The running service for database `db`, or None when the state file names none for it.
    Raises ServiceUnreachable (with what was found) when it names one that is gone or silent."""
    state = read_state()
    if state is None:
        return None
    try:
        host, port, pid, served = str(state["host"]), int(state["port"]), int(state["pid"]), str(state["db"])
    except (KeyError, TypeError, ValueError):
        raise ServiceUnreachable(f"unreadable service state file {state_path()}") from None
    if served != str(Path(db).resolve()):
        return None  # a service for another database: not ours to use
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    if not alive(pid):
        raise ServiceUnreachable(f"the service at {url} (pid {pid}) is gone")
    try:
        token = read_token()
    except (OSError, FactLedgerError) as exc:
        raise ServiceUnreachable(f"no usable service token ({exc})") from None
    import requests

    try:
        r = requests.get(f"{url}/health", headers={"Authorization": f"Bearer {token}"}, timeout=HEALTH_TIMEOUT_S)
    except requests.RequestException as exc:
        raise ServiceUnreachable(f"the service at {url} does not answer ({type(exc).__name__})") from None
    if r.status_code != 200:
        raise ServiceUnreachable(f"the service at {url} answered /health with HTTP {r.status_code}")
    try:
        health = r.json()
    except ValueError:
        raise ServiceUnreachable(f"the service at {url} answered /health with something other than JSON") from None
    if health.get("pid") != pid or health.get("db") != served:
        raise ServiceUnreachable(f"another process answers at {url}")
    return ServiceInfo(url=url, pid=pid, db=served, token=token, cancellable=health.get("cancel") is True)


def call(svc: ServiceInfo, path: str, payload: dict) -> dict:
    """POST `payload` as JSON to the service; the decoded answer. Raises ServiceUnreachable when
    nothing was sent (the CLI may check locally), ServiceError for an error answer."""
    return _request(svc, "post", path, json=payload)


def fetch(svc: ServiceInfo, path: str, params: dict | None = None) -> dict:
    """GET `path` from the service with query `params`; the decoded answer (errors as for `call`)."""
    return _request(svc, "get", path, params={k: v for k, v in (params or {}).items() if v is not None})


def stream(svc: ServiceInfo, path: str, payload: dict, on_event: Callable[[dict], None]) -> dict:
    """POST `payload` as `call` does, asking for the check's stream of events: `on_event(event)` for
    each as it comes (`started`, `claims`, `progress`, `verdict`); returns the answer that `done`
    carries (what `call` returns). An `error` event is raised as the ServiceError the plain call
    would raise; a stream cut short is a ServiceError too. A service that answers in one piece
    (plain JSON: a version without streams) is answered as by `call`."""
    import requests

    r = _send(svc, "post", path, json=payload, headers={"Accept": NDJSON}, stream=True)
    with r:
        if r.status_code >= 400 or r.headers.get("content-type", "").split(";")[0].strip() != NDJSON:
            return _decoded(r)
        try:
            for line in r.iter_lines(chunk_size=None):
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.pop("event", None) if isinstance(event, dict) else None
                if kind == "done":
                    return event
                if kind == "error":
                    raise ServiceError(str(event.get("error") or "the check failed"), int(event.get("http_status") or 500),
                                       event.get("run_id"))
                on_event({"event": kind, **event})
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            pass  # said below
        except requests.Timeout:
            raise ServiceError(f"the service at {svc.url} said nothing for {READ_TIMEOUT_S:g} s", 504) from None
        except ValueError:
            raise ServiceError(f"the service at {svc.url} sent a line that is not JSON: {line[:100]!r}", 502) from None
    raise ServiceError(f"the service at {svc.url} stopped answering before the check ended", 503)


def _request(svc: ServiceInfo, method: str, path: str, **kwargs) -> dict:
    return _decoded(_send(svc, method, path, **kwargs))


def _send(svc: ServiceInfo, method: str, path: str, headers: dict | None = None, **kwargs):
    """The service's response to the request (its status not looked at yet). Raises
    ServiceUnreachable when nothing was sent, ServiceError when it stopped answering."""
    import requests

    try:
        return requests.request(method, f"{svc.url}{path}", headers={"Authorization": f"Bearer {svc.token}",
                                                                     **(headers or {})},
                                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), **kwargs)
    except requests.ConnectionError as exc:
        if _sent(exc):
            raise ServiceError(f"the service at {svc.url} stopped answering during the request", 503) from None
        raise ServiceUnreachable(f"the service at {svc.url} refused the connection") from None
    except requests.Timeout:
        raise ServiceError(f"the service at {svc.url} did not answer in {READ_TIMEOUT_S:g} s", 504) from None


def _decoded(r) -> dict:
    """The JSON body of a response; an error answer raised as a ServiceError."""
    try:
        body = r.json()
    except ValueError:
        body = {"error": r.text.strip()[:300] or f"HTTP {r.status_code}"}
    if r.status_code >= 400:
        detail = body.get("error") or body.get("detail") or f"HTTP {r.status_code}"
        raise ServiceError(str(detail), r.status_code, body.get("run_id"))
    return body


def cancel(svc: ServiceInfo, request_id: str, signal_name: str | None = None) -> dict:
    """Ask the service to cancel the check sent with `request_id`; its answer (`status`, and the
    `run_id` when the check has one). Raises ServiceError when it cannot be asked."""
    import requests

    try:
        r = requests.post(f"{svc.url}/checks/{request_id}/cancel", json={"signal": signal_name},
                          headers={"Authorization": f"Bearer {svc.token}"}, timeout=(CONNECT_TIMEOUT_S, HEALTH_TIMEOUT_S))
    except requests.RequestException as exc:
        raise ServiceError(f"could not ask the service at {svc.url} to cancel ({type(exc).__name__})", 503) from None
    if r.status_code != 202:
        raise ServiceError(f"the service at {svc.url} refused to cancel (HTTP {r.status_code})", r.status_code)
    return r.json()


def _sent(exc: Exception) -> bool:
    """Whether the request may have reached the service (a reset or a closed connection after
    connecting) rather than being refused before anything was sent."""
    text = str(exc).lower()
    return not any(s in text for s in ("refused", "failed to establish", "name or service not known"))
