"""``python -m benchmarks``: run the benchmark suite, print the table, write the JSON.

Usage::

    python -m benchmarks                     # everything (about ten minutes on 2 cores)
    python -m benchmarks --quick             # small N everywhere: a smoke run, figures rough
    python -m benchmarks --only webhooks     # one benchmark (repeat or comma-separate for more)
    python -m benchmarks --json out.json     # elsewhere than benchmarks/results.json
    python -m benchmarks --markdown          # also print the table as Markdown

Benchmarks: ``sending`` (asend_many and send_many beside the twilio SDK and a bare aiohttp
session), ``memory`` (asend_many over 100,000 messages vs 1,000), ``imports`` (import + ready
vs the dependencies and vs telnyx), ``webhooks`` (handle_webhook vs each SDK's verifier),
``webhook_load`` (``smsbridge serve`` and the FastAPI adapter under 20,000 signed webhooks from
50 senders, beside an SDK-built endpoint; see :mod:`benchmarks._webhook_load`). Each
runs in its own child process; ``sending`` and ``memory`` share one loopback server (another
process: see :mod:`benchmarks._server`). Every ratio is of figures measured in the same run.

The exit status is 0 when every benchmark ran (a MISS is a result, not a failure) and 1 when
one of them failed to run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import Result, Row, log, machine, now_iso
from benchmarks._server import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = {
    "sending": "benchmarks._sending",
    "memory": "benchmarks._memory",
    "imports": "benchmarks._imports",
    "webhooks": "benchmarks._webhooks",
    "webhook_load": "benchmarks._webhook_load",
}
NEEDS_SERVER = {"sending", "memory"}
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


def _run_child(name: str, quick: bool, server: dict[str, Any] | None) -> Result:
    command = [sys.executable, "-m", BENCHMARKS[name]]
    if quick:
        command.append("--quick")
    if server is not None:
        command += ["--server", json.dumps(server)]
    start = time.perf_counter()
    # stderr is inherited: the child's progress lines show as it runs.
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{' '.join(command[:3])} exited with status {done.returncode}")
    result = Result.from_dict(json.loads(done.stdout.strip().splitlines()[-1]))
    result.seconds = time.perf_counter() - start
    return result


# -- the table ----------------------------------------------------------------------------------


def _value(value: float, unit: str) -> str:
    if unit == "msg/s":
        return f"{value:,.0f} msg/s"
    if unit == "MiB":
        return f"{value:.2f} MiB"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    return f"{value:,.1f} {unit}"


def _cells(row: Row) -> list[str]:
    return [
        row.benchmark,
        row.figure_name,
        _value(row.figure, row.unit),
        row.baseline_name,
        _value(row.baseline, row.unit),
        f"{row.ratio:.2f}x",
        row.target or "-",
        row.verdict,
    ]


HEADER = ["benchmark", "figure", "value", "baseline", "value", "ratio", "target", "result"]


def table(rows: list[Row]) -> str:
    """The plain-text table, columns padded to fit."""
    lines = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    right = {2, 4, 5}  # numbers line up on the right
    out = []
    for line in lines:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown(rows: list[Row]) -> str:
    """The same table in Markdown (for docs/performance.md)."""
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        line = " | ".join(_cells(row)).replace("<=", "≤").replace(">=", "≥")
        out.append(
            "| " + line.replace(" us CPU/msg", " µs CPU/msg").replace(" us/call", " µs/call") + " |"
        )
    return "\n".join(out)


def _selected(only: list[str]) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(
            f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}"
        )
    return [n for n in BENCHMARKS if n in names]  # always in the suite's order


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks`` (tests check the documented commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="small N: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"one of {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--server-workers", type=int, default=1, metavar="N", help="loopback server processes"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks, print the table, write the JSON; see the module doc."""
    args = build_parser().parse_args(argv)
    names = _selected(args.only)
    report: dict[str, Any] = {
        "date": now_iso(),
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "machine": machine(),
        "benchmarks": {},
    }
    results: list[Result] = []
    failed: list[str] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        server: LoopbackServer | None = None
        if NEEDS_SERVER & set(names):
            server = stack.enter_context(LoopbackServer(args.server_workers))
            report["server"] = {"workers": args.server_workers, "base_url": server.base_url}
        for name in names:
            log(f"== {name}")
            info = server.info if server is not None and name in NEEDS_SERVER else None
            try:
                result = _run_child(name, args.quick, info)
            except Exception as exc:  # reported, and the rest still runs
                log(f"{name} failed: {exc}")
                failed.append(name)
                report["benchmarks"][name] = {"name": name, "error": str(exc)}
                continue
            results.append(result)
            report["benchmarks"][name] = result.as_dict()
    rows = [row for result in results for row in result.rows]
    verdicts = [row.verdict for row in rows if row.verdict != "-"]
    report["seconds"] = time.perf_counter() - started
    report["load_average_at_end"] = list(os.getloadavg())
    report["summary"] = {
        "rows": [row.as_dict() for row in rows],
        "passed": verdicts.count("PASS"),
        "missed": verdicts.count("MISS"),
        "failed_to_run": failed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")

    print()
    print(table(rows))
    notes = [f"  {row.benchmark} / {row.figure_name}: {row.note}" for row in rows if row.note]
    if notes:
        print("\nnotes:\n" + "\n".join(notes))
    if args.markdown:
        print()
        print(markdown(rows))
    m = report["machine"]
    print()
    print(
        f"{verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS"
        + (f", failed to run: {', '.join(failed)}" if failed else "")
        + f"; {report['seconds']:.0f} s{' (--quick: rough figures)' if args.quick else ''}"
    )
    load = m["load_average_at_start"][:1]
    print(f"{m['cpu_model']}, {m['cpu_count']} CPUs, {m['python']}; load at start {load}")
    print(f"JSON: {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
