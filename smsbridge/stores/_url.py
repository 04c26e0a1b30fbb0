"""``store_from_url``: build a store from one URL (the ``SMSBRIDGE_STORE`` setting)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    from smsbridge.stores._base import Store

__all__ = ["store_from_url"]

_FORMS = (
    "memory:, sqlite:///relative/file.db, sqlite:////absolute/file.db, "
    "redis://host:6379/0, rediss://host:6380/0 or unix:///path/to/redis.sock"
)


def store_from_url(url: str, *, variable: str = "SMSBRIDGE_STORE") -> Store:
    """The store a URL names.

    * ``memory:`` or ``memory://``: a ``MemoryStore`` (this process
      only, lost on restart).
    * ``sqlite:///data/sms.db``: a ``SQLiteStore`` on ``data/sms.db``,
      relative to the working directory; ``sqlite:////var/lib/app/sms.db``: on the absolute
      path ``/var/lib/app/sms.db``; ``sqlite:///:memory:``: on a private in-memory database.
    * ``redis://[:password@]host:port/db``, ``rediss://...`` (TLS), ``unix:///path.sock``: a
      ``RedisStore`` on that URL (its default key prefix).

    SQLite URLs follow SQLAlchemy's rule: ``sqlite://``, an empty host, one more ``/``, then
    the path exactly as written. So three slashes start a relative path and four an absolute
    one: ``sqlite:///tmp/x.db`` is ``tmp/x.db`` under the working directory, and
    ``sqlite:////tmp/x.db`` is ``/tmp/x.db``. Percent-escapes in the path are decoded (``%20``
    is a space); a host, a query string or a fragment is an error. Schemes are
    case-insensitive and surrounding whitespace is ignored.

    Examples:
        >>> from smsbridge.stores import store_from_url
        >>> store_from_url("sqlite:////var/lib/myapp/sms.db")
        SQLiteStore('/var/lib/myapp/sms.db')

    Args:
        url: the URL.
        variable: the name of the setting the URL came from, for error messages.

    Raises:
        ConfigError: (with ``.variable`` set to ``variable``) the URL is not one of the forms
            above, or the store cannot be built from it (an unopenable SQLite file, the
            ``redis`` package missing). The message names ``variable`` and never repeats a
            Redis URL, which may hold a password (an SQLite path may appear).
        StoreUnavailable: the SQLite database was locked by another process for all of its
            busy timeout while the store was being set up.
    """
    if not isinstance(url, str):
        raise ConfigError(f"{variable} must be a store URL string: {_FORMS}", variable=variable)
    text = url.strip()
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or not scheme:
        raise ConfigError(
            f"{variable} is not a store URL (no scheme); use {_FORMS}", variable=variable
        )
    if scheme == "memory":
        if rest not in ("", "//"):
            raise ConfigError(f"{variable}: memory: takes no host or path", variable=variable)
        from smsbridge.stores._memory import MemoryStore

        return MemoryStore()
    if scheme == "sqlite":
        return _sqlite(rest, variable)
    if scheme in ("redis", "rediss", "unix"):
        if not rest.startswith("//"):
            raise ConfigError(
                f"{variable}: a {scheme} URL starts with {scheme}://", variable=variable
            )
        from smsbridge.stores._redis import RedisStore

        try:
            # Rebuilt with the scheme lower-cased, as redis-py expects it.
            return RedisStore(scheme + ":" + rest)
        except ConfigError as exc:
            # RedisStore's messages never show the URL; restate them against the variable.
            raise ConfigError(f"{variable}: {exc.message}", variable=variable) from None
    raise ConfigError(f"{variable} names an unknown kind of store; use {_FORMS}", variable=variable)


def _sqlite(rest: str, variable: str) -> Store:
    """``SQLiteStore`` from what follows ``sqlite:``."""
    if not rest.startswith("//"):
        raise ConfigError(
            f"{variable}: a sqlite URL starts with sqlite:/// (then the path)", variable=variable
        )
    host, slash, path = rest[2:].partition("/")
    if host:
        raise ConfigError(
            f"{variable}: a sqlite URL has no host; use sqlite:///relative/file.db "
            "or sqlite:////absolute/file.db",
            variable=variable,
        )
    if "?" in path or "#" in path:
        raise ConfigError(
            f"{variable}: a sqlite URL takes no query string or fragment", variable=variable
        )
    path = unquote(path)
    if not slash or not path:
        raise ConfigError(
            f"{variable}: a sqlite URL needs a file path after sqlite:///", variable=variable
        )
    from smsbridge.stores._sqlite import SQLiteStore

    try:
        return SQLiteStore(path)
    except ConfigError as exc:
        raise ConfigError(f"{variable}: {exc.message}", variable=variable) from None
