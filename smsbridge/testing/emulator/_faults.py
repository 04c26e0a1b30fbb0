"""Fault injection: what can go wrong between a client and a provider, on demand.

A fault belongs to one provider and applies to the next ``times`` matching requests (or until
cleared, or for ``duration`` seconds). Two stages consume faults:

* the **edge**, before authentication, like a provider's load balancer: ``refuse``,
  ``latency``, ``http_error``, ``rate_limit``;
* the **message**, once a send is valid and would be accepted: ``error_code``,
  ``accept_then_hang``, ``fail_delivery``, and ``http_error`` with ``accept=True`` (the message
  is recorded and then the 5xx is answered: the truly ambiguous case).

Edge faults match sends only unless ``match="all"`` (then reads and lists too); ``refuse``
always matches everything, since it is about connections, not requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsbridge.testing.emulator._personality import Personality

__all__ = ["FAULT_KINDS", "Fault", "FaultBoard"]

FAULT_KINDS = (
    "refuse",
    "http_error",
    "rate_limit",
    "latency",
    "accept_then_hang",
    "error_code",
    "fail_delivery",
)

# Which parameters each kind takes, with their defaults (None: required or provider-specific).
_PARAMS: dict[str, dict[str, Any]] = {
    "refuse": {},
    "http_error": {"status": 503, "accept": False, "match": "send"},
    "rate_limit": {"retry_after": 1, "match": "send"},
    "latency": {"seconds": None, "match": "send"},
    "accept_then_hang": {},
    "error_code": {"code": None, "status": None, "message": None},
    "fail_delivery": {"code": None, "status": None},
}
_EDGE_KINDS = ("latency", "http_error", "rate_limit")


@dataclass
class Fault:
    """One injected fault (see the module docstring for the kinds)."""

    id: int
    provider: str
    kind: str
    params: dict[str, Any]
    times: int | None = None
    expires_at: float | None = None
    hits: int = field(default=0)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (what ``faults()`` and the control API return)."""
        remaining = (
            None if self.expires_at is None else max(0.0, self.expires_at - time.monotonic())
        )
        return {
            "id": self.id,
            "provider": self.provider,
            "kind": self.kind,
            "times": self.times,
            "seconds_left": remaining,
            "hits": self.hits,
            **self.params,
        }


def _validate(
    personalities: Mapping[str, type[Personality]], provider: str, kind: str, params: dict[str, Any]
) -> dict[str, Any]:
    if provider not in tuple(personalities):
        raise ValueError(f"unknown provider {provider!r}: expected one of {tuple(personalities)}")
    personality = personalities[provider]
    if kind not in _PARAMS:
        raise ValueError(f"unknown fault kind {kind!r}: expected one of {FAULT_KINDS}")
    unknown = set(params) - set(_PARAMS[kind])
    if unknown:
        raise ValueError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
    merged = {**_PARAMS[kind], **params}
    if merged.get("match", "send") not in ("send", "all"):
        raise ValueError("match must be 'send' or 'all'")
    if kind == "http_error" and merged["status"] not in (500, 502, 503, 504):
        raise ValueError("http_error status must be 500, 502, 503 or 504")
    if kind == "latency" and (
        not isinstance(merged["seconds"], (int, float)) or merged["seconds"] < 0
    ):
        raise ValueError("latency needs seconds >= 0")
    if kind == "rate_limit" and not isinstance(merged["retry_after"], (int, float)):
        raise ValueError("rate_limit retry_after must be a number of seconds")
    if kind == "error_code":
        if merged["code"] is None:
            examples = ", ".join(
                f"{p.example_error_code} for {p.title}" for p in personalities.values()
            )
            raise ValueError(f"error_code needs code= (e.g. {examples})")
        merged["code"] = str(merged["code"])
    if kind == "fail_delivery":
        statuses = tuple(personality.delivery_failures)
        merged["status"] = merged["status"] or statuses[0]
        if merged["status"] not in statuses:
            raise ValueError(f"{provider} fail_delivery status must be one of {statuses}")
        default_code = personality.delivery_failures[merged["status"]]
        code = merged["code"] if merged["code"] is not None else default_code
        merged["code"] = None if code is None else str(code)
    return merged


