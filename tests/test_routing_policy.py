"""Routing policies: ordered failover, weighted split, per-country rules, nesting, capabilities."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from smsbridge import ConfigError, OutboundMessage, SenderConfig
from smsbridge.providers import Capabilities, Telnyx, Twilio
from smsbridge.routing import ByCountry, Failover, Policy, Weighted, as_policy
from smsbridge.routing._decide import select

SID = "AC" + "0" * 32


def _twilio(**kw: object) -> Twilio:
    return Twilio(SID, "token", from_="+15017122661", **kw)  # type: ignore[arg-type]


def _telnyx(**kw: object) -> Telnyx:
    return Telnyx("KEY0123", from_="+15017122662", **kw)  # type: ignore[arg-type]


def _sms(to: str = "+14155552671", **kw: object) -> OutboundMessage:
    return OutboundMessage(to=to, body="hi", **kw)


def test_failover_keeps_order_and_drops_repeats() -> None:
    """A Failover lists its members in order, each provider once, nested policies expanded."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = Failover([twilio, Failover([telnyx, twilio])])
    assert policy.candidates(_sms()) == [twilio, telnyx]
    assert list(policy.providers()) == [twilio, telnyx]


def test_capabilities_filter_candidates() -> None:
    """An MMS only goes to providers that can send MMS."""
    twilio, telnyx = _twilio(capabilities=Capabilities(mms=False)), _telnyx()
    policy = Failover([twilio, telnyx])
    mms = _sms(media_urls=("https://example.com/a.jpg",))
    assert policy.candidates(mms) == [telnyx]
    assert policy.candidates(_sms()) == [twilio, telnyx]


def test_weighted_split_within_tolerance_over_2000_draws() -> None:
    """A 3:1 split puts about 75% first on the heavier member (within 5 standard deviations)."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = Weighted({twilio: 3, telnyx: 1}, random=random.Random(20240514))
    firsts = Counter(policy.candidates(_sms())[0].name for _ in range(2000))
    # Binomial(2000, 0.75): mean 1500, standard deviation about 19.4.
    assert 1403 <= firsts["twilio"] <= 1597
    assert firsts["twilio"] + firsts["telnyx"] == 2000


def test_weighted_keeps_the_others_as_failover() -> None:
    """Every draw lists both members: the one not picked stays behind as the fallback."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = Weighted({twilio: 1, telnyx: 1}, random=random.Random(1))
    orders = {tuple(p.name for p in policy.candidates(_sms())) for _ in range(200)}
    assert orders == {("twilio", "telnyx"), ("telnyx", "twilio")}


def test_weighted_zero_share_is_only_a_fallback() -> None:
    """A member with share 0 is never first."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = Weighted([(twilio, 0), (telnyx, 5)], random=random.Random(3))
    assert all(policy.candidates(_sms())[0] is telnyx for _ in range(300))
    assert policy.candidates(_sms())[-1] is twilio


def test_weighted_same_seed_same_sequence() -> None:
    """Two policies seeded alike draw the same orders (reproducible tests)."""
    twilio, telnyx = _twilio(), _telnyx()
    one = Weighted({twilio: 2, telnyx: 1}, random=random.Random(9))
    two = Weighted({twilio: 2, telnyx: 1}, random=random.Random(9))
    assert [one.order() for _ in range(50)] == [two.order() for _ in range(50)]


def test_by_country_routes_gb_and_us_differently() -> None:
    """+44 goes to the GB route and +1 to the US route."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = ByCountry({"GB": telnyx, "US": twilio})
    assert policy.candidates(_sms("+442079460018")) == [telnyx]
    assert policy.candidates(_sms("+14155552671")) == [twilio]


def test_by_country_prefix_and_default() -> None:
    """Region codes win over prefixes, the longest prefix wins, and '*' catches the rest."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = ByCountry({"+1": telnyx, "CA": twilio, "*": [twilio, telnyx]})
    assert policy.candidates(_sms("+14165550199")) == [twilio]  # Toronto: region CA
    assert policy.candidates(_sms("+14155552671")) == [telnyx]  # US via the +1 prefix
    assert policy.candidates(_sms("+33612345678")) == [twilio, telnyx]


def test_by_country_without_a_route_has_no_candidates() -> None:
    """No matching key and no '*': no candidates, and select() says so with SenderConfig."""
    policy = ByCountry({"US": _twilio()})
    assert policy.candidates(_sms("+442079460018")) == []
    with pytest.raises(SenderConfig) as caught:
        select(policy, _sms("+442079460018"), any_sender=False)
    assert caught.value.failure == "refused"


def test_policies_nest() -> None:
    """Per-country weighted sets with failover behind each."""
    twilio, telnyx = _twilio(), _telnyx()
    policy = ByCountry(
        {"US": Weighted({twilio: 1, telnyx: 0}, random=random.Random(0)), "*": [telnyx]}
    )
    assert policy.candidates(_sms()) == [twilio, telnyx]
    assert policy.candidates(_sms("+442079460018")) == [telnyx]
    assert sorted(p.name for p in policy.providers()) == ["telnyx", "twilio"]


def test_as_policy_accepts_provider_list_and_policy() -> None:
    """A provider, a list and a policy all become a Policy; anything else is a ConfigError."""
    twilio = _twilio()
    assert isinstance(as_policy(twilio), Policy)
    assert as_policy([twilio]).candidates(_sms()) == [twilio]
    weighted = Weighted({twilio: 1})
    assert as_policy(weighted) is weighted
    with pytest.raises(ConfigError):
        as_policy("twilio")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Failover([]),
        lambda: Weighted({}),
        lambda: Weighted({_twilio(): -1}),
        lambda: Weighted({_twilio(): 0}),
        lambda: Weighted({_twilio(): float("nan")}),
        lambda: ByCountry({}),
        lambda: ByCountry({"Britain": _twilio()}),
        lambda: Failover(["twilio"]),
    ],
)
def test_bad_policies_are_config_errors(build: object) -> None:
    """Empty, negative, NaN or unknown members raise ConfigError."""
    with pytest.raises(ConfigError):
        build()  # type: ignore[operator]


def test_select_keeps_only_owners_of_an_explicit_sender() -> None:
    """send(from_=X) uses only the providers that own X."""
    twilio, telnyx = _twilio(), _telnyx()
    pairs = select(Failover([twilio, telnyx]), _sms(from_="+15017122662"), any_sender=False)
    assert [(p.name, m.from_) for p, m in pairs] == [("telnyx", "+15017122662")]


def test_select_unknown_sender_is_sender_config() -> None:
    """A sender no provider owns fails before any request, naming the fix."""
    with pytest.raises(SenderConfig) as caught:
        select(Failover([_twilio(), _telnyx()]), _sms(from_="+15550000000"), any_sender=False)
    assert "any_sender" in caught.value.message


def test_select_any_sender_lets_others_use_their_own() -> None:
    """With any_sender the non-owners stay in and send from their own number."""
    twilio, telnyx = _twilio(), _telnyx()
    pairs = select(Failover([twilio, telnyx]), _sms(from_="+15017122662"), any_sender=True)
    assert [(p.name, m.from_) for p, m in pairs] == [("twilio", None), ("telnyx", "+15017122662")]
    assert twilio.build_request(pairs[0][1]).content.count(b"From=%2B15017122661") == 1
