"""One precision setting for the whole library: which Keras dtype policy models compute in.

VGG19 forward and backward is the cost of almost everything here (every Gatys
evaluation, every training step, the AdaIN encoder), and on CPUs with bfloat16 units
(AVX512-BF16, AMX-BF16) oneDNN runs it 2–5× faster under `mixed_bfloat16` than in
float32. Under a mixed policy variables stay float32 (so checkpoints move freely between
precisions) and only the layers' computation is reduced; statistics, Gram matrices and
losses are computed in float32 by the layers and losses themselves.

    from keras_style import precision
    policy = precision.resolve("auto")           # e.g. "mixed_bfloat16"
    with precision.policy_scope(policy):
        model = build_model()                    # layers compute in bfloat16

`policy_scope` restores the caller's Keras dtype policy on exit: a library call never
changes the global policy of the program that called it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from typing import Iterable, Iterator, Sequence

from keras_style.errors import StyleError

AUTO = "auto"
FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
MIXED_FLOAT16 = "mixed_float16"
PRECISIONS = (AUTO, FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16)

# Short names accepted wherever a precision is given (flags, configs).
_ALIASES = {"bfloat16": MIXED_BFLOAT16, "bf16": MIXED_BFLOAT16, "float16": MIXED_FLOAT16, "fp16": MIXED_FLOAT16,
            "fp32": FLOAT32}

# /proc/cpuinfo flags of the CPU units that run bfloat16 matrix products natively.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
# Tensor cores (fast float16 matmul and conv) arrived with compute capability 7.0 (Volta).
MIN_TENSOR_CORE_CAPABILITY = (7, 0)


@dataclasses.dataclass(frozen=True)
class Choice:
    """A resolved precision: the Keras policy name and why it was chosen."""

    policy: str
    reason: str

    @property
    def compute_dtype(self) -> str:
        """The dtype layers compute in: float32, bfloat16 or float16."""
        return compute_dtype(self.policy)

    def describe(self) -> str:
        """One line for the commands to print, e.g. "precision: mixed_bfloat16 (CPU has avx512_bf16)"."""
        return f"precision: {self.policy} ({self.reason})"


def canonical(name: str) -> str:
    """Validates a precision name (or alias such as "bfloat16") and returns its canonical form.

    Raises:
      StyleError: not a known precision.
    """
    value = str(name).strip().lower()
    value = _ALIASES.get(value, value)
    if value not in PRECISIONS:
        raise StyleError(f"unknown precision '{name}'; choose {', '.join(PRECISIONS)} (or bfloat16, float16)")
    return value


def compute_dtype(policy: str) -> str:
    """The compute dtype of a policy name: float32, bfloat16 or float16."""
    return {FLOAT32: "float32", MIXED_BFLOAT16: "bfloat16", MIXED_FLOAT16: "float16"}[canonical(policy)]


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo is missing)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """(major, minor) of every GPU TensorFlow sees (empty on a CPU-only machine)."""
    from keras_style.native_logs import import_tensorflow

    tf = import_tensorflow()  # often the first TensorFlow import of a command

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    return capabilities


def choose(
    precision: str = AUTO,
    cpu_features: Iterable[str] | None = None,
    gpus: Sequence[tuple[int, int]] | None = None,
    environ: dict | None = None,
) -> Choice:
    """Resolves a precision setting to a Keras dtype policy.

    `auto` takes, in order: mixed_float16 when every GPU TensorFlow sees has tensor cores
    (compute capability >= 7.0); float32 on other GPUs; on a CPU, mixed_bfloat16 when it
    reports AMX-BF16 or AVX512-BF16 and TensorFlow's oneDNN kernels are on (they are the
    bfloat16 fast path; `TF_ENABLE_ONEDNN_OPTS=0` turns them off); float32 otherwise.
    Any other value is taken as given.

    Args:
      precision: one of `PRECISIONS` (or an alias such as "bfloat16").
      cpu_features: the CPU's flags (default: read from /proc/cpuinfo). Tests inject them.
      gpus: the GPUs' compute capabilities (default: asked of TensorFlow).
      environ: environment variables (default: `os.environ`).

    Raises:
      StyleError: an unknown precision.
    """
    precision = canonical(precision)
    if precision != AUTO:
        return Choice(precision, "as requested")
    if gpus is None:
        gpus = gpu_compute_capabilities()
    if gpus:
        if all(tuple(c) >= MIN_TENSOR_CORE_CAPABILITY for c in gpus):
            return Choice(MIXED_FLOAT16, "GPU with tensor cores")
        return Choice(FLOAT32, "GPU without tensor cores")
    features = frozenset(cpu_flags() if cpu_features is None else cpu_features)
    found = [flag for flag in CPU_BF16_FLAGS if flag in features]
    if not found:
        return Choice(FLOAT32, "CPU has no bfloat16 units")
    environ = os.environ if environ is None else environ
    if environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip() in ("0", "false", "False"):
        return Choice(FLOAT32, "oneDNN is off (TF_ENABLE_ONEDNN_OPTS=0)")
    return Choice(MIXED_BFLOAT16, f"CPU has {' and '.join(found)}")


@functools.lru_cache(maxsize=None)
def bfloat16_products_sum_in_float32() -> bool:
    """Whether TensorFlow's bfloat16 matrix products on this CPU sum in float32.

    oneDNN's kernels on a CPU with bfloat16 units (where `auto` picks mixed_bfloat16) sum
    in float32 and round each finished entry once. Eigen's kernels, which run without
    such units or with `TF_ENABLE_ONEDNN_OPTS=0`, round along the way: Gram entries over
    256 products came out up to 0.46% off. `losses.gram_matrix` multiplies bfloat16
    features in float32 where this is False. Read once per process, as TensorFlow reads
    its oneDNN setting once.
    """
    return choose(AUTO, gpus=[]).policy == MIXED_BFLOAT16


def resolve(precision: str = AUTO, **kwargs) -> str:
    """`choose(precision, ...).policy`: the Keras policy name to build models under."""
    return choose(precision, **kwargs).policy


@contextlib.contextmanager
def policy_scope(policy: str) -> Iterator[str]:
    """Builds Keras layers under `policy` inside the block; restores the caller's policy after.

    Keras reads the global dtype policy when a layer is constructed, so models (and the
    frozen loss networks) built inside compute in the policy's dtype for good. `auto` is
    resolved first. Yields the policy name used.
    """
    import keras

    name = resolve(policy)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        keras.config.set_dtype_policy(previous)


def _layers_of(layer) -> Iterator:
    yield layer
    for sublayer in getattr(layer, "layers", None) or ():
        yield from _layers_of(sublayer)


def set_model_policy(model, policy: str) -> str:
    """Switches every layer of `model` (nested models included) to compute in `policy`.

    Weights are untouched (float32 under every policy); graphs traced afterwards compute
    in the new dtype. Used to export a model trained under a mixed policy in float32, and
    to build bfloat16 serving copies. `auto` is resolved first. Returns the policy name.
    """
    name = resolve(policy)
    for layer in _layers_of(model):
        layer.dtype_policy = name
    return name
