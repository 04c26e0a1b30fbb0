"""The decisions of a send, as pure functions: no I/O, no clock, no sleeping.

* ``select``: which providers, each with the message as it will send it (its own sender).
* ``decide``: after a failure, retry the same provider, move on, or stop.
* ``outcome``: the error that decided a failed send, with every attempt attached.

The failure classes drive everything: *rejected* stops at once; *refused* is retried on the
same provider (for the kinds in ``Retry.retry_on``) and then fails over; *ambiguous* stops
unless the provider makes retries idempotent (Telnyx's ``Idempotency-Key``: retried on the
same provider only) or the bridge opted in to ``at_least_once``. Once a send was ambiguous,
at-most-once delivery never moves it to another provider, whatever happens next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from smsbridge._errors import (
    AllProvidersFailed,
    ProviderUnavailable,
    SchedulingUnavailable,
    SenderConfig,
    SmsBridgeError,
)

if TYPE_CHECKING:
    from smsbridge._bridge import Delivery
    from smsbridge._errors import Failure
    from smsbridge._models import Attempt, OutboundMessage
    from smsbridge.providers._base import Provider
    from smsbridge.routing._policy import Policy
    from smsbridge.routing._retry import Retry

__all__ = ["Action", "Decision", "decide", "outcome", "select"]

Action = Literal["retry", "next", "stop"]


@dataclass(frozen=True)
class Decision:
    """What to do after a failure: the action, the retry value to carry, the delay."""

    action: Action
    retry: Retry
    delay: float = 0.0


def select(
    policy: Policy, message: OutboundMessage, *, any_sender: bool, now: datetime | None = None
) -> list[tuple[Provider, OutboundMessage]]:
    """The candidates for ``message``, each paired with the message it will send.

    Without ``from_`` every provider sends from its own sender. With ``from_``, only the
    providers that own it are used; with ``any_sender`` the others stay in, sending from
    their own sender (so failover never sends from a number the provider does not hold).

    A scheduled message (``send_at``) keeps only the providers whose scheduling window holds
    that time at ``now``.

    Raises:
        SenderConfig: no provider can send it (refused; nothing was sent).
        SchedulingUnavailable: no candidate can hold it until ``send_at`` (rejected; the
            message gives each configured provider's reason).
    """
    candidates = policy.candidates(message)
    if message.send_at is not None and candidates:
        assert now is not None, "a scheduled send is selected against the time now"
        candidates = _schedulable(policy, candidates, message.send_at, now)
    sender = message.from_
    if sender is None or not candidates:
        pairs = [(p, message) for p in candidates]
    elif any_sender:
        own: OutboundMessage | None = None
        pairs = []
        for provider in candidates:
            if provider.owns_sender(sender):
                pairs.append((provider, message))
            else:
                own = own or message.model_copy(update={"from_": None})
                pairs.append((provider, own))
    else:
        pairs = [(p, message) for p in candidates if p.owns_sender(sender)]
        if not pairs:
            raise SenderConfig(
                f"no configured provider owns the sender {sender!r}: add it to a provider "
                "(from_= or senders=), or pass any_sender=True to send from theirs",
                failure="refused",
            )
    if not pairs:
        need = "MMS" if message.is_mms else "SMS"
        raise SenderConfig(
            f"no configured provider can send this {need} to this destination", failure="refused"
        )
    return pairs


def _schedulable(
    policy: Policy, candidates: Sequence[Provider], send_at: datetime, now: datetime
) -> list[Provider]:
    fit = [p for p in candidates if p.scheduling_problem(send_at, now) is None]
    if fit:
        return fit
    reasons = "; ".join(
        f"{p.name}: {p.scheduling_problem(send_at, now) or 'cannot send this message'}"
        for p in policy.providers()
    )
    raise SchedulingUnavailable(
        f"no configured provider can hold this message until {send_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({reasons})"
    )


def decide(
    error: SmsBridgeError,
    retry: Retry,
    *,
    failure: Failure | None,
    idempotent: bool,
    delivery: Delivery,
    tainted: bool,
    rand: float = 0.0,
) -> Decision:
    """What to do after ``error`` on a provider.

    Args:
        error: the failure (its ``retry_after`` and ``code`` matter).
        retry: the provider's retry value so far.
        failure: the class to act on: ``error.failure``, or ``"refused"`` once a
            read-back showed the message was not accepted.
        idempotent: the provider makes a repeated request safe (Telnyx).
        delivery: the bridge's delivery guarantee.
        tainted: an earlier attempt was ambiguous (and unresolved).
        rand: a random number in [0, 1) for jitter.
    """
    if failure == "rejected" or failure is None:
        return Decision("stop", retry)
    at_least_once = delivery == "at_least_once"
    if failure == "ambiguous" and not (idempotent or at_least_once):
        return Decision("stop", retry.increment(error))
    after = retry.increment(error)
    if retry.should_retry(error) and not after.exhausted:
        delay = after.delay(rand)
        if delay is not None:
            return Decision("retry", after, delay)
    if (failure == "ambiguous" or tainted) and not at_least_once:
        return Decision("stop", after)
    return Decision("next", after)


def outcome(
    attempts: Sequence[Attempt],
    *,
    stopped: SmsBridgeError | None,
    ambiguous: SmsBridgeError | None,
    skipped: Sequence[str],
) -> SmsBridgeError:
    """The error a failed send raises, with ``attempts`` attached.

    A rejection that stopped routing is raised as itself; so is the ambiguous error when one
    is unresolved (the message may have been sent: that is the outcome). When every candidate
    refused: the error itself if there was one provider, else ``AllProvidersFailed``.
    """
    history = tuple(attempts)
    error: SmsBridgeError
    if stopped is not None and stopped.failure == "rejected":
        error = stopped
    elif ambiguous is not None:
        error = ambiguous
    elif stopped is not None:
        error = stopped
    elif not history:
        error = ProviderUnavailable(
            f"circuit breaker open for every candidate ({', '.join(skipped)}); nothing was sent",
            failure="refused",
        )
    elif len({a.provider for a in history}) == 1 and not skipped:
        error = history[-1].error or ProviderUnavailable("send failed", failure="refused")
    else:
        lines = "; ".join(f"{a.provider}: {a.error}" for a in history if a.error is not None)
        if skipped:
            lines += f"; skipped (circuit breaker open): {', '.join(skipped)}"
        error = AllProvidersFailed(
            f"every provider refused the message ({lines})", attempts=history
        )
    error.attempts = history
    return error
