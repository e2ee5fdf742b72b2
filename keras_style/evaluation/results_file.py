"""The resumable `results.csv` of an evaluation: one row per (method, content, style)."""

from __future__ import annotations

import csv
import io
import math
import os
import secrets

from keras_style.errors import StyleError
from keras_style.evaluation.metrics import E_BLOCK_COLUMNS

COLUMNS = (
    "method",
    "content",
    "style",
    "style_image",
    "effectiveness",
    *E_BLOCK_COLUMNS,
    "texture_rank",
    "texture_hit",
    "coherence",
    "palette",
    "style_loss",
    "content_loss",
    "seconds",
    "peak_rss_mib",
    "width",
    "height",
    "image_size",
    "iterations",
)
NUMERIC_COLUMNS = ("effectiveness", *E_BLOCK_COLUMNS, "texture_rank", "texture_hit", "coherence", "palette",
                   "style_loss", "content_loss", "seconds", "peak_rss_mib")
# Rows made with other values of these would not be comparable: a rerun must use the same.
SETTINGS_COLUMNS = ("image_size", "iterations")


def row_key(row) -> tuple[str, str, str]:
    """The identity of a row: (method, content, style)."""
    return row["method"], row["content"], row["style"]


class ResultsFile:
    """An append-only CSV of evaluation rows that survives being killed.

    Each `append` writes one complete line, flushes and fsyncs it, so a kill
    loses at most the pair being computed. Opening an existing file drops a
    torn last line (and any malformed row) by rewriting the file atomically;
    rows already present are reported by `keys` so a rerun skips them.

    Args:
      path: the CSV file.
      create: write the header now if the file is missing (and drop torn lines
        now); otherwise that waits for `create()` or the first `append`, so a
        caller that still refuses its input leaves the file as it was, or none.

    Raises:
      StyleError: the file exists with other columns (written by another
        version: the message names the columns that differ), or cannot be
        read or written.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True):
        self.path = os.fspath(path)
        self.rows: list[dict[str, str]] = []
        self._stale = False  # the file holds torn or malformed lines, to be rewritten
        if os.path.exists(self.path):
            self._load()
        if create:
            self.create()

    def create(self):
        """Writes the header (and any rows held) if the file does not exist yet, or
        rewrites it without the torn or malformed lines found on opening."""
        if self._stale or not os.path.exists(self.path):
            self._rewrite()
            self._stale = False

    def _load(self):
        try:
            with open(self.path, newline="", encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise StyleError(f"cannot read '{self.path}': {e.strerror or e}") from None
        # A line without its newline was torn by a kill: never trust it.
        complete = text if text.endswith("\n") or not text else text[: text.rfind("\n") + 1]
        reader = csv.reader(io.StringIO(complete))
        header = next(reader, None)
        if header is None:
            # With create=False the caller may still refuse its input: rewrite in create().
            self._stale = True
            return
        if tuple(header) != COLUMNS:
            raise StyleError(
                f"'{self.path}' was written by another version of style_evaluate ({_column_difference(header)}), "
                "so its rows cannot be resumed; use another --output_dir, or delete the file to compute them again"
            )
        seen = {}
        for values in reader:
            row = dict(zip(COLUMNS, values)) if len(values) == len(COLUMNS) else None
            if row is None or not _numbers_ok(row):
                continue  # torn or hand-edited: recomputed on this run
            seen[row_key(row)] = row  # a duplicate keeps the latest
        self.rows = list(seen.values())
        if complete != text or len(self.rows) != max(0, complete.count("\n") - 1):
            self._stale = True

    def _rewrite(self):
        """Writes header + rows to a temporary file and renames it over `path`."""
        directory, base = os.path.split(os.path.abspath(self.path))
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(self.rows)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            raise StyleError(f"cannot write '{self.path}': {e.strerror or e}; check free space and permissions") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def keys(self) -> set[tuple[str, str, str]]:
        """(method, content, style) of every row present."""
        return {row_key(row) for row in self.rows}

    def check_settings(self, settings: dict[str, str]):
        """Raises StyleError if existing rows were made with other `SETTINGS_COLUMNS` values."""
        for row in self.rows:
            for name in SETTINGS_COLUMNS:
                if row[name] and settings.get(name) and row[name] != settings[name]:
                    raise StyleError(
                        f"'{self.path}' holds results made with --{name}={row[name]}, not {settings[name]}; "
                        "use the same settings to resume, or another --output_dir"
                    )

    def append(self, row: dict):
        """Appends one row (missing columns blank, NaN blank) durably."""
        self.create()
        line = {name: _format(row.get(name)) for name in COLUMNS}
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=COLUMNS).writerow(line)
        try:
            with open(self.path, "a", newline="", encoding="utf-8") as f:
                f.write(buffer.getvalue())
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise StyleError(f"cannot write '{self.path}': {e.strerror or e}; check free space and permissions") from None
        self.rows.append(line)


def parse_float(value: str) -> float:
    """A CSV cell as a float; blank is NaN."""
    return float(value) if value not in ("", None) else math.nan


def _column_difference(header) -> str:
    """What sets a results.csv header apart from `COLUMNS`, in words (e.g. a file from
    before the palette column: "it lacks the column palette")."""
    missing = [name for name in COLUMNS if name not in header]
    extra = [name for name in header if name not in COLUMNS]
    parts = []
    if missing:
        parts.append(f"it lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)}")
    if extra:
        parts.append(f"it has the column{'s' * (len(extra) > 1)} {', '.join(extra)}, unknown here")
    return "; ".join(parts) or "its columns are in another order"


def _numbers_ok(row) -> bool:
    try:
        for name in NUMERIC_COLUMNS:
            parse_float(row[name])
    except ValueError:
        return False
    return True


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)
