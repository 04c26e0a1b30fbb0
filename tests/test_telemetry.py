"""OpenTelemetry: spans and metrics of sends and webhooks, read back through the SDK's
in-memory exporters, against the emulator; and nothing at all when telemetry is off or absent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pytest
from _routing_kit import TO, emu, emulator, telnyx, twilio

import smsbridge.telemetry
from smsbridge import Bridge, ProviderError, WebhookError
from smsbridge.routing import CircuitBreaker, RateLimits
from smsbridge.testing import sign_twilio
from smsbridge.testing.emulator import Emulator
from smsbridge.webhooks import WebhookRequest

try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode
except ImportError:  # the dev extra installs it: in CI a missing SDK is a failure
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("opentelemetry-sdk is not installed", allow_module_level=True)

__all__ = ["emu", "emulator"]

ROOT = Path(__file__).resolve().parents[1]
BODY = "secret body 8841"
URL = "https://app.example.com/sms/webhook"


class Otel:
    """SDK providers with in-memory exporters, handed to smsbridge.telemetry.configure."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, value or histogram count)]."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # type: ignore[attr-defined]
                        found.setdefault(metric.name, []).append((dict(point.attributes), value))
        return found

    def total(self, name: str, **labels: Any) -> Any:
        return sum(
            value
            for attributes, value in self.points().get(name, [])
            if all(attributes.get(k) == v for k, v in labels.items())
        )


@pytest.fixture
def otel() -> Iterator[Otel]:
    """Telemetry reporting to fresh in-memory providers for this test only."""
    found = Otel()
    smsbridge.telemetry.configure(
        tracer_provider=found.tracer_provider, meter_provider=found.meter_provider
    )
    yield found
    smsbridge.telemetry.configure()


def _bridge(emu: Emulator, *both: bool, **options: Any) -> Bridge:
    providers = [twilio(emu), telnyx(emu)] if both else [twilio(emu)]
    return Bridge(providers, http_client=httpx.Client(), **options)


def _only_child(otel: Otel) -> tuple[ReadableSpan, list[ReadableSpan]]:
    (send,) = otel.spans(smsbridge.telemetry.SPAN_SEND)
    attempts = otel.spans(smsbridge.telemetry.SPAN_ATTEMPT)
    for attempt in attempts:
        assert attempt.parent is not None
        assert attempt.parent.span_id == send.context.span_id
        assert attempt.context.trace_id == send.context.trace_id
    return send, sorted(attempts, key=lambda s: s.attributes["smsbridge.attempt"])


def _no_secrets(otel: Otel, *secrets: str) -> None:
    """No span attribute, event, status nor metric attribute holds any of ``secrets``."""
    texts: list[str] = []
    for span in otel.spans():
        texts += [str(v) for v in span.attributes.values()]
        texts.append(str(span.status.description))
        for event in span.events:
            texts += [str(v) for v in event.attributes.values()]
    for points in otel.points().values():
        texts += [str(v) for attributes, _ in points for v in attributes.values()]
    for secret in secrets:
        assert not [text for text in texts if secret in text], secret


def test_a_send_is_one_span_with_one_attempt_child(emu: Emulator, otel: Otel) -> None:
    result = _bridge(emu).send(to=TO, body=BODY)
    send, (attempt,) = _only_child(otel)
    assert send.attributes["smsbridge.outcome"] == "sent"
    assert send.attributes["smsbridge.provider"] == "twilio"
    assert send.attributes["smsbridge.attempts"] == 1
    message_id = send.attributes["smsbridge.message_id"]
    assert re.fullmatch(r"[0-9a-f-]{32,36}", str(message_id))
    assert attempt.attributes == {
        "smsbridge.provider": "twilio",
        "smsbridge.attempt": 1,
        "smsbridge.message_id": message_id,
        "smsbridge.outcome": "ok",
    }
    assert attempt.end_time - attempt.start_time == pytest.approx(
        result.attempts[0].elapsed * 1e9, abs=1000
    )
    assert send.status.status_code is StatusCode.UNSET
    assert otel.total("smsbridge.messages", provider="twilio", outcome="sent") == 1
    assert otel.total("smsbridge.attempts", provider="twilio", outcome="ok") == 1
    assert otel.total("smsbridge.send.duration", provider="twilio", outcome="sent") == 1
    _no_secrets(otel, TO, TO[1:], BODY)


