"""Reading, writing and listing images with Pillow and numpy.

Images are float32 numpy arrays of shape (H, W, 3), RGB, in [0, 255]. This
module deliberately does not import TensorFlow: it is used by the `.tflite`
inference path, which should start fast.

Everything a user can get wrong (a missing or corrupt file, an oversized image,
an unwritable output) raises `StyleError` with a one-line message naming the
path and the fix.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import secrets
import stat
import struct
import threading
from collections.abc import Iterator
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from keras_style import files
from keras_style.checks import check_finite
from keras_style.errors import StyleError

PathLike = Union[str, "os.PathLike[str]"]

# Pillow's own default bomb limit: 89,478,485 pixels, i.e. about 0.25 GB as
# 8-bit RGB (1024**3 // 4 // 3). Larger images need `max_pixels` raised
# explicitly (--max_image_pixels), since a tiny compressed file can otherwise
# expand to gigabytes of memory when decoded.
DEFAULT_MAX_PIXELS = 89_478_485

# Extensions `list_images` picks up from directories and globs.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

# Output extension -> Pillow format name.
_WRITE_FORMATS = {
    ".bmp": "BMP",
    ".jpeg": "JPEG",
    ".jpg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
OUTPUT_EXTENSIONS = tuple(_WRITE_FORMATS)

# Only these decoders are tried: it keeps exotic ones (e.g. EPS, which runs
# Ghostscript) away from untrusted input. JPEG includes the multi-picture
# JPEGs (MPO) some cameras write.
_READ_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_READ_FORMATS_HELP = "JPEG, PNG, WebP, BMP, TIFF or GIF"

# What Pillow's decoders raise on malformed input (cf. Pillow's fuzz tests).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    NotImplementedError,
    OverflowError,
)

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")

# Temporary files `save_image` writes next to its output OUT.ext: ".OUT.ext.<16 hex
# digits>.ext". A process killed mid-save (SIGKILL) leaves one; a later save of the same
# output removes it. Nothing else matches: the random part is exactly 16 hex digits.
_TEMP_TOKEN_BYTES = 8

# Pillow keeps its bomb limit in a module global shared by all threads.
_PILLOW_LIMIT_LOCK = threading.Lock()


def load_image(
    path: PathLike,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Reads an image file as a float32 (H, W, 3) RGB array in [0, 255].

    Handles JPEG, PNG, WebP, BMP, TIFF and GIF (first frame) in any common
    mode: grayscale, palette, CMYK, 16-bit grayscale (scaled, not clipped),
    32-bit float (taken on Pillow's 0..255 scale) and anything with alpha or
    palette transparency, which is flattened onto white. EXIF orientation is
    applied, so the array is upright as a viewer shows it.

    Args:
      path: the image file.
      max_size: if given, resize (down or up, Lanczos) so the long side is
        exactly this many pixels, keeping the aspect ratio. A much larger image
        is not decoded at full size first: a JPEG is decoded at 1/2, 1/4 or 1/8
        scale by libjpeg (Pillow's draft mode) and other 8-bit RGB or grayscale
        images are box-reduced by an integer factor before the float conversion,
        each only as far as the image stays at least 5 times the target size, so
        Lanczos still does the last 5x (as Pillow's `thumbnail` does with its
        `reducing_gap`). A 12000x12000 JPEG read with max_size=512 is decoded at
        3000x3000 (0.1 GB as float32 instead of 1.7 GB).
      max_pixels: refuse images with more pixels than this, checked from the
        header before decoding; None disables the check.

    Raises:
      StyleError: the file is missing, unreadable, not an image, corrupt or
        truncated, or over `max_pixels`.
    """
    name = os.fspath(path)
    with open_image_file(name) as f:
        return _decode(f, name, max_size, max_pixels)


