"""Tests for keras_style.data: content-image pipelines from folders and tfds."""

import os
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_style import data
from keras_style.errors import StyleError

CROP = 16


def _write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Small JPEG, PNG (RGBA), grayscale PNG and GIF images of different sizes."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    _write(root / "a.jpg", rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    _write(root / "b.png", rng.integers(0, 256, (50, 30, 4), dtype=np.uint8))
    _write(root / "c_gray.png", rng.integers(0, 256, (24, 24), dtype=np.uint8))
    _write(root / "d.gif", rng.integers(0, 256, (20, 33, 3), dtype=np.uint8))
    (root / "notes.txt").write_text("not an image")
    return str(root)


def _batches(dataset, n):
    return [b.numpy() for b in dataset.take(n)]


def test_folder_batches_have_crop_shape_and_range(folder):
    dataset = data.image_dataset(folder, crop_size=CROP, batch_size=3, seed=0)
    assert dataset.element_spec.shape.as_list() == [3, CROP, CROP, 3]  # drop_remainder: static batch
    assert dataset.element_spec.dtype == tf.float32
    for batch in _batches(dataset, 4):
        assert batch.shape == (3, CROP, CROP, 3)
        assert batch.min() >= 0.0 and batch.max() <= 255.0
        assert batch.std() > 10.0  # real pixels, not zeros


def test_grayscale_becomes_rgb(folder):
    dataset = data.image_dataset(os.path.join(folder, "c_gray.png"), crop_size=CROP, batch_size=2, seed=0)
    batch = _batches(dataset, 1)[0]
    np.testing.assert_allclose(batch[..., 0], batch[..., 1])
    np.testing.assert_allclose(batch[..., 0], batch[..., 2])


def test_glob_and_comma_list_specs(folder):
    one_pass = dict(crop_size=CROP, batch_size=1, repeat=False, seed=0)
    assert len(list(data.image_dataset(os.path.join(folder, "*.png"), **one_pass))) == 2
    spec = ",".join(os.path.join(folder, n) for n in ("a.jpg", "d.gif"))
    assert len(list(data.image_dataset(spec, **one_pass))) == 2
    assert len(list(data.image_dataset(folder, **one_pass))) == 4  # notes.txt is ignored


