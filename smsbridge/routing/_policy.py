"""Routing policies: which providers may send a message, in which order.

A policy is used wherever a provider is: ``Bridge(Failover([twilio, telnyx]))``. A plain list
means ``Failover``. Policies nest: a member of any policy may be a provider, a list (an
ordered failover) or another policy, so per-country weighted sets with failover behind each
are written as ``ByCountry({"US": Weighted({twilio: 3, telnyx: 1}), "*": [telnyx, twilio]})``.

Every policy filters on capabilities: a provider that cannot send a message (an MMS to a
provider without MMS) is never a candidate for it.
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    from smsbridge._models import OutboundMessage
    from smsbridge.providers._base import Provider

__all__ = ["ByCountry", "Failover", "Member", "Policy", "Weighted", "as_policy", "expand"]


@runtime_checkable
class Policy(Protocol):
    """Chooses the ordered candidates for one message.

    ``Failover``, ``Weighted`` and ``ByCountry`` implement it; any object with these two
    methods is a policy too, usable wherever a provider is.

    Examples:
        A policy that sends MMS through Twilio only and SMS through Telnyx, then Twilio:

        >>> from collections.abc import Iterator
        >>> from smsbridge import OutboundMessage
        >>> from smsbridge.providers import Provider
        >>> class MmsViaTwilio:
        ...     def candidates(self, message: OutboundMessage) -> list[Provider]:
        ...         return [twilio] if message.is_mms else [telnyx, twilio]
        ...
        ...     def providers(self) -> Iterator[Provider]:
        ...         return iter([twilio, telnyx])
        >>> sms = Bridge(MmsViaTwilio())
    """

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """Providers to try for ``message``, best first, without repeats."""
        ...

    def providers(self) -> Iterator[Provider]:
        """Every provider this policy can reach, without repeats."""
        ...


Member = Union["Provider", Policy, Sequence[Any]]
_Expander = Callable[["OutboundMessage"], list["Provider"]]


def _member(value: Any) -> tuple[_Expander, Callable[[], Iterator[Provider]], Any]:
    """Normalise one member to (candidates function, providers function, the member).

    Done once at construction: checking a runtime protocol costs microseconds, and the
    routing overhead per message is meant to stay in that range.
    """
    from smsbridge.providers._base import Provider

    if isinstance(value, Provider):
        provider = value

        def single(message: OutboundMessage) -> list[Provider]:
            return [provider] if provider.can_send(message) else []

        return single, lambda: iter((provider,)), provider
    if isinstance(value, (list, tuple)):
        value = Failover(value)
    if isinstance(value, Policy):
        return value.candidates, value.providers, value
    raise ConfigError(
        f"a routing member must be a provider, a list or a policy, not {type(value).__name__}",
        variable="providers",
    )


def _unique(groups: Iterable[Iterable[Provider]]) -> Iterator[Provider]:
    seen: set[int] = set()
    for group in groups:
        for provider in group:
            if id(provider) not in seen:
                seen.add(id(provider))
                yield provider


class Failover:
    """Try providers in order: the first that can send it, then the next, and so on.

    Args:
        members: providers, nested policies, or lists (each list a nested ``Failover``).

    Raises:
        ConfigError: no members, or a member that is not a provider, a list or a policy.

    Examples:
        >>> from smsbridge.routing import Failover
        >>> sms = Bridge(Failover([twilio, telnyx]))  # the same as Bridge([twilio, telnyx])
        >>> list(sms.policy.providers()) == [twilio, telnyx]
        True
    """

    def __init__(self, members: Sequence[Member]) -> None:
        if not members:
            raise ConfigError("a routing policy needs at least one provider", variable="providers")
        from smsbridge.providers._base import Provider

        parts = [_member(m) for m in members]
        self._expand = tuple(p[0] for p in parts)
        self._providers = tuple(p[1] for p in parts)
        self.members: tuple[Any, ...] = tuple(p[2] for p in parts)
        # The common case, a list of providers, skips the general expansion (it is per message).
        flat = all(isinstance(m, Provider) for m in self.members)
        self._flat: tuple[Provider, ...] | None = tuple(_unique([self.members])) if flat else None

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """Members in order, nested policies expanded, providers that cannot send it skipped."""
        if self._flat is not None:
            return [p for p in self._flat if p.can_send(message)]
        return list(_unique(expand(message) for expand in self._expand))

    def providers(self) -> Iterator[Provider]:
        """Every provider reachable through this policy."""
        return _unique(providers() for providers in self._providers)

    def __repr__(self) -> str:
        return f"Failover({list(self.members)!r})"


class Weighted:
    """Split traffic between members by share; the others stay behind the pick as failover.

    Each message draws its order at random, weighted by share (sampling without replacement),
    so with ``{twilio: 3, telnyx: 1}`` about three messages in four try Twilio first and
    Telnyx second, and the rest the other way round. A member with share 0 is only ever a
    fallback.

    Examples:
        >>> import random
        >>> from smsbridge.routing import Weighted
        >>> sms = Bridge(Weighted({twilio: 3, telnyx: 1}, random=random.Random(7)))

    Args:
        shares: member -> share (any non-negative numbers), or a sequence of pairs.
        random: the random source (``random.Random``); seed one for reproducible tests.
    """

    def __init__(
        self,
        shares: Mapping[Any, float] | Sequence[tuple[Any, float]],
        *,
        random: _random.Random | None = None,
    ) -> None:
        pairs = list(shares.items()) if isinstance(shares, Mapping) else list(shares)
        if not pairs:
            raise ConfigError("Weighted needs at least one member", variable="providers")
        weights: list[float] = []
        for _, share in pairs:
            if not isinstance(share, (int, float)) or isinstance(share, bool):
                raise ConfigError("Weighted shares must be numbers", variable="providers")
            if share < 0 or math.isnan(share) or math.isinf(share):
                raise ConfigError("Weighted shares must be finite and >= 0", variable="providers")
            weights.append(float(share))
        if sum(weights) <= 0:
            raise ConfigError("Weighted needs at least one positive share", variable="providers")
        parts = [_member(m) for m, _ in pairs]
        self._expand = tuple(p[0] for p in parts)
        self._providers = tuple(p[1] for p in parts)
        self.members: tuple[Any, ...] = tuple(p[2] for p in parts)
        self.shares: tuple[float, ...] = tuple(weights)
        # Traffic splitting, not cryptography: a seedable PRNG is what is wanted.
        self._random = random if random is not None else _random.Random()  # noqa: S311
        # Exponential-race sampling: sort by Exp(1)/share. A zero share sorts last.
        self._rates = tuple(1.0 / w if w > 0 else math.inf for w in weights)

    def order(self) -> list[int]:
        """Member indexes in this draw's order (weighted sampling without replacement)."""
        rand = self._random.random
        keys = [
            (-math.log(1.0 - rand()) * rate if rate != math.inf else math.inf, i)
            for i, rate in enumerate(self._rates)
        ]
        keys.sort()
        return [i for _, i in keys]

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """The members in a weighted random order, expanded and capability-filtered."""
        return list(_unique(self._expand[i](message) for i in self.order()))

    def providers(self) -> Iterator[Provider]:
        """Every provider reachable through this policy."""
        return _unique(providers() for providers in self._providers)

    def __repr__(self) -> str:
        return f"Weighted({dict(zip(self.members, self.shares, strict=True))!r})"