def open_image_file(path: PathLike) -> BinaryIO:
    """Opens an image file for reading (binary); StyleError, one line, for anything that is
    not a readable regular file.

    A FIFO, socket or device is refused, not read: it is opened non-blocking (a FIFO
    would otherwise wait for a writer forever) and checked with `fstat` before any read.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as e:
        if os.path.islink(name):
            raise StyleError(f"cannot read image '{name}': it {files.open_problem(name, e)}") from None
        raise StyleError(f"cannot read image '{name}': no such file; check the path") from None
    except IsADirectoryError:
        raise StyleError(f"cannot read image '{name}': it is a directory; pass an image file") from None
    except PermissionError:
        raise StyleError(
            f"cannot read image '{name}': permission denied; check the file's permissions"
        ) from None
    except OSError as e:
        raise StyleError(f"cannot read image '{name}': it {files.open_problem(name, e)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise StyleError(f"cannot read image '{name}': it is a directory; pass an image file")
        problem = files.mode_problem(mode, "an image file")
        if problem:
            raise StyleError(f"cannot read image '{name}': it {problem}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def decode_image_bytes(
    data: bytes,
    max_size: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    name: str = "<image bytes>",
) -> np.ndarray:
    """Decodes an encoded image (e.g. an upload) like `load_image` does a file.

    `name` is only used in error messages. Raises StyleError for data that is
    not a readable image or is over `max_pixels`.
    """
    return _decode(io.BytesIO(data), name, max_size, max_pixels)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resizes a float (H, W, C) image to `size` = (height, width) with Lanczos.

    Each channel is resampled as a 32-bit float Pillow image, so there is no
    quantisation to 8 bits. Values are not clipped: Lanczos can overshoot the
    input range slightly at sharp edges.
    """
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"resize target must be at least 1x1, got {size}")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise StyleError(f"expected an (H, W, C) image, got shape {image.shape}")
    if image.shape[:2] == (height, width):
        return image.copy()
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(image[..., c])).resize(
                (width, height), Image.Resampling.LANCZOS
            )
        )
        for c in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1)


def resize_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """Resizes `image` so its longer side is `long_side`, keeping the aspect ratio.

    The shorter side is rounded and is at least 1 pixel.
    """
    if long_side < 1:
        raise ValueError(f"long_side must be at least 1, got {long_side}")
    height, width = image.shape[:2]
    scale = long_side / max(height, width)
    return resize_image(image, (max(1, round(height * scale)), max(1, round(width * scale))))


