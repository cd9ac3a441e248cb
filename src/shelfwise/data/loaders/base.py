"""What every loader returns, and the shared CSV reading with line-numbered errors."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shelfwise.data.validation import MalformedInput, OnError, RowError, validate_events


@dataclass
class Dataset:
    """A loaded source: canonical ``events`` (validated), optional ``items`` / ``users``
    frames in store layout, extra frames a format ships (e.g. fixed test splits), and the
    rows that were rejected or dropped, with why."""

    name: str
    events: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return int(self.events["user_id"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.events["item_id"].nunique())


def read_delimited(path: str | Path, sep: str = ",", header: bool = True,
                   names: list[str] | None = None, on_error: OnError = "fail",
                   **kwargs) -> tuple[pd.DataFrame, list[RowError]]:
    """Read a delimited file as text columns plus ``line`` (1-based line in the file).

    Rows with the wrong number of fields are reported by line; with ``on_error="fail"``
    they raise ``MalformedInput``, with ``"skip"`` they are left out and returned.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep=sep, header=0 if header else None, names=names,
                            dtype=str, keep_default_na=False, na_values=[""],
                            on_bad_lines="error", **kwargs)
        bad: list[RowError] = []
        first_data_line = 2 if header else 1
        frame["line"] = range(first_data_line, first_data_line + len(frame))
    except pd.errors.ParserError:
        frame, bad = _read_ragged(path, sep, header, names)
    if bad and on_error == "fail":
        raise MalformedInput(bad, str(path))
    return frame, bad


def _read_ragged(path: Path, sep: str, header: bool, names):
    """Slow path for files with ragged rows: the csv module tells exact line numbers."""
    rows, lines, bad = [], [], []
    with path.open(newline="", encoding="utf-8-sig") as fh:  # BOM-safe
        reader = csv.reader(fh, delimiter=sep)
        columns = names
        for row in reader:
            if header and columns is None:
                columns = [c.strip() for c in row]
                continue
            if columns is None:
                columns = list(range(len(row)))
            if not row:
                continue
            if len(row) != len(columns):
                bad.append(RowError(reader.line_num, "row",
                                    f"expected {len(columns)} fields, got {len(row)}"))
                continue
            rows.append(row)
            lines.append(reader.line_num)
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    frame = frame.mask(frame == "")
    frame["line"] = lines
    return frame, bad


def finish(name: str, raw: pd.DataFrame, on_error: OnError, source: str,
           pre_errors: list[RowError] | None = None, **parts) -> Dataset:
    """Validate ``raw`` into a Dataset, merging errors found while reading; in fail mode
    every bad row of the file (ragged or invalid) is listed in one ``MalformedInput``."""
    events, errors = validate_events(raw, on_error="skip", source=source)
    errors = sorted((pre_errors or []) + errors, key=lambda e: e.line)
    if errors and on_error == "fail":
        raise MalformedInput(errors, source)
    return Dataset(name=name, events=events, errors=errors, **parts)
