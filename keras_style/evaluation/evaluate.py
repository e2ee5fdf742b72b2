"""Evaluating style-transfer methods on a grid of content × style images.

    from keras_style.evaluation import EvaluationConfig, evaluate
    result = evaluate(EvaluationConfig(content="photos/", style="styles/",
                                       methods=["gatys", "saved_models/adain", "starry_night"],
                                       output_dir="eval"))
    print(result["table"])

Methods: "gatys" runs `gatys.stylize` (GatysConfig with the evaluation's
image_size, iterations and seed); "folder:DIR" scores images another tool made
(see `read_folder_output`); anything else is a model spec for
`keras_style.inference.load_stylizer`. Arbitrary-style models (AdaIN, MetaNet)
get each style image (prepared once per style), once per style strength in
`alphas`: each alpha below 1 is a method of its own ("adain_alpha0.8"), so the
table and the scatter plot show the model's E-versus-C trade-off. A fixed-style
model ignores the style images: it gets one row per content image, whose `style` is its own
training style (metadata "style", or "unknown"); E and the style loss are
computed against the --style image with that name (file stem, case-insensitive)
or, failing that, the training style image recorded in the metadata if it is
readable, else left blank (and so is the palette distance, compared with the same
style image as E).

Every image is resized so its long side is `image_size` before any method sees
it; metrics compare against those resized images (see `metrics` for E, C and
the palette distance).

Output directory:
  results.csv      one row per (method, content, style); see `results_file.COLUMNS`.
                   Rows already there are skipped, so an interrupted run resumes
                   where it stopped (a kill loses at most the pair in progress).
                   Delete it to start over. A rerun must use the same image_size
                   (and iterations, for gatys rows).
  summary.csv      per method: mean / median of E, C, palette distance and seconds;
                   mean E per VGG block, texture retrieval hit rate and mean reciprocal
                   rank among the run's styles (`metrics`); mean losses.
  ec_scatter.png   E against C, one colour per method.
  loss_time.png    mean style loss, content loss and seconds per method.
  e_blocks.png     mean E per VGG block (relu1_1 ... relu5_1), one line per method.
  sheet_side_by_side.jpg  (two or more methods, one of them any-style) one row per
                      (content, style): content, style, the fixed-style model of that
                      style, then each other method, in the order given.
  sheet_<method>.jpg  contact sheet: style images across the top, one row per
                   content image (the content first, then its outputs).
  outputs/<method>/<content>__<style>.png  each output, for the sheets.
The summary, figures and sheets are never replaced unless `overwrite`: a run that would add
rows to a finished evaluation stops before any work if they exist; a rerun with
nothing to add leaves them as they are. An output image without its row in
results.csv is left over from an interrupted pair and is replaced on resume.

Timing and memory per row: `seconds` is the wall-clock time of the stylize call
alone (model loading, style preparation of arbitrary-style models, metrics and
writing excluded; each model gets one untimed warm-up call per image size first;
Gatys includes tracing its loss function for the image size). `peak_rss_mib` is the peak
resident-set-size increase during that call (`memory.PeakRSS`: RSS sampled
every 5 ms, not tracemalloc, which cannot see TensorFlow's native memory).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from keras_style import files, image_io
from keras_style.checks import MAX_WORK_SIDE, check_alpha, check_size
from keras_style.contact_sheet import contact_sheet
from keras_style.errors import StyleError
from keras_style.evaluation import report
from keras_style.evaluation.memory import PeakRSS
from keras_style.evaluation.results_file import ResultsFile, row_key
from keras_style.inference import resolve_model

GATYS = "gatys"
FOLDER_PREFIX = "folder:"
# A folder method's optional record of how long the other tool took per pair.
TIMINGS_CSV = "timings.csv"
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
BLOCKS_PNG = "e_blocks.png"
SCATTER_PNG = "ec_scatter.png"
BARS_PNG = "loss_time.png"
SIDE_BY_SIDE_JPG = "sheet_side_by_side.jpg"
OUTPUTS_DIR = "outputs"
PALETTE_MODES = ("on", "off", "both")
UNKNOWN_STYLE = "unknown"


@dataclasses.dataclass
class EvaluationConfig:
    """What `evaluate` runs; every field has a matching `style_evaluate` flag.

    Attributes:
      content: content images: a file, directory, glob or comma-separated list.
      style: style images, the same way.
      methods: "gatys", model specs (SavedModel dir, .tflite, shipped name) and/or
        "folder:DIR" (another tool's outputs, `DIR/<content>__<style>.png`).
      output_dir: where results go (created if missing).
      image_size: long side of every image given to the methods, in pixels.
      iterations: Gatys loss-and-gradient evaluations per image.
      seed: Gatys random seed.
      cell_size: contact sheet cell size in pixels.
      max_pairs: evaluate only the first N pairs of the grid (content-major,
        then style, then method); None: all.
      overwrite: replace existing figures, sheets and output images.
      gatys: base Gatys settings (losses, weights, layers); its image_size,
        iterations and seed are replaced by the fields above. None: defaults.
      weights: VGG19 weights for the metrics (and Gatys), as `VGGFeatureExtractor`.
      max_pixels: refuse input images with more pixels (decompression-bomb guard).
      precision: a `keras_style.precision` setting for the Gatys optimisation. The
        metrics always score in float32, so their figures compare across machines.
      alphas: style strengths in [0, 1] for the arbitrary-style models, each scored
        as a method of its own (labelled "<model>_alpha<a>"; 1 keeps the model's
        plain label). Other methods run once.
      style_palette: "on": the arbitrary-style models' outputs get the style's
        colours (`keras_style.inference.style_palette.StylePalette`, in full at every alpha), as
        `style_transfer` gives them by default; "off": the networks' own colours;
        "both": each scored both ways, the raw ones labelled "<model>_nopalette".
    """

    content: str
    style: str
    methods: Sequence[str] = (GATYS,)
    output_dir: str = "evaluation"
    image_size: int = 256
    iterations: int = 300
    seed: int = 0
    cell_size: int = 256
    max_pairs: int | None = None
    overwrite: bool = False
    gatys: object | None = None
    weights: str | None = "auto"
    max_pixels: int | None = image_io.DEFAULT_MAX_PIXELS
    precision: str = "auto"
    alphas: Sequence[float] = (1.0,)
    style_palette: str = "on"

    def gatys_config(self):
        """The GatysConfig the "gatys" method runs with."""
        from keras_style.gatys import GatysConfig

        base = self.gatys if self.gatys is not None else GatysConfig()
        return dataclasses.replace(
            base, image_size=self.image_size, scales=(), iterations=self.iterations, seed=self.seed,
            weights=self.weights, precision=self.precision,
        )

    def validate(self):
        """Raises StyleError naming the first bad field."""
        from keras_style.evaluation.metrics import SSIM_FILTER_SIZE
        from keras_style.gatys import MIN_IMAGE_SIZE

        if not self.content or not str(self.content).strip():
            raise StyleError("no content images given; pass --content=DIR, a glob or files")
        if not self.style or not str(self.style).strip():
            raise StyleError("no style images given; pass --style=DIR, a glob or files")
        if not [m for m in self.methods if m and m.strip()]:
            raise StyleError("no methods given; pass --methods=gatys,MODEL,...")
        if self.image_size < max(MIN_IMAGE_SIZE, SSIM_FILTER_SIZE):
            raise StyleError(f"image_size {self.image_size} is too small; use at least {MIN_IMAGE_SIZE} pixels")
        if self.iterations < 1:
            raise StyleError(f"iterations must be >= 1, got {self.iterations}")
        check_size(self.image_size, "image_size", max(MIN_IMAGE_SIZE, SSIM_FILTER_SIZE), MAX_WORK_SIDE)
        check_size(self.cell_size, "cell_size", 8, MAX_WORK_SIDE)
        if self.max_pairs is not None and self.max_pairs < 1:
            raise StyleError(f"max_pairs must be >= 1, got {self.max_pairs}")
        if not self.output_dir:
            raise StyleError("no output directory given; pass --output_dir=DIR")
        if not self.alphas:
            raise StyleError("no alphas given; pass --alphas=1 (or a list such as 1,0.8,0.6)")
        for alpha in self.alphas:
            check_alpha(alpha)
        if self.style_palette not in PALETTE_MODES:
            raise StyleError(f"style_palette must be one of {', '.join(PALETTE_MODES)}, got '{self.style_palette}'")
        if len(set(self.alphas)) != len(self.alphas):
            raise StyleError(f"alphas must differ, got {', '.join(f'{a:g}' for a in self.alphas)}")
        self.gatys_config().validate()


class _Method:
    """One column of the evaluation: how it makes the output for a pair.

    Compared and hashed by identity. Subclasses say what differs between Gatys, a
    fixed-style model, an arbitrary-style model and another tool's folder, so the
    evaluation loop has no per-kind branches.
    """

    # Fixed-style models ignore the style images: one row per content, scored against
    # their own training style (`reference`).
    fixed_style = False

    def __init__(self, spec: str, label: str):
        self.spec = spec
        self.label = label

    def check(self, pair: _Pair):
        """Raises StyleError if `pair` cannot run; called before any work."""

    def load(self, loaded: dict):
        """Loads what `stylize` needs; `loaded` maps model specs to stylizers, so the
        alphas of one model share it. Called before any work: a bad model fails fast."""

    def prepare(self, pair: _Pair, content: np.ndarray, style, context: _RunContext):
        """Untimed work before the timed call: per-style preparation, a warm-up call."""

    def stylize(self, pair: _Pair, content: np.ndarray, style, context: _RunContext) -> np.ndarray:
        """The output image for `pair` (the timed call)."""
        raise NotImplementedError

    def cost(self, pair: _Pair, seconds: float, peak_mib: float):
        """(seconds, peak_rss_mib) to record for the pair, given what the call measured."""
        return seconds, peak_mib

    def reference(self, style: str) -> str:
        """The style image (stem, or a file path) that the output for the style image
        `style` (stem) is scored against; "" for none."""
        return style

    def iterations(self, config: EvaluationConfig):
        """The results' `iterations` column."""
        return ""


class _GatysMethod(_Method):
    def stylize(self, pair, content, style, context):
        from keras_style import gatys

        def report(p, label=f"{self.label} {pair.content} x {pair.style}"):
            context.report(f"{label}: evaluation {p.evaluation}/{p.total_evaluations} loss {p.loss:.4g}")

        return gatys.stylize(context.gatys_extractor(), content, [style], config=context.gatys_config,
                             on_progress=report if context.report else None)

    def iterations(self, config):
        return config.iterations


class _FolderMethod(_Method):
    """Images another tool made: `folder/<content>__<style>.<ext>`."""

    def __init__(self, spec, label, folder: str):
        super().__init__(spec, label)
        self.folder = folder
        self.timings = read_timings(folder)  # (content, style) -> row

    def check(self, pair):
        if folder_output_path(self.folder, pair.content, pair.style) is None:
            raise StyleError(
                f"method '{self.spec}' has no image for {pair.content} x {pair.style}; expected "
                f"'{os.path.join(self.folder, pair.content + '__' + pair.style + '.png')}'"
            )

    def stylize(self, pair, content, style, context):
        return read_folder_output(self, pair, content)

    def cost(self, pair, seconds, peak_mib):
        # Reading a file is not the other tool's cost: its own record, or blank.
        timing = self.timings.get((pair.content, pair.style), {})
        return timing.get("seconds", ""), timing.get("peak_rss_mib", "")


class _ModelMethod(_Method):
    """A model of this project (`keras_style.inference.load_stylizer`)."""

    def __init__(self, spec, label, model_spec, warmed_up: set | None = None):
        super().__init__(spec, label)
        self.model_spec = model_spec
        self.stylizer = None
        # Image shapes already run once: a new size traces and allocates, which is
        # not what a steady-state image costs.
        self.warmed_up = set() if warmed_up is None else warmed_up

    def load(self, loaded):
        if self.spec not in loaded:
            loaded[self.spec] = self.model_spec.load()
        self.stylizer = loaded[self.spec]

    def prepare(self, pair, content, style, context):
        if content.shape not in self.warmed_up:
            self.stylize(pair, content, style, context)
            self.warmed_up.add(content.shape)


class _FixedStyleMethod(_ModelMethod):
    fixed_style = True

    def __init__(self, spec, label, model_spec, own_style: str, reference: str):
        super().__init__(spec, label, model_spec)
        self.own_style = own_style  # the training style's name
        self.style_reference = reference  # stem of the style used for E, or a file path, or ""
        self.pipeline = None

    def stylize(self, pair, content, style, context):
        if self.pipeline is None:
            from keras_style.inference.pipeline import StylePipeline

            self.pipeline = StylePipeline(self.stylizer)  # whole images, no colour step
        return self.pipeline.stylize(content)

    def reference(self, style):
        return self.style_reference


class _ArbitraryStyleMethod(_ModelMethod):
    """An arbitrary-style model through `StylePipeline` (whole images), as `style_transfer` runs it."""

    def __init__(self, spec, label, model_spec, alpha: float, palette: bool, prepared: dict, warmed_up: set):
        super().__init__(spec, label, model_spec, warmed_up)
        self.alpha = alpha
        self.palette = palette  # whether the palette step runs
        self.prepared = prepared  # style stem -> the style's pipeline, its style shared by the model's alphas
        self.pipelines = {}  # style stem -> this method's pipeline (its alpha and palette)

    def prepare(self, pair, content, style, context):
        from keras_style.inference.pipeline import StyleOptions, StylePipeline

        if pair.style not in self.prepared:  # once per style
            self.prepared[pair.style] = StylePipeline(self.stylizer, StyleOptions(styles=(style,), tile=0))
            self.prepared[pair.style].prepare(content)
        if pair.style not in self.pipelines:
            self.pipelines[pair.style] = self.prepared[pair.style].replace(alpha=self.alpha, style_palette=self.palette)
        super().prepare(pair, content, style, context)

    def stylize(self, pair, content, style, context):
        return self.pipelines[pair.style].stylize(content)


class _RunContext:
    """What the methods share while pairs run: Gatys' settings and loss network, and
    the progress line for the pair in progress."""

    def __init__(self, config: EvaluationConfig, metrics):
        from keras_style import precision

        self.gatys_config = config.gatys_config()
        self.gatys_config.precision = precision.resolve(self.gatys_config.precision)
        self._metrics = metrics
        self._gatys_extractor = None
        self.report = None  # report(message) for the pair in progress, or None

    def gatys_extractor(self):
        """Gatys' loss network, built on first use."""
        if self._gatys_extractor is None:
            from keras_style import gatys, precision

            # The metrics' float32 network doubles as Gatys' loss network when Gatys runs in float32.
            if self.gatys_config.precision == precision.FLOAT32:
                self._gatys_extractor = self._metrics.loss_extractor
            else:
                self._gatys_extractor = gatys.loss_network(self.gatys_config)
        return self._gatys_extractor


@dataclasses.dataclass
class _Pair:
    method: _Method
    content: str  # content stem
    style: str  # style stem (fixed-style models: their own style name)
    style_image: str  # file name of the style used for E and the style loss; "" if none

    @property
    def key(self):
        return self.method.label, self.content, self.style


def method_label(spec: str) -> str:
    """A short, file-name-safe name for a method: "gatys", a shipped model's name,
    a SavedModel's directory name (its parent's, for NAME/saved_model), a .tflite stem."""
    if spec == GATYS:
        return GATYS
    if spec.startswith(FOLDER_PREFIX):
        spec = spec[len(FOLDER_PREFIX):]
    path = Path(spec.rstrip("/\\"))
    name = path.stem if path.suffix.lower() == ".tflite" else path.name
    if name == "saved_model" and path.parent.name:
        name = path.parent.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def _stems(paths: Sequence[str], what: str) -> dict[str, str]:
    """{stem: path}; stems name rows and output files, so they must be unique."""
    stems: dict[str, str] = {}
    for path in paths:
        stem = Path(path).stem
        if stem in stems:
            raise StyleError(
                f"two {what} images are both named '{stem}' ('{stems[stem]}' and '{path}'); rename one"
            )
        stems[stem] = path
    return stems


def _unique_label(label: str, labels: set) -> str:
    """`label`, or `label_2`, `label_3`... if taken; recorded in `labels`."""
    base, n = label, 2
    while label in labels:
        label, n = f"{base}_{n}", n + 1
    labels.add(label)
    return label


def _resolve_methods(config: EvaluationConfig, styles: dict[str, str]) -> list[_Method]:
    methods, labels = [], set()
    for spec in dict.fromkeys(m.strip() for m in config.methods if m and m.strip()):
        label = _unique_label(method_label(spec), labels)
        if spec == GATYS:
            methods.append(_GatysMethod(spec, label))
            continue
        if spec.startswith(FOLDER_PREFIX):
            folder = spec[len(FOLDER_PREFIX):]
            if not os.path.isdir(folder):
                raise StyleError(f"method '{spec}': '{folder}' is not a directory of output images")
            methods.append(_FolderMethod(spec, label, folder))
            continue
        model = resolve_model(spec)
        if model.takes_style:
            # The alphas of one model share its stylizer and prepared styles (alpha
            # is applied at stylize time), so each style is prepared once.
            prepared, warmed_up = {}, set()
            palettes = {"on": (True,), "off": (False,), "both": (True, False)}[config.style_palette]
            for alpha in config.alphas:
                for palette in palettes:
                    name = label if alpha == 1 else f"{label}_alpha{alpha:g}"
                    if not palette and config.style_palette == "both":
                        name += "_nopalette"
                    name = name if name == label else _unique_label(name, labels)
                    methods.append(_ArbitraryStyleMethod(spec, name, model, float(alpha), palette, prepared, warmed_up))
            continue
        own = str(model.metadata.get("style") or "")
        lowered = {stem.lower(): stem for stem in styles}
        reference = lowered.get(own.lower(), "") if own else ""
        training = model.metadata.get("training")
        training_image = training.get("style_image") if isinstance(training, dict) else None
        if not reference and isinstance(training_image, str):
            if Path(training_image).stem.lower() in lowered:
                reference = lowered[Path(training_image).stem.lower()]
            elif os.path.isfile(training_image):
                reference = training_image  # a path: loaded on its own below
        methods.append(_FixedStyleMethod(spec, label, model, own or UNKNOWN_STYLE, reference))
    return methods


def _input_paths(config: EvaluationConfig, contents: dict, styles: dict, methods: list[_Method]) -> list:
    """(description, path) of everything the evaluation reads, for `files.check_not_an_input`."""
    inputs = [("content image", p) for p in contents.values()] + [("style image", p) for p in styles.values()]
    for method in methods:
        if isinstance(method, _FolderMethod):
            inputs.append((f"method '{method.spec}' folder", method.folder))
        elif isinstance(method, _ModelMethod):
            inputs.append((f"method '{method.spec}' model", method.model_spec.path))
        if isinstance(method, _FixedStyleMethod) and os.path.isfile(method.style_reference):
            inputs.append(("reference style image", method.style_reference))
    if config.weights not in (None, "auto", "imagenet", "none"):
        inputs.append(("VGG weights file", config.weights))
    return inputs


def _plan(methods: list[_Method], contents: Sequence[str], styles: dict[str, str], max_pairs) -> list[_Pair]:
    pairs = []
    for content in contents:
        for index, style in enumerate(styles):
            for method in methods:
                if method.fixed_style:
                    if index == 0:  # one row per content: the style images play no part
                        image = method.reference(style)
                        image_name = os.path.basename(styles.get(image, image)) if image else ""
                        pairs.append(_Pair(method, content, method.own_style, image_name))
                else:
                    pairs.append(_Pair(method, content, style, os.path.basename(styles[style])))
    return pairs[:max_pairs] if max_pairs else pairs


def _output_path(output_dir: str, pair: _Pair) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", pair.style)
    return os.path.join(output_dir, OUTPUTS_DIR, pair.method.label, f"{pair.content}__{safe}.png")


def folder_output_path(folder: str, content: str, style: str) -> str | None:
    """The image another tool wrote for (content, style): `folder/<content>__<style>.<ext>`
    (png, jpg, jpeg or webp; stems as the evaluation names them), or None."""
    for extension in (".png", ".jpg", ".jpeg", ".webp"):
        path = os.path.join(folder, f"{content}__{style}{extension}")
        if os.path.isfile(path):
            return path
    return None


def read_timings(folder: str) -> dict:
    """`folder/timings.csv` as {(content, style): {"seconds": float, "peak_rss_mib": float}}.

    The file is optional (columns content, style, seconds and optionally
    peak_rss_mib); without it a folder method's time and memory stay blank.
    """
    path = os.path.join(folder, TIMINGS_CSV)
    if not os.path.exists(path):
        return {}
    import csv

    timings = {}
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                timings[(row["content"], row["style"])] = {
                    key: float(row[key]) for key in ("seconds", "peak_rss_mib") if row.get(key) not in (None, "")
                }
            except (KeyError, ValueError):
                raise StyleError(f"{path}, line {line}: needs content, style and numeric seconds columns") from None
    return timings


def read_folder_output(method, pair, content: np.ndarray) -> np.ndarray:
    """Another tool's output for `pair`, at the content image's size.

    The other tool may round sizes differently (a 512-pixel long side of 683x1024
    can come out 341 or 342 high), so an image within 2% (or one pixel) of the
    content's size is resized to it; anything further off is refused, since the metrics compare
    pixels and features at the content's size.
    """
    path = folder_output_path(method.folder, pair.content, pair.style)
    image = image_io.load_image(path)
    if image.shape[:2] != content.shape[:2]:
        if any(abs(a - b) > max(1, 0.02 * b) for a, b in zip(image.shape[:2], content.shape[:2])):
            raise StyleError(
                f"'{path}' is {image.shape[1]}x{image.shape[0]}, the content image is "
                f"{content.shape[1]}x{content.shape[0]} at --image_size; make the outputs at that size"
            )
        image = np.clip(image_io.resize_image(image, content.shape[:2]), 0.0, 255.0)
    return image


def evaluate(
    config: EvaluationConfig,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """Runs every method on every content × style pair and writes the results.

    Everything is checked (images decoded, models resolved and loaded, output
    files) before the first pair is computed.

    Args:
      config: what to run; validated here.
      on_progress: called as `on_progress(done, total, message)` once with the
        pairs already in results.csv, then after each new pair, and during a Gatys
        pair after each of its loss evaluations (`done` unchanged): one such pair
        takes minutes to tens of minutes.

    Returns:
      A dict: "results_csv", "summary_csv" (paths), "summary" (per-method dicts,
      see `report.summarize`), "table" (the summary as text), "new_pairs",
      "skipped_pairs" (already in results.csv), "written" and "unchanged"
      (figure and sheet paths written / left as they were).

    Raises:
      StyleError: bad settings, images, models or output paths.
    """
    config.validate()
    contents = _stems(image_io.list_images(config.content), "content")
    styles = _stems(image_io.list_images(config.style), "style")
    methods = _resolve_methods(config, styles)
    pairs = _plan(methods, list(contents), styles, config.max_pairs)

    # Nothing is written (no folder, no results.csv) until every input is accepted.
    image_io.check_output_dir(config.output_dir)
    files.check_not_an_input([config.output_dir], _input_paths(config, contents, styles, methods))
    results_path = os.path.join(config.output_dir, RESULTS_CSV)
    resuming = os.path.exists(results_path)
    results = ResultsFile(results_path, create=False)
    results.check_settings({"image_size": str(config.image_size), "iterations": str(config.iterations)})
    done = results.keys()
    pending = [p for p in pairs if p.key not in done]
    used = [m for m in methods if any(p.method is m for p in pairs)]

    summary_path = os.path.join(config.output_dir, SUMMARY_CSV)
    artifacts = [os.path.join(config.output_dir, n) for n in (SCATTER_PNG, BARS_PNG)]
    blocks_path = os.path.join(config.output_dir, BLOCKS_PNG)
    artifacts += [os.path.join(config.output_dir, f"sheet_{m.label}.jpg") for m in used]
    side_by_side = len(used) > 1 and any(not m.fixed_style for m in used)
    if side_by_side:
        artifacts.append(os.path.join(config.output_dir, SIDE_BY_SIDE_JPG))
    if pending and not config.overwrite:
        existing = [a for a in [summary_path, blocks_path] + artifacts if os.path.lexists(a)]
        if not resuming:
            existing += [o for o in map(lambda p: _output_path(config.output_dir, p), pending) if os.path.lexists(o)]
        if existing:
            raise StyleError(
                f"'{existing[0]}' exists and {len(pending)} new pair(s) would change it; pass --overwrite "
                "to replace the summary, figures and sheets, or use another --output_dir"
            )

    # Decode every image now: a corrupt file fails before hours of work.
    load = dict(max_size=config.image_size, max_pixels=config.max_pixels)
    content_images = {stem: image_io.load_image(path, **load) for stem, path in contents.items()}
    style_images = {stem: image_io.load_image(path, **load) for stem, path in styles.items()}
    for pair in pairs:
        reference = pair.method.reference(pair.style)
        if reference and reference not in style_images:  # a fixed-style model's training image
            style_images[reference] = image_io.load_image(reference, **load)
    _check_image_sizes(config, content_images, contents, "content")
    _check_image_sizes(config, style_images, styles, "style")
    for pair in pending:
        pair.method.check(pair)
    # Load every model needed, and the metrics' VGG19, before computing (or writing)
    # anything: a bad model or missing weights fail fast.
    loaded = {}  # spec -> stylizer: a model's alphas share one
    for method in dict.fromkeys(p.method for p in pending):
        method.load(loaded)
    metrics = None
    if pending:
        from keras_style.evaluation.metrics import StyleMetrics

        metrics = StyleMetrics(weights=config.weights, gatys_config=config.gatys_config())

    image_io.make_output_dir(config.output_dir)
    results.create()  # the header, before the first pair: an interrupted first pair resumes

    if on_progress:
        on_progress(len(pairs) - len(pending), len(pairs), f"{len(pairs) - len(pending)} already in {RESULTS_CSV}")
    if pending:
        _run_pairs(config, pending, content_images, style_images, results, metrics, on_progress, len(pairs),
                   run_styles=list(styles))

    keys = {p.key for p in pairs}
    rows = [r for r in results.rows if row_key(r) in keys]
    summary = report.summarize(rows, [m.label for m in used], styles=len(styles))

    written, unchanged = [], []

    def needs(path) -> bool:
        """Whether to (re)write `path`; a finished evaluation's summary and figures are kept."""
        write = config.overwrite or not os.path.lexists(path)
        (written if write else unchanged).append(path)
        return write

    if needs(summary_path):
        report.write_summary_csv(summary, summary_path)

    if needs(artifacts[0]):
        report.ec_scatter(rows, [m.label for m in used], artifacts[0], overwrite=config.overwrite)
    if needs(artifacts[1]):
        report.loss_time_bars(summary, artifacts[1], overwrite=config.overwrite)
    if needs(blocks_path):
        report.block_effectiveness_plot(summary, blocks_path, overwrite=config.overwrite)
    for method, path in zip(used, artifacts[2:]):
        if needs(path):
            sheet = _contact_sheet(config, method, pairs, content_images, style_images)
            image_io.save_image(sheet, path, overwrite=config.overwrite, quality=90)
    if side_by_side and needs(artifacts[-1]):
        sheet = _side_by_side_sheet(config, used, pairs, content_images, style_images)
        image_io.save_image(sheet, artifacts[-1], overwrite=config.overwrite, quality=90)
    return {
        "results_csv": results_path,
        "summary_csv": summary_path,
        "summary": summary,
        "table": report.format_table(summary),
        "new_pairs": len(pending),
        "skipped_pairs": len(pairs) - len(pending),
        "written": written,
        "unchanged": unchanged,
    }


def _check_image_sizes(config: EvaluationConfig, images: dict, paths: dict, what: str) -> None:
    """Refuses an image too thin for the metrics or Gatys at `image_size` (images are
    loaded at that long side already): VGG's poolings take a side of a few pixels to 0,
    which fails inside TensorFlow after results.csv is written."""
    from keras_style.evaluation.metrics import min_image_side

    minimum = min_image_side(config.gatys_config())
    for stem, image in images.items():
        height, width = image.shape[:2]
        if min(height, width) < minimum:
            name = paths.get(stem, stem)
            raise StyleError(
                f"{what} image '{name}' is {width}x{height} pixels at image_size {config.image_size}; the metrics "
                f"need at least {minimum} pixels on each side, so use a larger image_size or a less elongated image"
            )


def _run_pairs(config, pending, content_images, style_images, results, metrics, on_progress, total,
               run_styles=()):
    context = _RunContext(config, metrics)
    # Every output is ranked among all the run's styles (texture retrieval): each
    # style's reference is computed once, here, and reused for E.
    references = {name: metrics.style_reference(style_images[name]) for name in run_styles}
    candidates = {name: references[name] for name in run_styles}
    done = total - len(pending)
    if on_progress:
        context.report = lambda message: on_progress(done, total, message)  # `done` as it is then
    for pair in pending:
        method, content = pair.method, content_images[pair.content]
        style = None if method.fixed_style else style_images[pair.style]

        method.prepare(pair, content, style, context)
        with PeakRSS() as memory:
            start = time.perf_counter()
            output = np.asarray(method.stylize(pair, content, style, context), np.float32)
            seconds = time.perf_counter() - start
        seconds, peak_mib = method.cost(pair, seconds, memory.peak_mib)

        reference_name = method.reference(pair.style)
        if reference_name and reference_name not in references:
            references[reference_name] = metrics.style_reference(style_images[reference_name])
        values = metrics.evaluate(content, output, references.get(reference_name),
                                  texture_styles=candidates, own_style=reference_name)

        path = _output_path(config.output_dir, pair)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # No row for this pair yet, so a file here is an interrupted pair's (or --overwrite).
        image_io.save_image(output, path, overwrite=True)
        results.append({
            "method": method.label,
            "content": pair.content,
            "style": pair.style,
            "style_image": pair.style_image,
            **values,
            "seconds": seconds,
            "peak_rss_mib": peak_mib,
            "width": output.shape[1],
            "height": output.shape[0],
            "image_size": config.image_size,
            "iterations": method.iterations(config),
        })
        done += 1
        if on_progress:
            on_progress(done, total, f"{method.label} {pair.content} x {pair.style} "
                        f"E {values['effectiveness']:.3g} C {values['coherence']:.3g} "
                        f"palette {values['palette']:.3g}"
                        + (f" {seconds:.1f}s" if seconds != "" else ""))


def _side_by_side_sheet(config, methods, pairs, content_images, style_images):
    """Every method on the same pair, side by side: one row per (content, style) of the
    any-style methods; columns: the content, the style image, the fixed-style model
    trained on that style (blank where none was evaluated), then each other method in
    the order given (a `folder:` peer next to ours)."""
    others = [m for m in methods if not m.fixed_style]
    keys = list(dict.fromkeys((p.content, p.style) for p in pairs if not p.method.fixed_style))

    def column(method):  # every fixed-style model shares one column
        return "fixed" if method.fixed_style else method

    found = {(column(p.method), p.content, p.style): p for p in pairs}

    def output(key):
        pair = found.get(key)
        path = _output_path(config.output_dir, pair) if pair else None
        return image_io.load_image(path) if path and os.path.exists(path) else None

    rows = []
    for content, style in keys:
        row = [content_images[content], style_images.get(style), output(("fixed", content, style))]
        rows.append(row + [output((method, content, style)) for method in others])
    return contact_sheet(rows, cell=config.cell_size, gap=4)


def _contact_sheet(config, method, pairs, content_images, style_images):
    """Style images across the top; per content: the content, then its outputs."""
    mine = [p for p in pairs if p.method is method]
    contents = list(dict.fromkeys(p.content for p in mine))
    columns = list(dict.fromkeys(p.style for p in mine))

    def header(style):
        if method.fixed_style:
            reference = method.reference(style)
            return style_images.get(reference) if reference else None
        return style_images[style]

    rows = [[None] + [header(s) for s in columns]]
    for content in contents:
        row = [content_images[content]]
        for style in columns:
            pair = next((p for p in mine if p.content == content and p.style == style), None)
            path = _output_path(config.output_dir, pair) if pair else None
            row.append(image_io.load_image(path) if path and os.path.exists(path) else None)
        rows.append(row)
    return contact_sheet(rows, cell=config.cell_size, gap=4)
