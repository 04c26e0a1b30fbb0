"""Shared state: the :class:`Store` protocol, :class:`MemoryStore` and :class:`RedisStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smsbridge.stores._base import Store
from smsbridge.stores._memory import MemoryStore

if TYPE_CHECKING:
    from smsbridge.stores._redis import RedisStore

__all__ = ["MemoryStore", "RedisStore", "Store"]


def __getattr__(name: str) -> Any:
    # RedisStore needs the optional ``redis`` package: import it only when asked for.
    if name == "RedisStore":
        from smsbridge.stores._redis import RedisStore

        return RedisStore
    raise AttributeError(f"module 'smsbridge.stores' has no attribute {name!r}")
