"""What a training run keeps in its model directory besides checkpoints: the lock that
stops two runs from writing over each other, and the run's settings (`run_config.json`)
that a resumed run must match. Also the checkpoints a resume may start from, newest first.

TensorFlow-free except `unreadable_reason`, so commands can run these checks before
TensorFlow loads.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import re
import socket
import threading
from typing import Callable

from keras_style import files
from keras_style.errors import StyleError

LOCK_FILE = ".lock"
RUN_CONFIG_FILE = "run_config.json"
# The part of run_config.json a resumed run must match; the rest records the latest run.
MODEL_SETTINGS = "model"

_CHECKPOINT = re.compile(r"^ckpt-(\d+)(?:\.index|\.data-\d+-of-\d+)$")

# Locks this process holds: {lock path: [open file, holders]}. flock conflicts between two
# open files even within one process, and one process may build several Trainers on one
# directory in turn (resume in a notebook, tests); those share the lock.
_held: dict[str, list] = {}
_held_guard = threading.Lock()


def lock_file_name(worker: str | None = None) -> str:
    """The lock of the chief (`worker` None) or of one other worker ("worker_1"): each
    worker of a multi-worker run locks its own file, so they never block each other,
    yet a second cluster on the same directory is refused on every worker."""
    return LOCK_FILE if worker is None else f"{LOCK_FILE}-{worker}"


def _owner(text: str) -> str:
    """'pid N' (or 'pid N on HOST' when another machine wrote the lock) from a lock file's text."""
    fields = text.split()
    if not fields:
        return "unknown pid"
    pid = f"pid {fields[0]}"
    return pid if len(fields) < 2 or fields[1] == socket.gethostname() else f"{pid} on {fields[1]}"


class ModelDirLock:
    """An exclusive `fcntl.flock` on `model_dir/<name>`, held from `acquire` to `release`.

    The lock file holds "PID HOST" while locked and is emptied on release; the kernel
    drops the lock when its process dies, so a lock file that still names a process but
    is not locked was left by a run that was killed, and is taken over with a note.
    """

    def __init__(self, model_dir: str, name: str = LOCK_FILE, log: Callable[[str], None] | None = None):
        self.model_dir = model_dir
        self.path = os.path.join(os.path.realpath(model_dir), name)  # one key however it is spelled
        self._log = log or (lambda message: None)
        self.held = False

    def acquire(self) -> None:
        """Takes the lock (again, if released); raises StyleError if another run holds it."""
        if self.held:
            return
        with _held_guard:
            entry = _held.get(self.path)
            if entry is not None:
                entry[1] += 1
                self.held = True
                return
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                handle = open(self.path, "a+")
            except OSError as e:
                raise StyleError(f"cannot lock --model_dir {self.model_dir}: {e.strerror or e}") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                handle.seek(0)
                owner = _owner(handle.read())
                handle.close()
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StyleError(
                        f"--model_dir {self.model_dir} is in use by another training run ({owner})"
                    ) from None
                raise StyleError(f"cannot lock --model_dir {self.model_dir}: {e.strerror or e}") from None
            handle.seek(0)
            previous = handle.read().strip()
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()} {socket.gethostname()}\n")
            handle.flush()
            _held[self.path] = [handle, 1]
            self.held = True
        if previous:
            self._log(f"note: took over the lock on {self.model_dir} left by {_owner(previous)}, "
                      "which is no longer running")

    def release(self) -> None:
        """Releases this holder's share; the last one empties the file and unlocks it."""
        if not self.held:
            return
        self.held = False
        with _held_guard:
            entry = _held.get(self.path)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[self.path]
            handle = entry[0]
            try:
                handle.truncate(0)  # an empty lock file was released cleanly
                handle.flush()
            except OSError:
                pass
            handle.close()  # closing the file drops the flock

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# --- the run's settings ---------------------------------------------------------------------


def run_config_path(model_dir: str) -> str:
    return os.path.join(model_dir, RUN_CONFIG_FILE)


