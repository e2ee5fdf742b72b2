"""EXIF orientation in the SavedModel `stylize_bytes` path (TF ops, no py_function).

`keras_style.data.exif_orientation` / `apply_exif_orientation` must turn an image
upright exactly as `PIL.ImageOps.exif_transpose` (what the commands use) does, for
little- and big-endian EXIF, and must give orientation 1 (never an error) for
anything that is not a well-formed JPEG Exif segment.
"""

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageOps

HEIGHT, WIDTH = 12, 20  # non-square, so rotations show in the shape


def _pixels(seed=0):
    # Smooth blocks, so the JPEG round trip stays close to the source.
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(HEIGHT // 4, WIDTH // 4, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)


def _jpeg(exif=None, seed=0):
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    Image.fromarray(_pixels(seed)).save(buf, "JPEG", quality=95, **kwargs)
    return buf.getvalue()


def _exif_pillow(orientation):
    """Pillow's own Exif payload (its byte order depends on the Pillow version)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = exif.tobytes()
    assert data[:8] in (b"Exif\x00\x00II", b"Exif\x00\x00MM")
    return data


def _exif_payload(orientation, order=">", extra_tags=True):
    """A hand-made Exif payload, big- (">", "MM") or little-endian ("<", "II")."""
    entries = []
    if extra_tags:
        entries.append(struct.pack(order + "HHI", 0x010F, 2, 4) + b"ABC\x00")  # Make
    entries.append(struct.pack(order + "HHIH", 0x0112, 3, 1, orientation) + b"\x00\x00")
    if extra_tags:
        entries.append(struct.pack(order + "HHIH", 0x0128, 3, 1, 2) + b"\x00\x00")  # ResolutionUnit
    ifd = struct.pack(order + "H", len(entries)) + b"".join(entries) + b"\x00\x00\x00\x00"
    prefix = b"MM\x00\x2a" if order == ">" else b"II\x2a\x00"
    return b"Exif\x00\x00" + prefix + struct.pack(order + "I", 8) + ifd


def _exif_mm(orientation):
    return _exif_payload(orientation, ">")


def _with_app1(jpeg, payload):
    """`jpeg` with an APP1 segment holding `payload` inserted right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


@pytest.fixture(scope="module")
def oriented():
    """tf.function: bytes -> (upright image, orientation, decoded image as stored)."""
    import tensorflow as tf

    from keras_style import data as data_lib

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def fn(data):
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
        orientation = data_lib.exif_orientation(data)
        return data_lib.apply_exif_orientation(image, orientation), orientation, image

    def run(data):
        upright, orientation, image = fn(tf.constant(data))
        return upright.numpy(), int(orientation.numpy()), image.numpy()

    return run


def _check_like_pillow(run, data, orientation):
    upright, got, stored = run(data)
    assert got == orientation
    pil = Image.open(io.BytesIO(data))
    assert pil.getexif().get(0x0112) == orientation  # Pillow reads the same tag
    want = np.asarray(ImageOps.exif_transpose(pil).convert("RGB"))
    assert upright.shape == want.shape
    # Exactly Pillow's transform of the very pixels TensorFlow decoded ...
    same_pixels = Image.fromarray(stored)
    same_pixels.info["exif"] = pil.info["exif"]
    exact = np.asarray(ImageOps.exif_transpose(same_pixels))
    np.testing.assert_array_equal(upright, exact)
    # ... and close to Pillow's own decode (the two JPEG decoders differ slightly).
    assert np.abs(upright.astype(int) - want.astype(int)).mean() < 3


@pytest.mark.parametrize("orientation", range(1, 9))
def test_pillow_written_exif_matches_pillow(oriented, orientation):
    _check_like_pillow(oriented, _jpeg(exif=_exif_pillow(orientation)), orientation)


@pytest.mark.parametrize("order", ["<", ">"], ids=["II", "MM"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_both_byte_orders_match_pillow(oriented, orientation, order):
    data = _with_app1(_jpeg(), _exif_payload(orientation, order))
    assert data[12:14] == (b"II" if order == "<" else b"MM")
    _check_like_pillow(oriented, data, orientation)


@pytest.mark.parametrize("order", ["<", ">"], ids=["II", "MM"])
def test_orientation_as_long_and_tag_alone(order):
    from keras_style import data as data_lib

    alone = _with_app1(_jpeg(), _exif_payload(7, order, extra_tags=False))
    assert int(data_lib.exif_orientation(alone)) == 7
    # Orientation stored as a LONG (type 4): Pillow reads it too.
    entry = struct.pack(order + "HHII", 0x0112, 4, 1, 5)
    ifd = struct.pack(order + "H", 1) + entry + b"\x00" * 4
    prefix = b"MM\x00\x2a" if order == ">" else b"II\x2a\x00"
    data = _with_app1(_jpeg(), b"Exif\x00\x00" + prefix + struct.pack(order + "I", 8) + ifd)
    assert Image.open(io.BytesIO(data)).getexif().get(0x0112) == 5
    assert int(data_lib.exif_orientation(data)) == 5


def test_upright_shapes(oriented):
    for orientation in range(1, 9):
        upright, _, _ = oriented(_jpeg(exif=_exif_pillow(orientation)))
        expected = (WIDTH, HEIGHT, 3) if orientation >= 5 else (HEIGHT, WIDTH, 3)
        assert upright.shape == expected, orientation


def _png():
    buf = io.BytesIO()
    Image.fromarray(_pixels()).save(buf, "PNG")
    return buf.getvalue()


def test_no_exif_or_not_jpeg_is_1(oriented):
    from keras_style import data as data_lib

    assert oriented(_jpeg())[1] == 1
    assert oriented(_png())[1] == 1
    for data in [b"", b"\xff", b"\xff\xd8", b"not an image", _png()]:
        assert int(data_lib.exif_orientation(data)) == 1, data[:8]


def test_malformed_exif_is_1():
    import tensorflow as tf

    from keras_style import data as data_lib

    fn = tf.function(data_lib.exif_orientation, input_signature=[tf.TensorSpec([], tf.string)])
    rng = np.random.default_rng(0)
    good = _with_app1(_jpeg(), _exif_mm(6))
    assert int(fn(good)) == 6
    payload = _exif_mm(6)
    cases = {
        "random after SOI": b"\xff\xd8" + rng.bytes(5000),
        "random after Exif header": b"\xff\xd8\xff\xe1\x10\x00Exif\x00\x00" + rng.bytes(100),
        "bad byte order": _with_app1(_jpeg(), payload.replace(b"MM", b"MI", 1)),
        "bad magic": _with_app1(_jpeg(), payload[:8] + b"\x00\x2b" + payload[10:]),
        "IFD offset past the end": _with_app1(_jpeg(), payload[:10] + struct.pack(">I", 10**9) + payload[14:]),
        "IFD offset into the header": _with_app1(_jpeg(), payload[:10] + struct.pack(">I", 2) + payload[14:]),
        "huge entry count": _with_app1(_jpeg(), payload[:14] + b"\xff\xff"),
        "orientation 0": _with_app1(_jpeg(), _exif_mm(0)),
        "orientation 9": _with_app1(_jpeg(), _exif_mm(9)),
        "orientation 65535": _with_app1(_jpeg(), _exif_mm(65535)),
        "not SOI": b"\x00\x00" + good[2:],
    }
    # Truncated inside the segment, whether or not the declared length is kept.
    for cut in range(8, len(payload)):
        if cut < len(payload) - 16:  # the orientation entry no longer fits
            app1 = b"\xff\xd8\xff\xe1" + struct.pack(">H", len(payload) + 2)
            cases[f"truncated file at {cut}"] = app1 + payload[:cut]
            cases[f"short segment at {cut}"] = _with_app1(_jpeg(), payload[:cut])
    for name, data in cases.items():
        assert int(fn(data)) == 1, name
        assert int(data_lib.exif_orientation(data)) == 1, name  # eagerly too
    # The same bytes inside a batch-style map, as the signatures run them.
    batch = tf.constant(list(cases.values()))
    out = tf.map_fn(data_lib.exif_orientation, batch, fn_output_signature=tf.int32)
    assert out.numpy().tolist() == [1] * len(cases)


def test_exif_past_search_window_is_ignored():
    from keras_style import data as data_lib

    # JPEG COM segments push the Exif segment past the first 64 KiB (a documented limit).
    comment = b"\xff\xfe" + struct.pack(">H", 65002) + b"x" * 65000
    near = _with_app1(_jpeg(), _exif_mm(8))
    assert int(data_lib.exif_orientation(near)) == 8
    inside = near[:2] + comment[:30000] + near[2:]  # still within the window
    inside = inside[:4] + struct.pack(">H", 29998) + inside[6:]
    assert int(data_lib.exif_orientation(inside)) == 8
    far = near[:2] + comment + comment + near[2:]
    assert int(data_lib.exif_orientation(far)) == 1


def test_stylize_bytes_rotates_like_the_commands(tmp_path):
    import keras
    import tensorflow as tf

    from keras_style.export.fast_style import export_fast_style_model
    from keras_style.models.transform_net import TransformNet

    keras.utils.set_random_seed(0)
    path = tmp_path / "saved_model"
    export_fast_style_model(TransformNet(base=4), path, style_name="exif_test")
    loaded = tf.saved_model.load(str(path))

    data = _jpeg(exif=_exif_pillow(6))
    out = loaded.signatures["stylize_bytes"](image_bytes=tf.constant([data]))["stylized_bytes"].numpy()
    stylized = np.asarray(Image.open(io.BytesIO(out[0])).convert("RGB"))
    assert stylized.shape == (WIDTH, HEIGHT, 3)  # rotated: H and W swapped

    # The same decoded pixels, turned upright by Pillow, through serving_default.
    stored = tf.io.decode_jpeg(data, channels=3).numpy()
    upright = np.asarray(Image.fromarray(stored).transpose(Image.Transpose.ROTATE_270))
    assert upright.shape == (WIDTH, HEIGHT, 3)
    expected = loaded.signatures["serving_default"](images=tf.constant(upright[None]))["stylized"].numpy()[0]
    assert np.abs(stylized.astype(int) - expected.astype(int)).max() <= 2


def test_adain_stylize_bytes_rotates_like_the_commands(tmp_path_factory):
    import tensorflow as tf

    from test_adain_export import shared_adain_saved_model

    loaded = tf.saved_model.load(shared_adain_saved_model(tmp_path_factory))

    def jpeg(orientation, seed, size):
        buf = io.BytesIO()
        pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(buf, "JPEG", quality=95, exif=_exif_pillow(orientation))
        return buf.getvalue()

    content, style = jpeg(6, 1, (32, 48)), jpeg(8, 2, (40, 24))
    alpha = tf.constant([1.0])
    out = loaded.signatures["stylize_bytes"](
        content_bytes=tf.constant([content]), style_bytes=tf.constant([style]), alpha=alpha
    )["stylized_bytes"].numpy()
    stylized = np.asarray(Image.open(io.BytesIO(out[0])).convert("RGB"))
    assert stylized.shape == (48, 32, 3)  # content rotated: H and W swapped

    def upright(data, method):
        return np.asarray(Image.fromarray(tf.io.decode_jpeg(data, channels=3).numpy()).transpose(method))

    expected = loaded.signatures["serving_default"](
        content=tf.constant(upright(content, Image.Transpose.ROTATE_270)[None]),
        style=tf.constant(upright(style, Image.Transpose.ROTATE_90)[None]),
        alpha=alpha,
    )["stylized"].numpy()[0]
    assert np.abs(stylized.astype(int) - expected.astype(int)).max() <= 2
