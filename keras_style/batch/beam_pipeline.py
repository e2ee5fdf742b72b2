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
`failures_file` needs `overwrite`).

`--input` is a directory, a glob, an image file, a comma-separated list, a
`.txt` file listing one path per line (relative paths from the current
directory; blank lines and `#` comments skipped; listed files are not checked
before the run, a missing one is reported as bad), or a pattern with a scheme
(`gs://bucket/*.jpg`), matched with Beam's FileSystems.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import PurePosixPath
from typing import Sequence

import numpy as np

from keras_style import files, image_io
from keras_style.errors import StyleError

try:
    import apache_beam as beam
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_style.batch needs Apache Beam; install it with: pip install 'keras-style[beam]'"
    ) from e

from keras_style.batch.model_handler import METRICS_NAMESPACE, StyleModelHandler  # noqa: E402
from keras_style.inference import resolve_model
from keras_style.export import serving_precision
from keras_style.inference.model_spec import read_metadata

FAILURES_FILENAME = "style_batch_failures.txt"
# Style images are scaled down to this long side, as style_transfer does for AdaIN.
STYLE_MAX_SIZE = 512
_FAILED = "failed"
_FORMATS = ("png", "jpg", "webp", "bmp", "tiff")


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
      failures_file: where the failures list goes (default in output_dir); an existing
        file there is replaced only with `overwrite`.
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
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise StyleError(f"--alpha must be in [0, 1], got {self.alpha:g}")

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

    Raises:
      StyleError: two inputs share a base name, or an output exists (without
        `overwrite`) or is an input.
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
    if existing:
        more = f" (and {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        raise StyleError(f"output '{existing[0]}'{more} exists; pass --overwrite to replace, or another --output_dir")
    return jobs