def test_seed_makes_crops_reproducible(folder):
    first = _batches(data.image_dataset(folder, crop_size=CROP, batch_size=2, seed=3), 3)
    again = _batches(data.image_dataset(folder, crop_size=CROP, batch_size=2, seed=3), 3)
    other = _batches(data.image_dataset(folder, crop_size=CROP, batch_size=2, seed=4), 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_short_side_resize_keeps_whole_short_side(tmp_path):
    # A 20x40 image with a left-to-right ramp: resized to short side 16 it is 16x32, so a
    # 16x16 crop spans the full height and half the width.
    ramp = np.tile(np.linspace(0, 255, 40, dtype=np.float32), (20, 1)).astype(np.uint8)
    path = _write(tmp_path / "ramp.png", np.stack([ramp] * 3, -1))
    batch = _batches(data.image_dataset(path, crop_size=CROP, batch_size=8, seed=0), 1)[0]
    spans = batch[:, 0, -1, 0] - batch[:, 0, 0, 0]
    assert np.all(spans > 90) and np.all(spans < 160)  # ~half of the 0..255 ramp


def test_random_flip_mirrors_about_half_the_crops_and_keeps_them(tmp_path):
    # The ramp of the test above: a crop runs dark to light; a mirrored one light to dark.
    ramp = np.tile(np.linspace(0, 255, 40, dtype=np.float32), (20, 1)).astype(np.uint8)
    path = _write(tmp_path / "ramp.png", np.stack([ramp] * 3, -1))
    args = dict(crop_size=CROP, batch_size=32, resize="short_side_range", short_side_range=(CROP, 24), seed=5)
    plain = _batches(data.image_dataset(path, **args), 1)[0]
    flipped = _batches(data.image_dataset(path, random_flip=True, **args), 1)[0]
    mirrored = [not np.array_equal(f, p) for f, p in zip(flipped, plain)]
    for f, p, m in zip(flipped, plain, mirrored):  # the same sizes and crops, some mirrored
        np.testing.assert_array_equal(f, p[:, ::-1] if m else p)
    assert 8 <= sum(mirrored) <= 24
    assert np.all(plain[:, 0, -1, 0] > plain[:, 0, 0, 0])


def test_short_side_range_mode(folder):
    dataset = data.image_dataset(
        folder, crop_size=CROP, batch_size=2, resize="short_side_range", short_side_range=(CROP, 2 * CROP), seed=0
    )
    assert _batches(dataset, 1)[0].shape == (2, CROP, CROP, 3)
    with pytest.raises(StyleError, match="short side range"):
        data.image_dataset(folder, crop_size=CROP, resize="short_side_range", short_side_range=(8, 64))


def test_skip_flat_removes_solid_crops(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        _write(tmp_path / f"flat{i}.png", np.full((20, 20, 3), 40 * i + 10, np.uint8))
        _write(tmp_path / f"noise{i}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    one_pass = dict(crop_size=CROP, batch_size=1, repeat=False, seed=0)
    kept = np.concatenate(list(data.image_dataset(str(tmp_path), skip_flat=True, **one_pass).as_numpy_iterator()))
    everything = np.concatenate(list(data.image_dataset(str(tmp_path), **one_pass).as_numpy_iterator()))
    assert len(everything) == 6 and len(kept) == 3
    assert all(crop.std() >= 1.0 for crop in kept)


def test_corrupt_file_is_skipped(tmp_path):
    _write(tmp_path / "good.png", np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    crops = list(data.image_dataset(str(tmp_path), crop_size=CROP, batch_size=1, repeat=False).as_numpy_iterator())
    assert len(crops) == 1


def test_input_context_shards_files(tmp_path):
    for i in range(4):
        _write(tmp_path / f"{i}.png", np.full((20, 20, 3), 50 * i, np.uint8))
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        dataset = data.image_dataset(str(tmp_path), crop_size=CROP, batch_size=1, repeat=False, input_context=context)
        seen.append({round(float(b[0, 0, 0, 0])) for b in dataset.as_numpy_iterator()})
    assert seen == [{0, 100}, {50, 150}]


@pytest.mark.parametrize(
    "spec, message",
    [("/no/such/folder", "not found"), ("EMPTY", "no images in directory"), ("/no/such/*.jpg", "no images match")],
)
def test_bad_folder_specs_raise_style_error(tmp_path, spec, message):
    spec = str(tmp_path) if spec == "EMPTY" else spec
    with pytest.raises(StyleError, match=message):
        data.image_dataset(spec)


def test_bad_arguments_raise_style_error(folder):
    with pytest.raises(StyleError, match="resize mode"):
        data.image_dataset(folder, resize="stretch")
    with pytest.raises(StyleError, match="batch size"):
        data.image_dataset(folder, batch_size=0)
    with pytest.raises(StyleError, match="tfds:NAME"):
        data.image_dataset("tfds:")


def test_tiff_only_folder_is_refused(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.tif")
    with pytest.raises(StyleError, match="TIFF"):
        data.image_dataset(str(tmp_path))


def test_unprepared_tfds_dataset_fails_fast_naming_tfds_build(tmp_path):
    start = time.perf_counter()
    with pytest.raises(StyleError, match=r"not prepared.*tfds build coco/2014 --data_dir="):
        data.image_dataset("tfds:coco/2014", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 20  # no download attempt (that retries for minutes)
    with pytest.raises(StyleError, match="unknown TensorFlow Datasets dataset"):
        data.image_dataset("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


def test_prepared_tfds_dataset(tmp_path):
    import importlib_resources  # noqa: F401
    import tensorflow_datasets as tfds

    class KerasStyleTinyImages(tfds.core.GeneratorBasedBuilder):
        """Four small random images; prepared locally, nothing downloaded."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(None, None, 3))})
            return tfds.core.DatasetInfo(builder=self, features=features)

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(4), "test": self._generate_examples(2)}

        def _generate_examples(self, n):
            rng = np.random.default_rng(n)
            for i in range(n):
                yield i, {"image": rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)}

    builder = KerasStyleTinyImages(data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_dir=str(tmp_path / "downloads"))
    name = builder.name
    dataset = data.image_dataset(f"tfds:{name}", crop_size=CROP, batch_size=3, data_dir=str(tmp_path / "tfds"), seed=0)
    batch = _batches(dataset, 1)[0]
    assert batch.shape == (3, CROP, CROP, 3) and batch.dtype == np.float32 and batch.max() <= 255.0
    test_split = data.image_dataset(
        f"tfds:{name}:test", crop_size=CROP, batch_size=1, repeat=False, data_dir=str(tmp_path / "tfds")
    )
    assert len(list(test_split)) == 2
    with pytest.raises(StyleError, match="no split 'valid'"):
        data.image_dataset(f"tfds:{name}:valid", data_dir=str(tmp_path / "tfds"))


# --- unreadable files and transparency (issue 15) ----------------------------------------------


def _truncated_jpeg(path, seed=1):
    """A JPEG cut in half (TF 2.21 fails to decode it, and tf.data dropped it without a visible word)."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buffer, format="JPEG", quality=90)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return str(path)


def test_unreadable_files_are_skipped_counted_and_named_in_one_warning(tmp_path, caplog):
    rng = np.random.default_rng(0)
    _write(tmp_path / "good.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    _write(tmp_path / "good2.jpg", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    _truncated_jpeg(tmp_path / "cut.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    with caplog.at_level("WARNING"):
        crops = list(data.image_dataset(str(tmp_path), crop_size=CROP, batch_size=1, repeat=False)
                     .as_numpy_iterator())
    assert len(crops) == 2  # the truncated JPEG is not trained on
    warnings = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "skipped 2 unreadable image(s)" in warnings[0]
    assert "bad.jpg" in warnings[0] and "cut.jpg" in warnings[0] and "good" not in warnings[0]


def test_readable_training_images_keeps_order_and_refuses_none(tmp_path):
    rng = np.random.default_rng(0)
    good = [_write(tmp_path / f"{n}.png", rng.integers(0, 256, (9, 9, 3), dtype=np.uint8)) for n in "ab"]
    cut = _truncated_jpeg(tmp_path / "c.jpg")
    assert data.readable_training_images([good[1], cut, good[0]], "spec") == [good[1], good[0]]
    with pytest.raises(StyleError, match="no readable training images in 'only_bad': all 1 fail to decode"):
        data.readable_training_images([cut], "only_bad")
    with pytest.raises(StyleError, match="no readable training images"):
        data.image_dataset(cut, crop_size=CROP, batch_size=1, repeat=False)


def test_transparent_pixels_become_white_as_in_the_commands(tmp_path):
    """The commands (image_io.load_image) composite alpha onto white; training does too."""
    from keras_style import image_io

    rgba = np.zeros((CROP, CROP, 4), np.uint8)  # transparent black
    rgba[:, : CROP // 2] = (200, 10, 10, 255)  # opaque red on the left half
    path = _write(tmp_path / "logo.png", rgba)
    (crop,) = data.image_dataset(path, crop_size=CROP, batch_size=1, repeat=False).as_numpy_iterator()
    expected = image_io.load_image(path)
    np.testing.assert_allclose(crop[0], expected, atol=1.0)
    assert crop[0][:, -1].min() >= 254  # white where transparent, not black
    gray_alpha = np.stack([np.full((CROP, CROP), 90, np.uint8), np.full((CROP, CROP), 0, np.uint8)], axis=-1)
    path = _write(tmp_path / "la.png", gray_alpha, "LA")
    (crop,) = data.image_dataset(path, crop_size=CROP, batch_size=1, repeat=False).as_numpy_iterator()
    assert crop.min() >= 254
