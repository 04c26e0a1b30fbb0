"""Where the messages of a bulk ``smsbridge send`` come from: a CSV file, a file of numbers, or
repeated ``--to`` flags.

Files are read lazily, one record at a time as the senders ask for the next message, so memory
stays flat whatever the file's length. What can be checked before anything is sent (the file
opens, the CSV header names known columns) is checked when the input is opened; a row that is
not a message (more cells than the header names) becomes a ``BadRow``, which
``Bridge.send_many`` reports as a failed item without sending anything.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from smsbridge.cli._send_at import SendAtError, check_future, parse_send_at

__all__ = [
    "COLUMNS",
    "BadRow",
    "CsvInput",
    "InputError",
    "Row",
    "Shared",
    "count_csv",
    "count_numbers",
    "number_file",
    "open_input",
    "text_lines",
]

#: The columns a CSV may have (``to`` is required); anything else is refused before sending.
COLUMNS = (
    "to",
    "body",
    "media_urls",
    "from",
    "reference",
    "idempotency_key",
    "region",
    "send_at",
)


class InputError(ValueError):
    """An input file that cannot be read as the command needs: missing, not UTF-8, not CSV, or
    a header with an unknown column (exit 2)."""


class Row(dict[str, Any]):
    """One message, as ``send()``'s keywords for ``Bridge.send_many``, with where it came from.

    Attributes:
        row: its record number in a CSV (the header is row 1), its line number in a file of
            numbers, or its position among the ``--to`` flags (from 1).
    """

    __slots__ = ("row",)

    def __init__(self, row: int, fields: Mapping[str, Any]) -> None:
        super().__init__(fields)
        self.row = row


@dataclass(frozen=True, slots=True)
class BadRow:
    """A CSV row that is not a message. It is deliberately not a mapping: ``send_many``
    refuses anything that is not a message before sending, so the row is reported as a failed
    item (``invalid_request``) in its place; ``problem`` says what is wrong with it."""

    row: int
    to: str
    problem: str


@dataclass(frozen=True, slots=True)
class Shared:
    """What the command line gives every message: a cell left empty (or a column the CSV does
    not have) takes the flag's value. ``send_at`` is ``--at``, already read and checked."""

    body: str = ""
    media_urls: tuple[str, ...] = ()
    from_: str | None = None
    region: str | None = None
    reference: str | None = None
    send_at: datetime | None = None

    def message(self, row: int, cells: Mapping[str, str], send_at: datetime | None = None) -> Row:
        """The message of one row: its cells over the shared values (``send_at``: the row's
        own ``send_at`` cell, read by the caller)."""
        fields: dict[str, Any] = {
            "to": cells.get("to", "").strip(),
            "body": cells.get("body") or self.body,
            # URLs hold no spaces, so whitespace separates them; `|` may appear in a URL.
            "media_urls": cells.get("media_urls", "").split() or list(self.media_urls),
        }
        for column, default in (
            ("from", self.from_),
            ("region", self.region),
            ("reference", self.reference),
            ("idempotency_key", None),
        ):
            value = cells.get(column, "").strip() or default
            if value:
                fields[column] = value
        when = send_at or self.send_at
        if when is not None:
            fields["send_at"] = when
        return Row(row, fields)


def open_input(path: str, option: str) -> IO[bytes]:
    """Open an input file (``-`` is standard input) for ``text_lines``.

    Raises:
        InputError: the file cannot be opened.
    """
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # the caller closes it
    except OSError as exc:
        raise InputError(f"cannot read {option} {path}: {exc.strerror or exc}") from None


def text_lines(file: IO[bytes]) -> Iterator[str]:
    """The file's lines as UTF-8 text, line endings kept, a leading byte-order mark skipped
    (spreadsheets write one).

    Each line is decoded on its own (not a text file's 8 KiB blocks), so bytes that are not
    UTF-8 raise ``UnicodeDecodeError`` when their own line is reached: the rows before them
    are sent, and the error names the right row.
    """
    lines = iter(file)
    first = next(lines, None)
    if first is None:
        return
    yield first.decode("utf-8").removeprefix("\ufeff")
    for line in lines:
        yield line.decode("utf-8")


