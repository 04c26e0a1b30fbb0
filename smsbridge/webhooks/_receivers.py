"""Which configured provider sent a webhook: detection over the providers' webhook codecs.

The pipeline never names a provider. Each provider's ``WebhookCodec``
declares the signature headers only it sends and recognises its own content type and shape;
a bridge groups its receiving providers by codec once, and detection asks the codecs in turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from smsbridge._errors import UnknownProvider

if TYPE_CHECKING:
    from smsbridge.providers._base import Provider, WebhookCodec
    from smsbridge.webhooks._request import WebhookRequest

__all__ = ["Receivers", "detect"]


class Receivers:
    """Providers that receive webhooks, grouped by codec in preference order; fixed once built.

    A provider without a webhook codec (a test double) receives nothing: its webhooks are
    reported as ``UnknownProvider``, never verified against nothing.
    """

    __slots__ = ("_by_header", "_groups")

    def __init__(self, groups: Mapping[WebhookCodec, tuple[Provider, ...]]) -> None:
        self._groups = dict(groups)
        self._by_header = {
            header: codec for codec in self._groups for header in codec.signature_headers
        }

    @classmethod
    def of_providers(cls, providers: Iterable[Provider]) -> Receivers:
        """``providers`` grouped by their webhook codec, in order (those without one left out)."""
        groups: dict[WebhookCodec, tuple[Provider, ...]] = {}
        for provider in providers:
            codec = type(provider).webhook_codec()
            if codec is not None:
                groups[codec] = (*groups.get(codec, ()), provider)
        return cls(groups)

    @classmethod
    def of_codecs(cls, codecs: Iterable[WebhookCodec]) -> Receivers:
        """Receivers for detection only: every codec, with no providers to verify against."""
        return cls(dict.fromkeys(codecs, ()))

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the providers that receive, in preference order."""
        return tuple(codec.name for codec in self._groups)

    def detect(self, request: WebhookRequest) -> tuple[WebhookCodec, tuple[Provider, ...]]:
        """The codec that claims ``request`` and the configured providers behind it: by
        signature header first, then by content type and shape.

        Raises:
            UnknownProvider: no receiving provider recognises the request.
        """
        headers = request.headers
        for header, codec in self._by_header.items():
            if header in headers:
                return codec, self._groups[codec]
        for codec, providers in self._groups.items():
            if codec.looks_like(request):
                return codec, providers
        configured = ", ".join(self.names) or "none"
        raise UnknownProvider(
            f"the request matches none of the providers configured to receive ({configured})"
        )


def detect(request: WebhookRequest) -> str:
    """The name of the provider ``request`` comes from, among every known provider: by
    signature header first, then by content type and shape.

    Raises:
        UnknownProvider: no known provider recognises the request.
    """
    from smsbridge.providers._registry import names, provider_class

    codecs = (provider_class(name).webhook_codec() for name in names())
    receivers = Receivers.of_codecs(codec for codec in codecs if codec is not None)
    return receivers.detect(request)[0].name
