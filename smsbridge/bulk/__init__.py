"""Sending at volume: many messages in one call, resumable as a named job.

``Bridge.send_many`` (threads on the sync client) and
``Bridge.asend_many`` (tasks on the async client) take any
iterable of messages and yield one ``BulkItem`` per input, in completion order, never
raising for a message that fails. Every message goes through the same routing as
``send``: failover, retries, rate limits and idempotency apply to each.

The flow: ``_prepare`` turns an input into a message (and its job key); ``_sync`` and
``_async`` run the pool of senders; ``_items`` holds what they yield and count.

With ``job="name"`` each message's idempotency key derives from the job, its position and its
content, kept in the bridge's store: running the same job again (after a crash, a kill, a
deploy) returns the stored result of every message already sent, sends the rest, and reports,
without sending again, any message an earlier run may or may not have sent.
"""

from __future__ import annotations

from smsbridge.bulk._items import BulkInput, BulkItem, BulkProgress
from smsbridge.bulk._prepare import FIELDS, job_key

__all__ = ["FIELDS", "BulkInput", "BulkItem", "BulkProgress", "job_key"]
