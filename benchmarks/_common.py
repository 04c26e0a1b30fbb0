"""What the suite's benchmarks share: result rows, the machine, running a module as a child.

Every benchmark module (``_sending``, ``_memory``, ``_imports``, ``_webhooks``) has a
``run(quick, server) -> Result`` and runs as its own child process under ``python -m
benchmarks``: one benchmark's heap, imports and ``gc.freeze`` cannot then colour another's
figures, and a benchmark that fails is reported without losing the rest.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any, Literal

Op = Literal[">=", "<="]


@dataclass
class Row:
    """One line of the table: a figure beside its baseline, and the target on their ratio.

    ``ratio`` is always ``figure / baseline``; ``target`` (when there is one) bounds it. Rows
    without a target are context (e.g. the server's CPU share) and show no verdict.
    """

    benchmark: str
    figure_name: str
    figure: float
    baseline_name: str
    baseline: float
    unit: str
    op: Op | None = None
    limit: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.baseline if self.baseline else float("inf")

    @property
    def verdict(self) -> str:
        """``PASS``, ``MISS``, or ``-`` for a row without a target."""
        if self.op is None or self.limit is None:
            return "-"
        ok = self.ratio >= self.limit if self.op == ">=" else self.ratio <= self.limit
        return "PASS" if ok else "MISS"

    @property
    def target(self) -> str:
        return "" if self.op is None else f"{self.op} {self.limit:g}x"

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ratio": self.ratio,
            "target": self.target or None,
            "result": self.verdict,
        }


@dataclass
class Result:
    """What one benchmark module returns: its rows and every figure it measured."""

    name: str
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": self.seconds,
            "rows": [r.as_dict() for r in self.rows],
            "figures": self.figures,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        keep = set(Row.__dataclass_fields__)
        rows = [Row(**{k: v for k, v in r.items() if k in keep}) for r in data["rows"]]
        return cls(data["name"], rows, data["figures"], data.get("seconds", 0.0))


def log(text: str) -> None:
    """Progress on stderr (stdout of a child carries its JSON result)."""
    print(text, file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def child_main(name: str, run: Callable[[bool, dict[str, Any] | None], Result]) -> None:
    """The ``__main__`` of a benchmark module run as a child: arguments in, JSON out."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--server", help="the loopback server's JSON line")
    args = parser.parse_args()
    server = json.loads(args.server) if args.server else None
    result = run(args.quick, server)
    print(json.dumps(result.as_dict()))


# -- the machine -------------------------------------------------------------------------------

PACKAGES = (
    "smsbridge",
    "httpx",
    "aiohttp",
    "pydantic",
    "phonenumbers",
    "pynacl",
    "anyio",
    "twilio",
    "telnyx",
    "requests",
    "pyjwt",
    "vonage-jwt",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_total() -> int | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _git() -> dict[str, Any]:
    """The checkout measured: its commit and whether it has uncommitted changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        return {
            "commit": git("rev-parse", "HEAD") or None,
            "dirty": bool(git("--no-optional-locks", "status", "--porcelain")),
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def machine() -> dict[str, Any]:
    """The machine and software the figures come from."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": _memory_total(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": versions,
        "smsbridge_checkout": _git(),
        # With proxies in the environment the bridge's aiohttp session trusts it, which costs
        # a thread hop per request: figures from such a run are not comparable.
        "proxies_in_environment": bool(urllib.request.getproxies()),
        "load_average_at_start": load,
    }


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
