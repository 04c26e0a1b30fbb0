"""What importing smsbridge and getting ready to send load and build: structure, not time.

"Ready" is the import, a Bridge over Twilio and Telnyx, and one ``to_e164``: what an
application does at start-up. It must not load what only other paths use (webhooks, the
emulator, the CLI, framework adapters, other providers, optional extras), and it defines no
pydantic model: defining any model loads ``pydantic.main`` and ``pydantic.fields``, which cost
more than the rest of getting ready, so ``smsbridge._models`` loads with the first send (or
webhook, or model named). Each model is then built at its first use (``defer_build``), which
must behave exactly like a model built at import.

Every check runs in a fresh interpreter: this process has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from smsbridge import _models

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOOR = "import httpx, pydantic, phonenumbers, nacl.signing"
READY = """
import base64
import smsbridge
from smsbridge import Bridge
from smsbridge.providers import Telnyx, Twilio
twilio = Twilio(account_sid="AC" + "0" * 32, auth_token="x" * 32, from_="+15017122661")
telnyx = Telnyx(api_key="KEY0123", public_key=base64.b64encode(bytes(range(32))).decode(),
                from_="+15017122662")
bridge = Bridge([twilio, telnyx])
smsbridge.to_e164("+14155552671")
"""

MODELS = sorted(
    name
    for name in _models.__all__
    if isinstance(getattr(_models, name), type) and issubclass(getattr(_models, name), BaseModel)
)

# Neither the import nor a ready bridge over Twilio and Telnyx needs any of these.
NOT_AT_START = (
    # optional extras and the frameworks the adapters serve
    "aiohttp",
    "redis",
    "starlette",
    "fastapi",
    "flask",
    "django",
    "celery",
    "cryptography",
    "jwt",
    "opentelemetry",  # imported at the first send or webhook, when installed
    # the package's own paths that starting up does not take
    "smsbridge.webhooks",
    "smsbridge.testing",
    "smsbridge.cli",
    "smsbridge.contrib",
    "smsbridge.transports",
    "smsbridge.providers.vonage",
    "smsbridge.stores._redis",
    "smsbridge.stores._sqlite",
)


def _run(code: str) -> Any:
    """Run ``code`` in a fresh interpreter; it leaves its answer in ``result`` (JSON)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(result))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _loaded_by(code: str) -> set[str]:
    """The modules ``code`` loads after the dependencies (the floor) are imported."""
    return set(
        _run(
            f"{FLOOR}\nfloor = set(sys.modules)\n{code}\nresult = sorted(set(sys.modules) - floor)"
        )
    )


