"""``RecordingProvider``: a provider that keeps what it is asked to send, for unit tests.

It speaks a tiny JSON format of its own to an in-memory transport (``httpx.MockTransport``), so
everything above the codec (bridge, routing, idempotency) runs for real without a server.
"""

from __future__ import annotations

import json
import threading
import uuid
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from smsbridge._models import MessageStatus, SendResult
from smsbridge.providers._base import Capabilities, Provider
from smsbridge.providers._codes import make_error

if TYPE_CHECKING:
    from smsbridge._bridge import Bridge
    from smsbridge._models import OutboundMessage

__all__ = ["RecordingProvider"]


class RecordingProvider(Provider):
    """Records every message; answers like a provider that accepts them (or fails on demand).

    Examples:
        >>> from smsbridge.testing import RecordingProvider
        >>> fake = RecordingProvider(from_="+15550001111")
        >>> sms = fake.bridge()
        >>> sms.send(to="+14155552671", body="hi").provider
        'recording'
        >>> fake.sent[0].body
        'hi'

    Args:
        name: the provider name results and attempts carry.
        from_: the sender.
        capabilities: what it claims to support (to test routing filters).
    """

    name: ClassVar[str] = "recording"
    default_base_url: ClassVar[str] = "http://recording.smsbridge.invalid"

    def __init__(
        self,
        name: str = "recording",
        *,
        from_: str | None = "+15550000000",
        capabilities: Capabilities | None = None,
    ) -> None:
        # Each instance has a host of its own, so one shared transport serves a bridge that
        # routes between several recording providers.
        token = uuid.uuid4().hex[:12]
        super().__init__(
            from_=from_,
            base_url=f"http://{token}.recording.invalid",
            timeout=None,
            capabilities=capabilities,
        )
        self.name = name  # type: ignore[misc]  # an instance may rename itself for routing tests
        self.sent: list[OutboundMessage] = []
        self._pending: dict[str, OutboundMessage] = {}
        self._failures: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        _INSTANCES[f"{token}.recording.invalid"] = self

    def fail_next(self, status: int = 503, code: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` sends with HTTP ``status`` (and provider ``code``)."""
        with self._lock:
            self._failures.extend([(status, code)] * times)

    def bridge(self, **kwargs: Any) -> Bridge:
        """A ``Bridge`` sending through this provider, in memory."""
        return self.routed(self, **kwargs)

    @staticmethod
    def routed(providers: Any, **kwargs: Any) -> Bridge:
        """A ``Bridge`` over several recording providers (a list or a policy),
        wired to the in-memory transport they share."""
        from smsbridge._bridge import Bridge

        return Bridge(
            providers,
            http_client=httpx.Client(transport=MOCK_TRANSPORT),
            async_http_client=httpx.AsyncClient(transport=MOCK_TRANSPORT),
            **kwargs,
        )

    def build_request(self, message: OutboundMessage) -> httpx.Request:
        """A request carrying the message's id; the message itself stays in memory."""
        with self._lock:
            self._pending[message.message_id] = message
        return self._request(httpx.URL(f"{self.base_url}/messages/{message.message_id}"))

    def parse_response(self, response: httpx.Response, message: OutboundMessage) -> SendResult:
        """Accepted messages become a queued result; failures the typed error."""
        payload = self._json(response) or {}
        if response.status_code == 201:
            return SendResult(
                provider=self.name,
                provider_message_id=str(payload["id"]),
                status=MessageStatus.QUEUED,
                to=message.to,
                from_=message.from_ or self.from_,
                segments=message.segments.segments if message.segments else None,
                encoding=message.segments.encoding if message.segments else None,
                reference=message.reference,
                raw=payload,
            )
        code = payload.get("code")
        raise make_error(
            self.name,
            {},
            provider_code=str(code) if code is not None else None,
            http_status=response.status_code,
            detail=f"{self.name} was told to fail with HTTP {response.status_code}",
        )

    @property
    def mock_transport(self) -> httpx.MockTransport:
        """The in-memory transport every recording provider answers on."""
        return MOCK_TRANSPORT

    def _handle(self, request: httpx.Request) -> httpx.Response:
        message_id = request.url.path.rsplit("/", 1)[-1]
        with self._lock:
            message = self._pending.pop(message_id, None)
            failure = self._failures.pop(0) if self._failures else None
            if failure is None and message is not None:
                self.sent.append(message)
        if failure is not None:
            status, code = failure
            return httpx.Response(status, json={"code": code})
        body = json.dumps({"id": f"rec-{len(self.sent)}-{message_id[:8]}"}).encode()
        return httpx.Response(201, content=body)


_INSTANCES: weakref.WeakValueDictionary[str, RecordingProvider] = weakref.WeakValueDictionary()


def _dispatch(request: httpx.Request) -> httpx.Response:
    provider = _INSTANCES.get(request.url.host)
    if provider is None:
        return httpx.Response(404, json={"code": "no such recording provider"})
    return provider._handle(request)


MOCK_TRANSPORT = httpx.MockTransport(_dispatch)
