"""The embedded default's broker (kombu's filesystem transport) never hands a worker half a
message: `make run`'s worker died on an empty message file taken while it was being written."""

from __future__ import annotations

import os
import queue as stdlib_queue
import subprocess
import sys
import threading

import pytest
from kombu import Connection

from config import broker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _connection(folder, transport):
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    return Connection("filesystem://", transport=transport, transport_options=options)


def test_a_message_being_written_is_not_taken(tmp_path, monkeypatch):
    writing, release = threading.Event(), threading.Event()
    encode = broker.str_to_bytes

    def slow_encode(text):  # called once the message's file is open, before it is written
        writing.set()
        release.wait(10)
        return encode(text)

    monkeypatch.setattr(broker, "str_to_bytes", slow_encode)
    with _connection(tmp_path, broker.WholeMessageTransport) as writer_conn:
        writer = threading.Thread(
            target=lambda: writer_conn.SimpleQueue("race").put({"body": "whole"})
        )
        writer.start()
        assert writing.wait(10)
        with _connection(tmp_path, broker.WholeMessageTransport) as reader_conn:
            reader = reader_conn.SimpleQueue("race")
            with pytest.raises(stdlib_queue.Empty):
                reader.get(timeout=0.2)  # kombu's own transport: JSONDecodeError here
            release.set()
            writer.join(10)
            message = reader.get(timeout=5)
            assert message.payload == {"body": "whole"}
            message.ack()
            reader.close()
    assert os.listdir(tmp_path) == []


def test_the_embedded_default_uses_it(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", VAR_DIR=str(tmp_path))
    script = "from django.conf import settings; print(settings.CELERY_BROKER_TRANSPORT)"
    found = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip() == "config.broker:WholeMessageTransport"
