"""Shared state: the ``Store`` protocol and its three implementations.

* ``MemoryStore``: in this process only, lost on restart (the default).
* ``SQLiteStore``: a file shared by the processes of one machine, kept across restarts.
* ``RedisStore``: shared by every process and machine (``pip install smsbridge[redis]``).

``store_from_url`` builds one from a URL (``SMSBRIDGE_STORE``). ``DegradeOpen`` wraps
store calls that should carry on without shared state while the store is unreachable (breakers,
webhook de-duplication), logging once per outage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsbridge._lazy import module_getattr as _module_getattr
from smsbridge.stores._base import Store
from smsbridge.stores._degrade import DegradeOpen
from smsbridge.stores._memory import MemoryStore
from smsbridge.stores._url import store_from_url

if TYPE_CHECKING:
    from smsbridge.stores._redis import RedisStore
    from smsbridge.stores._sqlite import SQLiteStore

__all__ = ["DegradeOpen", "MemoryStore", "RedisStore", "SQLiteStore", "Store", "store_from_url"]

# Loaded on first use: RedisStore needs the optional ``redis`` package, and SQLiteStore keeps
# sqlite3 out of processes that never use it.
_LAZY = {
    "RedisStore": "smsbridge.stores._redis:RedisStore",
    "SQLiteStore": "smsbridge.stores._sqlite:SQLiteStore",
}

__getattr__ = _module_getattr(__name__, _LAZY)
