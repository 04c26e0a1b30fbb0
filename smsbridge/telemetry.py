"""OpenTelemetry traces and metrics for sends and webhooks (the ``otel`` extra).

smsbridge instruments itself through the OpenTelemetry *API* (``opentelemetry-api``), as
libraries do: when the package is importable, every send and webhook reports to the global
tracer and meter providers, which do nothing until the application installs the SDK and an
exporter. Without the package, or after ``configure(enabled=False)``, nothing is recorded and
``opentelemetry`` is never imported. Nothing is imported before the first send or webhook
either way, so ``import smsbridge`` stays as light as it was.

Examples:
    >>> from opentelemetry.sdk.metrics import MeterProvider
    >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> import smsbridge.telemetry
    >>> reader = InMemoryMetricReader()  # or a Prometheus reader, an OTLP exporter...
    >>> smsbridge.telemetry.configure(  # or set the global providers, as usual
    ...     tracer_provider=TracerProvider(),
    ...     meter_provider=MeterProvider(metric_readers=[reader]),
    ... )

Spans: ``smsbridge.send`` per send, with one ``smsbridge.attempt`` child per request to a
provider, and ``smsbridge.webhook`` per webhook. Metrics: ``METRICS``. Their attributes
are listed in docs/observability.md; none carries a phone number, a body, a media URL, a
credential nor an error's text.
"""

from __future__ import annotations

from smsbridge._telemetry import (
    METRICS,
    SPAN_ATTEMPT,
    SPAN_SEND,
    SPAN_WEBHOOK,
    configure,
    enabled,
)

__all__ = ["METRICS", "SPAN_ATTEMPT", "SPAN_SEND", "SPAN_WEBHOOK", "configure", "enabled"]