def read_run_config(model_dir: str) -> dict | None:
    """The settings saved by the run that started `model_dir`, or None (none saved, e.g. a
    directory from before run configs were saved; an unreadable file counts as none)."""
    try:
        with open(run_config_path(model_dir), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get(MODEL_SETTINGS), dict) else None


def write_run_config(model_dir: str, record: dict) -> None:
    """Writes `record` ({"model": {...}, ...}) to `model_dir/run_config.json` atomically."""
    os.makedirs(model_dir, exist_ok=True)
    data = json.dumps(record, indent=2, sort_keys=True, default=str).encode("utf-8") + b"\n"
    files.write_atomically(data, run_config_path(model_dir), overwrite=True)


def _identity(value):
    # A file recorded with its content hash is the same file wherever it has moved.
    if isinstance(value, dict) and "sha256" in value:
        return value["sha256"]
    return json.dumps(value, sort_keys=True)


def _shown(value) -> str:
    if isinstance(value, dict) and "path" in value:
        return str(value["path"])
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def changed_settings(saved: dict, current: dict) -> list[str]:
    """["name old -> new", ...] for every model setting that differs between two records'
    "model" parts (a setting present in only one of them counts as changed)."""
    old, new = saved.get(MODEL_SETTINGS, {}), current.get(MODEL_SETTINGS, {})
    missing = object()
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, missing), new.get(name, missing)
        if a is missing or b is missing or _identity(a) != _identity(b):
            before, after = ("(unset)" if v is missing else _shown(v) for v in (a, b))
            changes.append(f"{name} {before} -> {after}")
    return changes


def check_resume_settings(model_dir: str, current: dict, allow_change: bool = False) -> list[str]:
    """Refuses to resume `model_dir` with model, data or style settings other than those
    its run was started with (`run_config.json`), in one StyleError line naming each
    change (old -> new), unless `allow_change`. Returns the changes."""
    saved = read_run_config(model_dir)
    changes = [] if saved is None else changed_settings(saved, current)
    if changes and not allow_change:
        raise StyleError(
            f"--model_dir {model_dir} holds a run trained with other settings ({'; '.join(changes)}); rerun with "
            f"the settings in {run_config_path(model_dir)}, pass --allow_config_change to continue it anyway, or "
            "fine-tune with --init_from=EXPORT and a new --model_dir"
        )
    return changes


# --- checkpoints -----------------------------------------------------------------------------


def checkpoint_step(prefix: str) -> int:
    """N of a `.../ckpt-N` prefix."""
    return int(prefix.rsplit("-", 1)[1])


def checkpoint_candidates(model_dir: str) -> list[str]:
    """The `ckpt-N` prefixes with any file in `model_dir`, newest (highest step) first.

    Read from the files on disk rather than the `checkpoint` state file, so that a
    checkpoint with a missing or damaged file, or a damaged state file, is still seen.
    """
    prefixes = set()
    for path in glob.glob(os.path.join(glob.escape(model_dir), "ckpt-*")):
        match = _CHECKPOINT.match(os.path.basename(path))
        if match:
            prefixes.add(os.path.join(model_dir, f"ckpt-{match.group(1)}"))
    return sorted(prefixes, key=checkpoint_step, reverse=True)


def unreadable_reason(prefix: str) -> str | None:
    """Why the checkpoint `prefix` cannot be read (a missing, empty or truncated file), or
    None when its index and every tensor in it read."""
    import tensorflow as tf

    if not os.path.exists(prefix + ".index"):
        return "its .index file is missing"
    if not glob.glob(glob.escape(prefix) + ".data-*"):
        return "its .data file is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    # A truncated data file raises IndexError ("Read less bytes than requested") from the reader.
    except (tf.errors.OpError, IndexError, ValueError, OSError) as e:
        message = " ".join(str(e).split()).replace(os.path.dirname(prefix) + os.sep, "") or type(e).__name__
        return message[:160]
    return None