def check_output_dir(path: str) -> None:
    """Checks, creating nothing, that `make_output_dir(path)` can work: `path` is a
    directory or can be made in an existing parent; StyleError, worded for
    `--output_dir`, when not."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise StyleError(f"--output_dir '{path}' exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise StyleError(f"cannot create --output_dir '{path}': directory '{parent}' does not exist")


def make_output_dir(path: str) -> None:
    """Creates the output directory `path` (its parent must exist: a typo should not
    build a tree); StyleError, worded for `--output_dir`, when it cannot."""
    check_output_dir(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise StyleError(f"cannot create --output_dir '{path}': {e.strerror or e}") from None


def check_output_path(path: PathLike, overwrite: bool = False) -> str:
    """Checks that an image can be written to `path`; returns it as a str.

    Call this before expensive work so a bad output path fails fast. Checks
    that the path is not a directory, has a writable image extension, its
    directory exists and is writable, and it does not exist yet unless
    `overwrite`.

    Raises:
      StyleError: naming the problem and the fix.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        example = os.path.join(path, "out.png")
        raise StyleError(f"output '{path}' is a directory; pass a file path such as '{example}'")
    ext = os.path.splitext(path)[1].lower()
    if ext not in _WRITE_FORMATS:
        raise StyleError(
            f"cannot write '{path}': unsupported output format '{ext or '(no extension)'}'; "
            f"use one of {', '.join(OUTPUT_EXTENSIONS)}"
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StyleError(
            f"cannot write '{path}': directory '{directory}' does not exist; create it first"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StyleError(
            f"cannot write '{path}': directory '{directory}' is not writable; check its permissions"
        )
    if not overwrite and os.path.lexists(path):
        raise StyleError(files.exists_message(path))
    return path


def save_image(
    image: np.ndarray, path: PathLike, overwrite: bool = False, quality: int = 95
) -> str:
    """Writes an image atomically; returns the path written.

    Args:
      image: (H, W, 3) RGB or (H, W, 1) / (H, W) grayscale; uint8, or any
        other dtype, which is clipped to [0, 255] and rounded.
      path: output file; its extension picks the format (see
        `OUTPUT_EXTENSIONS`).
      overwrite: replace an existing file. Without it an existing file is
        never clobbered, even one created while this call runs.
      quality: JPEG / WebP quality, 1 to 100.

    The image goes to a hidden temporary file in the same directory, is
    fsynced, and is then moved into place, so readers never see a partial
    file and a failure leaves nothing behind.

    Raises:
      StyleError: bad quality, unusable path (see `check_output_path`), or
        the write failed (e.g. disk full).
    """
    options = _save_options(quality)
    path = check_output_path(path, overwrite)
    picture = _to_pil(image)
    directory, base = os.path.split(os.path.abspath(path))
    ext = os.path.splitext(base)[1]
    # Same directory so the final rename cannot cross filesystems; same suffix
    # so a leftover (after a crash) is recognisably an image.
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(_TEMP_TOKEN_BYTES)}{ext}")
    try:
        # O_EXCL: never reuse someone else's file; mode 0o666 lets the umask
        # decide permissions, as for any normally created file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            picture.save(f, format=_WRITE_FORMATS[ext.lower()], **options)
            f.flush()
            os.fsync(f.fileno())
        files.publish(tmp, path, overwrite)
    except OSError as e:
        raise StyleError(
            f"cannot write '{path}': {_reason(e)}; check free space and permissions"
        ) from None
    finally:
        # Already gone once renamed into place; otherwise a partial or orphaned copy.
        # Runs for any exception: a StyleError, Ctrl-C, or SIGTERM (which the commands
        # turn into an exception, keras_style.cli.common.Terminated).
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    remove_stale_temp_files(path)
    return path


def remove_stale_temp_files(path: PathLike) -> list[str]:
    """Removes temporary files an interrupted `save_image` of `path` left; returns them.

    Only files named as `save_image` names its temporary files for this very output
    (".NAME.EXT.<16 hex digits>.EXT" in the same directory) are removed, never
    anything else. `save_image` calls it after each successful save, so a rerun
    (with or without --overwrite) clears what a killed run left behind.
    """
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    ext = os.path.splitext(base)[1]
    pattern = re.compile(
        re.escape(f".{base}.") + f"[0-9a-f]{{{2 * _TEMP_TOKEN_BYTES}}}" + re.escape(ext)
    )
    removed = []
    try:
        with os.scandir(directory) as entries:
            stale = [e.path for e in entries if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return removed
    for name in stale:
        with contextlib.suppress(OSError):
            os.unlink(name)
            removed.append(name)
    return removed


# The rule lives in `files` (every command's outputs, not only images); kept here for callers.
check_not_an_input = files.check_not_an_input


def encode_image(image: np.ndarray, format: str = "PNG", quality: int = 95) -> bytes:
    """Encodes an image (as accepted by `save_image`) to bytes.

    `format` is a format name or extension, case-insensitive: PNG, JPEG/JPG,
    WEBP, BMP, TIFF/TIF.
    """
    fmt = _WRITE_FORMATS.get("." + format.lower().lstrip("."))
    if fmt is None:
        choices = ", ".join(sorted(set(_WRITE_FORMATS.values())))
        raise StyleError(f"unsupported image format '{format}'; use one of {choices}")
    buffer = io.BytesIO()
    _to_pil(image).save(buffer, format=fmt, **_save_options(quality))
    return buffer.getvalue()


def list_images(spec: str) -> list[str]:
    """Expands an image spec into a list of image files.

    `spec` is a file, a directory (its image files by extension, sorted, not
    recursive), a glob pattern (matching image files, sorted), or a
    comma-separated list of these. A path that exists is always taken as it is
    named, before any comma splitting or pattern matching: `photo[1].jpg` is that
    file (not `photo1.jpg`), and a file whose name holds a comma can be named (see
    `join_split_paths`). Duplicates are dropped, order is kept. A file named
    explicitly is returned whatever its extension. Hidden files (names starting
    with ".") are skipped in directories and, as `glob` does, by patterns whose
    last part does not itself start with ".".

    Raises:
      StyleError: a named path is missing or not a file or directory (a FIFO, a
        symlink loop...), or a directory or pattern matches no images.
    """
    paths: list[str] = []
    whole = os.path.expanduser(spec.strip())
    if whole and os.path.lexists(whole):
        parts = [whole]
    else:
        parts = join_split_paths([os.path.expanduser(p.strip()) for p in spec.split(",") if p.strip()])
    if not parts:
        raise StyleError("no images given; pass a file, directory or glob pattern")
    for part in parts:
        if not os.path.lexists(part) and any(ch in part for ch in "*?["):
            matches = sorted(p for p in glob.glob(part) if _is_image_file(p))
            if not matches:
                raise StyleError(f"no images match '{part}'; check the pattern")
            paths.extend(matches)
        elif os.path.isdir(part):
            # Hidden files are skipped, as glob does: among them an interrupted
            # save's temporary file (".out.png.<hex>.png"), which may be truncated.
            try:
                with os.scandir(part) as entries:
                    found = sorted(e.name for e in entries if not e.name.startswith(".") and _is_image_file(e.path))
            except OSError as e:
                raise StyleError(f"cannot list directory '{part}': {_reason(e)}") from None
            if not found:
                raise StyleError(
                    f"no images in directory '{part}'; "
                    f"expected files ending in {', '.join(IMAGE_EXTENSIONS)}"
                )
            paths.extend(os.path.join(part, n) for n in found)
        elif os.path.isfile(part):
            paths.append(part)
        elif not os.path.lexists(part):
            raise StyleError(f"image '{part}' not found; check the path")
        else:
            raise StyleError(f"image '{part}' {files.path_problem(part, 'an image file or directory')}")
    return list(dict.fromkeys(paths))


# `join_split_paths` rejoins at most this many comma-separated pieces into one name.
_MAX_JOINED_PIECES = 16


def join_split_paths(pieces: list[str]) -> list[str]:
    """Rejoins comma-split pieces that together name an existing path.

    A comma-separated list was split before anyone looked at the file system (absl's
    list flags split on commas), so a file named `a,b.jpg` arrives as `a` and `b.jpg`.
    Where a piece does not exist by itself, the longest run of it and the pieces after
    it whose comma-joined name exists is taken as one path; every other piece is kept
    as it is. (absl's list flags also take CSV quoting: --style='"a,b.jpg",c.jpg'.)
    """
    joined, i = [], 0
    while i < len(pieces):
        take = 1
        if not os.path.lexists(os.path.expanduser(pieces[i])):
            for end in range(min(len(pieces), i + _MAX_JOINED_PIECES), i + 1, -1):
                if os.path.lexists(os.path.expanduser(",".join(pieces[i:end]))):
                    take = end - i
                    break
        joined.append(",".join(pieces[i:i + take]))
        i += take
    return joined


def _decode(fp: BinaryIO, name: str, max_size: int | None, max_pixels: int | None) -> np.ndarray:
    """Opens, size-checks, fully decodes and converts an image stream."""
    try:
        # Opening reads only the header, so Pillow's own limit can be lifted
        # here: our check below runs before any pixel memory is allocated.
        with _pillow_pixel_limit(None):
            img = Image.open(fp, formats=_READ_FORMATS)
        with img:
            _check_pixels(img.size, max_pixels, name)
            target = box = None
            if max_size is not None:
                target = _resized(img.size, max_size)
                if max_pixels is not None and target[0] * target[1] > max_pixels:
                    # Enlarging is not bounded by the file's size: guard the result too.
                    raise StyleError(
                        f"resizing image '{name}' to {max_size} pixels on its long side would make it "
                        f"{target[0]}×{target[1]} = {target[0] * target[1]} pixels, over the limit of {max_pixels}; "
                        "use a smaller --max_size (or raise --max_image_pixels)"
                    )
                # A JPEG is decoded at 1/2, 1/4 or 1/8 scale (other formats: a no-op);
                # `box` is then the whole image in the smaller image's coordinates.
                drafted = img.draft(None, (target[0] * _REDUCING_GAP, target[1] * _REDUCING_GAP))
                box = drafted[1] if drafted else None
            # Pillow re-checks sizes while decoding some formats (TIFF, GIF
            # frames); it must not refuse what the caller's limit allows.
            with _pillow_pixel_limit_at_least(max_pixels):
                img.load()  # the whole file is decoded here, so truncated files fail now
            if target is None:
                ImageOps.exif_transpose(img, in_place=True)
                image = _to_rgb_array(img)
            else:
                image = _resized_rgb_array(img, target, box)
    except StyleError:
        raise
    except UnidentifiedImageError:
        raise StyleError(
            f"cannot read image '{name}': not a recognised image file "
            f"(expected {_READ_FORMATS_HELP})"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Raised for frames or tiles larger than the header says; the
        # warning is an exception when warnings are errors (python -W error).
        raise StyleError(
            f"cannot read image '{name}': {_reason(e)}; "
            "raise --max_image_pixels only if you trust the file"
        ) from None
    except MemoryError:
        raise StyleError(
            f"cannot read image '{name}': not enough memory to decode it; use a smaller image"
        ) from None
    except _DECODE_ERRORS as e:
        raise StyleError(
            f"cannot read image '{name}': the file is corrupt or truncated ({_reason(e)}); "
            "re-export or re-download it"
        ) from None
    return image


# Decoding for max_size reduces an image (draft, reduce) only while it stays at least
# this many times the target size; the final Lanczos resize does the rest. Pillow's docs
# call a gap of 3 or more indistinguishable from a full Lanczos resize in most cases; at 5
# an 8x reduction (e.g. a 512-pixel photo read at 64) is still decoded in full, as before,
# while a 12000-pixel JPEG read at 512 is decoded at 1/4 scale (3000 pixels).
_REDUCING_GAP = 5


def _resized(size: tuple[int, int], max_size: int) -> tuple[int, int]:
    """(width, height) of an image of `size` resized to long side `max_size` (as
    `resize_long_side` rounds them)."""
    width, height = size
    scale = max_size / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# EXIF orientation -> the transposition that shows the image upright (ImageOps.exif_transpose's).
_ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _resized_rgb_array(
    img: Image.Image, target: tuple[int, int], box: tuple[float, float, float, float] | None
) -> np.ndarray:
    """A decoded (possibly drafted) image as float32 RGB of `target` = (width, height) in
    its stored orientation, then turned upright (EXIF orientation).

    `box`: the whole image's extent in `img`'s pixels (draft mode rounds the size up, so
    its last row and column may stand for less than a full block). An 8-bit RGB or
    grayscale image (no transparency) is first box-reduced by the largest integer factor
    that keeps it `_REDUCING_GAP` times the target; other modes (16-bit, float, palette,
    alpha, colour key) keep their full precision. Lanczos in float32 does the rest.
    """
    box = box or (0.0, 0.0, float(img.width), float(img.height))
    orientation = _ORIENTATIONS.get(img.getexif().get(0x0112, 1))
    if img.mode in ("RGB", "L") and not img.has_transparency_data:
        factor = min(int(box[2]) // (target[0] * _REDUCING_GAP), int(box[3]) // (target[1] * _REDUCING_GAP))
        if factor >= 2:
            img = img.reduce(factor)
            box = tuple(v / factor for v in box)
    array = _to_rgb_array(img)
    if array.shape[:2] != (target[1], target[0]) or box != (0.0, 0.0, float(img.width), float(img.height)):
        array = np.stack(
            [
                np.asarray(
                    Image.fromarray(np.ascontiguousarray(array[..., c])).resize(
                        target, Image.Resampling.LANCZOS, box=box
                    )
                )
                for c in range(3)
            ],
            axis=-1,
        )
        # Lanczos can overshoot at sharp edges; keep the [0, 255] promise.
        array = np.clip(array, 0.0, 255.0)
    if orientation is not None:
        array = np.stack(
            [np.asarray(Image.fromarray(np.ascontiguousarray(array[..., c])).transpose(orientation)) for c in range(3)],
            axis=-1,
        )
    return array


def _check_pixels(size: tuple[int, int], max_pixels: int | None, name: str) -> None:
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise StyleError(
            f"image '{name}' is {width}×{height} = {width * height} pixels, over the limit of "
            f"{max_pixels}; raise it with --max_image_pixels if you trust the file, "
            "or use a smaller image"
        )


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int | None) -> Iterator[None]:
    """Temporarily sets Pillow's global bomb limit (None: no limit)."""
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def _pillow_pixel_limit_at_least(limit: int | None) -> Iterator[None]:
    """Raises Pillow's bomb limit to `limit` for the block if it is lower.

    The common case (limit within Pillow's) takes no lock, so decoding in
    several threads stays parallel.
    """
    with _PILLOW_LIMIT_LOCK:
        current = Image.MAX_IMAGE_PIXELS
    if current is None or (limit is not None and limit <= current):
        yield
    else:
        with _pillow_pixel_limit(limit):
            yield


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Converts a decoded Pillow image of any mode to float32 (H, W, 3) in [0, 255]."""
    if img.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own conversion to 8 bits clips (32768 -> 255); scale
        # instead. "I" is how Pillow opens some 16-bit files.
        gray = np.clip(np.asarray(img, dtype=np.float32) * (255.0 / 65535.0), 0.0, 255.0)
    elif img.mode == "F":
        gray = np.clip(np.nan_to_num(np.asarray(img, dtype=np.float32)), 0.0, 255.0)
    elif img.has_transparency_data:
        # Alpha, palette or colour-key transparency: composite onto white,
        # which is how such images usually look in a viewer or a page.
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:] / 255.0
        return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    else:
        return np.asarray(img.convert("RGB"), dtype=np.float32)
    return np.repeat(gray[..., None], 3, axis=-1)


def _to_pil(image: np.ndarray) -> Image.Image:
    """Converts an (H, W, 3), (H, W, 1) or (H, W) array to an 8-bit Pillow image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(
            f"expected an (H, W, 3), (H, W, 1) or (H, W) image, got shape {array.shape}"
        )
    if array.dtype != np.uint8:
        # Network outputs can stray outside [0, 255]; clip, then round to nearest
        # rather than truncate. A NaN or infinity means the computation broke down:
        # refused, not written as black.
        array = np.clip(check_finite(array.astype(np.float32), "the image to write"), 0.0, 255.0)
        array = np.rint(array).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array))


def _save_options(quality: int) -> dict[str, int]:
    """Pillow save options; `quality` only affects lossy formats (JPEG, WebP)."""
    if not 1 <= quality <= 100:
        raise StyleError(f"invalid image quality {quality}; use 1 to 100")
    return {"quality": quality}


def _is_image_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS and os.path.isfile(path)


def describe_error(error: BaseException) -> str:
    """An exception's message on one line (OSError: just its strerror)."""
    return _reason(error)


def _reason(error: BaseException) -> str:
    """An exception's message on one line (OSError: just its strerror)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return " ".join(str(error).split()) or type(error).__name__
