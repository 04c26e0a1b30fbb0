"""``python -m benchmarks.soak``: the failover soak (docs/reliability.md).

Thousands of sends through ``Bridge([twilio, telnyx, vonage])`` against the emulator while a
chaos schedule flips each provider, every 0.2-1 s, between seven states: healthy, 503, 429,
slow, accept-then-hang, accept-then-503 and connection refused. At the end the emulator's
record of accepted messages is reconciled with what the senders reported:

* **duplicates**: a message body the emulator accepted more than once (must be 0);
* **lost**: a message reported sent that the emulator does not hold exactly once, under the
  provider and id the bridge reported (must be 0);
* **ambiguous**: reported "may have gone out", and how many of those did go out (both shown:
  an ambiguous report is honest either way, and the split shows how often it mattered);
* **refused/rejected but accepted**: a failure that says nothing went out, yet the emulator
  holds the message (must be 0).

Usage::

    python -m benchmarks.soak --messages 20000                   # one process, MemoryStore
    python -m benchmarks.soak --minutes 10 --processes 4 --store redis --restart-redis
    python -m benchmarks.soak --messages 2000 --processes 4 --store sqlite --json out.json

The senders are child processes (:mod:`benchmarks._soak_sender`), so the emulator and the
chaos (in this process) never share an interpreter with a bridge under test. The exit status is
0 when every check passed, 1 when one failed, 2 when the harness itself failed (a sender
crashed, Redis did not come back).

A duplicate the bridge creates on purpose is told apart from the rest: by default a 503 is
taken at HTTP's word as "not processed" and failed over (docs/failover.md, "What a 503 means"),
so an accept-then-503 at a provider that neither takes an idempotency key nor can be read back
(Vonage; Twilio without ``reconcile``) is sent again elsewhere. Such a duplicate (or such a
"refused but accepted") is counted, printed and attributed, but only fails the run under
``--strict``; any other is a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks._common import log, machine, now_iso
from benchmarks._soak_sender import body

__all__ = ["STATES", "Chaos", "main", "reconcile", "run_soak"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = Path(__file__).resolve().parent / "soak.json"
PROVIDERS = ("twilio", "telnyx", "vonage")

#: The chaos states and the emulator fault each one is (``None``: healthy).
STATES: dict[str, tuple[str, dict[str, Any]] | None] = {
    "healthy": None,
    "503": ("http_error", {"status": 503}),
    "429": ("rate_limit", {"retry_after": 1}),
    "slow": ("latency", {}),  # seconds drawn per window, below
    "accept_then_hang": ("accept_then_hang", {}),
    "accept_then_503": ("http_error", {"status": 503, "accept": True}),
    "refused": ("refuse", {}),
}


# -- chaos ---------------------------------------------------------------------------------------


class Chaos:
    """One thread per provider flipping its state every 0.2-1 s until stopped.

    Counts the windows of each state and the requests each fault hit (read from the emulator
    just before the fault is cleared)."""

    def __init__(self, emu: Any, seed: int, read_timeout: float) -> None:
        self.emu = emu
        self.random = random.Random(seed)
        self.read_timeout = read_timeout
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.windows: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.threads = [
            threading.Thread(target=self._flip, args=(p,), name=f"chaos-{p}", daemon=True)
            for p in PROVIDERS
        ]

    def __enter__(self) -> Chaos:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _draw(self) -> tuple[str, float]:
        with self.lock:  # random.Random is not documented as thread-safe
            state = self.random.choice(list(STATES))
            return state, self.random.uniform(0.2, 1.0)

    def _flip(self, provider: str) -> None:
        while not self.stop.is_set():
            state, seconds = self._draw()
            fault = STATES[state]
            fault_id = None
            if fault is not None:
                kind, params = fault
                if kind == "latency":
                    # Half the slow windows answer within the timeout (slow but fine), half
                    # past it (a read timeout: ambiguous, the message accepted).
                    with self.lock:
                        params = {"seconds": self.random.choice((0.1, 2 * self.read_timeout))}
                fault_id = self.emu.fault(provider, kind, **params)["id"]
            with self.lock:
                self.windows[state] += 1
            self.stop.wait(seconds)
            if fault_id is not None:
                hits = sum(f["hits"] for f in self.emu.faults() if f["id"] == fault_id)
                with self.lock:
                    self.hits[state] += hits
            self.emu.clear_faults(provider)


# -- Redis ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server without persistence on a fixed port: ``restart()`` is an outage (the
    process is killed, its data gone) followed by a fresh server on the same address."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(executable):
            raise RuntimeError("redis-server is not installed (needed by --store redis)")
        self.executable = executable
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self.process = subprocess.Popen(
            [self.executable, *args, "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self, down: float) -> None:
        self.stop()
        time.sleep(down)
        self.start()


# -- the run -------------------------------------------------------------------------------------


def _reported(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            with open(path, "rb") as file:
                total += sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 16), b""))
        except FileNotFoundError:
            pass
    return total


def run_soak(
    *,
    messages: int | None = None,
    minutes: float | None = None,
    processes: int = 1,
    store: str = "memory",
    restart_redis: bool = False,
    concurrency: int = 16,
    reconcile_twilio: bool = True,
    read_timeout: float = 0.3,
    seed: int | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Run one soak and return its report (see :func:`reconcile` for the checks)."""
    from smsbridge.testing import Emulator

    if (messages is None) == (minutes is None):
        raise ValueError("give exactly one of messages and minutes")
    if restart_redis and store != "redis":
        raise ValueError("--restart-redis needs --store redis")
    run = uuid.uuid4().hex[:8]
    seed = seed if seed is not None else random.randrange(1 << 30)
    own_dir = tempfile.TemporaryDirectory(prefix="smsbridge-soak-") if workdir is None else None
    base = Path(own_dir.name) if own_dir is not None else workdir
    assert base is not None
    redis: RedisServer | None = None
    restarts: list[dict[str, float]] = []
    try:
        if store == "redis":
            redis = RedisServer()
            redis.start()
            store_url = redis.url
        elif store == "sqlite":
            store_url = f"sqlite:///{base / 'soak.db'}"  # absolute path: four slashes in all
        elif store == "memory":
            store_url = "memory://"
        else:
            raise ValueError(f"unknown store {store!r}")
        deadline = None if minutes is None else time.time() + minutes * 60
        outputs = [base / f"sender-{p}.jsonl" for p in range(processes)]
        errors = [base / f"sender-{p}.err" for p in range(processes)]
        with Emulator(progress_delay=0, deliver_callbacks=False) as emu:
            started = time.monotonic()
            with Chaos(emu, seed, read_timeout) as chaos:
                children = []
                for p in range(processes):
                    config = {
                        "env": emu.environment(),
                        "store": store_url,
                        "run": run,
                        "process": p,
                        "processes": processes,
                        "messages": messages,
                        "deadline": deadline,
                        "concurrency": concurrency,
                        "reconcile": reconcile_twilio,
                        "read_timeout": read_timeout,
                        "output": str(outputs[p]),
                    }
                    with open(errors[p], "w") as err:
                        children.append(
                            subprocess.Popen(
                                [
                                    sys.executable,
                                    "-m",
                                    "benchmarks._soak_sender",
                                    json.dumps(config),
                                ],
                                cwd=ROOT,
                                stdout=subprocess.DEVNULL,
                                stderr=err,
                            )
                        )
                restart_due = restart_redis
                last_log = time.monotonic()
                while any(child.poll() is None for child in children):
                    time.sleep(0.1)
                    done = _reported(outputs)
                    if restart_due and redis is not None:
                        half = (
                            done >= messages / 2
                            if messages is not None
                            else deadline is not None and time.time() >= deadline - minutes * 30  # type: ignore[operator]
                        )
                        if half:
                            at = time.monotonic() - started
                            redis.restart(down=1.0)
                            restarts.append(
                                {
                                    "at": round(at, 2),
                                    "down": round(time.monotonic() - started - at, 2),
                                }
                            )
                            log(f"  redis-server killed and restarted at {at:.1f} s")
                            restart_due = False
                    if time.monotonic() - last_log >= 10:
                        log(f"  {done:,} items reported, {time.monotonic() - started:.0f} s")
                        last_log = time.monotonic()
            duration = time.monotonic() - started
            accepted = {p: emu.messages(p) for p in PROVIDERS}
            emu.clear_faults()
        crashed = [
            {"process": p, "returncode": c.returncode, "stderr": errors[p].read_text()[-2000:]}
            for p, c in enumerate(children)
            if c.returncode != 0
        ]
        items = []
        for path in outputs:
            if path.exists():
                items += [json.loads(line) for line in path.read_text().splitlines() if line]
        report = reconcile(run, accepted, items, messages)
        report["load"] = {
            "messages": len(items),
            "target_messages": messages,
            "minutes": minutes,
            "processes": processes,
            "concurrency_per_process": concurrency,
            "store": store,
            "redis_restarts": restarts,
            "twilio_reconcile": reconcile_twilio,
            "read_timeout": read_timeout,
            "duration_s": round(duration, 2),
            "rate_per_s": round(len(items) / duration, 1) if duration else 0.0,
            "seed": seed,
            "run": run,
        }
        report["faults"] = {"windows": dict(chaos.windows), "requests_hit": dict(chaos.hits)}
        report["crashed"] = crashed
        return report
    finally:
        if redis is not None:
            redis.stop()
        if own_dir is not None:
            own_dir.cleanup()