def _is_message_terminal(fault: Fault) -> bool:
    if fault.kind == "http_error":
        return bool(fault.params["accept"])
    return fault.kind in ("error_code", "accept_then_hang")


class FaultBoard:
    """The set of active faults, safe to use from every server thread.

    ``personalities`` (name -> personality, in rank order) says which providers exist, and what
    a ``fail_delivery`` fault may do to each.
    """

    def __init__(self, personalities: Mapping[str, type[Personality]]) -> None:
        self._personalities = personalities
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(
        self,
        provider: str,
        kind: str,
        *,
        times: int | None = None,
        duration: float | None = None,
        **params: Any,
    ) -> Fault:
        """Validate and register a fault; raises ``ValueError`` on a bad kind or parameter."""
        merged = _validate(self._personalities, provider, kind, params)
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer")
        if kind == "refuse" and times is not None:
            # A refused connection never reaches the emulator, so there is nothing to count.
            raise ValueError("refuse cannot count requests: use duration= or clear_faults()")
        if duration is not None and duration <= 0:
            raise ValueError("duration must be positive seconds")
        with self._lock:
            fault = Fault(
                id=self._next_id,
                provider=provider,
                kind=kind,
                params=merged,
                times=times,
                expires_at=None if duration is None else time.monotonic() + duration,
            )
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self, provider: str | None = None) -> int:
        """Remove every fault (of one provider); returns how many were removed."""
        with self._lock:
            keep = [f for f in self._faults if provider is not None and f.provider != provider]
            removed = len(self._faults) - len(keep)
            self._faults = keep
        return removed

    def describe(self) -> list[dict[str, Any]]:
        """Every active fault, oldest first."""
        with self._lock:
            self._expire()
            return [f.describe() for f in self._faults]

    def refusing(self, provider: str) -> bool:
        """Whether connections to ``provider`` are to be refused right now."""
        with self._lock:
            self._expire()
            return any(f.provider == provider and f.kind == "refuse" for f in self._faults)

    def take_edge(self, provider: str, is_send: bool) -> tuple[float, Fault | None]:
        """Consume the edge faults for one request: total added latency and the terminal fault."""
        latency = 0.0
        terminal: Fault | None = None
        with self._lock:
            self._expire()
            for fault in list(self._faults):
                if fault.provider != provider or fault.kind not in _EDGE_KINDS:
                    continue
                if fault.kind == "http_error" and fault.params["accept"]:
                    continue
                if not is_send and fault.params["match"] != "all":
                    continue
                if fault.kind == "latency":
                    latency += float(fault.params["seconds"])
                elif terminal is None:
                    terminal = fault
                else:
                    continue
                self._consume(fault)
        return latency, terminal

    def take_message(self, provider: str) -> tuple[Fault | None, Fault | None]:
        """Consume the message faults for one valid send: ``(terminal, fail_delivery)``."""
        with self._lock:
            self._expire()
            mine = [f for f in self._faults if f.provider == provider]
            terminal = next((f for f in mine if _is_message_terminal(f)), None)
            failing = None
            # A synchronous rejection means nothing was accepted, so no delivery can fail.
            if terminal is None or terminal.kind != "error_code":
                failing = next((f for f in mine if f.kind == "fail_delivery"), None)
            for fault in (terminal, failing):
                if fault is not None:
                    self._consume(fault)
        return terminal, failing

    def _consume(self, fault: Fault) -> None:
        fault.hits += 1
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)

    def _expire(self) -> None:
        clock = time.monotonic()
        self._faults = [f for f in self._faults if f.expires_at is None or f.expires_at > clock]
