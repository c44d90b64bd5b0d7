"""Non-blocking unix-socket connections for the sandbox server's selector loop.

Frames are read into a buffer and parsed as they complete; answers are queued
and flushed as the socket accepts them. Requests on one connection are handed
to the server one at a time: the next one only after the previous one was
answered (clients may still pipeline them).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import selectors
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import protocol

log = logging.getLogger("grading.sandbox")


def receive_some(sock: socket.socket) -> bytes | None:
    """Read what a non-blocking socket holds: None if nothing yet, b"" once it is closed."""
    try:
        return sock.recv(1 << 20)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


@dataclass(eq=False)
class Connection:
    """A client connection."""

    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    requests: collections.deque[Any] = field(default_factory=collections.deque)
    #: True while the server works on this connection's current request.
    busy: bool = False
    closing: bool = False
    closed: bool = False


class Listener:
    """Accept connections and exchange frames with them on a shared selector."""

    def __init__(
        self,
        selector: selectors.BaseSelector,
        path: str,
        mode: int,
        on_request: Callable[[Connection, Any], None],
        on_close: Callable[[Connection], None],
    ) -> None:
        """Bind and listen on ``path``; requests go to ``on_request``."""
        self.selector = selector
        self.path = path
        self.on_request = on_request
        self.on_close = on_close
        self.connections: set[Connection] = set()
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise OSError(f"{path} exists and is not a socket; refusing to replace it")
            os.unlink(path)  # a stale socket from an earlier run
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, mode)
        self.sock.listen(128)
        self.sock.setblocking(False)
        selector.register(self.sock, selectors.EVENT_READ, self._on_accept)

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.sock)
        self.sock.close()

    def flush_all(self, timeout: float) -> None:
        """Send every queued answer, waiting up to ``timeout`` seconds in all (at shutdown)."""
        deadline = time.monotonic() + timeout
        for conn in list(self.connections):
            remaining = deadline - time.monotonic()
            if not conn.outbuf or conn.closed or remaining <= 0:
                continue
            try:
                conn.sock.settimeout(remaining)
                conn.sock.sendall(conn.outbuf)
                conn.outbuf.clear()
            except OSError:
                self.close_connection(conn)

    def _on_accept(self, _mask: int) -> None:
        for _ in range(64):
            try:
                sock, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the others
                log.error("accept failed: %s", exc)
                return
            sock.setblocking(False)
            conn = Connection(sock)
            self.connections.add(conn)
            self.selector.register(
                sock, selectors.EVENT_READ, lambda mask, conn=conn: self._on_event(conn, mask)
            )

    def _on_event(self, conn: Connection, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(conn)
        if not mask & selectors.EVENT_READ or conn.closed:
            return
        data = receive_some(conn.sock)
        if data is None:
            return
        if not data:
            self.close_connection(conn)
            return
        conn.inbuf += data
        self._parse_frames(conn)

    def _parse_frames(self, conn: Connection) -> None:
        header = protocol.HEADER
        while len(conn.inbuf) >= header.size and not conn.closing:
            (length,) = header.unpack_from(conn.inbuf)
            if length > protocol.MAX_REQUEST_BYTES:
                conn.closing = True  # close once this answer is sent
                limit = protocol.MAX_REQUEST_BYTES
                self.respond(
                    conn, {"ok": False, "error": f"request of {length} bytes exceeds {limit}"}
                )
                break
            if len(conn.inbuf) < header.size + length:
                break
            payload = bytes(conn.inbuf[header.size : header.size + length])
            del conn.inbuf[: header.size + length]
            try:
                conn.requests.append(protocol.decode_payload(payload))
            except protocol.ProtocolError as exc:
                conn.requests.append(exc)
        self.next_request(conn)

    def next_request(self, conn: Connection) -> None:
        """Hand the connection's next queued request to the server, if it is free."""
        while conn.requests and not conn.busy and not conn.closed:
            message = conn.requests.popleft()
            if isinstance(message, protocol.ProtocolError):
                self.respond(conn, {"ok": False, "error": str(message)})
            elif not isinstance(message, dict):
                self.respond(conn, {"ok": False, "error": "a request must be a JSON object"})
            else:
                self.on_request(conn, message)

    def respond(self, conn: Connection, message: dict[str, Any]) -> None:
        """Queue an answer and send as much of it as the socket takes now."""
        if conn.closed:
            return
        conn.outbuf += protocol.encode_frame(message)
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        try:
            while conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close_connection(conn)
            return
        if not conn.outbuf and conn.closing:
            self.close_connection(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
        key = self.selector.get_key(conn.sock)
        if key.events != events:
            self.selector.modify(conn.sock, events, key.data)

    def close_connection(self, conn: Connection) -> None:
        """Close a connection and tell the server, which abandons its job."""
        if conn.closed:
            return
        conn.closed = True
        self.connections.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(conn.sock)
        conn.sock.close()
        self.on_close(conn)