def test_a_failover_is_two_attempts_and_counted(emu: Emulator, otel: Otel) -> None:
    emu.fault("twilio", "http_error", status=503)
    result = _bridge(emu, True, retry=None).send(to=TO, body=BODY)
    assert result.provider == "telnyx"
    send, (first, second) = _only_child(otel)
    assert first.attributes["smsbridge.provider"] == "twilio"
    assert first.attributes["smsbridge.outcome"] == "failed"
    assert first.attributes["smsbridge.failure"] == "refused"
    assert first.attributes["http.response.status_code"] == 503
    assert first.status.status_code is StatusCode.ERROR
    assert second.attributes["smsbridge.provider"] == "telnyx"
    assert second.attributes["smsbridge.attempt"] == 2
    assert send.attributes["smsbridge.outcome"] == "sent"
    assert [e.name for e in send.events] == ["failover"]
    assert otel.total("smsbridge.failovers", from_provider="twilio", to_provider="telnyx") == 1
    assert otel.total("smsbridge.attempts", provider="twilio", outcome="failed") == 1
    assert otel.total("smsbridge.messages", provider="telnyx", outcome="sent") == 1
    _no_secrets(otel, TO, TO[1:], BODY)


def test_a_rejected_send_records_its_code_and_no_number(emu: Emulator, otel: Otel) -> None:
    # The provider's own text quotes the number: it must not reach any attribute or status.
    emu.fault(
        "twilio", "error_code", code="21211", status=400, message=f"Invalid 'To' Number: {TO}"
    )
    with pytest.raises(ProviderError) as raised:
        _bridge(emu, True).send(to=TO, body=BODY, media_urls=["https://media.example/k.jpg"])
    code = raised.value.code
    send, (attempt,) = _only_child(otel)
    assert send.status.status_code is StatusCode.ERROR
    assert send.status.description == code
    assert send.attributes["smsbridge.outcome"] == "failed"
    assert send.attributes["smsbridge.code"] == code
    assert send.attributes["smsbridge.failure"] == "rejected"
    assert attempt.attributes["smsbridge.provider_code"] == "21211"
    assert attempt.attributes["http.response.status_code"] == 400
    assert otel.total("smsbridge.messages", outcome="failed", code=code, provider="twilio") == 1
    _no_secrets(otel, TO, TO[1:], BODY, "media.example")


