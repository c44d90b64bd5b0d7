"""Fixtures of grading tests that start their own processes."""

import pytest

from tests.processes import RedisServer


@pytest.fixture
def private_broker(tmp_path):
    """A Redis of the test's own, which the test may stop and restart (a broker restart)."""
    redis = RedisServer(tmp_path).start()
    yield redis
    redis.stop()
