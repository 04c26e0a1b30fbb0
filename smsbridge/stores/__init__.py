"""Shared state: the :class:`Store` protocol, :class:`MemoryStore` and :class:`RedisStore`.

:class:`DegradeOpen` wraps store calls that should carry on without shared state while the
store is unreachable (breakers, webhook de-duplication), logging once per outage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smsbridge.stores._base import Store
from smsbridge.stores._degrade import DegradeOpen
from smsbridge.stores._memory import MemoryStore

if TYPE_CHECKING:
    from smsbridge.stores._redis import RedisStore

__all__ = ["DegradeOpen", "MemoryStore", "RedisStore", "Store"]


def __getattr__(name: str) -> Any:
    # RedisStore needs the optional ``redis`` package: import it only when asked for.
    if name == "RedisStore":
        from smsbridge.stores._redis import RedisStore

        return RedisStore
    raise AttributeError(f"module 'smsbridge.stores' has no attribute {name!r}")