def check_failures_file(config: BatchConfig, jobs: Sequence[tuple[str, str]]) -> None:
    """Checks that the failures list may be written where `config` puts it (local paths).

    It is written on every run, empty when nothing failed. The default file in the output
    directory is this command's own and is replaced; a path given as `failures_file` is
    the user's, so an existing file there needs `overwrite`, like the images.

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
    if config.failures_file and not config.overwrite and os.path.lexists(path):
        raise StyleError(f"--failures_file '{path}' exists; pass --overwrite to replace it, or another path")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.abspath(directory) != os.path.abspath(config.output_dir) and not os.path.isdir(directory):
        raise StyleError(f"cannot write --failures_file '{path}': directory '{directory}' does not exist")


def _read_and_decode(job, max_size, max_pixels):
    """(input, output) -> ((input, output), image); unreadable inputs go to the failures output."""
    from apache_beam.io.filesystems import FileSystems

    path, _ = job
    try:
        if _is_remote(path):
            with FileSystems.open(path) as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
        image = image_io.decode_image_bytes(data, max_size=max_size, max_pixels=max_pixels, name=path)
    except (OSError, StyleError) as e:
        beam.metrics.Metrics.counter(METRICS_NAMESPACE, "bad_images").inc()
        reason = f"cannot read image '{path}': {e.strerror or e}" if isinstance(e, OSError) else str(e)
        yield beam.pvalue.TaggedOutput(_FAILED, (path, reason))
        return
    yield job, image


def _encode_and_write(keyed_result, output_format, quality, overwrite):
    """((input, output), PredictionResult) -> output path; failures to the failures output."""
    (path, out), result = keyed_result
    try:
        if isinstance(result.inference, str):  # the model's error message
            raise StyleError(result.inference)
        data = image_io.encode_image(np.asarray(result.inference), output_format, quality)
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


def build_pipeline(pipeline, jobs: Sequence[tuple[str, str]], handler: StyleModelHandler, config: BatchConfig):
    """Adds the stylization transforms to `pipeline`; returns (written, failures) PCollections.

    `written` holds output paths; `failures` holds (input path, reason) pairs,
    also written to `config.failures_path()`.
    """
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    decoded = (
        pipeline
        | "ImagePaths" >> beam.Create(list(jobs))
        | "ReadAndDecode" >> beam.FlatMap(_read_and_decode, config.max_size, config.max_pixels).with_outputs(
            _FAILED, main="images")
    )
    stylized = decoded.images | "Stylize" >> RunInference(KeyedModelHandler(handler))
    written = stylized | "EncodeAndWrite" >> beam.FlatMap(
        _encode_and_write, config.output_format, config.quality, config.overwrite
    ).with_outputs(_FAILED, main="written")
    failures = (decoded[_FAILED], written[_FAILED]) | "Failures" >> beam.Flatten()
    _ = (
        failures
        | "FormatFailures" >> beam.Map(lambda item: f"{item[0]}\t{' '.join(item[1].split())}")
        | "WriteFailures" >> beam.io.WriteToText(config.failures_path(), shard_name_template="", num_shards=1)
    )
    return written.written, failures


def load_style(config: BatchConfig) -> np.ndarray | None:
    """Decodes `config.style` (scaled down to `STYLE_MAX_SIZE`); None without one."""
    if not config.style:
        return None
    style = image_io.load_image(config.style, max_pixels=config.max_pixels)
    if max(style.shape[:2]) > STYLE_MAX_SIZE:
        style = np.clip(image_io.resize_long_side(style, STYLE_MAX_SIZE), 0.0, 255.0)
    return style


def run_batch(config: BatchConfig, pipeline_args: Sequence[str] = ()) -> dict:
    """Stylizes every input image with a Beam pipeline and waits for it to finish.

    Everything is checked first (inputs listed, outputs free, style decoded,
    model loaded once and style prepared), so a bad setting fails before a
    (possibly remote) job is submitted.

    Args:
      config: the settings; validated here.
      pipeline_args: Beam pipeline options, e.g. ["--runner=DataflowRunner",
        "--project=p", ...]; default DirectRunner.

    Returns:
      {"inputs", "stylized", "bad_images", "failed_images"} counts (from the
      Beam counters), "failures" ([(path, reason)] read back from the failures
      file), "failures_file" and "precision" (what the model computed in).

    Raises:
      StyleError: bad settings, inputs, outputs, style or model, or unknown
        pipeline options.
    """
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    config.validate()
    options = _pipeline_options(pipeline_args)
    inputs = expand_inputs(config.input)
    if not _is_remote(config.output_dir):
        image_io.check_output_dir(config.output_dir)  # created once the model has loaded
    jobs = plan_outputs(inputs, config)
    check_failures_file(config, jobs)
    style = load_style(config)
    model_dir = config.model if _is_remote(config.model) else resolve_model(config.model, "saved_model").path
    computed_in = config.precision
    if not _is_remote(model_dir):
        model_dir = serving_precision.precision_copy(model_dir, config.precision,
                                                     log=lambda line: print(line, file=sys.stderr))
        computed_in = serving_precision.model_precision(read_metadata(model_dir))
    handler = StyleModelHandler(model_dir, style=style, alpha=config.alpha, style_palette=config.style_palette)
    handler.load_model()  # fails here, with one message, rather than inside a worker
    if not _is_remote(config.output_dir):
        image_io.make_output_dir(config.output_dir)

    with beam.Pipeline(options=PipelineOptions(options)) as pipeline:
        build_pipeline(pipeline, jobs, handler, config)
    result = pipeline.result  # the `with` block ran it and waited for it

    counters = {name: 0 for name in ("stylized_images", "bad_images", "failed_images")}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        if counter.key.metric.name in counters:
            value = counter.committed if counter.committed is not None else counter.attempted
            counters[counter.key.metric.name] += int(value or 0)
    return {
        "inputs": len(jobs),
        "stylized": counters["stylized_images"],
        "bad_images": counters["bad_images"],
        "failed_images": counters["failed_images"],
        "failures": _read_failures(config.failures_path()),
        "failures_file": config.failures_path(),
        "precision": computed_in,
    }


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
