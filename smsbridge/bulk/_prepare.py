"""From one input of a bulk send to the message to send (validation, the job's key), and the
items for inputs that end before or outside a send."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smsbridge._errors import ConfigError, InvalidRequest, SmsBridgeError, UnexpectedError
from smsbridge._models import OutboundMessage
from smsbridge.bulk._items import BulkItem
from smsbridge.routing._idempotency import fingerprint

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge.bulk._items import BulkInput

__all__ = [
    "FIELDS",
    "MAX_CONCURRENCY",
    "check_concurrency",
    "check_job",
    "check_job_name",
    "check_start",
    "job_key",
    "prepare",
    "started",
    "unexpected",
]

log = logging.getLogger("smsbridge.bulk")

FIELDS = frozenset(
    {
        "to",
        "body",
        "from_",
        "from",
        "media_urls",
        "region",
        "reference",
        "idempotency_key",
        "status_callback",
        "send_at",
    }
)
"""The keys a mapping input of ``send_many`` may have: ``send``'s keywords (``from`` is accepted
for ``from_``, as a CSV column would name it)."""
_MAX_JOB = 100


#: The most sends a bulk call keeps in flight: each is a task (or thread), and a provider's API
#: answers 429 long before this many concurrent requests from one account.
MAX_CONCURRENCY = 1000


def check_concurrency(concurrency: int) -> int:
    """``concurrency``, checked: an int from 1 to ``MAX_CONCURRENCY``."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise ConfigError(
            f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}", variable="concurrency"
        )
    return concurrency


def check_start(start: int) -> int:
    """``start``, checked: an int from 0."""
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ConfigError("start must be an integer from 0", variable="start")
    return start


def check_job_name(job: object) -> str:
    """``job``, checked: a non-empty printable string of at most 100 characters."""
    if not isinstance(job, str) or not job or len(job) > _MAX_JOB or not job.isprintable():
        raise ConfigError(
            f"job must be a non-empty printable string of at most {_MAX_JOB} characters",
            variable="job",
        )
    return job


def check_job(job: str | None, bridge: Bridge) -> str | None:
    """Validate a job name; warn when the store cannot outlive the process."""
    if job is None:
        return None
    check_job_name(job)
    from smsbridge.stores import MemoryStore

    if isinstance(bridge.store, MemoryStore):
        log.warning(
            "job=%r keeps its progress in a MemoryStore: a rerun in this process resumes it, "
            "a rerun after the process ends starts again (use SQLiteStore or RedisStore)",
            job,
        )
    return job


def job_key(job: str, index: int, message: OutboundMessage) -> str:
    """The idempotency key of input ``index`` of ``job``: its position and its content.

    The position tells apart two identical messages the input holds on purpose; the content
    makes a changed input (another recipient or text at that position) a new message.
    """
    digest = hashlib.sha256(
        f"{job}\x1f{index}\x1f{fingerprint(message)}\x1f{message.reference or ''}".encode()
    ).hexdigest()[:40]
    return f"smsbridge:job:{digest}"


def prepare(bridge: Bridge, index: int, raw: BulkInput, job: str | None) -> OutboundMessage:
    """The validated message for one input, keyed for ``job``.

    Raises:
        InvalidRequest, InvalidPhoneNumber, MessageTooLong: the input is not a valid message.
    """
    if isinstance(raw, OutboundMessage):
        message = raw
    elif isinstance(raw, Mapping):
        message = bridge.message(**_keywords(raw))
    else:
        raise InvalidRequest(
            f"a message must be an OutboundMessage or a mapping of send()'s keywords, "
            f"not {type(raw).__name__}",
            failure="rejected",
        )
    if job is not None and message.idempotency_key is None:
        # The caller's own key wins: it already says which sends are the same message.
        message = message.model_copy(update={"idempotency_key": job_key(job, index, message)})
    return message


def _keywords(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [str(key) for key in raw if key not in FIELDS]
    if unknown:
        raise InvalidRequest(
            f"unknown message field(s) {sorted(unknown)}; expected some of {sorted(FIELDS)}",
            failure="rejected",
        )
    if "to" not in raw:
        raise InvalidRequest("a message needs 'to'", failure="rejected")
    keywords = dict(raw)
    if "from" in keywords:
        if keywords.get("from_") not in (None, ""):
            raise InvalidRequest("give 'from' or 'from_', not both", failure="rejected")
        keywords["from_"] = keywords.pop("from")
    for name in ("from_", "reference", "idempotency_key", "status_callback", "region"):
        if keywords.get(name) == "":
            keywords[name] = None  # an empty CSV cell means "not given"
    return keywords


def started(
    bridge: Bridge, index: int, raw: BulkInput, job: str | None
) -> OutboundMessage | BulkItem:
    """The message to send for one input, or the finished item when it is not valid."""
    try:
        return prepare(bridge, index, raw, job)
    except SmsBridgeError as exc:
        return BulkItem(index, raw, None, error=exc)
    except (TypeError, ValueError) as exc:  # a wrong type deep in validation: nothing was sent
        return BulkItem(index, raw, None, error=InvalidRequest(str(exc), failure="rejected"))


def unexpected(index: int, raw: BulkInput, message: OutboundMessage, exc: Exception) -> BulkItem:
    """The item for an exception nothing expected while sending: it may have gone out."""
    log.error("bulk send: unexpected %s", type(exc).__name__, exc_info=exc, extra={"index": index})
    error = UnexpectedError(
        f"smsbridge failed unexpectedly ({type(exc).__name__}); the message may have been sent",
        failure="ambiguous",
    )
    return BulkItem(index, raw, message, error=error)