class ByCountry:
    """Route by the recipient's country.

    Keys are ISO 3166 region codes (``"US"``, ``"GB"``; ``+1`` numbers are told apart by area
    code), calling-code prefixes (``"+44"``, ``"+1"``: the longest matching prefix wins), and
    ``"*"`` for everything else. A region code is matched before any prefix. Without a
    matching key and without ``"*"`` a message has no candidates, and the send fails with
    ``SenderConfig`` (refused).

    Args:
        routes: key -> member (a provider, a policy, or a list meaning ``Failover``).

    Raises:
        ConfigError: no routes, or a key that is neither a region code, a ``+`` prefix nor
            ``"*"``.

    Examples:
        >>> from smsbridge.routing import ByCountry
        >>> sms = Bridge(ByCountry({"US": [twilio, telnyx], "GB": telnyx, "*": twilio}))
        >>> sms.policy.candidates(sms.message(to="+442079460018", body="Hi")) == [telnyx]
        True
    """

    def __init__(self, routes: Mapping[str, Member]) -> None:
        if not routes:
            raise ConfigError("ByCountry needs at least one route", variable="providers")
        self._regions: dict[str, _Expander] = {}
        self._prefixes: list[tuple[str, _Expander]] = []
        self._default: _Expander | None = None
        providers: list[Callable[[], Iterator[Provider]]] = []
        self.routes: dict[str, Any] = {}
        for key, value in routes.items():
            expander, reach, member = _member(value)
            providers.append(reach)
            if not isinstance(key, str):
                raise ConfigError("ByCountry keys must be strings", variable="providers")
            if key == "*":
                self._default = expander
            elif key.startswith("+") and key[1:].isdigit():
                self._prefixes.append((key, expander))
            elif len(key) == 2 and key.isalpha():
                key = key.upper()
                self._regions[key] = expander
            else:
                raise ConfigError(
                    f"ByCountry key {key!r} is not a region code, a +prefix or '*'",
                    variable="providers",
                )
            self.routes[key] = member
        self._prefixes.sort(key=lambda item: -len(item[0]))
        self._providers = tuple(providers)

    def route_for(self, to: str) -> _Expander | None:
        """The candidates function for recipient ``to`` (E.164), or ``None``."""
        from smsbridge._phone import country_of

        if self._regions:
            region = country_of(to)
            if region is not None and region in self._regions:
                return self._regions[region]
        for prefix, expander in self._prefixes:
            if to.startswith(prefix):
                return expander
        return self._default

    def candidates(self, message: OutboundMessage) -> list[Provider]:
        """The candidates of the route matching the recipient's country."""
        expander = self.route_for(message.to)
        return expander(message) if expander is not None else []

    def providers(self) -> Iterator[Provider]:
        """Every provider reachable through this policy."""
        return _unique(providers() for providers in self._providers)

    def __repr__(self) -> str:
        return f"ByCountry({self.routes!r})"


def expand(member: Member, message: OutboundMessage) -> list[Provider]:
    """A member's candidates: a policy's own, or the provider itself if it can send."""
    return _member(member)[0](message)


def as_policy(value: Any) -> Policy:
    """A policy from what ``Bridge`` was given: a provider, a list, or a policy."""
    from smsbridge.providers._base import Provider

    if isinstance(value, Provider):
        return Failover([value])
    if isinstance(value, (list, tuple)):
        return Failover(list(value))
    if isinstance(value, Policy):
        return value
    raise ConfigError(
        f"Bridge needs a provider, a list of providers or a policy, not {type(value).__name__}",
        variable="providers",
    )