# -- reconciliation ------------------------------------------------------------------------------


def _explained_by_503(item: dict[str, Any], providers: list[str]) -> bool:
    """Whether every acceptance at ``providers`` follows a 5xx the bridge took as refused at
    that provider: the documented 503 assumption, not a bug."""
    trusted = {
        attempt[0]
        for attempt in item.get("attempts", [])
        if attempt[2] == "refused" and attempt[3] is not None and attempt[3] >= 500
    }
    return all(provider in trusted for provider in providers)


def reconcile(
    run: str,
    accepted: dict[str, list[dict[str, Any]]],
    items: list[dict[str, Any]],
    messages: int | None,
) -> dict[str, Any]:
    """Check the senders' reports (``items``) against the emulator's accepted messages.

    Returns the counts and up to ten examples of each violation."""
    prefix = f"soak-{run}-"
    held: dict[str, list[tuple[str, str]]] = {}
    for provider, records in accepted.items():
        for record in records:
            held.setdefault(record["text"], []).append((provider, record["id"]))
    by_index: dict[int, dict[str, Any]] = {}
    repeated_reports = 0
    for item in items:
        if item["index"] in by_index:
            repeated_reports += 1
        by_index[item["index"]] = item
    checks: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    examples: dict[str, list[dict[str, Any]]] = {}

    def example(kind: str, item: dict[str, Any] | None, found: list[tuple[str, str]]) -> None:
        checks[kind] += 1
        if len(examples.setdefault(kind, [])) < 10:
            examples[kind].append({"item": item, "accepted": found})

    for index, item in by_index.items():
        found = held.get(body(run, index), [])
        if item["ok"]:
            outcomes["sent"] += 1
            mine = (item["provider"], item["provider_message_id"])
            if mine not in found:
                example("lost", item, found)
            if len(found) > 1:
                others = [p for p, i in found if (p, i) != mine]
                kind = "duplicates_503" if _explained_by_503(item, others) else "duplicates"
                example(kind, item, found)
        elif item["failure"] == "ambiguous":
            outcomes["ambiguous"] += 1
            outcomes[f"ambiguous:{item['code']}"] += 1
            checks["ambiguous_accepted"] += len(found) == 1
            if len(found) > 1:
                # Which acceptance is "the" one is unknown: explained only when every
                # acceptance but one follows a 5xx taken as refused.
                trusted = [p for p, _ in found if _explained_by_503(item, [p])]
                kind = "duplicates_503" if len(trusted) >= len(found) - 1 else "duplicates"
                example(kind, item, found)
        else:
            outcomes[item["failure"]] += 1
            outcomes[f"{item['failure']}:{item['code']}"] += 1
            if found:
                kind = (
                    "refused_accepted_503"
                    if _explained_by_503(item, [p for p, _ in found])
                    else "refused_accepted"
                )
                example(kind, item, found)
    for text, found in held.items():
        if not text.startswith(prefix) or int(text[len(prefix) :]) not in by_index:
            example("accepted_unreported", None, found)
    missing = sorted(set(range(messages)) - set(by_index)) if messages is not None else []
    return {
        "checks": {
            "duplicates": checks["duplicates"],
            "duplicates_503": checks["duplicates_503"],
            "lost": checks["lost"],
            "ambiguous_reported": outcomes["ambiguous"],
            "ambiguous_accepted": checks["ambiguous_accepted"],
            "refused_accepted": checks["refused_accepted"],
            "refused_accepted_503": checks["refused_accepted_503"],
            "accepted_unreported": checks["accepted_unreported"],
            "missing_reports": len(missing),
            "repeated_reports": repeated_reports,
        },
        "outcomes": dict(sorted(outcomes.items())),
        "accepted": {p: len(r) for p, r in accepted.items()},
        "examples": examples,
    }


