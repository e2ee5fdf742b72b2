"""Tests for keras_style.image_io (tiny images written with Pillow)."""

import os

import numpy as np
import pytest
from PIL import Image, ImageFile

from keras_style import image_io
from keras_style.errors import StyleError
from keras_style.image_io import (
    check_output_path,
    decode_image_bytes,
    encode_image,
    list_images,
    load_image,
    resize_image,
    resize_long_side,
    save_image,
)


def _write(img: Image.Image, path, **params) -> str:
    img.save(path, **params)
    return str(path)


def _pixel(image: np.ndarray, x: int, y: int) -> tuple:
    return tuple(float(v) for v in image[y, x])


def _assert_one_line_error(excinfo, *fragments: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# --- load_image: formats and modes -------------------------------------------------------------


def test_rgb_png_is_exact(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    image = load_image(_write(Image.fromarray(pixels), tmp_path / "a.png"))
    assert image.dtype == np.float32
    assert image.shape == (4, 5, 3)
    np.testing.assert_array_equal(image, pixels.astype(np.float32))


@pytest.mark.parametrize(
    "name, params, tolerance",
    [
        ("a.jpg", {"quality": 95}, 3),
        ("a.jpeg", {"quality": 95}, 3),
        ("a.webp", {"lossless": True}, 0),
        ("a.bmp", {}, 0),
        ("a.tif", {}, 0),
        ("a.tiff", {"compression": "tiff_lzw"}, 0),
        ("a.gif", {}, 0),
    ],
)
def test_formats_load_as_rgb(tmp_path, name, params, tolerance):
    path = _write(Image.new("RGB", (6, 3), (200, 40, 90)), tmp_path / name, **params)
    image = load_image(path)
    assert image.dtype == np.float32
    assert image.shape == (3, 6, 3)
    np.testing.assert_allclose(image, np.broadcast_to([200, 40, 90], (3, 6, 3)), atol=tolerance)


def test_grayscale_and_bilevel_repeat_to_rgb(tmp_path):
    gray = load_image(_write(Image.new("L", (2, 2), 77), tmp_path / "l.png"))
    assert gray.shape == (2, 2, 3)
    assert _pixel(gray, 1, 1) == (77.0, 77.0, 77.0)
    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    image = load_image(_write(bilevel, tmp_path / "1.png"))
    assert _pixel(image, 0, 0) == (0.0, 0.0, 0.0)
    assert _pixel(image, 1, 0) == (255.0, 255.0, 255.0)


def test_rgba_alpha_is_flattened_onto_white(tmp_path):
    img = Image.new("RGBA", (3, 1))
    img.putpixel((0, 0), (255, 0, 0, 0))  # fully transparent red
    img.putpixel((1, 0), (255, 0, 0, 255))  # opaque red
    img.putpixel((2, 0), (0, 0, 0, 51))  # 20% black
    image = load_image(_write(img, tmp_path / "rgba.png"))
    assert image.shape == (1, 3, 3)
    assert _pixel(image, 0, 0) == (255.0, 255.0, 255.0)
    assert _pixel(image, 1, 0) == (255.0, 0.0, 0.0)
    np.testing.assert_allclose(image[0, 2], [204.0] * 3, atol=1e-4)


def test_la_alpha_is_flattened_onto_white(tmp_path):
    img = Image.new("LA", (2, 1))
    img.putpixel((0, 0), (10, 0))
    img.putpixel((1, 0), (10, 255))
    image = load_image(_write(img, tmp_path / "la.png"))
    assert _pixel(image, 0, 0) == (255.0, 255.0, 255.0)
    assert _pixel(image, 1, 0) == (10.0, 10.0, 10.0)


def _palette_image(transparent: bool) -> Image.Image:
    img = Image.new("P", (2, 1), 0)
    img.putpalette([255, 0, 0, 0, 0, 255])
    img.putpixel((1, 0), 1)
    if transparent:
        img.info["transparency"] = 0
    return img


@pytest.mark.parametrize("name", ["p.png", "p.gif"])
def test_palette_transparency_is_flattened_onto_white(tmp_path, name):
    image = load_image(_write(_palette_image(transparent=True), tmp_path / name))
    assert _pixel(image, 0, 0) == (255.0, 255.0, 255.0)
    assert _pixel(image, 1, 0) == (0.0, 0.0, 255.0)


def test_palette_without_transparency(tmp_path):
    image = load_image(_write(_palette_image(transparent=False), tmp_path / "p.png"))
    assert _pixel(image, 0, 0) == (255.0, 0.0, 0.0)
    assert _pixel(image, 1, 0) == (0.0, 0.0, 255.0)


_SIXTEEN_BIT = np.array([[0, 32768, 65535]], dtype=np.uint16)
_SIXTEEN_BIT_EXPECTED = [0.0, 32768 * 255 / 65535, 255.0]  # 32768 -> ~127.5, not clipped to 255


@pytest.mark.parametrize(
    "name, make",
    [
        ("i16.png", lambda a: Image.fromarray(a)),
        ("i16.tif", lambda a: Image.fromarray(a)),
        ("i16b.tif", lambda a: Image.frombytes("I;16B", (3, 1), a.astype(">u2").tobytes())),
        ("i32.tif", lambda a: Image.fromarray(a.astype(np.int32))),
    ],
)
def test_sixteen_bit_grayscale_is_scaled(tmp_path, name, make):
    img = make(_SIXTEEN_BIT)
    assert img.mode in ("I;16", "I;16B", "I")
    image = load_image(_write(img, tmp_path / name))
    assert image.shape == (1, 3, 3)
    for x, expected in enumerate(_SIXTEEN_BIT_EXPECTED):
        np.testing.assert_allclose(image[0, x], [expected] * 3, rtol=1e-6)
    assert abs(image[0, 1, 0] - 127.5) < 0.01


def test_float_image_uses_pillow_scale_and_is_clipped(tmp_path):
    img = Image.fromarray(np.array([[12.5, 300.0, -4.0]], dtype=np.float32))
    image = load_image(_write(img, tmp_path / "f.tif"))
    np.testing.assert_allclose(image[0, :, 0], [12.5, 255.0, 0.0])


def test_cmyk_tiff_pure_cyan(tmp_path):
    image = load_image(_write(Image.new("CMYK", (2, 2), (255, 0, 0, 0)), tmp_path / "c.tif"))
    assert image.shape == (2, 2, 3)
    assert _pixel(image, 0, 0) == (0.0, 255.0, 255.0)


def test_cmyk_jpeg_pure_cyan(tmp_path):
    path = _write(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), tmp_path / "c.jpg", quality=95)
    image = load_image(path)
    np.testing.assert_allclose(image[4, 4], [0.0, 255.0, 255.0], atol=4)


def test_exif_orientation_is_applied(tmp_path):
    # Stored 32x16: left half red, right half blue. Orientation 6 means "rotate 90 degrees
    # clockwise to display", so the upright image is 16x32 with red on top.
    stored = np.zeros((16, 32, 3), dtype=np.uint8)
    stored[:, :16] = (255, 0, 0)
    stored[:, 16:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = _write(Image.fromarray(stored), tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = load_image(path)
    assert image.shape == (32, 16, 3)
    np.testing.assert_allclose(image[4, 8], [255, 0, 0], atol=40)
    np.testing.assert_allclose(image[28, 8], [0, 0, 255], atol=40)


# --- load_image: max_size ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, max_size, shape",
    [
        ((40, 20), 10, (5, 10, 3)),  # landscape down
        ((20, 40), 10, (10, 5, 3)),  # portrait down
        ((10, 5), 20, (10, 20, 3)),  # up
        ((100, 1), 10, (1, 10, 3)),  # short side stays at least 1
        ((7, 7), 7, (7, 7, 3)),  # already there
    ],
)
def test_max_size_sets_long_side(tmp_path, size, max_size, shape):
    path = _write(Image.new("RGB", size, (10, 20, 30)), tmp_path / "a.png")
    image = load_image(path, max_size=max_size)
    assert image.shape == shape
    assert image.dtype == np.float32
    np.testing.assert_allclose(image, np.broadcast_to([10, 20, 30], shape), atol=1e-3)


def test_max_size_output_stays_in_range(tmp_path):
    # A checkerboard makes Lanczos ring past [0, 255]; load_image must clip.
    board = (np.indices((16, 16)).sum(axis=0) % 2 * 255).astype(np.uint8)
    image = load_image(_write(Image.fromarray(board), tmp_path / "b.png"), max_size=37)
    assert image.shape == (37, 37, 3)
    assert image.min() >= 0.0 and image.max() <= 255.0


# --- load_image: decompression bombs -----------------------------------------------------------


def test_bomb_guard_refuses_before_decoding(tmp_path, monkeypatch):
    path = _write(Image.new("RGB", (20, 10)), tmp_path / "big.png")

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(StyleError) as excinfo:
        load_image(path, max_pixels=199)
    _assert_one_line_error(excinfo, path, "20×10 = 200 pixels", "199", "--max_image_pixels")


def test_bomb_guard_allows_up_to_the_limit(tmp_path):
    path = _write(Image.new("RGB", (20, 10)), tmp_path / "big.png")
    assert load_image(path, max_pixels=200).shape == (10, 20, 3)
    assert load_image(path, max_pixels=None).shape == (10, 20, 3)


def test_limit_above_pillows_own_is_honoured(tmp_path, monkeypatch):
    # 200 pixels is over twice this Pillow limit, which Pillow alone would refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    png = _write(Image.new("RGB", (20, 10)), tmp_path / "big.png")
    tif = _write(Image.new("RGB", (20, 10)), tmp_path / "big.tif")  # TIFF re-checks on load
    assert load_image(png, max_pixels=1000).shape == (10, 20, 3)
    assert load_image(tif, max_pixels=1000).shape == (10, 20, 3)
    assert Image.MAX_IMAGE_PIXELS == 50  # restored


def test_bomb_guard_applies_to_bytes():
    data = encode_image(np.zeros((10, 20, 3), np.uint8))
    with pytest.raises(StyleError, match="20×10 = 200 pixels"):
        decode_image_bytes(data, max_pixels=100, name="upload.png")


# --- load_image: errors ------------------------------------------------------------------------


def _png_bytes() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return encode_image(noise, "PNG")


def _jpeg_bytes() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return encode_image(noise, "JPEG")


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("empty.png", b"", "not a recognised image file"),
        ("notes.jpg", b"just some text, not pixels\n", "not a recognised image file"),
        ("truncated.png", _png_bytes()[:200], "corrupt or truncated"),
        ("truncated.jpg", _jpeg_bytes()[:400], "corrupt or truncated"),
        ("corrupt.png", _png_bytes()[:60] + b"\x00" * 400, "corrupt or truncated"),
    ],
)
def test_unreadable_files_raise_style_error(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StyleError) as excinfo:
        load_image(path)
    _assert_one_line_error(excinfo, str(path), fragment)


