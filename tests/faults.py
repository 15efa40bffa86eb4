"""A raw HTTP/1.1 server on 127.0.0.1 whose replies are written byte by byte, for fault injection."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from typing import Callable

Handler = Callable[[socket.socket], None]


def reply(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if "Content-Length" not in headers:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def send(data: bytes) -> Handler:
    return lambda conn: conn.sendall(data)


def html(body: bytes | str, status: str = "200 OK", ctype: str = "text/html; charset=utf-8", **extra) -> Handler:
    data = body.encode() if isinstance(body, str) else body
    return send(reply(status, {"Content-Type": ctype, **extra}, data))


def drip(ctype: str, total: int, every: float) -> Handler:
    def handler(conn):
        conn.sendall(reply("200 OK", {"Content-Type": ctype, "Content-Length": str(total)}))
        for _ in range(total):
            conn.sendall(b"a")
            time.sleep(every)
    return handler


def stall(seconds: float) -> Handler:
    def handler(conn):
        time.sleep(seconds)
        conn.sendall(reply("200 OK", {"Content-Type": "text/html"}, b"<p>late</p>"))
    return handler


def reset_mid_body() -> Handler:
    def handler(conn):
        conn.sendall(reply("200 OK", {"Content-Type": "text/html", "Content-Length": "50000"}, b"<p>" + b"x" * 500))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
    return handler


def gzipped(body: bytes, *, truncate: bool = False) -> Handler:
    data = gzip.compress(body)
    if truncate:
        data = data[: len(data) // 2]
    return send(reply("200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip"}, data))


class RawServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[str] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode()
            self.requests.append(path)
            handler = self.routes.get(path.split("?")[0])
            if handler is None:
                handler = html("not found", "404 Not Found", "text/plain")
            handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()
