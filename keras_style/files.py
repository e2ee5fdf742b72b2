"""Atomic publishing of output files, shared by every writer (images, .tflite files, Beam outputs).

A file is written to a hidden temporary name beside its destination (same
filesystem), flushed and synced, then published under its real name in one step:
`os.replace` when overwriting, else a hard link, which fails if the name
appeared meanwhile, so another process's file is never clobbered. Readers never
see a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets

from keras_style.errors import StyleError


def exists_message(path: str) -> str:
    """The one-line error for an output that exists and may not be replaced."""
    return f"output '{path}' exists; pass --overwrite to replace it"


def write_failed_message(path: str, error: OSError) -> str:
    """The one-line error for an output that could not be written."""
    return f"cannot write '{path}': {error.strerror or error}; check free space and permissions"


def publish(tmp: str, path: str, overwrite: bool) -> None:
    """Moves the finished file `tmp` to `path` (same directory); never clobbers an
    existing `path` unless `overwrite`.

    Raises:
      StyleError: `path` exists (also if it appeared since it was checked).
      OSError: the move failed.
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if `path` appeared meanwhile
    except FileExistsError:
        raise StyleError(exists_message(path)) from None
    except OSError:
        # No hard links on this filesystem (FAT, some network mounts): check, then rename.
        if os.path.lexists(path):
            raise StyleError(exists_message(path)) from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


def publish_file(tmp: str, path: str, overwrite: bool) -> None:
    """`publish`, with a failed move reported as a one-line StyleError."""
    try:
        publish(tmp, path, overwrite)
    except OSError as e:
        raise StyleError(write_failed_message(path, e)) from None


def publish_files(staged: dict, paths: dict, overwrite: bool) -> None:
    """Publishes several staged files ({role: staged path} -> {role: final path}) with
    `publish_file`, in `paths` order; if one fails, removes the ones already published
    (unless overwriting), since half of a model pair is useless."""
    published = []
    try:
        for role, path in paths.items():
            publish_file(staged[role], path, overwrite)
            published.append(path)
    except BaseException:
        if not overwrite:
            for path in published:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        raise


def write_atomically(data: bytes, path: str, overwrite: bool, suffix: str = ".tmp") -> None:
    """Writes `data` to `path` through a synced temporary file and `publish`.

    Raises:
      StyleError: `path` exists and not `overwrite`, or the write failed.
    """
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}{suffix}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path, overwrite)
    except OSError as e:
        raise StyleError(write_failed_message(path, e)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
