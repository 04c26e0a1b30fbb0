"""Shared pytest fixtures."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from _redis_server import RedisServer, redis_executable


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, which a test cannot run without (``from conftest import require``).

    Missing, the test (or, called at module level, the module) skips with a reason naming the
    extra that installs it; under ``CI=true``, where .ci/run installs every extra, it fails.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not installed ({exc}): pip install '.[{extra}]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: .ci/run installs it, so it must be here)")
        pytest.skip(reason, allow_module_level=True)


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
