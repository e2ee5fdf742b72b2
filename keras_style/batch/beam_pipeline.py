r"""Bulk stylization with Apache Beam: read image paths, RunInference, write images.

    pip install 'keras-style[beam]'

    # Local (DirectRunner, the default):
    style_batch --input=photos/ --model=saved_models/starry_night/saved_model --output_dir=styled/
    style_batch --input='photos/*.jpg' --model=saved_models/adain/saved_model --style=wave.jpg \
        --alpha=0.8 --output_dir=styled/ --direct_num_workers=2 --direct_running_mode=multi_processing

    # Google Cloud Dataflow (paths on gs://; workers need keras-style: --setup_file or
    # --requirements_file, or a custom --sdk_container_image):
    style_batch --input='gs://bucket/photos/*.jpg' --model=gs://bucket/models/starry_night/saved_model \
        --output_dir=gs://bucket/styled --runner=DataflowRunner --project=my-project \
        --region=europe-west1 --temp_location=gs://bucket/tmp --requirements_file=requirements.txt

    # Apache Flink / Spark (portable runners; a job server or an embedded one):
    style_batch --input=photos/ --model=... --output_dir=styled/ --runner=FlinkRunner \
        --flink_master=localhost:8081 --environment_type=LOOPBACK
    style_batch --input=photos/ --model=... --output_dir=styled/ --runner=SparkRunner \
        --spark_master_url=spark://host:7077 --environment_type=LOOPBACK

Every flag `style_batch` does not define is handed to Beam's `PipelineOptions`
unchanged (`--runner`, `--project`, `--region`, `--temp_location`,
`--num_workers`, `--flink_master`, ...); a flag that neither knows is an error.

Pipeline: Create(paths) → read + decode (a file that is missing, not an image or
corrupt goes to the failures output and the `bad_images` counter) → RunInference
with `StyleModelHandler` (the model is loaded once per worker; AdaIN / MetaNet
style statistics or filters are computed once there) → encode (format from
`output_format`) → write `output_dir/<input stem>.<format>` (local paths:
atomically, never replacing a file unless `overwrite`; remote paths through
Beam's FileSystems, where an object appears only once complete). Images the
model fails on or that cannot be written are counted in `failed_images`. The
failures, one `path<TAB>reason` line each, go to `failures_file` (default
`output_dir/style_batch_failures.txt`, replaced on every run; an existing file named by
`failures_file` needs `overwrite` or `resume`).

`resume` (`style_batch --resume`) skips every input whose output exists and stylizes
the rest: a local output exists only once it is whole (written to a hidden temporary
file, synced, then linked or renamed into place, `keras_style.files`), and so does an
object on an object store. It cannot be combined with `overwrite`.

The pipeline runs in a thread of its own while the caller's thread waits, reports
progress (`on_progress`: local outputs published so far, on any runner) and stays
interruptible: a KeyboardInterrupt there (Ctrl-C, or SIGTERM through
`keras_style.cli.common.run`) stops the run: in-process work (the DirectRunner's
`in_memory` and `multi_threading` modes) skips what is left, worker processes
(`multi_processing`) are killed, then the temporary files and Beam's `beam-temp-*`
folder are removed. Outputs already published stay; they are whole. The failures
list is complete only for a run that finished. A remote runner's job is left running
(cancel it with the runner's own tools).

`--input` is a directory, a glob, an image file, a comma-separated list, a
`.txt` file listing one path per line (relative paths from the current
directory; blank lines and `#` comments skipped; listed files are not checked
before the run, a missing one is reported as bad), or a pattern with a scheme
(`gs://bucket/*.jpg`), matched with Beam's FileSystems.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import signal
import stat
import sys
import threading
import time
from pathlib import PurePosixPath
from typing import Callable, Sequence

import numpy as np

from keras_style import checks, files, image_io, precision
from keras_style.errors import StyleError

# Apache Beam (seconds to import, and it pulls in TensorFlow) and the model handler,
# which derives from Beam's, are imported once the settings are checked (`import_beam`).
from keras_style.inference import resolve_model
from keras_style.export import serving_precision
from keras_style.inference.adain import fit_style
from keras_style.inference.model_spec import read_metadata

FAILURES_FILENAME = "style_batch_failures.txt"
_FAILED = "failed"
_FORMATS = ("png", "jpg", "webp", "bmp", "tiff")


def import_beam():
    """Imports and returns `apache_beam`.

    Raises:
      StyleError: Beam is not installed, or cannot be imported.
    """
    try:
        import apache_beam
    except ImportError as e:
        if e.name == "apache_beam":
            raise StyleError("style_batch needs Apache Beam; install it with: pip install 'keras-style[beam]'") from None
        raise StyleError(f"Apache Beam is installed but cannot be imported ({e}); reinstall 'keras-style[beam]'") from None
    return apache_beam


@dataclasses.dataclass
class BatchConfig:
    """Settings of a bulk stylization; every field has a matching `style_batch` flag.

    Attributes:
      input: image paths (see the module docstring).
      model: SavedModel directory or shipped model name.
      output_dir: where outputs go (created if missing, for local paths).
      style: style image for arbitrary-style models (adain, metanet).
      alpha: style strength in [0, 1] for arbitrary-style models; None: the model's
        default (its recorded `default_alpha`, else 1).
      style_palette: arbitrary-style models: give each output the style image's colour
        mean and covariance (`keras_style.inference.style_palette.StylePalette`), as style_transfer does.
      output_format: png, jpg, webp, bmp or tiff.
      quality: JPEG / WebP quality.
      max_size: resize each input so its long side is this many pixels.
      max_pixels: refuse larger inputs (decompression-bomb guard).
      overwrite: replace existing outputs.
      resume: skip the inputs whose output exists (an earlier run's, whole) and
        stylize the rest; not with `overwrite`.
      failures_file: where the failures list goes (default in output_dir); an existing
        file there is replaced only with `overwrite` or `resume` (the same job's list).
      precision: a `keras_style.precision` setting; a local fast-style or AdaIN
        SavedModel runs from a copy computing in it (`serving_precision.precision_copy`).
    """

    input: str
    model: str
    output_dir: str
    style: str | None = None
    alpha: float | None = None
    style_palette: bool = True
    output_format: str = "png"
    quality: int = 95
    max_size: int | None = None
    max_pixels: int | None = image_io.DEFAULT_MAX_PIXELS
    overwrite: bool = False
    failures_file: str | None = None
    precision: str = "float32"
    resume: bool = False

    def validate(self):
        """Raises StyleError naming the first bad field."""
        if not self.input or not self.input.strip():
            raise StyleError("no input given; pass --input=DIR, a glob, files or a .txt list")
        if not self.output_dir:
            raise StyleError("no output directory given; pass --output_dir=DIR")
        if self.output_format.lower().lstrip(".") not in _FORMATS + ("jpeg", "tif"):
            raise StyleError(f"unknown --output_format '{self.output_format}'; use one of {', '.join(_FORMATS)}")
        if not 1 <= self.quality <= 100:
            raise StyleError(f"--quality must be 1 to 100, got {self.quality}")
        if self.max_size is not None and self.max_size < 1:
            raise StyleError(f"--max_size must be at least 1, got {self.max_size}")
        if self.alpha is not None:
            checks.check_alpha(self.alpha, "--alpha")
        if self.resume and self.overwrite:
            raise StyleError("--resume and --overwrite cannot be combined: --resume keeps the outputs that exist "
                             "and writes the missing ones, --overwrite writes them all again")

    def failures_path(self) -> str:
        return self.failures_file or _join(self.output_dir, FAILURES_FILENAME)


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(directory: str, name: str) -> str:
    if _is_remote(directory):
        return directory.rstrip("/") + "/" + name
    return os.path.join(directory, name)


def _stem(path: str) -> str:
    return PurePosixPath(path).stem if _is_remote(path) else os.path.splitext(os.path.basename(path))[0]


def expand_inputs(spec: str) -> list[str]:
    """The input image paths named by `spec` (see the module docstring).

    Raises:
      StyleError: nothing matches, or a list file cannot be read.
    """
    spec = spec.strip()
    if spec.lower().endswith(".txt") and os.path.isfile(spec):
        try:
            with open(spec, encoding="utf-8") as f:
                lines = [line.strip() for line in f]
        except (OSError, UnicodeDecodeError) as e:
            raise StyleError(f"cannot read the input list '{spec}': {getattr(e, 'strerror', None) or e}") from None
        paths = [line for line in lines if line and not line.startswith("#")]
        if not paths:
            raise StyleError(f"the input list '{spec}' names no images")
        return list(dict.fromkeys(paths))
    if _is_remote(spec):
        from apache_beam.io.filesystems import FileSystems

        paths = []
        for pattern in (p.strip() for p in spec.split(",") if p.strip()):
            try:
                matched = FileSystems.match([pattern])[0].metadata_list
            except Exception as e:  # noqa: BLE001 - any filesystem's error is the user's to fix
                raise StyleError(f"cannot list '{pattern}': {' '.join(str(e).split())[:300]}") from None
            found = sorted(m.path for m in matched if m.path.lower().endswith(image_io.IMAGE_EXTENSIONS))
            if not found:
                raise StyleError(f"no images match '{pattern}'")
            paths.extend(found)
        return list(dict.fromkeys(paths))
    return image_io.list_images(spec)


def plan_outputs(inputs: Sequence[str], config: BatchConfig) -> list[tuple[str, str]]:
    """(input, output) pairs; checks names are unique and outputs may be written.

    With `resume`, outputs that exist are allowed (`run_batch` skips their inputs) as long
    as each is a file.

    Raises:
      StyleError: two inputs share a base name, or an output exists (without
        `overwrite` or `resume`; with `resume`, as something other than a file) or is an
        input.
    """
    extension = {"jpeg": "jpg", "tif": "tiff"}.get(config.output_format.lower().lstrip("."),
                                                  config.output_format.lower().lstrip("."))
    jobs, seen = [], {}
    for path in inputs:
        out = _join(config.output_dir, f"{_stem(path)}.{extension}")
        if out in seen:
            raise StyleError(
                f"inputs '{seen[out]}' and '{path}' would both be written to '{out}'; rename one or run them separately"
            )
        seen[out] = path
        jobs.append((path, out))
    if _is_remote(config.output_dir):
        from apache_beam.io.filesystems import FileSystems

        existing = [] if config.overwrite else [out for _, out in jobs if FileSystems.exists(out)]
    else:
        existing = [] if config.overwrite else [out for _, out in jobs if os.path.lexists(out)]
        for path, out in jobs:
            if os.path.exists(out) and os.path.exists(path) and os.path.samefile(path, out):
                raise StyleError(f"output '{out}' is the input image itself; choose another --output_dir")
        if config.resume:
            for out in existing:
                if not stat.S_ISREG(os.lstat(out).st_mode):  # this command only ever writes files
                    raise StyleError(f"output '{out}' exists and is not a file, so --resume cannot skip its input; "
                                     "move it away or choose another --output_dir")
    if existing and not config.resume:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise StyleError(f"output '{existing[0]}'{more} exists; pass --overwrite to replace, --resume to keep the "
                         "outputs that exist and write the rest, or another --output_dir")
    return jobs


def finished_outputs(jobs: Sequence[tuple[str, str]]) -> set[str]:
    """The outputs of `jobs` that exist: whole, since every writer publishes them in one
    step (local files by link or rename from a synced temporary file, objects on close)."""
    remote = [out for _, out in jobs if _is_remote(out)]
    if remote:
        from apache_beam.io.filesystems import FileSystems

        return {out for out in remote if FileSystems.exists(out)}
    return {out for _, out in jobs if os.path.lexists(out)}


def check_failures_file(config: BatchConfig, jobs: Sequence[tuple[str, str]]) -> None:
    """Checks that the failures list may be written where `config` puts it (local paths).

    It is written on every run, empty when nothing failed. The default file in the output
    directory is this command's own and is replaced; a path given as `failures_file` is
    the user's, so an existing file there needs `overwrite`, like the images, or `resume`
    (it is then the interrupted run's list, which the resumed run's replaces).

    Raises:
      StyleError: the path is a directory, an input or output image, or an existing
        file given without `overwrite`.
    """
    path = config.failures_path()
    if _is_remote(path):
        return
    if os.path.isdir(path):
        raise StyleError(f"--failures_file '{path}' is a directory; pass a file path such as "
                         f"'{os.path.join(path, FAILURES_FILENAME)}'")
    for image_path, out in jobs:
        for role, other in (("input", image_path), ("output", out)):
            same = os.path.abspath(other) == os.path.abspath(path) or (
                os.path.exists(other) and os.path.exists(path) and os.path.samefile(other, path))
            if same:
                raise StyleError(f"--failures_file '{path}' is an {role} image; choose another path")
    if config.failures_file and not (config.overwrite or config.resume) and os.path.lexists(path):
        raise StyleError(f"--failures_file '{path}' exists; pass --overwrite to replace it, or another path")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.abspath(directory) != os.path.abspath(config.output_dir) and not os.path.isdir(directory):
        raise StyleError(f"cannot write --failures_file '{path}': directory '{directory}' does not exist")


# How a run in this process is stopped (`_stop_run`): its DoFns skip what is left once
# its id is cancelled, and the stop waits for the writes already under way. Worker
# processes never see a cancellation; they are killed.
_RUNS = threading.Condition()
_CANCELLED_RUNS: set[str] = set()
_WRITES_IN_FLIGHT: dict[str, int] = {}


def _cancelled(run_id: str | None) -> bool:
    with _RUNS:
        return run_id in _CANCELLED_RUNS


@contextlib.contextmanager
def _write_slot(run_id: str | None):
    """Yields False once the run is cancelled (write nothing), else True, counting the write
    as under way until the block ends."""
    with _RUNS:
        if run_id in _CANCELLED_RUNS:
            allowed = False
        else:
            allowed = True
            _WRITES_IN_FLIGHT[run_id] = _WRITES_IN_FLIGHT.get(run_id, 0) + 1
    try:
        yield allowed
    finally:
        if allowed:
            with _RUNS:
                _WRITES_IN_FLIGHT[run_id] -= 1
                _RUNS.notify_all()


def _read_and_decode(job, max_size, max_pixels, run_id=None):
    """(input, output) -> ((input, output), image); unreadable inputs go to the failures output."""
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from keras_style.batch.model_handler import METRICS_NAMESPACE

    if _cancelled(run_id):
        return
    path, _ = job
    try:
        if _is_remote(path):
            with FileSystems.open(path) as f:
                data = f.read()
        else:
            with image_io.open_image_file(path) as f:  # a FIFO or device is refused, not read
                data = f.read()
        image = image_io.decode_image_bytes(data, max_size=max_size, max_pixels=max_pixels, name=path)
    except (OSError, StyleError) as e:
        beam.metrics.Metrics.counter(METRICS_NAMESPACE, "bad_images").inc()
        reason = f"cannot read image '{path}': {e.strerror or e}" if isinstance(e, OSError) else str(e)
        yield beam.pvalue.TaggedOutput(_FAILED, (path, reason))
        return
    yield job, image


def _encode_and_write(keyed_result, output_format, quality, overwrite, run_id=None):
    """((input, output), PredictionResult) -> output path; failures to the failures output."""
    import apache_beam as beam

    from keras_style.batch.model_handler import METRICS_NAMESPACE

    if _cancelled(run_id):
        return
    (path, out), result = keyed_result
    try:
        if isinstance(result.inference, str):  # the model's error message
            raise StyleError(result.inference)
        data = image_io.encode_image(np.asarray(result.inference), output_format, quality)
        with _write_slot(run_id) as allowed:
            if not allowed:
                return
            _write(out, data, overwrite)
    except StyleError as e:
        beam.metrics.Metrics.counter(METRICS_NAMESPACE, "failed_images").inc()
        yield beam.pvalue.TaggedOutput(_FAILED, (path, str(e)))
        return
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, "stylized_images").inc()
    yield out


def _write(path: str, data: bytes, overwrite: bool):
    """Writes bytes: local paths atomically without clobbering; others via Beam's FileSystems."""
    if _is_remote(path):
        from apache_beam.io.filesystems import FileSystems

        if not overwrite and FileSystems.exists(path):
            raise StyleError(f"output '{path}' exists; pass --overwrite to replace it")
        with FileSystems.create(path) as f:  # object stores publish on close
            f.write(data)
        return
    files.write_atomically(data, path, overwrite, suffix="")


def build_pipeline(pipeline, jobs: Sequence[tuple[str, str]], handler, config: BatchConfig,
                   run_id: str | None = None):
    """Adds the stylization transforms to `pipeline`; returns (written, failures) PCollections.

    `written` holds output paths; `failures` holds (input path, reason) pairs,
    also written to `config.failures_path()`. `run_id` names the run for `_stop_run`.
    """
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    decoded = (
        pipeline
        | "ImagePaths" >> beam.Create(list(jobs))
        | "ReadAndDecode" >> beam.FlatMap(_read_and_decode, config.max_size, config.max_pixels, run_id).with_outputs(
            _FAILED, main="images")
    )
    stylized = decoded.images | "Stylize" >> RunInference(KeyedModelHandler(handler))
    written = stylized | "EncodeAndWrite" >> beam.FlatMap(
        _encode_and_write, config.output_format, config.quality, config.overwrite, run_id
    ).with_outputs(_FAILED, main="written")
    failures = (decoded[_FAILED], written[_FAILED]) | "Failures" >> beam.Flatten()
    _ = (
        failures
        | "FormatFailures" >> beam.Map(lambda item: f"{item[0]}\t{' '.join(item[1].split())}")
        | "WriteFailures" >> beam.io.WriteToText(config.failures_path(), shard_name_template="", num_shards=1)
    )
    return written.written, failures


def load_style(config: BatchConfig) -> np.ndarray | None:
    """Decodes `config.style` (scaled down as style_transfer does, `inference.adain.fit_style`); None without one."""
    if not config.style:
        return None
    return fit_style(image_io.load_image(config.style, max_pixels=config.max_pixels), f"--style '{config.style}'")


def run_batch(config: BatchConfig, pipeline_args: Sequence[str] = (), *,
              on_progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> dict:
    """Stylizes every input image with a Beam pipeline and waits for it to finish.

    Everything is checked first (inputs listed, outputs free, style decoded,
    model loaded once and style prepared), so a bad setting fails before a
    (possibly remote) job is submitted. With `config.resume`, inputs whose output
    exists are skipped.

    The pipeline runs in a thread while this one waits; a KeyboardInterrupt here
    (Ctrl-C, or SIGTERM through `keras_style.cli.common.run`) stops it (see the module
    docstring) and is re-raised once in-process work has stopped, worker processes are
    killed and temporary files removed.

    Args:
      config: the settings; validated here.
      pipeline_args: Beam pipeline options, e.g. ["--runner=DataflowRunner",
        "--project=p", ...]; default DirectRunner.
      on_progress: called in this thread as `on_progress(done, total)`: (0, total) when
        the pipeline starts, then whenever more local outputs have been published, and
        (total, total) when it has finished; `total` counts the images to stylize
        (not the skipped ones). Remote outputs are not counted while the job runs.
      log: receives status lines (a precision copy being made); default: stderr.

    Returns:
      {"inputs" (all, skipped ones included), "skipped" (outputs there already, with
      `resume`), "stylized", "bad_images", "failed_images"} counts (from the
      Beam counters), "failures" ([(path, reason)] read back from the failures
      file), "failures_file" and "precision" (what the model computed in).

    Raises:
      StyleError: bad settings, inputs, outputs, style or model, or unknown
        pipeline options.
    """
    if log is None:
        def log(line):
            print(line, file=sys.stderr, flush=True)
    config.validate()
    inputs = expand_inputs(config.input)
    if not _is_remote(config.output_dir):
        image_io.check_output_dir(config.output_dir)  # created once the model has loaded
    jobs = plan_outputs(inputs, config)
    check_failures_file(config, jobs)
    style = load_style(config)
    model_dir = config.model if _is_remote(config.model) else resolve_model(config.model, "saved_model").path
    if not _is_remote(config.output_dir):  # no output over, around or inside an input, however spelled
        files.check_not_an_input(
            [out for _, out in jobs] + [config.failures_path()],
            [("input image", path) for path, _ in jobs if not _is_remote(path)]
            + ([("--input list", config.input.strip())] if os.path.isfile(config.input.strip()) else [])
            + ([("--style image", config.style)] if config.style and not _is_remote(config.style) else [])
            + ([] if _is_remote(model_dir) else [("--model", model_dir)]),
        )
    # Beam is imported once the local inputs are accepted (a typo is refused at once).
    beam = import_beam()
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from keras_style.batch.model_handler import METRICS_NAMESPACE, StyleModelHandler

    options = _pipeline_options(pipeline_args)
    computed_in = precision.resolve(config.precision)  # `auto` asks TensorFlow: after the checks
    if not _is_remote(model_dir):
        model_dir = serving_precision.precision_copy(model_dir, config.precision, log=log)
        computed_in = serving_precision.model_precision(read_metadata(model_dir))
    handler = StyleModelHandler(model_dir, style=style, alpha=config.alpha, style_palette=config.style_palette)
    handler.load_model()  # fails here, with one message, rather than inside a worker
    if not _is_remote(config.output_dir):
        image_io.make_output_dir(config.output_dir)
    finished = finished_outputs(jobs) if config.resume else set()
    todo = [job for job in jobs if job[1] not in finished]

    pipeline = beam.Pipeline(options=PipelineOptions(options))
    run_id = secrets.token_hex(8)
    build_pipeline(pipeline, todo, handler, config, run_id=run_id)
    result = _run_and_wait(pipeline, run_id, config, todo, on_progress)

    counters = {name: 0 for name in ("stylized_images", "bad_images", "failed_images")}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        if counter.key.metric.name in counters:
            value = counter.committed if counter.committed is not None else counter.attempted
            counters[counter.key.metric.name] += int(value or 0)
    return {
        "inputs": len(jobs),
        "skipped": len(finished),
        "stylized": counters["stylized_images"],
        "bad_images": counters["bad_images"],
        "failed_images": counters["failed_images"],
        "failures": _read_failures(config.failures_path()),
        "failures_file": config.failures_path(),
        "precision": computed_in,
    }


# How often the waiting thread looks at the pipeline (progress, a finished run), and how
# long a stop waits for in-process work to wind down before removing what it left.
_POLL_SECONDS = 0.25
_STOP_SECONDS = 10.0


def _run_and_wait(pipeline, run_id: str, config: BatchConfig, jobs: Sequence[tuple[str, str]],
                  on_progress: Callable[[int, int], None] | None):
    """Runs `pipeline` in a thread of its own and waits for it here; returns its result.

    Waiting here, not inside Beam, keeps a KeyboardInterrupt (Ctrl-C, or SIGTERM turned
    into one) out of Beam's code: Beam would wrap it in a RuntimeError, log tracebacks,
    and leave worker processes and its temporary folder behind. The wait is on an Event,
    not `Thread.join`: a join cut short by a signal marks the thread as finished while it
    still runs (CPython 3.11's `_wait_for_tstate_lock`).
    """
    watch = _OutputWatch(config.output_dir, [out for _, out in jobs]) if not _is_remote(config.output_dir) else None
    beam_temp_before = _beam_temp_dirs(config)
    processes_before = descendant_processes()
    outcome: dict = {}
    finished = threading.Event()

    def run():
        try:
            outcome["result"] = pipeline.run()
            outcome["result"].wait_until_finish()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = e
        finally:
            finished.set()

    total, reported = len(jobs), 0
    try:
        if on_progress is not None:
            on_progress(0, total)
        threading.Thread(target=run, name="style_batch pipeline", daemon=True).start()
        while not finished.wait(_POLL_SECONDS):
            if on_progress is not None and watch is not None:
                done = watch.count()
                if done != reported:
                    reported = done
                    on_progress(done, total)
    except BaseException:
        _stop_run(run_id, finished, processes_before, config, jobs, beam_temp_before)
        raise
    if "error" in outcome:
        _remove_leftovers(config, jobs, beam_temp_before)
        raise outcome["error"]
    if on_progress is not None:
        on_progress(total, total)
    return outcome["result"]


def _stop_run(run_id: str, finished: threading.Event, processes_before: set[int], config: BatchConfig,
              jobs: Sequence[tuple[str, str]], beam_temp_before: set[str]) -> None:
    """Stops an interrupted run: kills the worker processes it started, makes in-process
    DoFns skip what is left (waiting for writes under way), waits a while for the
    pipeline thread, then removes temporary files. A second interrupt only cuts the
    waiting short."""
    try:
        for pid in descendant_processes() - processes_before:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + _STOP_SECONDS
        with _RUNS:
            _CANCELLED_RUNS.add(run_id)
            _RUNS.wait_for(lambda: not _WRITES_IN_FLIGHT.get(run_id), _STOP_SECONDS)
        finished.wait(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        _remove_leftovers(config, jobs, beam_temp_before)


def descendant_processes(pid: int | None = None) -> set[int]:
    """The ids of process `pid`'s (default: this process's) descendants (the DirectRunner's worker processes and their
    shells), from /proc, else psutil; empty where neither is available."""
    try:
        names = os.listdir("/proc")
    except OSError:
        try:
            import psutil
        except ImportError:
            return set()
        with contextlib.suppress(Exception):
            return {child.pid for child in psutil.Process(pid).children(recursive=True)}
        return set()
    parents = {}
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    line = f.read()
            except OSError:
                continue
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            fields = line[line.rfind(b")") + 2:].split()
            if len(fields) > 1:
                parents[int(name)] = int(fields[1])
    found, frontier = set(), {os.getpid() if pid is None else pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _beam_temp_dirs(config: BatchConfig) -> set[str]:
    """The `beam-temp-<failures file>-<id>` folders WriteToText keeps beside the failures
    file while it runs (local paths only)."""
    path = config.failures_path()
    if _is_remote(path):
        return set()
    directory = os.path.dirname(os.path.abspath(path))
    prefix = f"beam-temp-{os.path.basename(path)}-"
    try:
        return {os.path.join(directory, name) for name in os.listdir(directory) if name.startswith(prefix)}
    except OSError:
        return set()


def _remove_leftovers(config: BatchConfig, jobs: Sequence[tuple[str, str]], beam_temp_before: set[str]) -> None:
    """Removes what a stopped run leaves beside its local outputs: temporary files of
    outputs never published (`files.write_atomically`'s) and the `beam-temp-*` folder it
    started (not older ones)."""
    if _is_remote(config.output_dir):
        return
    for path in files.temporary_files(config.output_dir, [os.path.basename(out) for _, out in jobs], suffix=""):
        with contextlib.suppress(OSError):
            os.unlink(path)
    for directory in _beam_temp_dirs(config) - beam_temp_before:
        shutil.rmtree(directory, ignore_errors=True)


class _OutputWatch:
    """Counts the outputs of a run published so far in a local folder. An output is
    published whole in one step, so its name appearing (or, with `overwrite`, being
    replaced: a new inode or time) means that image is done."""

    def __init__(self, directory: str, outputs: Sequence[str]):
        self._directory = directory
        self._waiting = {os.path.basename(out) for out in outputs}
        self._before = {}
        for name in self._waiting:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(directory, name))
                self._before[name] = (st.st_ino, st.st_mtime_ns)
        self._done = 0

    def count(self) -> int:
        try:
            with os.scandir(self._directory) as entries:
                present = [entry for entry in entries if entry.name in self._waiting]
        except OSError:
            return self._done
        for entry in present:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if self._before.get(entry.name) != (st.st_ino, st.st_mtime_ns):
                self._waiting.discard(entry.name)
                self._done += 1
        return self._done


def _pipeline_options(args: Sequence[str]) -> list[str]:
    """Checks that every pipeline option is one Beam knows (a typo would be dropped silently)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(args)
    known = set(PipelineOptions(args).get_all_options())
    given = set(PipelineOptions(args).get_all_options(retain_unknown_options=True))
    unknown = sorted(given - known)
    if unknown:
        raise StyleError(f"unknown flag --{unknown[0]}: neither a style_batch flag nor a Beam pipeline option")
    return args


def _read_failures(path: str) -> list[tuple[str, str]]:
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path) as f:
            text = f.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the counters still tell the story
        return []
    failures = []
    for line in text.splitlines():
        if line.strip():
            path_part, _, reason = line.partition("\t")
            failures.append((path_part, reason))
    return failures
