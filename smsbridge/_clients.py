"""The bridge's HTTP clients: the ones it was given, or its own, made on first use.

The sync path sends with one pooled ``httpx.Client``. The async path picks by event loop: on
asyncio an ``AiohttpSender`` (aiohttp spends several times less
CPU per request than ``httpx.AsyncClient`` once tens of requests are in flight, which is what
bulk sending does: see docs/performance.md), under trio an ``httpx.AsyncClient`` (aiohttp
runs on asyncio only). A client given to the bridge is used as it is, on every loop, and is
never closed by it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from smsbridge.providers._shell import AsyncSender, SyncSender

__all__ = ["Clients", "new_async_client"]


class Clients:
    """The sync and async clients of one bridge."""

    __slots__ = ("_async", "_given_async", "_given_sync", "_sync")

    def __init__(self, sync: SyncSender | None, async_: AsyncSender | None) -> None:
        self._given_sync = sync
        self._given_async = async_
        self._sync: httpx.Client | None = None
        # The bridge's own async clients, one per kind of event loop it has run on.
        self._async: dict[str, AsyncSender] = {}

    @property
    def given_sync(self) -> SyncSender | None:
        """The sync client the bridge was given, if any."""
        return self._given_sync

    @property
    def sync(self) -> SyncSender:
        """The given sync client, else the bridge's own (created on first use)."""
        if self._given_sync is not None:
            return self._given_sync
        if self._sync is None:
            self._sync = httpx.Client(follow_redirects=False)
        return self._sync

    @property
    def async_(self) -> AsyncSender:
        """The given async client, else the bridge's own for the running event loop."""
        if self._given_async is not None:
            return self._given_async
        kind = "asyncio" if _on_asyncio() else "other"
        client = self._async.get(kind)
        if client is None:
            client = self._async[kind] = new_async_client()
        return client

    def close(self) -> None:
        """Close the bridge's own sync client (a later send opens a new one)."""
        client, self._sync = self._sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the bridge's own async client for the running loop, and the sync one."""
        kind = "asyncio" if _on_asyncio() else "other"
        client = self._async.pop(kind, None)
        if client is not None:
            await client.aclose()
        self.close()


def _on_asyncio() -> bool:
    # Without asyncio imported no asyncio loop can be running; importing it just to ask would
    # cost a sync-only application some 10 ms at its first send.
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def new_async_client() -> AsyncSender:
    """A new async client for the running event loop: aiohttp on asyncio, else httpx."""
    if _on_asyncio():
        import urllib.request

        from smsbridge.transports import AiohttpSender

        # Proxies set in the environment are honoured, as by httpx's default. Only then:
        # aiohttp's trust_env looks them up (and ~/.netrc) in a thread at every request,
        # which costs more CPU than the rest of the send.
        return AiohttpSender(trust_env=bool(urllib.request.getproxies()))
    return httpx.AsyncClient(follow_redirects=False)
