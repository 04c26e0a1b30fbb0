"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _redis_server import RedisServer, redis_executable


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on asyncio and on trio."""
    return str(request.param)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free port (killed afterwards); skips without redis-server,
    except under CI=true where it fails."""
    server = RedisServer(redis_executable())
    server.start()
    try:
        yield server
    finally:
        server.stop()
