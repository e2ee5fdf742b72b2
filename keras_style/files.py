"""Atomic publishing of output files, shared by every writer (images, .tflite files, Beam outputs).

A file is written to a hidden temporary name beside its destination (same
filesystem), flushed and synced, then published under its real name in one step:
`os.replace` when overwriting, else a hard link, which fails if the name
appeared meanwhile, so another process's file is never clobbered. Readers never
see a half-written file.

Also the path rules every command shares: `check_not_an_input` (no output is, contains
or lies inside an input, however spelled) and `path_problem` (what a path that is not a
readable file is: a symlink loop, a FIFO, a device...).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

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
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(_TEMPORARY_TOKEN_BYTES)}{suffix}")
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


_TEMPORARY_TOKEN_BYTES = 8  # `write_atomically`'s temporary name: .<name>.<16 hex digits><suffix>


def temporary_files(directory: str, names, suffix: str = ".tmp") -> list[str]:
    """The temporary files `write_atomically` has in `directory` for outputs named `names`
    (base names): left behind when a process is killed between writing and publishing."""
    wanted = set(names)
    digits = 2 * _TEMPORARY_TOKEN_BYTES
    found = []
    try:
        listed = os.listdir(directory)
    except OSError:
        return found
    for entry in listed:
        if not (entry.startswith(".") and entry.endswith(suffix)):
            continue
        stem = entry[1:len(entry) - len(suffix)] if suffix else entry[1:]
        base, dot, token = stem[:-digits - 1], stem[-digits - 1:-digits], stem[-digits:]
        if dot == "." and base in wanted and all(c in "0123456789abcdef" for c in token):
            found.append(os.path.join(directory, entry))
    return found


# --- what a path is, and outputs that would be inputs -------------------------------------------


def path_problem(path: str | os.PathLike, expected: str = "a file", *, directory_ok: bool = False,
                 file_ok: bool = True) -> str | None:
    """Why `path` cannot be read as `expected` (e.g. "an image file"), worded to follow the
    path: "is a symlink loop ...", "is a FIFO (named pipe), not an image file", "is a broken
    symlink ..."; None when it is a regular file (`file_ok`) or a directory (`directory_ok`).

    Never opens the path: opening a FIFO blocks until something writes to it.
    """
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except OSError as e:
        return _stat_problem(name, e)
    return mode_problem(mode, expected, directory_ok=directory_ok, file_ok=file_ok)


def _stat_problem(name: str, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symlink loop (its links lead back to themselves); point it at a real path"
    if os.path.islink(name):
        with contextlib.suppress(OSError):
            return f"is a broken symlink (to '{os.readlink(name)}', which does not exist)"
    if isinstance(error, FileNotFoundError):
        return "does not exist; check the path"
    if isinstance(error, NotADirectoryError):
        return "does not exist (a part of the path is a file, not a directory)"
    if isinstance(error, PermissionError):
        return "cannot be read: permission denied"
    return f"cannot be read: {error.strerror or error}"


def mode_problem(mode: int, expected: str = "a file", *, directory_ok: bool = False,
                 file_ok: bool = True) -> str | None:
    """`path_problem` for a file mode (`os.stat(...).st_mode`, or an open file's `os.fstat`)."""
    if stat.S_ISDIR(mode):
        return None if directory_ok else f"is a directory, not {expected}"
    if stat.S_ISREG(mode):
        return None if file_ok else f"is a file, not {expected}"
    for test, what in _SPECIAL_FILES:
        if test(mode):
            return f"is {what}, not {expected}"
    return f"is not {expected}"


def open_problem(name: str, error: OSError) -> str:
    """`path_problem`'s wording for an `open` that failed with `error`."""
    return _stat_problem(name, error)


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _real(path: str, dir_cache: dict) -> str:
    """`os.path.realpath(path)`, resolving each directory once (a data folder lists
    thousands of files)."""
    head, tail = os.path.split(os.path.abspath(path))
    if tail in ("", ".", "..") or os.path.islink(path):
        return os.path.realpath(path)
    if head not in dir_cache:
        dir_cache[head] = os.path.realpath(head)
    return os.path.join(dir_cache[head], tail)


def _identity(path: str, cache: dict):
    """(device, inode) of an existing path (hard links and bind mounts compare equal), else None."""
    if path not in cache:
        try:
            st = os.stat(path)
            cache[path] = (st.st_dev, st.st_ino)
        except (OSError, ValueError):
            cache[path] = None
    return cache[path]


def _ancestors(real: str) -> list[str]:
    """The directories above the resolved path `real`, nearest first."""
    found = []
    parent = os.path.dirname(real)
    while parent != real:
        found.append(parent)
        real, parent = parent, os.path.dirname(parent)
    return found


def check_not_an_input(outputs, inputs, *, holders=()) -> None:
    """Refuses outputs that would write into or over one of the command's own inputs.

    An output (a file or a directory, existing or not) is refused when it is an input,
    contains one (a directory that would be replaced or written into) or lies inside an
    input directory (a SavedModel, a checkpoint or data folder), however either is
    spelled: paths are compared resolved (`os.path.realpath`: symlinks, `..`) and, where
    they exist, as files (device and inode: hard links, bind mounts).

    Args:
      outputs: output paths.
      inputs: (description, path) pairs, e.g. ("content image", "photo.jpg"),
        ("MetaNet --model", "saved_models/metanet/saved_model"). Image sets should be
        given as their files, so outputs may go into a subfolder of a photo folder.
      holders: (description, directory) pairs an output may lie inside but may not be
        or contain, e.g. the training --model_dir for the export.

    Raises:
      StyleError: naming the output and the input it would change.
    """
    dirs, ids = {}, {}
    exact: dict[object, tuple[str, str]] = {}  # realpath or identity -> input
    around: dict[object, tuple[str, str]] = {}  # realpath or identity of a directory above an input
    for entries, inside_counts in ((inputs, True), (holders, False)):
        for what, path in entries:
            path = os.fspath(path)
            real = _real(path, dirs)
            keys = [real, _identity(real, ids)]
            for key in keys:
                if key is not None:
                    exact.setdefault(key, (what, path, inside_counts))
            if os.path.dirname(real) in around:
                continue  # a folder's files share their ancestors: walked once
            for parent in _ancestors(real):
                around.setdefault(parent, (what, path))
                parent_id = _identity(parent, ids)
                if parent_id is not None:
                    around.setdefault(parent_id, (what, path))
    for out in outputs:
        out = os.fspath(out)
        real = os.path.realpath(out)
        keys = [key for key in (real, _identity(real, ids)) if key is not None]
        for key in keys:
            if key in exact:
                what, path, _ = exact[key]
                same = "itself" if real == os.path.realpath(path) else f"'{path}'"
                raise StyleError(f"output '{out}' is the {what} {same}; choose another output")
        for key in keys:
            if key in around:
                what, path = around[key]
                raise StyleError(f"output '{out}' contains the {what} '{path}'; choose another output")
        for parent in _ancestors(real):
            for key in (parent, _identity(parent, ids)):
                if key is not None and key in exact and exact[key][2]:
                    what, path, _ = exact[key]
                    raise StyleError(f"output '{out}' is inside the {what} '{path}'; choose another output")