def _under(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_import_loads_nothing_it_does_not_use() -> None:
    """`import smsbridge` loads none of the optional extras nor the package's other paths."""
    loaded = _loaded_by("import smsbridge")
    assert _under(loaded, NOT_AT_START) == []


def test_ready_loads_nothing_it_does_not_use() -> None:
    """A ready bridge over Twilio and Telnyx loads neither webhooks, the emulator, the CLI,
    the adapters, Vonage, the optional stores and senders, nor their extras."""
    loaded = _loaded_by(READY)
    assert "smsbridge.providers.twilio" in loaded
    assert _under(loaded, NOT_AT_START) == []


# What defining any pydantic model loads (`import pydantic` alone loads neither module), and
# the module that defines smsbridge's models.
MODEL_MACHINERY = ("pydantic.main", "pydantic.fields", "smsbridge._models")


def test_ready_defines_no_model() -> None:
    """A ready bridge has not loaded pydantic's model machinery nor smsbridge._models: the
    providers' status maps use MessageStatus, a plain enum, which smsbridge exports without
    loading the models either; a model named through smsbridge loads them."""
    found = _run(
        f"MACHINERY = {MODEL_MACHINERY!r}\n{FLOOR}\n{READY}\n"
        "loaded = lambda: sorted(name for name in MACHINERY if name in sys.modules)\n"
        "ready = loaded()\n"
        "from smsbridge.providers.twilio import TWILIO_STATUS\n"
        "from smsbridge.providers.telnyx import TELNYX_STATUS\n"
        "status = smsbridge.MessageStatus\n"
        "same = [TWILIO_STATUS['delivered'] is status.DELIVERED,\n"
        "        TELNYX_STATUS['delivered'] is status.DELIVERED]\n"
        "with_status = loaded()\n"
        "import smsbridge._models\n"
        "same += [smsbridge._models.MessageStatus is status,\n"
        "         smsbridge.SendResult is smsbridge._models.SendResult]\n"
        "result = {'ready': ready, 'with_status': with_status, 'named': loaded(), 'same': same}"
    )
    assert found == {
        "ready": [],
        "with_status": [],
        "named": sorted(MODEL_MACHINERY),
        "same": [True, True, True, True],
    }


def test_models_build_none_and_discover_no_plugins_when_defined() -> None:
    """Defining the models (after starting up) builds none of them; building the first one
    is what makes pydantic look for plug-ins through importlib.metadata, which the provider
    registry also reads only when a provider is looked up by name."""
    found = _run(
        f"{FLOOR}\nfloor = set(sys.modules)\n{READY}\n"
        "import pydantic, smsbridge._models as models\n"
        "result = {\n"
        "    'built': sorted(name for name in models.__all__\n"
        "                    if isinstance(getattr(models, name), type)\n"
        "                    and issubclass(getattr(models, name), pydantic.BaseModel)\n"
        "                    and getattr(models, name).__pydantic_complete__),\n"
        "    'metadata': 'importlib.metadata' in set(sys.modules) - floor,\n"
        "}"
    )
    assert found == {"built": [], "metadata": False}


# Every model's first use: valid and invalid input, the frozen and extra="forbid" config,
# defaults, copies, model_construct, pickling (of models and of errors carrying attempts), JSON
# and the webhook fast path, which fills an instance without ever building its class. Run
# once with the models as import leaves them and once with all of them built first: the
# results must be identical.
FIRST_USE = """
import copy, pickle
from datetime import datetime, timezone
import pydantic
import smsbridge._models as m
from smsbridge import AllProvidersFailed, RateLimited

MODELS = [getattr(m, n) for n in m.__all__
          if isinstance(getattr(m, n), type) and issubclass(getattr(m, n), pydantic.BaseModel)]
if MODE == "eager":
    for cls in MODELS:
        cls.model_rebuild(force=True)
unbuilt = sorted(cls.__name__ for cls in MODELS if not cls.__pydantic_complete__)
# Imported after the count: importing smsbridge.webhooks builds Media (construct_works).
from smsbridge.webhooks._speedups import construct_checked, construct_works
out = {}

def refused(cls, **values):
    try:
        cls(**values)
    except pydantic.ValidationError as exc:
        return sorted((".".join(map(str, e["loc"])), e["type"]) for e in exc.errors())
    return "accepted"

# the webhook fast path first, while InboundMessage may still be unbuilt
received = dict(provider="twilio", id="SM1", from_="+14155552671", to="+15017122661",
                text="STOP", media=(m.Media(url="https://e.com/a.jpg", content_type=None),),
                segments=1, received_at=datetime(2024, 5, 14, tzinfo=timezone.utc),
                opt_out="STOP", raw={"Body": "STOP"})
fast = construct_checked(m.InboundMessage, dict(received))
slow = m.InboundMessage(**received)
out["fast_path"] = [fast == slow, fast.model_dump() == slow.model_dump(), repr(fast) == repr(slow),
                    construct_works(m.EventError, {"code": "x", "failure": None,
                                                   "provider_code": None, "message": ""})]

info = m.SegmentInfo(encoding="GSM-7", segments=1, units=5, characters=5)
message = m.OutboundMessage(to="+14155552671", body="hello", segments=info)
out["outbound"] = [message.model_dump(exclude={"message_id"}), len(message.message_id),
                   message.message_id != m.OutboundMessage(to="+1").message_id, message.is_mms]
out["refused"] = [
    refused(m.OutboundMessage, to=14155552671),
    refused(m.OutboundMessage, to="+1", colour="red"),
    refused(m.SegmentInfo, encoding="UTF-8", segments=1, units=1, characters=1),
    refused(m.SendResult, provider="t", provider_message_id="1", status="lost", to="+1"),
    refused(m.StatusEvent, provider="t", provider_message_id="1", status="sent", raw_status="s",
            occurred_at="yesterday"),
]
try:
    message.body = "changed"
except pydantic.ValidationError as exc:
    out["frozen"] = exc.errors()[0]["type"]
copied = message.model_copy(update={"body": "changed"})
out["copy"] = [copied.body, copied.to, copy.deepcopy(message) == message,
               hash(m.Media(url="u")) == hash(m.Media(url="u"))]
built = m.SendResult.model_construct(provider="t", provider_message_id="1", status="sent", to="+1")
out["construct"] = [built.attempts, built.raw, built.warnings, built.model_fields_set == {
    "provider", "provider_message_id", "status", "to"}]

attempt = m.Attempt(provider="twilio", error=RateLimited("slow down", provider="twilio",
                                                        retry_after=2.0), elapsed=0.25)
result = m.SendResult(provider="telnyx", provider_message_id="40385f64", status="queued",
                      to="+14155552671", attempts=(attempt, m.Attempt(provider="telnyx")))
out["result"] = [result.status is m.MessageStatus.QUEUED, json.loads(result.model_dump_json())]
again = pickle.loads(pickle.dumps(result))
out["pickle_model"] = [again.model_dump(exclude={"attempts"}) == result.model_dump(exclude={
    "attempts"}), type(again.attempts[0].error).__name__, again.attempts[0].error.retry_after,
    again.attempts[1] == result.attempts[1]]
failed = pickle.loads(pickle.dumps(AllProvidersFailed("every provider refused",
                                                      attempts=(attempt,))))
out["pickle_error"] = [failed.code, failed.failure, [a.provider for a in failed.attempts]]
try:
    m.OutboundMessage(to=None)
except pydantic.ValidationError as exc:
    out["pickle_validation_error"] = pickle.loads(pickle.dumps(exc)).error_count()

status = m.StatusEvent(provider="telnyx", provider_message_id="1", status="delivered",
                       raw_status="delivered", error=m.EventError(code="carrier_route"),
                       occurred_at="2024-05-14T15:31:05Z")
out["status"] = json.loads(status.model_dump_json())
out["schema"] = sorted(m.StatusEvent.model_json_schema()["properties"])
result = {"unbuilt": unbuilt, "out": out}
"""


def _first_use(mode: str) -> Any:
    return _run(f"MODE = {mode!r}\n{FIRST_USE}")


def test_deferred_models_behave_as_built_ones_on_first_use() -> None:
    """Models built at first use validate, refuse, copy, pickle and dump exactly as models
    built up front, and the webhook fast path fills an unbuilt class correctly."""
    deferred = _first_use("deferred")
    eager = _first_use("eager")
    assert deferred["unbuilt"] == MODELS  # the import built none of them
    assert eager["unbuilt"] == []
    assert deferred["out"] == eager["out"]
    out = deferred["out"]
    assert out["fast_path"] == [True, True, True, True]
    assert out["frozen"] == "frozen_instance"
    assert out["refused"] == [
        [["to", "string_type"]],
        [["colour", "extra_forbidden"]],
        [["encoding", "literal_error"]],
        [["status", "enum"]],
        [["occurred_at", "datetime_from_date_parsing"]],
    ]
    assert out["copy"] == ["changed", "+14155552671", True, True]
    assert out["construct"] == [[], {}, [], True]
    assert out["pickle_model"] == [True, "RateLimited", 2.0, True]
    assert out["pickle_error"] == ["rate_limited", "refused", ["twilio"]]
    assert out["pickle_validation_error"] == 1
    assert out["result"][1]["attempts"][0]["error"]["code"] == "rate_limited"


def test_first_send_and_webhook_after_ready() -> None:
    """The first send (through httpx.MockTransport), which loads the models, and the first
    webhooks of a fresh process, each building the models it uses then, give what they
    always gave."""
    found = _run(
        f"FIXTURES = {str(FIXTURES)!r}\n"
        + READY
        + """
import httpx
from pathlib import Path
from smsbridge import MessageStatus
before_send = "pydantic.main" in sys.modules
fixture = json.loads(Path(FIXTURES, "twilio_send.json").read_text())["response_201"]
client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(201, json=fixture)))
sent = Bridge([twilio, telnyx], http_client=client).send(to="+14155552671", body="hi")
answer = json.loads(Path(FIXTURES, "telnyx_send.json").read_text())["response_200"]
client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))
by_telnyx = Bridge(telnyx, http_client=client).send(to="+14155552671", body="h\u00e9llo \u20ac")
from smsbridge.testing import sign_twilio
from smsbridge.webhooks import WebhookRequest
url = "https://app.example.com/sms/webhook"
params = [("MessageSid", "SM" + "1" * 32), ("AccountSid", "AC" + "0" * 32),
          ("From", "+14155552671"), ("To", "+15017122661"), ("Body", "STOP"), ("NumMedia", "0")]
headers = {"Content-Type": "application/x-www-form-urlencoded",
           **sign_twilio(url, params, auth_token="x" * 32)}
from urllib.parse import urlencode
hook = Bridge([twilio, telnyx], public_url=url).handle_webhook(
    WebhookRequest("POST", url, headers, urlencode(params).encode()))
params = [("MessageSid", "SM" + "2" * 32), ("MessageStatus", "delivered"),
          ("AccountSid", "AC" + "0" * 32), ("From", "+15017122661"), ("To", "+14155552671")]
headers = {"Content-Type": "application/x-www-form-urlencoded",
           **sign_twilio(url, params, auth_token="x" * 32)}
status = Bridge([twilio, telnyx], public_url=url).handle_webhook(
    WebhookRequest("POST", url, headers, urlencode(params).encode())).event
result = {"before_send": before_send,
          "sent": [type(sent).__name__, sent.provider, sent.provider_message_id,
                   sent.status is MessageStatus.QUEUED, sent.segments, sent.encoding,
                   [a.provider for a in sent.attempts]],
          "by_telnyx": [by_telnyx.provider, by_telnyx.provider_message_id,
                        by_telnyx.status is MessageStatus.QUEUED, by_telnyx.encoding],
          "hook": [type(hook.event).__name__, hook.event.opt_out, hook.event.from_,
                   hook.response.status_code],
          "status": [type(status).__name__, status.status is MessageStatus.DELIVERED,
                     status.status.terminal, status.provider_message_id]}
"""
    )
    assert found["before_send"] is False
    assert found["sent"] == [
        "SendResult",
        "twilio",
        "MM9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3",
        True,
        1,
        "GSM-7",
        ["twilio"],
    ]
    assert found["by_telnyx"] == ["telnyx", "40385f64-5717-4562-b3fc-2c963f66afa6", True, "GSM-7"]
    assert found["hook"] == ["InboundMessage", "STOP", "+14155552671", 200]
    assert found["status"] == ["StatusEvent", True, True, "SM" + "2" * 32]
