"""Decode large job results in a helper process, off the server's single-threaded loop.

Parsing, validating and re-encoding a result costs time in proportion to its size
(about 100 ms for a few MiB of captured values); done inside the server's loop it
would delay every other job's answer by as much. So a result larger than
``INLINE_RESULT_BYTES`` goes to the *decoder*: a small process the server forks at
start-up, before it imports torch or holds any request, which parses the child's bytes
strictly (see :func:`.results.parse_child_result`) and sends back a small header plus
the values re-encoded by ``json.dumps``. The server then only copies bytes: it puts the
values in place in its response without parsing or encoding them again (see
:class:`.protocol.RawJSON`). The decoder runs at a lower priority than jobs, as nobody
uid with no_new_privs, so a flood of maximal results slows only their own answers.

Protocol on a SOCK_STREAM socketpair, length-prefixed frames (``protocol.HEADER``):
server -> decoder: a JSON frame ``{"capture": [...]}`` then the raw result bytes;
decoder -> server: a JSON frame (``{"ok": true, "status": ..., ...}`` or
``{"ok": false, "error": ...}``) then the values' JSON text (empty on error).
Answers come in the order of the requests.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import logging
import os
import selectors
import signal
import socket
from collections.abc import Callable
from typing import Any, NoReturn

from . import protocol
from .results import ChildResult, ResultError, parse_child_result
from .seccomp import set_no_new_privs
from .transport import receive_some

log = logging.getLogger("grading.sandbox")

#: Results up to this size are parsed inside the loop (well under a millisecond).
INLINE_RESULT_BYTES = 64 * 1024
#: The decoder runs as this uid ("nobody"): it parses bytes a job wrote.
DECODER_UID = 65534
DECODER_NICE = 10


class DecoderStopped(Exception):
    """The decoder process died; the results it held were not decoded (not the job's doing)."""


Decoded = ChildResult | ResultError | DecoderStopped


class ResultDecoder:
    """The server's end of the decoder process: queue results, deliver decoded ones."""

    def __init__(self) -> None:
        """Set up state; :meth:`start` forks the process."""
        self.sock: socket.socket | None = None
        self.pid = 0
        self.selector: selectors.BaseSelector | None = None
        self.outbuf = bytearray()
        self.inbuf = bytearray()
        self.pending: collections.deque[Callable[[Decoded], None]] = collections.deque()

    def start(self) -> None:
        """Fork the decoder; call only while this process holds no job's data."""
        server_end, decoder_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            server_end.close()
            _decoder_main(decoder_end)
        decoder_end.close()
        server_end.setblocking(False)
        self.sock, self.pid = server_end, pid
        if self.selector is not None:
            self.selector.register(server_end, selectors.EVENT_READ, self._on_event)

    def attach(self, selector: selectors.BaseSelector) -> None:
        """Serve on the server's selector."""
        self.selector = selector
        if self.sock is not None:
            selector.register(self.sock, selectors.EVENT_READ, self._on_event)

    def decode(
        self, data: bytes | bytearray, capture: tuple[str, ...], done: Callable[[Decoded], None]
    ) -> None:
        """Queue a child's result; ``done`` is called with what it decodes to."""
        if self.sock is None:
            self.start()
        meta = json.dumps({"capture": list(capture)}).encode()
        self.outbuf += protocol.HEADER.pack(len(meta)) + meta
        self.outbuf += protocol.HEADER.pack(len(data))
        self.outbuf += data
        self.pending.append(done)
        self._flush()

    def stop(self) -> None:
        """Stop the decoder process (at shutdown)."""
        if self.sock is not None:
            self._drop()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, 0)

    def _flush(self) -> None:
        assert self.sock is not None and self.selector is not None
        try:
            while self.outbuf:
                sent = self.sock.send(self.outbuf)
                del self.outbuf[:sent]  # cheap: bytearray deletes from the front in place
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._fail_all()
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbuf else 0)
        if self.selector.get_key(self.sock).events != events:
            self.selector.modify(self.sock, events, self._on_event)

    def _on_event(self, mask: int) -> None:
        assert self.sock is not None
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if not mask & selectors.EVENT_READ or self.sock is None:
            return
        data = receive_some(self.sock)
        if data is None:
            return
        if not data:
            self._fail_all()
            return
        self.inbuf += data
        self._deliver()

    def _deliver(self) -> None:
        size = protocol.HEADER.size
        while len(self.inbuf) >= size:
            (head_len,) = protocol.HEADER.unpack_from(self.inbuf)
            if len(self.inbuf) < size + head_len + size:
                return
            (values_len,) = protocol.HEADER.unpack_from(self.inbuf, size + head_len)
            end = size + head_len + size + values_len
            if len(self.inbuf) < end:
                return
            header = json.loads(self.inbuf[size : size + head_len])
            values = protocol.RawJSON(self.inbuf[size + head_len + size : end])
            del self.inbuf[:end]
            done = self.pending.popleft()
            if header["ok"]:
                fields = {key: header[key] for key in ("status", "exception", "kind", "cpu_ms")}
                done(ChildResult(**fields, values=values, result_bytes=header["result_bytes"]))
            else:
                done(ResultError(header["error"]))

    def _drop(self) -> None:
        assert self.sock is not None
        if self.selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.sock)
        self.sock.close()
        self.sock = None
        self.outbuf.clear()
        self.inbuf.clear()

    def _fail_all(self) -> None:
        log.error("the result decoder stopped; starting a new one")
        self._drop()
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(self.pid, os.WNOHANG)
        pending, self.pending = self.pending, collections.deque()
        for done in pending:
            done(DecoderStopped("the sandbox's result decoder stopped"))