def test_missing_file(tmp_path):
    path = str(tmp_path / "missing.jpg")
    with pytest.raises(StyleError) as excinfo:
        load_image(path)
    _assert_one_line_error(excinfo, path, "no such file")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(StyleError) as excinfo:
        load_image(tmp_path)
    _assert_one_line_error(excinfo, str(tmp_path), "directory")


def test_decode_image_bytes_round_trip_and_garbage():
    pixels = np.random.default_rng(2).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image_bytes(encode_image(pixels)), pixels)
    assert decode_image_bytes(encode_image(pixels), max_size=8).shape == (6, 8, 3)
    with pytest.raises(StyleError, match="'upload.bin': not a recognised image file"):
        decode_image_bytes(b"\x00\x01garbage", name="upload.bin")


# --- resizing ----------------------------------------------------------------------------------


def test_resize_image_keeps_float_precision():
    image = np.full((6, 8, 3), 0.25, dtype=np.float32)
    image[..., 1] = 100.125
    resized = resize_image(image, (3, 5))
    assert resized.shape == (3, 5, 3)
    assert resized.dtype == np.float32
    np.testing.assert_allclose(resized[..., 0], 0.25, atol=1e-5)
    np.testing.assert_allclose(resized[..., 1], 100.125, atol=1e-4)


