"""``python -m smsbridge``: the same as the ``smsbridge`` command."""

from __future__ import annotations

import sys

from smsbridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
