"""Routing policies: which providers may send a message, in which order.

A policy is used wherever a provider is: ``Bridge(Failover([twilio, telnyx]))``. A plain list
means :class:`Failover`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage
    from smsbridge.providers._base import Provider

__all__ = ["Failover", "Policy", "as_policy"]


@runtime_checkable
class Policy(Protocol):
    """Chooses the ordered candidates for one message."""

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """Providers to try for ``message``, best first."""
        ...

    def providers(self) -> Iterator[Provider]:
        """Every provider this policy can reach, without repeats."""
        ...


class Failover:
    """Try providers in order.

    Example:
        >>> Bridge(Failover([twilio, telnyx]))
    """

    def __init__(self, members: Sequence[Provider | Policy]) -> None:
        if not members:
            raise ConfigError("a routing policy needs at least one provider", variable="providers")
        self.members: tuple[Provider | Policy, ...] = tuple(members)

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """Members in order, nested policies expanded, providers that cannot send it skipped."""
        out: list[Provider] = []
        for member in self.members:
            for provider in expand(member, message):
                if provider not in out:
                    out.append(provider)
        return out

    def providers(self) -> Iterator[Provider]:
        """Every provider reachable through this policy."""
        seen: list[Provider] = []
        for member in self.members:
            for provider in member.providers() if isinstance(member, Policy) else (member,):
                if provider not in seen:
                    seen.append(provider)
                    yield provider

    def __repr__(self) -> str:
        return f"Failover({list(self.members)!r})"


def expand(member: Provider | Policy, message: OutboundMessage) -> list[Provider]:
    """A member's candidates: a policy's own, or the provider itself if it can send."""
    if isinstance(member, Policy):
        return member.candidates(message)
    return [member] if member.can_send(message) else []


def as_policy(value: Any) -> Policy:
    """A policy from what ``Bridge`` was given: a provider, a list, or a policy."""
    from smsbridge.providers._base import Provider

    if isinstance(value, Policy):
        return value
    if isinstance(value, Provider):
        return Failover([value])
    if isinstance(value, (list, tuple)):
        return Failover(list(value))
    raise ConfigError(
        f"Bridge needs a provider, a list of providers or a policy, not {type(value).__name__}",
        variable="providers",
    )