def test_resize_long_side():
    image = np.zeros((30, 60, 3), dtype=np.float32)
    assert resize_long_side(image, 20).shape == (10, 20, 3)
    assert resize_long_side(image, 120).shape == (60, 120, 3)
    assert resize_long_side(np.zeros((1, 50, 3), np.float32), 10).shape == (1, 10, 3)


# --- check_output_path and save_image ----------------------------------------------------------


def test_save_round_trip_png_exact(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = str(tmp_path / "out.png")
    assert save_image(pixels, path) == path
    np.testing.assert_array_equal(load_image(path), pixels)
    assert os.listdir(tmp_path) == ["out.png"]  # no temporary files left


def test_save_float_is_clipped_and_rounded(tmp_path):
    image = np.array([[[-5.0, 300.0, 12.4], [12.6, 254.5, 0.4]]], dtype=np.float32)  # NaN: test_numeric_guards
    path = save_image(image, tmp_path / "out.png")
    np.testing.assert_array_equal(load_image(path)[0], [[0, 255, 12], [13, 254, 0]])


@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 1)])
def test_save_grayscale(tmp_path, shape):
    image = np.full(shape, 90, dtype=np.uint8)
    path = save_image(image, tmp_path / "gray.png")
    with Image.open(path) as written:
        assert written.mode == "L"
    np.testing.assert_array_equal(load_image(path), np.full((3, 4, 3), 90.0))