# --------------------------------------------------------------------------- the process


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _read_frame(sock: socket.socket) -> bytes | None:
    header = _read_exact(sock, protocol.HEADER.size)
    if header is None:
        return None
    (length,) = protocol.HEADER.unpack(header)
    return _read_exact(sock, length) if length else b""


def _decode_one(meta: bytes, data: bytes) -> tuple[dict[str, Any], bytes]:
    try:
        capture = tuple(json.loads(meta)["capture"])
        result = parse_child_result(data, capture)
        values = json.dumps(
            result.values, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode()
    except ResultError as exc:
        return {"ok": False, "error": str(exc)}, b""
    except (MemoryError, RecursionError, ValueError, TypeError) as exc:
        return {"ok": False, "error": f"cannot decode the result: {type(exc).__name__}"}, b""
    header = {
        "ok": True,
        "status": result.status,
        "exception": result.exception,
        "kind": result.kind,
        "cpu_ms": result.cpu_ms,
        "result_bytes": result.result_bytes,
    }
    return header, values


def _decoder_main(sock: socket.socket) -> NoReturn:
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        keep = sorted({2, sock.fileno()})
        for low, high in zip([-1, *keep], [*keep, 2**31 - 1], strict=True):
            if high > low + 1:
                os.closerange(low + 1, high)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.setpriority(os.PRIO_PROCESS, 0, DECODER_NICE)
        os.setgroups([])
        os.setresgid(DECODER_UID, DECODER_UID, DECODER_UID)
        os.setresuid(DECODER_UID, DECODER_UID, DECODER_UID)
        set_no_new_privs(ctypes.CDLL(None, use_errno=True))
        while True:
            meta = _read_frame(sock)
            data = _read_frame(sock) if meta is not None else None
            if meta is None or data is None:
                os._exit(0)  # the server is gone
            header, values = _decode_one(meta, data)
            del data
            encoded = json.dumps(header).encode()
            sock.sendall(
                protocol.HEADER.pack(len(encoded))
                + encoded
                + protocol.HEADER.pack(len(values))
                + values
            )
    except BaseException:
        os._exit(70)
