"""What the Celery tasks of ``smsbridge.contrib.celery`` share: each worker process's bridge,
and the registration of a task under a name of its own."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smsbridge._bridge import Bridge
from smsbridge._errors import ConfigError

if TYPE_CHECKING:
    import celery

__all__ = ["BridgeFactory", "PerProcess", "check_bridge", "register"]

BridgeFactory = Callable[[], Bridge]
"""A zero-argument callable returning a new ``Bridge``."""

# Options the registration sets itself: the task must be bound (it reads self.request), created
# now (so the caller gets the task, not a proxy) and belong to this app only (its bridge is this
# app's).
_RESERVED = ("bind", "lazy", "shared")

# A fork copies a lock in whatever state another thread left it: start each child afresh.
_lock = threading.Lock()


def _new_lock() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


class PerProcess:
    """The bridge of the current process: a given one, or made by the factory once per process.

    A bridge holds pooled connections, which must not be shared with a forked child; keyed on
    the process id, a prefork worker child makes its own on its first task.
    """

    def __init__(self, source: Bridge | BridgeFactory) -> None:
        self._source = source
        # (process id, bridge) in one attribute, so a reader never pairs one process's bridge
        # with another's id.
        self._made: tuple[int, Bridge] | None = None

    def get(self) -> Bridge:
        """This process's bridge, made on the first call in the process."""
        if isinstance(self._source, Bridge):
            return self._source
        pid, made = os.getpid(), self._made
        if made is not None and made[0] == pid:
            return made[1]
        with _lock:
            made = self._made
            if made is None or made[0] != pid:
                bridge = self._source()
                if not isinstance(bridge, Bridge):
                    raise ConfigError(
                        f"the bridge factory returned {type(bridge).__name__}, not a Bridge",
                        variable="bridge",
                    )
                made = self._made = (pid, bridge)
            return made[1]


def check_bridge(bridge: object) -> None:
    """Refuse what is neither a Bridge nor a factory of one."""
    if not isinstance(bridge, Bridge) and not callable(bridge):
        raise ConfigError("bridge must be a Bridge or a function returning one", variable="bridge")


def register(
    app: celery.Celery,
    run: Callable[..., Any],
    *,
    name: str,
    caller: str,
    options: dict[str, Any],
) -> Any:
    """Register ``run`` on ``app`` as the bound task ``name``; ``caller`` names the public
    function in errors.

    Raises:
        ConfigError: ``bind``/``lazy``/``shared`` is among the options, or ``name`` is taken.
    """
    reserved = sorted(set(options) & set(_RESERVED))
    if reserved:
        raise ConfigError(f"{caller} sets {', '.join(reserved)} itself", variable=reserved[0])
    # The registry itself: ``app.tasks`` would finalize the app before it is configured.
    if name in getattr(app, "_tasks", {}):
        raise ConfigError(f"a task named {name!r} is already registered", variable="name")
    task = app.task(run, name=name, bind=True, lazy=False, shared=False, **options)
    if getattr(task.run, "__func__", None) is not run:
        # Celery hands back the task already registered under that name, with its own bridge.
        raise ConfigError(f"a task named {name!r} is already registered", variable="name")
    return task
