"""Import + ready: what it costs to start using smsbridge, beside its dependencies and telnyx.

Four snippets, each timed inside a fresh interpreter (``time.perf_counter`` around the
snippet, so the interpreter's own start-up, the same for all, is left out and the
ratios are of the imports alone):

(a) the floor: ``import httpx, pydantic, phonenumbers, nacl.signing``, the dependencies
    smsbridge cannot do without;
(b) smsbridge ready to send: ``import smsbridge``, ``from smsbridge.providers import Twilio,
    Telnyx``, ``Bridge([Twilio(...), Telnyx(...)])`` and one ``smsbridge.to_e164``;
(c) ``import telnyx``, the official SDK;
(d) for context, (b) and then one ``bridge.message(...)`` built: what (b) defers to the first
    message (pydantic and the models' schemas) shows here.

The four are interleaved run by run (so a busy moment slows them alike) after one untimed
run of each (so every ``.pyc`` is written); the figure is the median of the runs. Targets:
b/a <= 1.3 and c/b >= 5.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from benchmarks._common import Result, Row, child_main, log, median

FLOOR = "import httpx, pydantic, phonenumbers, nacl.signing"
READY = """\
import smsbridge
from smsbridge.providers import Telnyx, Twilio
bridge = smsbridge.Bridge([
    Twilio("AC" + "0" * 32, "auth-token", from_="+15017122661"),
    Telnyx("KEY0123456789", public_key="%s", from_="+13125550100"),
])
assert smsbridge.to_e164("+14155552671") == "+14155552671"
""" % ("A" * 43 + "=")  # any 32-byte key in base64
TELNYX = "import telnyx"
# Context: what getting ready defers (pydantic, the models' schemas) is paid here instead.
FIRST_MESSAGE = READY + 'bridge.message("+14155552671", "Your code is 123456")\n'
SNIPPETS = {
    "floor": FLOOR,
    "smsbridge_ready": READY,
    "telnyx": TELNYX,
    "smsbridge_ready_first_message": FIRST_MESSAGE,
}

_TIMED = """\
import time
_start = time.perf_counter()
{code}
_elapsed = time.perf_counter() - _start
import sys
print(repr(_elapsed), len(sys.modules))
"""


def _env() -> dict[str, str]:
    # Nothing that changes what an import costs: no import-time tracing, no bytecode switch.
    skip = {"PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "PYTHONTRACEMALLOC"}
    return {k: v for k, v in os.environ.items() if k not in skip}


def time_snippet(code: str) -> tuple[float, int]:
    """Seconds ``code`` takes in a fresh interpreter, and the modules loaded by then."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(code=code)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env=_env(),
    )
    seconds, modules = done.stdout.split()
    return float(seconds), int(modules)


def run(quick: bool, server: dict[str, Any] | None = None) -> Result:
    """Median of 21 interleaved runs of each snippet (5 with ``quick``)."""
    runs = 5 if quick else 21
    for code in SNIPPETS.values():  # untimed: compile and cache every module once
        time_snippet(code)
    times: dict[str, list[float]] = {name: [] for name in SNIPPETS}
    modules: dict[str, int] = {}
    for i in range(runs):
        for name, code in SNIPPETS.items():
            seconds, modules[name] = time_snippet(code)
            times[name].append(seconds)
        if (i + 1) % 5 == 0 or i + 1 == runs:
            log(
                f"imports {i + 1}/{runs}: "
                + ", ".join(f"{n} {median(t) * 1e3:.0f} ms" for n, t in times.items())
            )
    ms = {name: median(t) * 1e3 for name, t in times.items()}
    rows = [
        Row(
            "import + ready",
            "smsbridge import + ready",
            ms["smsbridge_ready"],
            "floor (httpx, pydantic, phonenumbers, nacl)",
            ms["floor"],
            "ms",
            "<=",
            1.3,
        ),
        Row(
            "import + ready",
            "import telnyx",
            ms["telnyx"],
            "smsbridge import + ready",
            ms["smsbridge_ready"],
            "ms",
            ">=",
            5,
        ),
        Row(
            "import + ready",
            "ready + first message built",
            ms["smsbridge_ready_first_message"],
            "floor (httpx, pydantic, phonenumbers, nacl)",
            ms["floor"],
            "ms",
            note="context: the cost ready defers to the first message",
        ),
    ]
    figures = {
        "runs": runs,
        "median_ms": ms,
        "min_ms": {name: min(t) * 1e3 for name, t in times.items()},
        "all_ms": {name: [s * 1e3 for s in t] for name, t in times.items()},
        "modules_loaded": modules,
        "snippets": SNIPPETS,
    }
    return Result("imports", rows, figures)


if __name__ == "__main__":
    child_main("_imports", run)
