"""Content-image input pipelines for training (tf.data).

`image_dataset` turns a data spec into an endless stream of random crops:

* `tfds:NAME[/CONFIG][:SPLIT]`, e.g. `tfds:coco/2014` or `tfds:coco/2017:train[:10%]`:
  a prepared TensorFlow Datasets builder (its `image` feature). Nothing is ever
  downloaded here: an unprepared dataset is a `StyleError` naming `tfds build`.
* anything else is an image file spec as `keras_style.image_io.list_images` reads it: a
  folder, a glob pattern or a comma-separated list of files.

Crops are float32 RGB in [0, 255], batched with `drop_remainder=True` so every replica
of a distributed step sees the same batch size.
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Sequence

from absl import logging

from keras_style import image_io
from keras_style.errors import StyleError

TFDS_PREFIX = "tfds:"
RESIZE_MODES = ("short_side", "short_side_range")
# A crop whose pixel standard deviation is below this is a solid colour (letterbox
# bars, blank scans); its Gram matrices are degenerate.
FLAT_STD_THRESHOLD = 1.0
# tf.io.decode_image reads JPEG, PNG, GIF, BMP and WebP, but not TIFF.
_UNDECODABLE_EXTENSIONS = (".tif", ".tiff")
# What the readability check lets Pillow open: what tf.io.decode_image decodes.
_TF_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP")
# Unreadable files named in the warning line; the rest are counted.
_NAMED_UNREADABLE = 10


def parse_tfds_spec(spec: str) -> tuple[str, str | None] | None:
    """Splits `tfds:NAME[/CONFIG][:SPLIT]` into (name, split); None for non-tfds specs."""
    if not spec.startswith(TFDS_PREFIX):
        return None
    rest = spec[len(TFDS_PREFIX):]
    # Split syntax may itself hold colons (`train[:10%]`), so only the first counts.
    name, _, split = rest.partition(":")
    if not name:
        raise StyleError(f"bad dataset spec '{spec}'; expected tfds:NAME[/CONFIG][:SPLIT], e.g. tfds:coco/2014")
    return name, split or None


def list_training_images(spec: str) -> list[str]:
    """The image files a non-tfds spec names, minus formats TensorFlow cannot decode.

    Raises:
      StyleError: missing paths, or no decodable images.
    """
    files = image_io.list_images(spec)
    usable = [f for f in files if os.path.splitext(f)[1].lower() not in _UNDECODABLE_EXTENSIONS]
    if not usable:
        raise StyleError(f"no usable training images in '{spec}'; TIFF files are not supported, convert them to PNG")
    if len(usable) < len(files):
        logging.warning("skipping %d TIFF file(s) in '%s': TensorFlow cannot decode TIFF", len(files) - len(usable), spec)
    return usable


def readable_training_images(files: Sequence[str], spec: str) -> list[str]:
    """The `files` that decode completely, checked once each with Pillow, in order.

    tf.data would otherwise drop a file it cannot decode with a log line nobody sees
    (and a JPEG decoder that recovers truncated data would train on grey where the data
    ran out). Each file is opened and decoded here first: JPEGs at 1/8 scale (the
    decoder still reads every block, so truncation shows, in a few ms), PNGs by
    `verify` (every chunk's CRC, to the end of the file), others in full. Unreadable
    files are skipped with one warning line that counts and names them.

    Raises:
      StyleError: no file is readable.
    """
    from PIL import ImageFile

    if not files:
        return []
    truncated_ok = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image must fail to load
    try:
        workers = min(16, 2 * (os.cpu_count() or 1), max(1, len(files)))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # Pillow decodes without the GIL
            reasons = list(pool.map(_unreadable_reason, files))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
    readable = [f for f, reason in zip(files, reasons) if reason is None]
    bad = [(f, reason) for f, reason in zip(files, reasons) if reason is not None]
    if not readable:
        first, reason = bad[0]
        raise StyleError(
            f"no readable training images in '{spec}': all {len(bad)} fail to decode, e.g. '{first}' ({reason})"
        )
    if bad:
        names = ", ".join(f for f, _ in bad[:_NAMED_UNREADABLE])
        more = f" and {len(bad) - _NAMED_UNREADABLE} more" if len(bad) > _NAMED_UNREADABLE else ""
        logging.warning("skipped %d unreadable image(s) in '%s': %s%s", len(bad), spec, names, more)
    return readable


def _unreadable_reason(path: str) -> str | None:
    """None if Pillow reads `path` to the end, else why not (one line)."""
    from PIL import Image

    try:
        with Image.open(path, formats=_TF_FORMATS) as img:
            if img.format == "PNG":
                img.verify()
            else:
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
    except Exception as e:  # noqa: BLE001  (any failure makes the file unusable)
        return image_io.describe_error(e)
    return None


def image_dataset(
    spec: str,
    crop_size: int = 256,
    batch_size: int = 4,
    resize: str = "short_side",
    short_side_range: Sequence[int] = (256, 512),
    shuffle_buffer: int = 1000,
    seed: int | None = None,
    repeat: bool = True,
    skip_flat: bool = False,
    random_flip: bool = False,
    split: str = "train",
    data_dir: str | None = None,
    input_context=None,
):
    """A `tf.data.Dataset` of float32 (batch_size, crop_size, crop_size, 3) crops in [0, 255].

    Each image is resized (aspect ratio kept, antialiased) so that its short side is
    `crop_size` ("short_side", Johnson et al.) or a random integer in
    `short_side_range` ("short_side_range", AdaIN: resize to 256..512, crop 256), then
    cropped at a random position. Grayscale images become RGB; unreadable files of a
    folder / glob / list spec are skipped, counted and named in one warning line before
    the dataset is built (`readable_training_images`), rather than ending a long run.

    Args:
      spec: `tfds:NAME[/CONFIG][:SPLIT]`, or a folder / glob / comma-separated file list.
      crop_size: side of the square crops.
      batch_size: images per batch *of this pipeline*; under a distribution strategy pass
        the per-replica batch size (`input_context.get_per_replica_batch_size`).
      resize: "short_side" or "short_side_range".
      short_side_range: (low, high) inclusive, both >= crop_size; used by "short_side_range".
      shuffle_buffer: examples buffered for shuffling tfds data (a folder's file list is
        fully reshuffled every epoch instead); 0 keeps the stored order.
      seed: makes file order and crops reproducible; None draws fresh randomness.
      repeat: loop forever (training) or make one pass.
      skip_flat: drop crops whose pixel standard deviation is below 1 (solid colour).
      random_flip: mirror half of the crops left-right (augments a small style set).
      split: tfds split when the spec names none.
      data_dir: tfds data directory (default: TFDS' own, ~/tensorflow_datasets).
      input_context: a `tf.distribute.InputContext`; each input pipeline then reads its
        own shard of the files.

    Raises:
      StyleError: bad arguments, missing files or folders, no (readable) images, or an
        unprepared tfds dataset.
    """
    import tensorflow as tf

    _check_args(crop_size, batch_size, resize, short_side_range, shuffle_buffer)
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    if seed is not None and num_pipelines > 1:
        seed = seed + 1000003 * pipeline_id  # distinct crops per pipeline, still reproducible
    parsed = parse_tfds_spec(spec)
    if parsed is not None:
        name, spec_split = parsed
        images = _tfds_images(name, spec_split or split, data_dir, shuffle_buffer > 0, seed, input_context)
        if shuffle_buffer > 0:
            images = images.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    else:
        files = readable_training_images(list_training_images(spec), spec)
        if num_pipelines > 1 and len(files) >= num_pipelines:
            files = files[pipeline_id::num_pipelines]
        images = tf.data.Dataset.from_tensor_slices(files)
        if shuffle_buffer > 0:
            images = images.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        images = images.map(_read_image, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # Files were checked above (readable_training_images); this only keeps a file that
    # breaks during the run (replaced, deleted) from ending a run that is hours in.
    images = images.ignore_errors(log_warning=True)

    # One stateless seed pair per image keeps crops reproducible under a parallel map.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    low, high = (crop_size, crop_size) if resize == "short_side" else tuple(short_side_range)

    def crop(image, pair):
        return random_resized_crop(image, crop_size, low, high, pair, random_flip=random_flip)

    dataset = tf.data.Dataset.zip((images, seeds)).map(
        crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if skip_flat:
        dataset = dataset.filter(lambda image: tf.math.reduce_std(image) >= FLAT_STD_THRESHOLD)
    if repeat:
        # Repeating an empty epoch (every file unreadable or flat) ends the dataset
        # instead of spinning forever; the trainer reports that as running out of data.
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def random_resized_crop(image, crop_size: int, short_low: int, short_high: int, seed, random_flip: bool = False):
    """Resizes a (H, W, 3) image so its short side is in [short_low, short_high], then crops.

    `seed` is a stateless seed: a shape-(2,) int tensor. With `random_flip`, half of the
    crops are mirrored left-right. Returns float32 (crop_size, crop_size, 3) in [0, 255].
    """
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=2)
    image = tf.cast(image, tf.float32)
    short = tf.random.stateless_uniform([], seeds[0], minval=short_low, maxval=short_high + 1, dtype=tf.int32)
    shape = tf.shape(image)[:2]
    scale = tf.cast(short, tf.float32) / tf.cast(tf.reduce_min(shape), tf.float32)
    # The max() guards against rounding the short side to crop_size - 1.
    size = tf.maximum(tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32), short)
    image = tf.image.resize(image, size, method="bilinear", antialias=True)
    image = tf.image.stateless_random_crop(image, [crop_size, crop_size, 3], seeds[1])
    if random_flip:
        # A seed of its own, so turning flips on leaves the sizes and crops unchanged.
        flip_seed = tf.random.experimental.stateless_fold_in(seeds[1], 1)
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return tf.clip_by_value(image, 0.0, 255.0)


def _read_image(path):
    import tensorflow as tf

    # The file's own channels (GIFs: the first frame), so alpha can be flattened.
    image = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False, dtype=tf.uint8)
    return flatten_alpha(image)


def flatten_alpha(image):
    """A uint8 (H, W, C) image tensor, C of 1 to 4, as uint8 RGB (H, W, 3).

    Gray becomes RGB; alpha (C = 2 or 4) is composited onto white, as
    `keras_style.image_io.load_image` does for the commands, rather than dropped
    (which shows whatever colour transparent pixels happen to store, often black).
    """
    import tensorflow as tf

    channels = tf.shape(image)[-1]
    pixels = tf.cast(image, tf.float32)
    color = tf.cond(channels >= 3, lambda: pixels[..., :3], lambda: tf.repeat(pixels[..., :1], 3, axis=-1))
    alpha = tf.cond(
        channels % 2 == 0, lambda: pixels[..., -1:] / 255.0, lambda: tf.ones_like(pixels[..., :1])
    )
    flat = color * alpha + 255.0 * (1.0 - alpha)
    flat = tf.ensure_shape(flat, [None, None, 3])
    return tf.cast(tf.round(tf.clip_by_value(flat, 0.0, 255.0)), tf.uint8)


# How far into an encoded image `exif_orientation` looks for the Exif APP1 segment,
# and how many bytes it reads (the marker's search window plus one whole APP1
# segment, which is at most 64 KiB, so IFD0 always lies inside what is read).
EXIF_SEARCH_BYTES = 65536
_EXIF_READ_BYTES = 2 * 65536 + 16
_EXIF_HEADER = (0x45, 0x78, 0x69, 0x66, 0x00, 0x00)  # b"Exif\0\0"
_ORIENTATION_TAG = 0x0112


def exif_orientation(data):
    """The EXIF orientation (int32 scalar, 1 to 8) of one encoded image, in TensorFlow ops.

    Graph-safe (no `tf.py_function`), for SavedModel signatures: reads a JPEG's
    first "Exif\\0\\0" APP1 segment within its first 64 KiB, its TIFF header (byte
    order "II" or "MM"), IFD0 and the 0x0112 (Orientation) entry, SHORT or LONG.
    Every read is bounds-checked against the input and the APP1 segment: a
    non-JPEG, a JPEG without Exif or without the tag, and a truncated or
    malformed segment give 1 (no transform), never an error. A value outside
    1..8 also gives 1, as `PIL.ImageOps.exif_transpose` ignores it.
    """
    import tensorflow as tf

    data = tf.convert_to_tensor(data, tf.string)
    head = tf.strings.substr(data, 0, _EXIF_READ_BYTES - 16)
    raw = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)  # "" gives shape [0]
    n = tf.size(raw, out_type=tf.int64)
    # Zero padding to a fixed length: every gather below is clamped into it, and
    # every value that matters is also checked against `limit`.
    buf = tf.pad(raw, [[0, _EXIF_READ_BYTES - n]])
    buf = tf.ensure_shape(buf, [_EXIF_READ_BYTES])

    def byte(i):
        return tf.gather(buf, tf.clip_by_value(i, 0, _EXIF_READ_BYTES - 1))

    is_jpeg = (n >= 2) & tf.equal(buf[0], 0xFF) & tf.equal(buf[1], 0xD8)

    # The APP1 marker (FF E1) and segment length sit just before "Exif\0\0".
    start = 4
    span = EXIF_SEARCH_BYTES - start
    found = tf.equal(buf[start - 4 : start - 4 + span], 0xFF) & tf.equal(buf[start - 3 : start - 3 + span], 0xE1)
    for k, value in enumerate(_EXIF_HEADER):
        found &= tf.equal(buf[start + k : start + k + span], value)
    has_exif = tf.reduce_any(found)
    at = tf.argmax(tf.cast(found, tf.int32), output_type=tf.int64) + start
    segment_end = at - 2 + byte(at - 2) * 256 + byte(at - 1)  # the length counts its own 2 bytes
    limit = tf.minimum(n, segment_end)
    tiff = at + len(_EXIF_HEADER)

    little = tf.equal(byte(tiff), 0x49) & tf.equal(byte(tiff + 1), 0x49)
    big = tf.equal(byte(tiff), 0x4D) & tf.equal(byte(tiff + 1), 0x4D)

    def read16(i):
        b0, b1 = byte(i), byte(i + 1)
        return tf.where(little, b0 + b1 * 256, b0 * 256 + b1)

    def read32(i):
        b0, b1, b2, b3 = byte(i), byte(i + 1), byte(i + 2), byte(i + 3)
        return tf.where(
            little,
            b0 + b1 * 256 + b2 * 65536 + b3 * 16777216,
            b0 * 16777216 + b1 * 65536 + b2 * 256 + b3,
        )

    header_ok = is_jpeg & has_exif & (little | big) & (tiff + 8 <= limit) & tf.equal(read16(tiff + 2), 42)
    ifd = tiff + read32(tiff + 4)
    ifd_ok = header_ok & (ifd >= tiff + 8) & (ifd + 2 <= limit)
    # Only the entries that lie wholly inside the segment (at most a 64 KiB segment's worth).
    count = tf.where(ifd_ok, read16(ifd), 0)
    count = tf.clip_by_value(tf.minimum(count, (limit - ifd - 2) // 12), 0, 65536 // 12)
    entries = ifd + 2 + 12 * tf.range(count, dtype=tf.int64)
    tags = read16(entries)
    types = read16(entries + 2)
    values = tf.where(tf.equal(types, 4), read32(entries + 8), read16(entries + 8))
    match = tf.equal(tags, _ORIENTATION_TAG) & (tf.equal(types, 3) | tf.equal(types, 4))
    # The last such entry, as Pillow keeps the last of a repeated tag.
    last = tf.reduce_max(tf.where(match, tf.range(count, dtype=tf.int64), -1))
    value = tf.reduce_max(tf.where(tf.equal(tf.range(count, dtype=tf.int64), last), values, 0))
    orientation = tf.where(ifd_ok & (last >= 0) & (value >= 1) & (value <= 8), value, 1)
    return tf.cast(orientation, tf.int32)


def apply_exif_orientation(image, orientation):
    """An (H, W, C) image turned upright as `PIL.ImageOps.exif_transpose` does.

    `orientation` is an int scalar tensor (see `exif_orientation`): 2 mirrors
    left-right, 3 rotates 180 degrees, 4 mirrors top-bottom, 5 transposes, 6
    rotates 90 degrees clockwise, 7 transverses, 8 rotates 90 degrees
    counter-clockwise; 1 and anything else leave the image as it is. Graph-safe.
    """
    import tensorflow as tf

    image = tf.convert_to_tensor(image)

    def transpose(x):
        return tf.transpose(x, [1, 0, 2])

    branches = [
        lambda: image,  # 1
        lambda: image[:, ::-1],  # 2: FLIP_LEFT_RIGHT
        lambda: image[::-1, ::-1],  # 3: ROTATE_180
        lambda: image[::-1],  # 4: FLIP_TOP_BOTTOM
        lambda: transpose(image),  # 5: TRANSPOSE
        lambda: transpose(image[::-1]),  # 6: ROTATE_270 (90 degrees clockwise)
        lambda: transpose(image[::-1, ::-1]),  # 7: TRANSVERSE
        lambda: transpose(image[:, ::-1]),  # 8: ROTATE_90 (90 degrees counter-clockwise)
    ]
    orientation = tf.cast(orientation, tf.int32)
    index = tf.where((orientation >= 1) & (orientation <= 8), orientation - 1, 0)
    return tf.switch_case(index, branches)


def _tfds_images(name, split, data_dir, shuffle_files, seed, input_context):
    """The `image` feature of a prepared tfds dataset, never downloading."""
    import importlib_resources  # noqa: F401  (the installed etils needs it before tfds)
    import tensorflow as tf
    import tensorflow_datasets as tfds

    where = data_dir or "the default data_dir (~/tensorflow_datasets)"
    build_hint = f"tfds build {name}" + (f" --data_dir={data_dir}" if data_dir else "")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise StyleError(f"unknown TensorFlow Datasets dataset '{name}'; see `tfds.list_builders()`") from None
    except (ValueError, KeyError) as e:  # e.g. an unknown config or version
        message = " ".join(str(e).split())
        raise StyleError(f"cannot open dataset '{name}': {message[:200]}") from None
    if not builder.is_prepared():
        raise StyleError(
            f"dataset '{name}' is not prepared in {where}; run `{build_hint}` (on a machine that can "
            "download it, then copy the folder) or pass the folder holding it as the tfds data_dir"
        )
    if "image" not in builder.info.features:
        raise StyleError(f"dataset '{name}' has no 'image' feature; pick an image dataset")
    if split not in builder.info.splits and "[" not in split and "+" not in split:
        raise StyleError(f"dataset '{name}' has no split '{split}'; it has {', '.join(builder.info.splits)}")
    read_config = tfds.ReadConfig(shuffle_seed=seed, input_context=input_context)
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
    except ValueError as e:
        message = " ".join(str(e).split())
        raise StyleError(f"cannot read split '{split}' of dataset '{name}': {message[:200]}") from None
    channels = builder.info.features["image"].shape[-1]

    def rgb(example):
        image = example["image"]
        if channels == 1:
            image = tf.image.grayscale_to_rgb(image)
        elif channels == 4:
            image = flatten_alpha(image)  # onto white, as for image files
        return image

    return dataset.map(rgb)


def _check_args(crop_size, batch_size, resize, short_side_range, shuffle_buffer):
    if crop_size < 1:
        raise StyleError(f"crop size must be >= 1, got {crop_size}")
    if batch_size < 1:
        raise StyleError(f"batch size must be >= 1, got {batch_size}")
    if resize not in RESIZE_MODES:
        raise StyleError(f"unknown resize mode '{resize}'; choose {' or '.join(RESIZE_MODES)}")
    if resize == "short_side_range":
        low, high = short_side_range
        if not crop_size <= low <= high:
            raise StyleError(
                f"short side range {low}..{high} must satisfy crop size ({crop_size}) <= low <= high"
            )
    if shuffle_buffer < 0:
        raise StyleError(f"shuffle buffer must be >= 0, got {shuffle_buffer}")