@pytest.mark.parametrize("name", ["o.jpg", "o.jpeg", "o.webp", "o.bmp", "o.tif", "o.tiff"])
def test_save_other_formats(tmp_path, name):
    image = np.full((8, 8, 3), (30, 120, 220), dtype=np.uint8)
    path = save_image(image, tmp_path / name)
    np.testing.assert_allclose(load_image(path), image.astype(np.float32), atol=4)


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    with pytest.raises(StyleError) as excinfo:
        save_image(np.zeros((2, 2, 3), np.uint8), path)
    _assert_one_line_error(excinfo, str(path), "exists", "--overwrite")
    assert path.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["out.png"]


def test_save_overwrite_replaces(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    save_image(np.full((2, 2, 3), 7, np.uint8), path, overwrite=True)
    np.testing.assert_array_equal(load_image(path), np.full((2, 2, 3), 7.0))
    assert os.listdir(tmp_path) == ["out.png"]


def test_save_does_not_clobber_a_file_created_meanwhile(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    real_save = Image.Image.save

    def save_then_race(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        path.write_bytes(b"other process")  # appears after check_output_path ran

    monkeypatch.setattr(Image.Image, "save", save_then_race)
    with pytest.raises(StyleError, match="exists"):
        save_image(np.zeros((2, 2, 3), np.uint8), path)
    assert path.read_bytes() == b"other process"
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("bug")])
def test_failed_save_leaves_no_files(tmp_path, monkeypatch, error):
    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise error

    monkeypatch.setattr(Image.Image, "save", failing_save)
    expected = StyleError if isinstance(error, OSError) else RuntimeError
    with pytest.raises(expected) as excinfo:
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.png")
    if expected is StyleError:
        _assert_one_line_error(excinfo, "out.png", "No space left on device")
    assert os.listdir(tmp_path) == []


def test_unknown_extension(tmp_path):
    for name in ["out.gif", "out"]:
        with pytest.raises(StyleError) as excinfo:
            save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / name)
        _assert_one_line_error(excinfo, name, ".png", ".jpg", ".webp", ".tiff")
    assert os.listdir(tmp_path) == []


def test_missing_parent_directory(tmp_path):
    path = str(tmp_path / "nope" / "out.png")
    with pytest.raises(StyleError) as excinfo:
        save_image(np.zeros((2, 2, 3), np.uint8), path)
    _assert_one_line_error(excinfo, path, "does not exist")
    assert os.listdir(tmp_path) == []


def test_output_is_a_directory(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(StyleError, match="is a directory"):
        check_output_path(tmp_path / "out.png", overwrite=True)


def test_check_output_path_accepts_good_paths(tmp_path):
    assert check_output_path(tmp_path / "a.JPG") == str(tmp_path / "a.JPG")
    (tmp_path / "b.png").write_bytes(b"x")
    assert check_output_path(tmp_path / "b.png", overwrite=True) == str(tmp_path / "b.png")


def test_invalid_quality(tmp_path):
    with pytest.raises(StyleError, match="quality 0"):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "o.jpg", quality=0)
    assert os.listdir(tmp_path) == []


def test_encode_image_formats():
    image = np.zeros((2, 2, 3), np.uint8)
    assert encode_image(image, "png").startswith(b"\x89PNG")
    assert encode_image(image, "jpg").startswith(b"\xff\xd8")
    with pytest.raises(StyleError, match="unsupported image format 'gif'"):
        encode_image(image, "gif")


# --- list_images -------------------------------------------------------------------------------


@pytest.fixture
def image_dir(tmp_path):
    for name in ["b.png", "a.JPG", "c.webp"]:
        Image.new("RGB", (1, 1)).save(tmp_path / name, format="PNG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub.png").mkdir()  # a directory, even if named like an image
    return tmp_path


def test_list_images_file_dir_glob_and_list(image_dir):
    d = str(image_dir)
    expected_dir = [os.path.join(d, n) for n in ["a.JPG", "b.png", "c.webp"]]
    assert list_images(os.path.join(d, "notes.txt")) == [os.path.join(d, "notes.txt")]
    assert list_images(d) == expected_dir
    assert list_images(os.path.join(d, "*.png")) == [os.path.join(d, "b.png")]
    spec = f"{d}/c.webp, {d}/*.png ,{d}"
    assert list_images(spec) == [os.path.join(d, "c.webp"), os.path.join(d, "b.png")] + [
        expected_dir[0]
    ]


