"""Framework adapters: ``smsbridge.contrib.fastapi``, ``.flask``, ``.django``, ``.celery``.

Each is thin glue around :meth:`smsbridge.Bridge.handle_webhook`, with the same names in every
framework. Install the matching extra (``pip install smsbridge[fastapi]``) before importing one.
"""

from __future__ import annotations

from pathlib import Path

# The adapters' sources live in the repository's top-level ``contrib/`` folder; the wheel copies
# them into this package. In a source checkout (editable install) look there too.
_checkout = Path(__file__).resolve().parents[2]
if (_checkout / "pyproject.toml").is_file() and (_checkout / "contrib").is_dir():
    __path__.append(str(_checkout / "contrib"))
