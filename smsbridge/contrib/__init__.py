"""Framework adapters: ``smsbridge.contrib.fastapi``, ``.flask``, ``.django``, ``.celery``.

Each is thin glue around ``smsbridge.Bridge.handle_webhook`` (or, for Celery,
``smsbridge.Bridge.send``), with the same names in every framework:

* ``smsbridge.contrib.fastapi``: ``webhook_router`` (FastAPI), ``webhook_route`` (Starlette),
  ``webhook_view`` (a plain ASGI app).
* ``smsbridge.contrib.flask``: ``webhook_blueprint`` and ``webhook_view``.
* ``smsbridge.contrib.django``: ``webhook_urls`` and ``webhook_view``.
* ``smsbridge.contrib.celery``: ``send_task``, a send task that retries only what is safe.

Install the matching extra (``pip install 'smsbridge[fastapi]'``) before importing one; without
it the import fails with an ``ImportError`` naming the extra. Importing this package itself
imports no framework, and nothing in the core imports this package: the callback runner the
web adapters share (fast and inline modes) is ``smsbridge.webhooks._runner``.
"""