def test_list_images_errors(tmp_path):
    with pytest.raises(StyleError, match="no images match '.*\\*.jpg'"):
        list_images(str(tmp_path / "*.jpg"))
    with pytest.raises(StyleError, match="no images in directory"):
        list_images(str(tmp_path))
    with pytest.raises(StyleError, match="missing.png' not found"):
        list_images(str(tmp_path / "missing.png"))
    with pytest.raises(StyleError, match="no images given"):
        list_images(" , ")


def test_modules_do_not_import_tensorflow():
    # The .tflite path imports image_io and must start fast.
    import subprocess
    import sys

    code = "import sys, keras_style.image_io, keras_style.color; print('tensorflow' in sys.modules)"
    root = os.path.dirname(os.path.dirname(image_io.__file__))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.stdout.strip() == "False", result.stderr


# --- interrupted saves: temporary files (issue 15) ---------------------------------------------


def _stale_temp(directory, output_name: str, token: str = "0123456789abcdef") -> str:
    """A leftover of a save killed mid-write, named as save_image names its temp files."""
    ext = os.path.splitext(output_name)[1]
    path = os.path.join(directory, f".{output_name}.{token}{ext}")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    return path


def test_list_images_skips_hidden_files_in_directories(image_dir):
    # A save killed by SIGKILL leaves ".b.png.<hex>.png" (truncated) beside its output.
    _stale_temp(image_dir, "b.png")
    Image.new("RGB", (1, 1)).save(image_dir / ".hidden.png")
    d = str(image_dir)
    assert list_images(d) == [os.path.join(d, n) for n in ["a.JPG", "b.png", "c.webp"]]
    assert list_images(os.path.join(d, "*.png")) == [os.path.join(d, "b.png")]


def test_save_removes_stale_temp_files_of_its_output_only(tmp_path):
    stale = [_stale_temp(tmp_path, "out.png"), _stale_temp(tmp_path, "out.png", "fedcba9876543210")]
    keep = [
        _stale_temp(tmp_path, "other.png"),  # another output's: not this save's business
        _stale_temp(tmp_path, "out.png", "0123"),  # not the library's naming (16 hex digits)
        _stale_temp(tmp_path, "out.png", "0123456789ABCDEF"),  # upper case: not token_hex
    ]
    (tmp_path / ".out.png.notes").write_text("user file")
    (tmp_path / "out.png").write_bytes(b"old")
    save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.png", overwrite=True)
    assert not any(os.path.exists(p) for p in stale)
    assert all(os.path.exists(p) for p in keep) and (tmp_path / ".out.png.notes").exists()
    # A normal (not --overwrite) save of a new output clears its own leftovers too.
    stale = _stale_temp(tmp_path, "new.jpg")
    save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "new.jpg")
    assert not os.path.exists(stale) and (tmp_path / "new.jpg").exists()


def test_interrupted_save_removes_its_temp_file(tmp_path, monkeypatch):
    def interrupted_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt  # what Ctrl-C, and SIGTERM in the commands, raise mid-save

    monkeypatch.setattr(Image.Image, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.png")
    assert os.listdir(tmp_path) == []


# --- outputs that are inputs (issue 15) --------------------------------------------------------


def test_check_not_an_input(tmp_path, monkeypatch):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"x")
    style = tmp_path / "style.png"
    style.write_bytes(b"y")
    inputs = [("content image", photo), ("style image", style)]
    image_io.check_not_an_input([tmp_path / "out.png"], inputs)  # not an input: fine
    with pytest.raises(StyleError, match="output '.*photo.jpg' is the content image itself"):
        image_io.check_not_an_input([str(photo)], inputs)
    # The same file under another name: a relative path, a symlink, a hard link.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(StyleError, match="is the style image itself"):
        image_io.check_not_an_input(["./sub/../style.png"], inputs)
    os.symlink(style, tmp_path / "link.png")
    os.link(photo, tmp_path / "hard.jpg")
    with pytest.raises(StyleError, match="'link.png' is the style image itself"):
        image_io.check_not_an_input(["link.png"], inputs)
    with pytest.raises(StyleError, match=r"'hard.jpg' is the content image '.*photo.jpg'; choose another output"):
        image_io.check_not_an_input(["hard.jpg"], inputs)
