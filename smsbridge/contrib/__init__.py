"""Framework adapters: ``smsbridge.contrib.fastapi``, ``.flask``, ``.django``, ``.celery``.

Each is thin glue around :meth:`smsbridge.Bridge.handle_webhook` (or, for Celery,
:meth:`smsbridge.Bridge.send`), with the same names in every framework:

* :mod:`smsbridge.contrib.fastapi`: ``webhook_router`` (FastAPI), ``webhook_route`` (Starlette),
  ``webhook_view`` (a plain ASGI app).
* :mod:`smsbridge.contrib.flask`: ``webhook_blueprint`` and ``webhook_view``.
* :mod:`smsbridge.contrib.django`: ``webhook_urls`` and ``webhook_view``.
* :mod:`smsbridge.contrib.celery`: ``send_task``, a send task that retries only what is safe.

Install the matching extra (``pip install 'smsbridge[fastapi]'``) before importing one; without
it the import fails with an ``ImportError`` naming the extra. Importing this package itself
imports no framework, and nothing in the core imports this package: the callback runner the
web adapters share (fast and inline modes) is :mod:`smsbridge.webhooks._runner`.
"""