#: Checks that fail the run; the ``_503`` ones only under ``--strict``.
MUST_BE_ZERO = (
    "duplicates",
    "lost",
    "refused_accepted",
    "accepted_unreported",
    "missing_reports",
    "repeated_reports",
)
DOCUMENTED = ("duplicates_503", "refused_accepted_503")


def verdict(report: dict[str, Any], strict: bool = False) -> list[str]:
    """The failed checks (empty: the run passed)."""
    names = MUST_BE_ZERO + (DOCUMENTED if strict else ())
    failed = [name for name in names if report["checks"][name]]
    if report.get("crashed"):
        failed.append("crashed")
    return failed


# -- the report ----------------------------------------------------------------------------------


def text_report(report: dict[str, Any], strict: bool = False) -> str:
    """The printed report: load, faults, outcomes, checks."""
    load, checks, faults = report["load"], report["checks"], report["faults"]
    restarts = ", ".join(f"at {r['at']} s ({r['down']} s down)" for r in load["redis_restarts"])
    lines = [
        f"load        {load['messages']:,} messages, {load['processes']} process(es) x "
        f"{load['concurrency_per_process']} in flight, store {load['store']}"
        + (f", redis restarted {restarts}" if restarts else ""),
        f"            {load['duration_s']:.1f} s, {load['rate_per_s']:,.0f} msg/s; "
        f"twilio reconcile {'on' if load['twilio_reconcile'] else 'off'}; seed {load['seed']}",
        "faults      windows: "
        + ", ".join(f"{k} {v}" for k, v in sorted(faults["windows"].items())),
        "            requests hit: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(faults["requests_hit"].items())),
        "outcomes    "
        + ", ".join(f"{k} {v:,}" for k, v in report["outcomes"].items() if ":" not in k)
        + "; accepted by the emulator: "
        + ", ".join(f"{k} {v:,}" for k, v in report["accepted"].items()),
        "",
        f"{'check':<34}{'found':>8}  must be",
    ]
    rows = [
        ("duplicates", "duplicates", "0"),
        ("duplicates after an accepted 503", "duplicates_503", "0" if strict else "(documented)"),
        ("lost (reported sent, not held once)", "lost", "0"),
        ("ambiguous reported", "ambiguous_reported", "-"),
        ("  of which accepted", "ambiguous_accepted", "-"),
        ("refused/rejected yet accepted", "refused_accepted", "0"),
        (
            "  the same after an accepted 503",
            "refused_accepted_503",
            "0" if strict else "(documented)",
        ),
        ("accepted, never reported", "accepted_unreported", "0"),
        ("messages without a report", "missing_reports", "0"),
    ]
    for label, key, must in rows:
        lines.append(f"{label:<34}{checks[key]:>8,}  {must}")
    failed = verdict(report, strict)
    lines.append("")
    lines.append("PASS" if not failed else "FAIL: " + ", ".join(failed))
    for crash in report.get("crashed", []):
        lines.append(f"sender {crash['process']} exited {crash['returncode']}: {crash['stderr']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.soak`` (tests check the documented commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.splitlines()[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--messages", type=int, metavar="N", help="send N messages (default 20000)")
    size.add_argument("--minutes", type=float, metavar="N", help="send for N minutes")
    parser.add_argument("--processes", type=int, default=1, metavar="P")
    parser.add_argument("--store", choices=("memory", "sqlite", "redis"), default="memory")
    parser.add_argument("--restart-redis", action="store_true", help="kill Redis mid-run")
    parser.add_argument("--concurrency", type=int, default=16, help="in flight per process")
    parser.add_argument(
        "--no-reconcile", action="store_true", help="Twilio without read-back (reconcile=False)"
    )
    parser.add_argument("--seed", type=int, help="the chaos schedule's seed")
    parser.add_argument("--strict", action="store_true", help="documented duplicates fail too")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print the report, write the JSON; see the module docstring."""
    args = build_parser().parse_args(argv)
    if args.messages is None and args.minutes is None:
        args.messages = 20000
    log(
        f"soak: {args.messages or f'{args.minutes} min of'} messages, {args.processes} "
        f"process(es), store {args.store}{', restarting redis' if args.restart_redis else ''}"
    )
    try:
        report = run_soak(
            messages=args.messages,
            minutes=args.minutes,
            processes=args.processes,
            store=args.store,
            restart_redis=args.restart_redis,
            concurrency=args.concurrency,
            reconcile_twilio=not args.no_reconcile,
            seed=args.seed,
        )
    except (RuntimeError, ValueError) as exc:
        log(f"soak failed to run: {exc}")
        return 2
    report = {
        "date": now_iso(),
        "command": " ".join(
            ["python -m benchmarks.soak", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        **report,
        "failed": verdict(report, args.strict),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(text_report(report, args.strict))
    print(f"JSON: {args.json}")
    if report["crashed"]:
        return 2
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
