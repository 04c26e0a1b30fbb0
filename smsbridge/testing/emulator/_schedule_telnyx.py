"""Telnyx's scheduled messages, as the emulator plays them (the rest of Telnyx: ``.telnyx``,
and its message and webhook formats: ``._payloads_telnyx``).

* Create: ``send_at`` (ISO 8601, e.g. ``2019-01-23T18:30:00Z``) on ``POST /v2/messages`` or
  ``POST /v2/messages/schedule`` (same body; there ``send_at`` is required). The answer is the
  usual ``{"data": ...}`` with ``to[0].status`` ``scheduled`` and ``send_at``; at that time the
  message goes ``queued`` (no webhook, as for an immediate send) ``→ sent → delivered`` with the
  usual ``message.sent`` / ``message.finalized`` webhooks. Telnyx sends "accurate up to a
  minute"; the emulator sends at ``send_at`` exactly.
* Window: at least 5 minutes and at most 5 days ahead of the emulator's clock.
* Cancel: ``DELETE /v2/messages/{id}`` while ``scheduled`` and more than one minute before
  ``send_at``: 200 with the message itself (not wrapped in ``data``: the SDK's
  ``MessageCancelScheduledResponse``), ``to[0].status`` ``cancelled`` (two l's). No webhook:
  Telnyx documents webhooks for the sending of a scheduled message, not for its cancellation.

Codes: Telnyx documents none for these cases, so the emulator answers with its generic ones:
400 ``10015`` "Bad Request" (``source.pointer`` ``/send_at``) for a ``send_at`` outside the
window or not a date-time, 400 ``10004`` for ``/v2/messages/schedule`` without ``send_at``,
400 ``10015`` for a cancel that is too late or of a message not scheduled, 404 ``10005`` for an
unknown id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from smsbridge.testing.emulator._common import MessageRecord, Request, Response, Step, json_response
from smsbridge.testing.emulator._payloads_telnyx import payload
from smsbridge.testing.emulator._schedule import parse_instant

if TYPE_CHECKING:
    from smsbridge.testing.emulator.telnyx import TelnyxPersonality

__all__ = [
    "CANCELLED",
    "CANCEL_MARGIN",
    "SCHEDULED",
    "SCHEDULE_PATH",
    "WINDOW",
    "cancel",
    "progress",
    "send_at",
]

SCHEDULED = "scheduled"
CANCELLED = "cancelled"  # two l's: Telnyx's spelling
SCHEDULE_PATH = "/v2/messages/schedule"
WINDOW = (timedelta(minutes=5), timedelta(days=5))
CANCEL_MARGIN = timedelta(minutes=1)  # a cancel needs send_at more than this far away
_TOO_LATE = "Only a scheduled message whose send_at is more than one minute away can be cancelled."


def send_at(request: Request, fields: dict[str, Any], now: datetime) -> datetime | Response | None:
    """When a send asks its message to go: ``None`` (now), the ``send_at`` moment, or the
    error answer to a schedule Telnyx would refuse. ``fields`` are type-checked already."""
    from smsbridge.testing.emulator.telnyx import error  # telnyx.py imports this module

    raw: str | None = fields.get("send_at")
    if raw is None:
        if request.path == SCHEDULE_PATH:
            return error("10004", "'send_at' is required.", pointer="/send_at")
        return None
    moment = parse_instant(raw)
    if moment is None:
        detail = "'send_at' must be an ISO 8601 date-time, e.g. 2019-01-23T18:30:00Z."
        return error("10015", detail, pointer="/send_at")
    lead = moment - now
    if lead < WINDOW[0]:
        detail = "'send_at' must be at least 5 minutes in the future."
        return error("10015", detail, pointer="/send_at")
    if lead > WINDOW[1]:
        detail = "'send_at' must be at most 5 days in the future."
        return error("10015", detail, pointer="/send_at")
    return moment


def progress(api: TelnyxPersonality, record: MessageRecord, steps: list[Step]) -> None:
    """Start an accepted message's ``steps`` now, or hold it until its ``send_at``: then it is
    ``queued`` first, without a webhook (Telnyx announces only ``sent`` and the final status)."""
    if record.send_at is None:
        api.state.progress(record, steps, api.status_callback)
    else:
        api.state.hold(record, [Step("queued", quiet=True), *steps], api.status_callback)


def cancel(api: TelnyxPersonality, message_id: str) -> Response:
    """Answer ``DELETE /v2/messages/{id}``: cancel a scheduled message while Telnyx allows it."""
    from smsbridge.testing.emulator.telnyx import error

    # Telnyx's example of a cancelled message has completed_at null (and nothing charged):
    # not completed, so payload() shows no cost either.
    outcome = api.state.cancel(
        api.name, message_id, CANCELLED, margin=CANCEL_MARGIN, completes=False
    )
    if outcome == "not_found":
        return error("10005")
    if isinstance(outcome, str):  # too late: released already, or within a minute of send_at
        return error("10015", _TOO_LATE)
    return json_response(200, payload(outcome))
