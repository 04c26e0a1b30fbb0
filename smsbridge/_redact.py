"""One way to show a URL that may carry secrets: without credentials, query or fragment.

A forward URL (``user:pass@…?token=…``), a Redis URL (``redis://:password@…``) or a webhook URL
whose query holds a token all end up in log lines, error messages and reprs; this is the form
they take there.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url"]


def redact_url(url: str, *, unreadable: str = "<unparsable URL>") -> str:
    """``url`` with only scheme, host, port and path: safe to print, log and put in a repr.

    Characters outside ASCII are backslash-escaped (a log line stays one readable line) and
    the result is cut at 300 characters. A URL that cannot be split gives ``unreadable``.

    Example:
        >>> redact_url("https://user:secret@hooks.example.com/sms?token=abc")
        'https://hooks.example.com/sms'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return unreadable
    host = parts.netloc.rpartition("@")[2]
    shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
    return shown.encode("ascii", "backslashreplace").decode()[:300]