def test_breaker_changes_and_rate_limit_waits_are_measured(emu: Emulator, otel: Otel) -> None:
    emu.fault("twilio", "http_error", status=503)
    bridge = _bridge(
        emu,
        True,
        retry=None,
        breaker=CircuitBreaker(failures=1),
        rate_limits=RateLimits(providers={"twilio": 500, "telnyx": 500}),
    )
    bridge.send(to=TO, body=BODY)
    bridge.send(to=TO, body=BODY)  # twilio's breaker is open: skipped, straight to telnyx
    assert otel.total("smsbridge.breaker.changes", provider="twilio", to_state="open") == 1
    assert otel.total("smsbridge.rate_limit.wait", provider="telnyx") == 2
    skipped = otel.spans(smsbridge.telemetry.SPAN_SEND)[1]
    assert [e.name for e in skipped.events] == ["breaker_open"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_sends_are_traced_on_both_loops(emu: Emulator, otel: Otel, backend: str) -> None:
    async def main() -> None:
        async with Bridge([twilio(emu)]) as bridge:
            await bridge.asend(to=TO, body=BODY)

    anyio.run(main, backend=backend)
    send, (attempt,) = _only_child(otel)
    assert send.attributes["smsbridge.outcome"] == "sent"
    assert attempt.attributes["smsbridge.outcome"] == "ok"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_cancelled_send_still_ends_its_span(emu: Emulator, otel: Otel, backend: str) -> None:
    emu.fault("twilio", "latency", seconds=0.5)

    async def main() -> None:
        async with Bridge([twilio(emu)]) as bridge:
            with anyio.move_on_after(0.1):
                await bridge.asend(to=TO, body=BODY)

    anyio.run(main, backend=backend)
    (send,) = otel.spans(smsbridge.telemetry.SPAN_SEND)
    assert send.end_time is not None
    assert send.status.status_code is StatusCode.ERROR
    assert send.attributes["smsbridge.outcome"] == "interrupted"
    assert otel.total("smsbridge.messages", outcome="interrupted") == 1


def _webhook(*, forged: bool = False) -> WebhookRequest:
    params = [
        ("MessageSid", "SM" + "1" * 32),
        ("AccountSid", "AC" + "0" * 32),
        ("From", TO),
        ("To", "+15017122661"),
        ("Body", BODY),
        ("NumMedia", "0"),
    ]
    token = "y" * 32 if forged else "x" * 32
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    headers.update(sign_twilio(URL, params, auth_token=token))
    return WebhookRequest("POST", URL, headers, urlencode(params).encode())


def _receiver() -> Bridge:
    from smsbridge.providers import Twilio

    return Bridge(Twilio("AC" + "0" * 32, "x" * 32, from_="+15017122661"), public_url=URL)


def test_webhooks_are_spans_counted_by_code(otel: Otel) -> None:
    bridge = _receiver()
    bridge.handle_webhook(_webhook())
    assert bridge.handle_webhook(_webhook()).duplicate
    with pytest.raises(WebhookError):
        bridge.handle_webhook(_webhook(forged=True))
    accepted, duplicate, forged = otel.spans(smsbridge.telemetry.SPAN_WEBHOOK)
    assert accepted.attributes["smsbridge.code"] == "accepted"
    assert accepted.attributes["smsbridge.provider"] == "twilio"
    assert accepted.attributes["http.response.status_code"] == 200
    assert duplicate.attributes["smsbridge.code"] == "duplicate"
    assert forged.attributes["smsbridge.code"] == "invalid_signature"
    assert forged.attributes["http.response.status_code"] == 403
    assert forged.status.status_code is StatusCode.ERROR
    assert otel.total("smsbridge.webhooks", provider="twilio", code="accepted") == 1
    assert otel.total("smsbridge.webhooks", code="invalid_signature") == 1
    _no_secrets(otel, TO, TO[1:], BODY)


def test_async_webhooks_are_spans_too(otel: Otel) -> None:
    async def main() -> None:
        await _receiver().ahandle_webhook(_webhook())

    anyio.run(main)
    (span,) = otel.spans(smsbridge.telemetry.SPAN_WEBHOOK)
    assert span.attributes["smsbridge.code"] == "accepted"


def test_off_records_nothing(emu: Emulator) -> None:
    found = Otel()
    smsbridge.telemetry.configure(
        enabled=False, tracer_provider=found.tracer_provider, meter_provider=found.meter_provider
    )
    try:
        assert not smsbridge.telemetry.enabled()
        _bridge(emu).send(to=TO, body=BODY)
        _receiver().handle_webhook(_webhook())
    finally:
        smsbridge.telemetry.configure()
    assert found.spans() == []
    assert found.points() == {}


def _run(code: str) -> Any:
    script = f"import json, sys\n{code}\nprint(json.dumps(result))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


FIXTURE = ROOT / "tests" / "fixtures" / "twilio_send.json"
SEND = f"""
import httpx
from pathlib import Path
from smsbridge import Bridge
from smsbridge.providers import Twilio
fixture = json.loads(Path({str(FIXTURE)!r}).read_text())["response_201"]
client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(201, json=fixture)))
bridge = Bridge(Twilio("AC" + "0" * 32, "x" * 32, from_="+15017122661"), http_client=client)
"""
LOADED = "sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry')"


def test_nothing_imports_opentelemetry_before_the_first_send_nor_when_off() -> None:
    found = _run(
        f"{SEND}\nready = {LOADED}\n"
        "import smsbridge.telemetry\nsmsbridge.telemetry.configure(enabled=False)\n"
        f"bridge.send(to='+14155552671', body='hi')\noff = {LOADED}\n"
        "smsbridge.telemetry.configure()\n"
        f"bridge.send(to='+14155552671', body='hi')\non = bool({LOADED})\n"
        "result = {'ready': ready, 'off': off, 'on': on}"
    )
    assert found == {"ready": [], "off": [], "on": True}


def test_without_opentelemetry_sends_and_webhooks_work_unrecorded() -> None:
    found = _run(
        "sys.modules['opentelemetry'] = None  # as if it were not installed\n"
        f"{SEND}\nsent = bridge.send(to='+14155552671', body='hi').provider\n"
        "import smsbridge.telemetry\nfrom smsbridge import ConfigError\n"
        "try:\n    smsbridge.telemetry.configure(enabled=True)\n    refused = False\n"
        "except ConfigError:\n    refused = True\n"
        "result = {'sent': sent, 'enabled': smsbridge.telemetry.enabled(), 'refused': refused}"
    )
    assert found == {"sent": "twilio", "enabled": False, "refused": True}


# -- contrib: the Prometheus example and the Grafana dashboard -------------------------------
def _prometheus_names() -> set[str]:
    """The metric names Prometheus sees, from OpenTelemetry's own Prometheus exporter."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    reader = PrometheusMetricReader()
    # The reader registers itself with the default registry; read it through our own too.
    registry.register(reader._collector)
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("check")
    for name, (kind, unit, description) in smsbridge.telemetry.METRICS.items():
        make = meter.create_counter if kind == "counter" else meter.create_histogram
        instrument = make(name, unit=unit, description=description)
        getattr(instrument, "add" if kind == "counter" else "record")(1, {"provider": "p"})
    text = generate_latest(registry).decode()
    provider.shutdown()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def test_the_grafana_dashboard_queries_only_metrics_smsbridge_emits() -> None:
    dashboard = json.loads((ROOT / "contrib" / "grafana" / "smsbridge-dashboard.json").read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
        if "expr" in target
    ]
    assert exprs
    queried = {name for expr in exprs for name in re.findall(r"\bsmsbridge_[a-z_]+", expr)}
    emitted = _prometheus_names()
    assert queried, exprs
    assert queried <= emitted, sorted(queried - emitted)
    # Every metric the library emits has a panel.
    ours = {name for name in emitted if name.startswith("smsbridge_")}
    assert len(ours) > len(smsbridge.telemetry.METRICS)
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in ours}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}
    assert families <= shown, sorted(families - shown)


def test_the_prometheus_example_serves_the_metrics(emu: Emulator) -> None:
    """contrib/prometheus/example, run as a script, serves smsbridge_* metrics."""
    env = {**os.environ, "SMSBRIDGE_EXAMPLE_ONCE": "1", "EMULATOR_URL": emu.twilio_url}
    env["EMULATOR_SID"], env["EMULATOR_TOKEN"] = emu.twilio_account_sid, emu.twilio_auth_token
    out = subprocess.run(
        [sys.executable, str(ROOT / "contrib" / "prometheus" / "example")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "smsbridge_messages_total{" in out.stdout
    assert "smsbridge_send_duration_seconds_bucket{" in out.stdout
    assert TO not in out.stdout
