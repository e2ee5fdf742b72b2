"""Choosing a `tf.distribute.Strategy` by name (the `--strategy` flag's values)."""

from __future__ import annotations

import json
import os

from keras_style.errors import StyleError

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker")


def get_strategy(name: str = "default", device: str | None = None, devices=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
      name: "default" (no distribution: `tf.distribute.get_strategy()`), "one_device"
        (everything on `device`; also written "one_device:/gpu:1"), "mirrored"
        (synchronous data parallelism over `devices`: by default every GPU, or every
        logical CPU device when there is no GPU) or "multi_worker"
        (`MultiWorkerMirroredStrategy`; the cluster comes from the `TF_CONFIG`
        environment variable, and without it this process trains alone).
      device: the device of "one_device"; default the first GPU, else the CPU.
      devices: the devices of "mirrored".

    Raises:
      StyleError: an unknown name, or a strategy that cannot be created here.
    """
    import tensorflow as tf

    if name.startswith("one_device:"):
        name, device = "one_device", name.split(":", 1)[1]
    if name not in STRATEGIES:
        raise StyleError(f"unknown strategy '{name}'; choose {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        if device is None:
            device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        if not _device_exists(tf, device):
            raise StyleError(f"device '{device}' not found; this machine has {_device_names(tf)}")
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        if devices is None:
            # MirroredStrategy() alone ignores extra logical CPUs; list them so CPU-only
            # machines (and tests with virtual devices) can mirror too.
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=list(devices))
    tf_config = os.environ.get("TF_CONFIG")
    if tf_config:
        try:
            json.loads(tf_config)
        except ValueError:
            raise StyleError("TF_CONFIG is not valid JSON; see the tf.distribute multi-worker guide") from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (RuntimeError, ValueError) as e:
        message = " ".join(str(e).split())
        raise StyleError(
            f"cannot start the multi_worker strategy ({message[:160]}); it must be created before any "
            "other TensorFlow op runs, with a valid TF_CONFIG"
        ) from None


def is_chief(strategy) -> bool:
    """Whether this process should write checkpoints, summaries and exports.

    True except on the non-chief workers of a multi-worker cluster.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    return is_chief_task(resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id)


def is_chief_task(cluster: dict, task_type: str | None, task_id: int | None) -> bool:
    """Whether the task (`task_type`, `task_id`) is its cluster's chief (`cluster`: the
    `TF_CONFIG` "cluster" dict; empty when the process trains alone)."""
    if not cluster or task_type in ("chief", None):
        return True
    # Without a "chief" job, worker 0 takes the role (as in Keras' multi-worker guide).
    return task_type == "worker" and int(task_id or 0) == 0 and "chief" not in cluster


def chief_of(cluster: dict) -> str:
    """The chief task's name: "chief" or "worker 0"."""
    return "chief" if "chief" in cluster else "worker 0"


def cluster_role(strategy_name: str, environ=None) -> tuple[bool, tuple[str, int] | None]:
    """(is chief, this task's (type, index), or None outside a cluster) for a run of
    `strategy_name`, read from `TF_CONFIG` as `MultiWorkerMirroredStrategy` reads it;
    no TensorFlow needed, so commands can tell before TensorFlow loads."""
    environ = os.environ if environ is None else environ
    if strategy_name != "multi_worker" or not environ.get("TF_CONFIG"):
        return True, None
    try:
        tf_config = json.loads(environ["TF_CONFIG"])
        cluster, task = tf_config.get("cluster") or {}, tf_config.get("task") or {}
    except (ValueError, AttributeError):
        raise StyleError("TF_CONFIG is not valid JSON; see the tf.distribute multi-worker guide") from None
    if not cluster:
        return True, None
    task_type, task_id = task.get("type"), int(task.get("index", 0))
    return is_chief_task(cluster, task_type, task_id), (task_type, task_id)


def worker_name(task_type: str, task_id: int) -> str:
    """How a non-chief task is named in file names ("worker_1")."""
    return f"{task_type}_{task_id}"


def _device_exists(tf, device):
    try:
        spec = tf.DeviceSpec.from_string(device)
    except ValueError:
        return False
    wanted = (spec.device_type or "").upper(), spec.device_index or 0
    return any(
        (d.device_type.upper(), int(d.name.rsplit(":", 1)[1])) == wanted for d in tf.config.list_logical_devices()
    )


def _device_names(tf):
    return ", ".join(d.name for d in tf.config.list_logical_devices()) or "no devices"
