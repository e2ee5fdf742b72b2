"""keras_style.files: atomic, no-clobber publishing shared by every writer."""

import os

import pytest

from keras_style import files
from keras_style.errors import StyleError


def test_write_atomically_never_clobbers(tmp_path):
    path = str(tmp_path / "out.bin")
    files.write_atomically(b"one", path, overwrite=False)
    with pytest.raises(StyleError, match="exists; pass --overwrite"):
        files.write_atomically(b"two", path, overwrite=False)
    assert open(path, "rb").read() == b"one"
    files.write_atomically(b"three", path, overwrite=True)
    assert open(path, "rb").read() == b"three"
    assert os.listdir(tmp_path) == ["out.bin"]  # no temporary file left behind


def test_publish_files_removes_the_published_half_when_the_other_fails(tmp_path):
    staged = {}
    for role in ("a", "b"):
        staged[role] = str(tmp_path / f".{role}.staged")
        open(staged[role], "wb").write(role.encode())
    paths = {"a": str(tmp_path / "pair_a"), "b": str(tmp_path / "pair_b")}
    open(paths["b"], "wb").write(b"someone else's")
    with pytest.raises(StyleError, match="pair_b' exists"):
        files.publish_files(staged, paths, overwrite=False)
    assert not os.path.exists(paths["a"])
    assert open(paths["b"], "rb").read() == b"someone else's"


def test_write_failure_is_one_line(tmp_path):
    with pytest.raises(StyleError, match=r"cannot write .*; check free space and permissions") as excinfo:
        files.write_atomically(b"x", str(tmp_path / "missing_dir" / "out.bin"), overwrite=False)
    assert "\n" not in str(excinfo.value)
