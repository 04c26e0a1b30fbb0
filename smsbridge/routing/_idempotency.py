"""Idempotency keys: one send per key, across retries, providers, processes and restarts.

``send(..., idempotency_key=k)`` first claims ``idem:<k>`` in the store (SET NX). The winner
sends; everyone else reads the record instead:

* ``sent``: the stored result is returned (with no ``attempts``: nothing was tried this time);
* ``pending``: another call is sending; wait for it (bounded by ``idempotency_wait``, then
  ``IdempotencyConflict``);
* ``sent`` with an error instead of a result: the provider accepted the first send but its
  answer could not be read (``UnexpectedError``); that error is raised again, and the
  message is never sent again, whatever the delivery guarantee;
* ``ambiguous``: the first send may or may not have gone out; at most once, so the same
  error is raised again (with ``delivery="at_least_once"`` the key is taken over and sent);
* absent: the first send failed without sending (rejected, or refused everywhere) and let
  the key go, so this call claims it and tries again.

Once claimed, a key is always ended, whatever happens: recorded as sent, recorded as
ambiguous when the message may have gone out (an ambiguous failure, an interruption after the
request may have been written), or released when nothing was sent. Only a store that cannot be
reached at that moment leaves it ``pending`` until its TTL.

A key reused for a different message (recipient, body, media or sender) is an
``InvalidRequest``. If the store cannot be reached to claim the key, the send fails with
``StoreUnavailable``; if it cannot be reached to record the outcome, the key stays
``pending`` until it expires: later calls wait and fail, none sends again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from smsbridge._errors import (
    IdempotencyConflict,
    InvalidRequest,
    ProviderError,
    SendInterrupted,
    SmsBridgeError,
    StoreUnavailable,
    UnexpectedError,
)
from smsbridge._models import MessageStatus, SendResult
from smsbridge.routing._effects import Interrupted, Plan, Sleep, StoreOp

if TYPE_CHECKING:
    from smsbridge._bridge import Delivery
    from smsbridge._models import OutboundMessage

__all__ = [
    "begin",
    "fingerprint",
    "finish_failed",
    "finish_interrupted",
    "finish_sent",
    "store_key",
]

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
    """A digest of what makes a message the same message (a scheduled one's time too)."""
    parts = [message.to, message.body, message.from_ or "", *message.media_urls]
    if message.send_at is not None:
        # Appended only when set: the keys of messages sent now keep their digests.
        parts.append("send_at=" + message.send_at.isoformat())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _record(state: str, fp: str, **extra: Any) -> str:
    return json.dumps({"state": state, "fp": fp, **extra}, separators=(",", ":"))


def _result_record(result: SendResult) -> dict[str, Any]:
    data = {name: getattr(result, name) for name in _RESULT_FIELDS}
    data["status"] = result.status.value
    if result.send_at is not None:
        data["send_at"] = result.send_at.isoformat()
    return data


def _replay(data: dict[str, Any]) -> SendResult:
    values = {name: data.get(name) for name in _RESULT_FIELDS}
    send_at = data.get("send_at")
    return SendResult(
        status=MessageStatus(data.get("status", "queued")),
        send_at=datetime.fromisoformat(send_at) if isinstance(send_at, str) else None,
        **values,
    )


def _error_record(error: SmsBridgeError) -> dict[str, Any]:
    record = {
        "code": error.code,
        "message": error.message,
        "provider": error.provider,
        "provider_code": error.provider_code,
        "http_status": error.http_status,
        "failure": error.failure,
    }
    if isinstance(error, UnexpectedError) and error.accepted:
        record["provider_message_id"] = error.provider_message_id
    return record


# Errors an idempotency record may hold besides the provider categories.
_OWN_CLASSES: dict[str, type[SmsBridgeError]] = {
    cls.code: cls for cls in (SendInterrupted, UnexpectedError)
}


def _error_from(data: dict[str, Any], *, accepted: bool = False) -> SmsBridgeError:
    from smsbridge.providers._codes import CATEGORY_CLASSES

    code = str(data.get("code"))
    cls = CATEGORY_CLASSES.get(code) or _OWN_CLASSES.get(code) or ProviderError
    what = "was accepted" if accepted else "may have been sent"
    extra: dict[str, Any] = {}
    if cls is UnexpectedError:
        extra = {"accepted": accepted, "provider_message_id": data.get("provider_message_id")}
    return cls(
        f"{data.get('message', 'send failed')} (an earlier send with this idempotency key ended "
        f"this way; it {what}, so it is not sent again)",
        provider=data.get("provider"),
        provider_code=data.get("provider_code"),
        http_status=data.get("http_status"),
        failure=data.get("failure") or "ambiguous",
        **extra,
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
    message: OutboundMessage,
    fp: str,
    *,
    ttl: float,
    wait: float,
    delivery: Delivery,
    job: str | None = None,
) -> Plan[SendResult | None]:
    """Claim the message's key: ``None`` when this call should send, else the stored result.

    Raises the stored error of an ambiguous first send, ``IdempotencyConflict`` when the
    one in flight does not finish within ``wait``, and ``StoreUnavailable`` as it comes.
    In a bulk ``job`` a pending key is not waited for: it is what a killed run leaves behind
    (or a run of the same job still going), so it raises ``SendInterrupted`` (ambiguous)
    at once, and the message is not sent again.
    """
    assert message.idempotency_key is not None
    key = store_key(message.idempotency_key)
    pending = _record("pending", fp, message_id=message.message_id)
    waited, poll, released = 0.0, _POLL_FIRST, 0
    while True:
        try:
            claimed = yield StoreOp("claim", (key, pending, ttl))
        except Interrupted:
            # The claim may have gone through before the interruption: let it go if so.
            yield from _release_if_ours(key, message.message_id)
            raise
        if claimed:
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
        if state == "sent" and isinstance(data.get("error"), dict):
            raise _error_from(data["error"], accepted=True)
        if state == "ambiguous":
            if delivery != "at_least_once":
                raise _error_from(data.get("error") or {})
            try:
                yield StoreOp("set", (key, pending, ttl))
            except Interrupted:
                yield StoreOp("set", (key, raw, ttl))  # put the ambiguous record back
                raise
            return None
        if job is not None:
            raise SendInterrupted(
                f"an earlier run of job {job!r} took this message and did not record how it "
                "ended (it was stopped, or is still running); it may have been sent, so it is "
                "not sent again",
                failure="ambiguous",
            )
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
    """Record a failure: ambiguous ones block re-sends, an accepted one counts as sent; the
    others release the key."""
    assert message.idempotency_key is not None
    key = store_key(message.idempotency_key)
    if isinstance(error, UnexpectedError) and error.accepted:
        yield from _store(message, key, _record("sent", fp, error=_error_record(error)), ttl)
    elif error.failure == "ambiguous":
        yield from _store(message, key, _record("ambiguous", fp, error=_error_record(error)), ttl)
    else:
        yield from _store(message, key, None, ttl)


def finish_interrupted(
    message: OutboundMessage, fp: str, *, may_have_sent: bool, ttl: float
) -> Plan[None]:
    """End the claim of a send that was cancelled or interrupted: ambiguous when the message
    may have gone out (a repeat raises ``SendInterrupted``), released otherwise."""
    assert message.idempotency_key is not None
    key = store_key(message.idempotency_key)
    if not may_have_sent:
        yield from _store(message, key, None, ttl)
        return
    error = SendInterrupted("the send was interrupted after its request may have been written")
    yield from _store(message, key, _record("ambiguous", fp, error=_error_record(error)), ttl)


def _store(message: OutboundMessage, key: str, record: str | None, ttl: float) -> Plan[None]:
    """Write ``record`` at ``key`` (delete it for ``None``); a store outage is logged."""
    try:
        if record is None:
            yield StoreOp("delete", (key,))
        else:
            yield StoreOp("set", (key, record, ttl))
    except StoreUnavailable:
        log.error(
            "the outcome of an idempotent send could not be stored; the key stays pending",
            extra={"message_id": message.message_id, "code": "store_unavailable"},
        )


def _release_if_ours(key: str, message_id: str) -> Plan[None]:
    """Delete ``key`` if it holds this send's own pending claim."""
    try:
        raw = yield StoreOp("get", (key,))
        data = json.loads(raw) if raw else None
        if isinstance(data, dict) and data.get("message_id") == message_id:
            yield StoreOp("delete", (key,))
    except (StoreUnavailable, ValueError):
        log.error(
            "an interrupted claim could not be checked; the key may stay pending",
            extra={"message_id": message_id, "code": "store_unavailable"},
        )
