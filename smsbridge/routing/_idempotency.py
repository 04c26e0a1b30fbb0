"""Idempotency keys: one send per key, across retries, providers, processes and restarts.

``send(..., idempotency_key=k)`` first claims ``idem:<k>`` in the store (SET NX). The winner
sends; everyone else reads the record instead:

* ``sent``: the stored result is returned (with no ``attempts``: nothing was tried this time);
* ``pending``: another call is sending; wait for it (bounded by ``idempotency_wait``, then
  :class:`IdempotencyConflict`);
* ``ambiguous``: the first send may or may not have gone out; at most once, so the same
  error is raised again (with ``delivery="at_least_once"`` the key is taken over and sent);
* absent: the first send failed without sending (rejected, or refused everywhere) and let
  the key go, so this call claims it and tries again.

A key reused for a different message (recipient, body, media or sender) is an
:class:`InvalidRequest`. If the store cannot be reached to claim the key, the send fails with
:class:`StoreUnavailable`; if it cannot be reached to record the outcome, the key stays
``pending`` until it expires: later calls wait and fail, none sends again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from smsbridge._errors import (
    IdempotencyConflict,
    InvalidRequest,
    ProviderError,
    SmsBridgeError,
    StoreUnavailable,
)
from smsbridge._models import MessageStatus, SendResult
from smsbridge.routing._effects import Plan, Sleep, StoreOp

if TYPE_CHECKING:
    from smsbridge._bridge import Delivery
    from smsbridge._models import OutboundMessage

__all__ = ["begin", "fingerprint", "finish_failed", "finish_sent", "store_key"]

log = logging.getLogger("smsbridge.routing")

_POLL_FIRST = 0.02
_POLL_MAX = 0.25
_RESULT_FIELDS = (
    "provider",
    "provider_message_id",
    "to",
    "from_",
    "segments",
    "encoding",
    "reference",
)


def store_key(key: str) -> str:
    """The store key for an idempotency key (long keys are digested)."""
    if len(key) <= 200:
        return "idem:" + key
    return "idem:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def fingerprint(message: OutboundMessage) -> str:
    """A digest of what makes a message the same message."""
    parts = [message.to, message.body, message.from_ or "", *message.media_urls]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _record(state: str, fp: str, **extra: Any) -> str:
    return json.dumps({"state": state, "fp": fp, **extra}, separators=(",", ":"))


def _result_record(result: SendResult) -> dict[str, Any]:
    data = {name: getattr(result, name) for name in _RESULT_FIELDS}
    data["status"] = result.status.value
    return data


def _replay(data: dict[str, Any]) -> SendResult:
    values = {name: data.get(name) for name in _RESULT_FIELDS}
    return SendResult(status=MessageStatus(data.get("status", "queued")), **values)


def _error_record(error: SmsBridgeError) -> dict[str, Any]:
    return {
        "code": error.code,
        "message": error.message,
        "provider": error.provider,
        "provider_code": error.provider_code,
        "http_status": error.http_status,
        "failure": error.failure,
    }


def _error_from(data: dict[str, Any]) -> SmsBridgeError:
    from smsbridge.providers._codes import CATEGORY_CLASSES

    cls = CATEGORY_CLASSES.get(str(data.get("code")), ProviderError)
    return cls(
        f"{data.get('message', 'send failed')} (an earlier send with this idempotency key ended "
        "this way; it may have been sent, so it is not sent again)",
        provider=data.get("provider"),
        provider_code=data.get("provider_code"),
        http_status=data.get("http_status"),
        failure=data.get("failure") or "ambiguous",
    )


def _parse(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # Not written by us: refuse to guess, and never send over it.
        raise IdempotencyConflict("the idempotency key holds a value smsbridge did not write")
    return data


def begin(
    message: OutboundMessage, fp: str, *, ttl: float, wait: float, delivery: Delivery
) -> Plan[SendResult | None]:
    """Claim the message's key: ``None`` when this call should send, else the stored result.

    Raises the stored error of an ambiguous first send, :class:`IdempotencyConflict` when the
    one in flight does not finish within ``wait``, and :class:`StoreUnavailable` as it comes.
    """
    assert message.idempotency_key is not None
    key = store_key(message.idempotency_key)
    pending = _record("pending", fp, message_id=message.message_id)
    waited, poll, released = 0.0, _POLL_FIRST, 0
    while True:
        if (yield StoreOp("claim", (key, pending, ttl))):
            return None
        raw = yield StoreOp("get", (key,))
        if raw is None and released < 100:
            released += 1
            continue  # the first send let the key go (nothing was sent): claim it again
        data = _parse(raw or "")
        if data.get("fp") != fp:
            raise InvalidRequest(
                "this idempotency key was already used for a different message",
                failure="rejected",
            )
        state = data.get("state")
        if state == "sent" and isinstance(data.get("result"), dict):
            return _replay(data["result"])
        if state == "ambiguous":
            if delivery != "at_least_once":
                raise _error_from(data.get("error") or {})
            yield StoreOp("set", (key, pending, ttl))
            return None
        if waited >= wait:
            raise IdempotencyConflict(
                f"a send with this idempotency key is still in flight after {wait:g} s"
            )
        yield Sleep(poll)
        waited += poll
        poll = min(poll * 2, _POLL_MAX)


def finish_sent(message: OutboundMessage, fp: str, result: SendResult, *, ttl: float) -> Plan[None]:
    """Record the result so repeats return it."""
    assert message.idempotency_key is not None
    record = _record("sent", fp, result=_result_record(result))
    try:
        yield StoreOp("set", (store_key(message.idempotency_key), record, ttl))
    except StoreUnavailable:
        # The message went out: report success. The key stays pending, so repeats wait and
        # fail with IdempotencyConflict until it expires; none sends again.
        log.error(
            "sent, but the idempotency record could not be stored; the key stays pending",
            extra={"message_id": message.message_id, "code": "store_unavailable"},
        )


def finish_failed(
    message: OutboundMessage, fp: str, error: SmsBridgeError, *, ttl: float
) -> Plan[None]:
    """Record a failure: ambiguous ones block re-sends; the others release the key."""
    assert message.idempotency_key is not None
    key = store_key(message.idempotency_key)
    try:
        if error.failure == "ambiguous":
            yield StoreOp("set", (key, _record("ambiguous", fp, error=_error_record(error)), ttl))
        else:
            yield StoreOp("delete", (key,))
    except StoreUnavailable:
        log.error(
            "the outcome of an idempotent send could not be stored; the key stays pending",
            extra={"message_id": message.message_id, "code": "store_unavailable"},
        )
