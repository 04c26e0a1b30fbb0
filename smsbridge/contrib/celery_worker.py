"""A ready-made Celery worker for ``smsbridge.contrib.celery``, configured only by the
environment (no application code)::

    celery -A smsbridge.contrib.celery_worker worker

It registers two tasks on its own Celery app: ``smsbridge.send`` (one message, see
``send_task``) and ``smsbridge.send_chunk`` (one chunk of a bulk
job, see ``chunk_task``). Each worker process builds its bridge
with ``smsbridge.Bridge.from_env`` on its first task: the providers from
``SMSBRIDGE_PROVIDERS`` and their variables, the store from ``SMSBRIDGE_STORE`` (use a
``redis://`` URL: every worker then shares the idempotency keys, so retries of sends that may
have gone out and reruns of bulk jobs are answered by the store instead of sending twice, and
the rate limits). The broker is Celery's own ``CELERY_BROKER_URL`` (results, needed to wait for
a bulk job: ``CELERY_RESULT_BACKEND``).

Code in any codebase enqueues by name, without importing smsbridge::

    app.send_task(
        "smsbridge.send",
        kwargs={"to": "+14155552671", "body": "Shipped!", "idempotency_key": "shipped-42"},
    )

and a bulk job with ``smsbridge.contrib.celery.send_job`` on an app reaching this worker::

    handle = send_job(app, rows, job="newsletter-2024-06", chunk_size=500)
    print(handle.wait().as_dict())

``contrib/docker-compose.yml`` in the source repository runs this worker.
"""

from __future__ import annotations

from typing import Any

from smsbridge._bridge import Bridge
from smsbridge.contrib.celery import chunk_task, send_task

try:
    import celery
except ImportError as exc:  # pragma: no cover - depends on the environment
    from ._common import missing_extra

    raise missing_extra("celery", "celery") from exc

__all__ = ["app", "send_chunk", "send_sms"]

app = celery.Celery("smsbridge")
"""The worker's Celery app; its broker is ``CELERY_BROKER_URL``."""

send_sms: Any = send_task(app, Bridge.from_env)
"""The ``smsbridge.send`` task (see ``smsbridge.contrib.celery.send_task``)."""

send_chunk: Any = chunk_task(app, Bridge.from_env)
"""The ``smsbridge.send_chunk`` task (see ``smsbridge.contrib.celery.chunk_task``)."""