class CsvInput:
    """The messages of a CSV file, read one record at a time.

    Opening reads the header and checks it, so an unknown column stops the command before
    anything is sent. Blank records are skipped (but counted in row numbers, as a spreadsheet
    counts them).

    Raises:
        InputError: the file is empty, not UTF-8 or not CSV, or its header is not usable.
    """

    def __init__(self, file: IO[bytes], name: str, shared: Shared) -> None:
        # The csv module finds line endings inside quoted cells itself, as with newline="".
        self._reader = csv.reader(text_lines(file))
        self._name = name
        self._shared = shared
        self._record = 0
        header = self._next()
        if header is None:
            raise InputError(
                f"{name} is empty: its first line must name the columns ({', '.join(COLUMNS)})"
            )
        self.columns = check_header(header, name)

    def _next(self) -> list[str] | None:
        """The next non-blank record, or ``None`` at the end."""
        try:
            for cells in self._reader:
                self._record += 1
                if any(cell.strip() for cell in cells):
                    return cells
        except csv.Error as exc:
            raise InputError(f"{self._name}, row {self._record + 1}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self._name}, row {self._record + 1}: not UTF-8 text ({exc.reason})"
            ) from None
        return None

    def __iter__(self) -> Iterator[Row | BadRow]:
        width = len(self.columns)
        while (cells := self._next()) is not None:
            # A short row leaves its last cells empty; a long one is checked below.
            cells_by_column = dict(zip(self.columns, cells, strict=False))
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                yield BadRow(
                    self._record,
                    cells_by_column.get("to", "").strip(),
                    f"row {self._record} has {len(cells)} cells but the header names {width} "
                    "columns (quote a cell that holds a comma)",
                )
                continue
            try:
                send_at = _send_at(cells_by_column.get("send_at", ""), self._record)
            except SendAtError as exc:
                # Nothing is sent for this row, whatever --at says: its own time was unusable.
                yield BadRow(self._record, cells_by_column.get("to", "").strip(), str(exc))
                continue
            yield self._shared.message(self._record, cells_by_column, send_at)


def _send_at(cell: str, record: int) -> datetime | None:
    """A ``send_at`` cell as an aware datetime in the future; ``None`` when empty.

    Raises:
        SendAtError: unreadable, without a UTC offset, or past (the row fails alone).
    """
    if not cell.strip():
        return None
    what = f"row {record}: send_at"
    return check_future(parse_send_at(cell, what), what)


def check_header(header: Sequence[str], name: str) -> tuple[str, ...]:
    """The column names of a CSV header (trimmed, lower-cased).

    Raises:
        InputError: naming the unknown, unnamed or repeated column, or the missing ``to``.
    """
    columns = tuple(cell.strip().lower() for cell in header)
    unknown = [column for column in columns if column and column not in COLUMNS]
    if unknown:
        hint = ""
        if not any(column in COLUMNS for column in columns):
            hint = " (the first line must be a header naming the columns)"
        raise InputError(
            f"{name}: unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(column) for column in unknown)}{hint}; "
            f"the columns are {', '.join(COLUMNS)}"
        )
    if "" in columns:
        raise InputError(f"{name}: column {columns.index('') + 1} of the header has no name")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise InputError(f"{name}: column {repeated[0]!r} appears more than once in the header")
    if "to" not in columns:
        raise InputError(f"{name}: the header has no 'to' column (the recipients)")
    return columns


def number_file(file: IO[bytes], name: str, shared: Shared) -> Iterator[Row]:
    """The messages of a file of numbers: one number a line; blank lines and ``#`` comments
    (whole lines or after a number) are skipped.

    Raises:
        InputError: the file is not UTF-8 text.
    """
    line = 0
    try:
        for line, text in enumerate(text_lines(file), 1):
            number = text.split("#", 1)[0].strip()
            if number:
                yield shared.message(line, {"to": number})
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}, line {line + 1}: not UTF-8 text ({exc.reason})") from None


def count_csv(path: str) -> int | None:
    """The number of messages in a CSV file (its non-blank records after the header), by a
    quick first pass for the progress bar's time left; ``None`` when it cannot tell."""
    if path == "-":
        return None  # standard input can be read once only
    try:
        with open(path, "rb") as file:
            records = sum(
                1 for cells in csv.reader(text_lines(file)) if any(c.strip() for c in cells)
            )
    except (OSError, csv.Error, UnicodeDecodeError):
        return None  # the real pass reports the problem, with its row
    return max(records - 1, 0)


def count_numbers(path: str) -> int | None:
    """The number of numbers in a file of numbers (see ``number_file``); ``None`` when it
    cannot tell."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as file:
            return sum(1 for text in text_lines(file) if text.split("#", 1)[0].strip())
    except (OSError, UnicodeDecodeError):
        return None
