"""What the framework adapters share beyond the core's callback runner; no framework imported.

The callback runner itself (``WebhookHandler``: the body
limit, the ``"fast"`` and ``"inline"`` modes, errors mapped to responses) is core, in
``smsbridge.webhooks._runner``: the standard library server behind ``smsbridge demo`` uses it
too. What only the adapters need stays here: the error for a missing extra, the methods an
endpoint answers, the characters a path keeps unquoted, and the URL of a WSGI request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["METHODS", "PATH_SAFE", "missing_extra", "wsgi_url"]

METHODS = ("GET", "POST")
PATH_SAFE = "/:@&+$,-_.!~*'();="


def missing_extra(framework: str, extra: str) -> ImportError:
    """The error an adapter raises when its framework is not installed."""
    return ImportError(
        f"smsbridge.contrib.{extra} needs {framework}: pip install 'smsbridge[{extra}]'"
    )


def wsgi_url(scheme: str, host: str, environ: Mapping[str, Any]) -> str:
    """The URL of a WSGI (or Django) request with the path and query exactly as sent.

    ``PATH_INFO`` is percent-decoded by the server; the raw request target (``RAW_URI`` or
    ``REQUEST_URI``, set by gunicorn, uWSGI and Werkzeug) is what the provider signed, so it
    wins when present. A ``SCRIPT_NAME`` the raw target lacks (a prefix set by a proxy fixer)
    is put in front.
    """
    script = str(environ.get("SCRIPT_NAME", "")).rstrip("/")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if isinstance(raw, str) and raw.startswith("/"):
        path = raw.split("?", 1)[0]
        prefix = quote(script, safe=PATH_SAFE)
        if prefix and not path.startswith(prefix + "/") and path != prefix:
            path = prefix + path
    else:
        path = quote(script + str(environ.get("PATH_INFO", "")), safe=PATH_SAFE) or "/"
    query = str(environ.get("QUERY_STRING", ""))
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
