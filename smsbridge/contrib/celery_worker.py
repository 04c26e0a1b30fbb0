"""A ready-made Celery worker for :func:`smsbridge.contrib.celery.send_task`, configured only by
the environment (no application code)::

    celery -A smsbridge.contrib.celery_worker worker

It registers the task ``smsbridge.send`` on its own Celery app. Each worker process builds its
bridge with :meth:`smsbridge.Bridge.from_env` on its first task: the providers from
``SMSBRIDGE_PROVIDERS`` and their variables, the store from ``SMSBRIDGE_STORE`` (use a
``redis://`` URL, so that retries of sends that may have gone out are answered by the shared
store instead of sending twice). The broker is Celery's own ``CELERY_BROKER_URL`` (results, if
wanted: ``CELERY_RESULT_BACKEND``).

Code in any codebase enqueues by name, without importing smsbridge::

    app.send_task(
        "smsbridge.send",
        kwargs={"to": "+14155552671", "body": "Shipped!", "idempotency_key": "shipped-42"},
    )

``contrib/docker-compose.yml`` in the source repository runs this worker.
"""

from __future__ import annotations

from typing import Any

from smsbridge._bridge import Bridge
from smsbridge.contrib.celery import send_task

try:
    import celery
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("celery", "celery") from exc

__all__ = ["app", "send_sms"]

app = celery.Celery("smsbridge")
"""The worker's Celery app; its broker is ``CELERY_BROKER_URL``."""

send_sms: Any = send_task(app, Bridge.from_env)
"""The ``smsbridge.send`` task (see :func:`smsbridge.contrib.celery.send_task`)."""
