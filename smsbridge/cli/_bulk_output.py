"""What a bulk ``smsbridge send`` shows and writes: one outcome per message (a JSON line, a
row of the results CSV), the progress bar on a terminal, and the summary.

Nothing here prints a message's body or a credential: an outcome holds the recipient, the
reference, the provider's answer and the error's code and readable message (which the errors
keep free of secrets).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, cast

from smsbridge.cli._bulk_input import BadRow, Row

if TYPE_CHECKING:
    from smsbridge.bulk import BulkItem, BulkProgress

__all__ = [
    "RESULT_COLUMNS",
    "ProgressBar",
    "ResultsFile",
    "failure_line",
    "json_line",
    "outcome",
    "summary",
    "summary_lines",
]

#: The columns of ``--results``, in order; the keys of every JSON line too.
RESULT_COLUMNS = (
    "index",
    "row",
    "to",
    "reference",
    "ok",
    "resumed",
    "provider",
    "provider_message_id",
    "status",
    "code",
    "failure",
    "message",
)
_TOP_CODES = 3  # failure codes the progress bar names; the summary names them all
_BAR = (
    "{percentage:3.0f}%|{bar:12}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
)


def outcome(item: BulkItem) -> dict[str, Any]:
    """One message's outcome, keyed by ``RESULT_COLUMNS``."""
    raw, message, result, error = item.input, item.message, item.result, item.error
    # An input this command did not read is numbered as the inputs were given.
    row = raw.row if isinstance(raw, (Row, BadRow)) else item.index + 1
    to: str | None
    reference: str | None
    if message is not None:
        to, reference = message.to, message.reference
    elif isinstance(raw, BadRow):
        to, reference = raw.to, None
    elif isinstance(raw, Mapping):
        to, reference = raw.get("to"), raw.get("reference")  # as written: it did not validate
    else:
        to = reference = None
    if error is not None and isinstance(raw, BadRow):
        text: str | None = raw.problem  # the library's words would be about the Python type
    else:
        text = error.message if error is not None else None
    return {
        "index": item.index,
        "row": row,
        "to": to,
        "reference": reference,
        "ok": item.ok,
        "resumed": item.resumed,
        "provider": result.provider if result else (error.provider if error else None),
        "provider_message_id": result.provider_message_id if result else None,
        "status": result.status.value if result else None,
        "code": error.code if error else None,
        "failure": error.failure if error else None,
        "message": text,
    }


def json_line(data: Mapping[str, Any]) -> str:
    """``data`` as one compact line of JSON."""
    return json.dumps(data, separators=(",", ":"))


class ResultsFile:
    """The ``--results`` CSV: a header, then one row per message as it finishes (completion
    order; ``index`` gives the input order). Each row is flushed, so a run that is killed
    leaves a valid file of what finished."""

    def __init__(self, path: str) -> None:
        # OSError (a missing folder, no permission) surfaces before anything is sent.
        self._file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (see close)
        self._writer = csv.writer(self._file)
        self._writer.writerow(RESULT_COLUMNS)
        self._file.flush()

    def write(self, data: Mapping[str, Any]) -> None:
        """Add one outcome and flush it."""
        self._writer.writerow([_cell(data[column]) for column in RESULT_COLUMNS])
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ProgressBar:
    """The live progress bar on a terminal: done of total, rate, time left, and the counts of
    sent, resumed, failed (with the commonest codes) and ambiguous messages.

    tqdm is imported here, when a bar is shown: neither ``import smsbridge`` nor a one-message
    ``smsbridge send`` nor a bulk send writing JSON lines pays for it.
    """

    def __init__(self, total: int | None, stream: IO[str], *, job: str | None) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self._stream = stream
        self._job = job
        self._bar = tqdm(
            total=total,
            unit="msg",
            file=stream,
            dynamic_ncols=True,
            smoothing=0.05,  # a steadier rate and time left than tqdm's default 0.3
            # A short bar leaves the line's room to the counts (tqdm's default fills it).
            bar_format=_BAR if total is not None else None,
        )

    def update(self, progress: BulkProgress) -> None:
        """Count one more finished message."""
        self._bar.set_postfix_str(postfix(progress, job=self._job), refresh=False)
        self._bar.update(1)

    def note(self, line: str) -> None:
        """Print a line above the bar."""
        self._bar.write(line, file=self._stream)

    def close(self) -> None:
        """Draw the bar a last time and leave it on the screen."""
        self._bar.close()

    @staticmethod
    def logging_above() -> contextlib.AbstractContextManager[None]:
        """While active, log lines print above the bar instead of through it."""
        from tqdm.contrib.logging import logging_redirect_tqdm  # type: ignore[import-untyped]

        return cast("contextlib.AbstractContextManager[None]", logging_redirect_tqdm())


def postfix(progress: BulkProgress, *, job: str | None = None) -> str:
    """The counts the bar shows after its rate (resumed ones when there is a job to resume,
    or some were)."""
    codes = sorted(progress.failed_by_code.items(), key=lambda pair: (-pair[1], pair[0]))
    named = ", ".join(f"{code}={count}" for code, count in codes[:_TOP_CODES])
    if len(codes) > _TOP_CODES:
        named += ", …"
    failed = f"failed={progress.failed}" + (f" ({named})" if named else "")
    resumed = f" resumed={progress.resumed}" if job or progress.resumed else ""
    # The codes come last: on a narrow terminal tqdm cuts the line's end.
    return f"sent={progress.sent}{resumed} ambiguous={progress.ambiguous} {failed}"


def failure_line(data: Mapping[str, Any]) -> str:
    """One failed message, for a person: its row, recipient, code and message."""
    to = data["to"] or "(no number)"
    return f"row {data['row']} {to}: {data['code']} ({data['failure']}): {data['message']}"


def summary(
    progress: BulkProgress, *, job: str | None, interrupted: bool, error: str | None
) -> dict[str, Any]:
    """The final counts, as the last JSON line holds them."""
    data = progress.as_dict()
    data.update(job=job, interrupted=interrupted, error=error)
    return data


def summary_lines(
    progress: BulkProgress, *, job: str | None, interrupted: bool, results: str | None
) -> list[str]:
    """The summary for a person."""
    lines = [
        f"{progress.done} message{'' if progress.done == 1 else 's'} in "
        f"{progress.elapsed:.1f}s ({progress.rate:.1f}/s): "
        f"{progress.sent} sent, {progress.resumed} resumed, {progress.failed} failed, "
        f"{progress.ambiguous} ambiguous"
    ]
    if progress.resumed:
        lines.append(
            f"resumed: {progress.resumed} were sent by an earlier run of job {job!r}; "
            "not sent again"
        )
    if progress.failed_by_code:
        codes = sorted(progress.failed_by_code.items(), key=lambda pair: (-pair[1], pair[0]))
        lines.append("failed by code: " + ", ".join(f"{code} {count}" for code, count in codes))
    if progress.ambiguous:
        again = "a rerun of the job will not send them" if job else "check before re-sending"
        lines.append(
            f"ambiguous: {progress.ambiguous} may or may not have been sent and were not sent "
            f"again ({again})"
        )
    if interrupted:
        rest = (
            "run the same command again to send the rest (what was sent is skipped)"
            if job
            else "without --job a rerun sends every message again: see which were sent in "
            "the results"
        )
        lines.append(f"interrupted: no new messages were taken after Ctrl-C; {rest}")
    if results:
        lines.append(f"results: {results}")
    return lines
