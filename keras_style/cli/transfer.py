r"""style_transfer: stylize images with an exported fast style transfer model.

  style_transfer --model=starry_night --content=photo.jpg --output=out.png
  style_transfer --model=exports/wave_fp16.tflite --content=photos/ --output_dir=styled/ --max_size=1024
  style_transfer --model=saved_models/starry_night --content='shots/*.jpg' --output_dir=styled \
      --output_format=jpg --tile=512 --preserve_color=luminance
  style_transfer --model=saved_models/adain --content=photo.jpg --output=out.png \
      --style=starry.jpg,wave.jpg --style_weights=0.7,0.3 --alpha=0.8 --mask=sky.png,ground.png
  style_transfer --model=adain --content=big.jpg --style=starry.jpg --output=out.jpg --compute_size=512

--model is a SavedModel directory, a .tflite file (runs without TensorFlow),
or the name of a shipped model (saved_models/NAME or $KERAS_STYLE_MODELS/NAME;
--model_format picks its SavedModel or .tflite file). Everything is checked
before the first image is stylized: a bad input writes nothing.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from keras_style import checks, image_io, precision
from keras_style.cli import common
from keras_style.errors import StyleError
from keras_style.export import serving_precision
from keras_style.inference import model_spec
from keras_style.inference.pipeline import StyleOptions, StylePipeline, steps_class

_MODEL = flags.DEFINE_string("model", None, "SavedModel directory, .tflite file, or shipped model name.")
_MODEL_FORMAT = flags.DEFINE_enum(
    "model_format", "auto", ["auto", "saved_model", "tflite"],
    "For a shipped model name: auto (LiteRT from its .tflite up to the image size where TensorFlow from "
    "its SavedModel is faster; said in one line), saved_model or tflite.",
)
_CONTENT = flags.DEFINE_string("content", None, "Content image(s): a file, a directory, a glob, or a,b,c.")
_OUTPUT = flags.DEFINE_string("output", None, "Output file, for a single content image (format from its extension).")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, "Output directory for any number of content images (same base names; created if missing).")
_OUTPUT_FORMAT = flags.DEFINE_string("output_format", "png", "With --output_dir: png, jpg, webp, bmp or tiff.")
_MAX_SIZE = flags.DEFINE_integer("max_size", None, "Resize each content image so its long side is this many pixels.")
_COMPUTE_SIZE = flags.DEFINE_integer(
    "compute_size", None, "Stylize each image at most this many pixels on its long side and resize the result "
    "(Lanczos) back to the image's size: much less compute and memory on large photos, at the cost of fine "
    "detail (texture is drawn at the smaller size). AdaIN scales its --style images down by the same "
    "factor (to at least 64 px). Default: full size. The output keeps the image's size, unlike --max_size.")
_PRESERVE_COLOR = flags.DEFINE_enum(
    "preserve_color", "none", ["none", "luminance", "histogram"],
    "Keep the content's colours: luminance (stylized luminance, content chroma) or histogram (match colour "
    "mean and covariance).",
)
_TILE = flags.DEFINE_integer(
    "tile", 0, "Stylize in overlapping tiles of at most this many pixels a side (bounded memory for large "
    "images); 0: whole images. Not given: whole images, except for AdaIN models, which then pick a tile size "
    "from each image's size that keeps the run under about 1 GB of memory (a 1024x1024 photo: tiles of 544 "
    "with the .tflite pair, 256 with the SavedModel, whose TensorFlow alone takes ~0.7 GB; none with --mask).")
_TILE_OVERLAP = flags.DEFINE_integer("tile_overlap", 64, "Overlap between tiles in pixels (blended smoothly).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
_MAX_PIXELS = flags.DEFINE_integer("max_image_pixels", None, "Refuse content images with more pixels than this "
                                   "(decompression-bomb guard); default: the library's limit.")
_STYLE = common.define_path_list("style", None, "Style image(s); only for arbitrary-style models (adain, metanet).")
_ALPHA = flags.DEFINE_float(
    "alpha", None, "Style strength 0..1; only for arbitrary-style models (adain, metanet). Default: the model's "
    "recorded default alpha (the shipped adain: 0.6), else 1.")
_STYLE_WEIGHTS = flags.DEFINE_list(
    "style_weights", None, "One weight per --style image (normalised to sum to 1); default equal. "
    "Arbitrary-style models only.")
_MASK = common.define_path_list(
    "mask", None, "AdaIN spatial control: one grayscale image per --style, the content's size; white applies "
    "that style. Needs the SavedModel and whole images (no --tile).")

_STYLE_PALETTE = flags.DEFINE_bool(
    "style_palette", True, "Arbitrary-style models: give the result the --style images' colour mean and "
    "covariance (mixed by --style_weights, each in its --mask region; in full at any --alpha), after the model "
    "and after stitching tiles. --nostyle_palette: the network's own colours. Not with --preserve_color, "
    "which keeps the content's colours instead.")

_PRECISION = common.define_precision_flag(
    "SavedModels only (a .tflite file runs as converted): a fast-style, AdaIN or MetaNet SavedModel is run "
    "from a copy computing in that precision, made once and kept in $KERAS_STYLE_CACHE (default "
    "~/.cache/keras_style).")

flags.mark_flags_as_required(["model", "content"])


def _check_flags():
    precision.canonical(_PRECISION.value)
    if bool(_OUTPUT.value) == bool(_OUTPUT_DIR.value):
        raise StyleError("pass exactly one of --output (one content image) or --output_dir (any number)")
    if _MAX_SIZE.value is not None and _MAX_SIZE.value < 1:
        raise StyleError(f"--max_size must be at least 1, got {_MAX_SIZE.value}")
    # The pipeline's own rules (`keras_style.checks`), named by their flags.
    checks.check_compute_size(_COMPUTE_SIZE.value, "--compute_size")
    checks.check_tile(_tile(), _TILE_OVERLAP.value, "--tile", "--tile_overlap")
    if _OUTPUT.value and flags.FLAGS["output_format"].present:
        raise StyleError("--output_format is for --output_dir; --output takes its format from its extension")
    fmt = _OUTPUT_FORMAT.value.lower().lstrip(".")
    if "." + fmt not in image_io.OUTPUT_EXTENSIONS:
        formats = ", ".join(e.lstrip(".") for e in image_io.OUTPUT_EXTENSIONS)
        raise StyleError(f"unknown --output_format '{_OUTPUT_FORMAT.value}'; use one of {formats}")
    return fmt


def _tile():
    """--tile as the pipeline takes it: None when not given (the model kind chooses)."""
    return _TILE.value if flags.FLAGS["tile"].present else None


def _check_style_flags(spec) -> list[float] | None:
    """Checks the style flags against the model, before any file is read; returns
    --style_weights as numbers (None: not given)."""
    kind = spec.model_kind  # an unknown kind is refused here, in one line
    given = [name for name, value in (("--style", _STYLE.value), ("--alpha", _ALPHA.value),
                                      ("--style_weights", _STYLE_WEIGHTS.value), ("--mask", _MASK.value))
             if value is not None]
    if flags.FLAGS["style_palette"].present:
        given.append("--style_palette" if _STYLE_PALETTE.value else "--nostyle_palette")
        if _STYLE_PALETTE.value and _PRESERVE_COLOR.value != "none":
            raise StyleError("--style_palette gives the result the style's colours and --preserve_color the "
                             "content's; pass one of them")
    if given and not spec.takes_style:
        raise StyleError(
            f"model {spec.source} is a fixed-style model; {' and '.join(given)} "
            f"{'needs' if len(given) == 1 else 'need'} an arbitrary-style model (adain, metanet)"
        )
    if not spec.takes_style:
        return None
    steps = steps_class(kind, True)
    title = steps.title or kind.name
    styles, masks = _STYLE.value or [], _MASK.value
    stylizer_class = kind.part("tflite_stylizer" if spec.format == "tflite" else "saved_model_stylizer")
    if masks and not stylizer_class.supports_masks and steps.no_masks_reason:
        raise StyleError(f"--mask is not supported for {title} model {spec.source}: {steps.no_masks_reason}")
    if not styles:
        article = "an" if title[:1].upper() in "AEIOU" else "a"
        raise StyleError(f"model {spec.source} is {article} {title} (arbitrary-style) model; "
                         "pass --style=IMAGE[,IMAGE...]")
    weights = common.style_weight_list(_STYLE_WEIGHTS.value, len(styles))
    if _ALPHA.value is not None:
        checks.check_alpha(_ALPHA.value, "--alpha")
    if masks:
        if len(masks) != len(styles):
            raise StyleError(
                f"--mask has {len(masks)} file(s) for {len(styles)} --style image(s); give one mask per style"
            )
        checks.check_tile(_tile(), _TILE_OVERLAP.value, "--tile", "--tile_overlap", masks=True)
        if not stylizer_class.supports_masks:
            raise StyleError(f"--mask needs the {title} SavedModel (its .tflite files have no masked signature); "
                             f"model {spec.source} is a {spec.format} model")
    return weights


def _style_options(spec, weights, content_paths, load_kwargs) -> StyleOptions:
    """The run's `StyleOptions`: the style images and masks decoded, each mask checked
    against each content image (still before any output is written).

    Raises:
      StyleError: a missing or unreadable file, or a mask whose size differs from a
        content image's ("mask is HxW, content is HxW").
    """
    styles, masks = (), None
    if spec.takes_style:
        styles = tuple(image_io.load_image(path, **load_kwargs) for path in _STYLE.value)
        # Each kind's bound on a style's size (a 10000x20 strip, resized for MetaNet, was 128000x256).
        stylizer_class = spec.model_kind.part("tflite_stylizer" if spec.format == "tflite" else "saved_model_stylizer")
        for path, style in zip(_STYLE.value, styles):
            stylizer_class.check_style_shape(style.shape, spec.metadata, f"--style '{path}'")
        if _MASK.value:
            # Grayscale (a colour image is averaged over its channels), 0..255 -> 0..1.
            masks = tuple(image_io.load_image(path, **load_kwargs).mean(axis=-1) / 255.0 for path in _MASK.value)
            for content_path in content_paths:
                height, width = _image_size(content_path)
                for mask_path, mask in zip(_MASK.value, masks):
                    if mask.shape != (height, width):
                        raise StyleError(
                            f"mask is {mask.shape[0]}x{mask.shape[1]}, content is {height}x{width} (height x "
                            f"width): --mask '{mask_path}' must be the size of --content '{content_path}'"
                        )
    return StyleOptions(
        styles=styles, style_weights=weights, alpha=_ALPHA.value, masks=masks, style_palette=_STYLE_PALETTE.value,
        preserve_color=_PRESERVE_COLOR.value, tile=_tile(), overlap=_TILE_OVERLAP.value,
        compute_size=_COMPUTE_SIZE.value,
    )


def _image_size(path) -> tuple[int, int]:
    """(height, width) of an image file as `load_image` returns it (EXIF rotation applied),
    from its header: cheap, the command has already decoded every content image once."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
    except OSError as e:
        raise StyleError(f"cannot read image '{path}': {e}") from None
    return height, width


def _output_paths(inputs: list[str], fmt: str, model_path: str | None = None) -> list[str]:
    """One output path per input, all checked (none is, or is inside, an input: images, masks, the
    model); creates nothing."""
    overwrite = _OVERWRITE.value
    if _OUTPUT.value:
        if len(inputs) > 1:
            raise StyleError(f"--content names {len(inputs)} images; use --output_dir for more than one")
        outputs = [image_io.check_output_path(_OUTPUT.value, overwrite=overwrite)]
        _probe_writable(os.path.dirname(os.path.abspath(_OUTPUT.value)))
    else:
        directory = _OUTPUT_DIR.value
        if os.path.lexists(directory) and not os.path.isdir(directory):
            raise StyleError(f"--output_dir '{directory}' exists and is not a directory")
        if not os.path.isdir(directory):
            parent = os.path.dirname(os.path.abspath(directory))
            if not os.path.isdir(parent):
                raise StyleError(f"cannot create --output_dir '{directory}': directory '{parent}' does not exist")
            _probe_writable(parent)
        outputs = [
            os.path.join(directory, os.path.splitext(os.path.basename(path))[0] + "." + fmt) for path in inputs
        ]
        seen = {}
        for path, out in zip(inputs, outputs):
            if out in seen:
                raise StyleError(f"'{seen[out]}' and '{path}' would both be written to '{out}'; rename one")
            seen[out] = path
        if os.path.isdir(directory):
            for out in outputs:
                image_io.check_output_path(out, overwrite=overwrite)
            _probe_writable(directory)
    image_io.check_not_an_input(
        outputs,
        [("content image", path) for path in inputs]
        + [("style image", path) for path in _STYLE.value or []]
        + [("mask", path) for path in _MASK.value or []]
        + ([("model", model_path)] if model_path else []),
    )
    return outputs


def _probe_writable(directory: str) -> None:
    """Creates and deletes a file: permission bits say nothing for root, read-only
    mounts or ACLs, and an unwritable output should fail before any work."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".style_transfer_probe"):
            pass
    except OSError as e:
        raise StyleError(f"cannot write to directory '{directory}': {e.strerror or e}; check its permissions") from None


def _in_precision(spec, precision_line):
    """The SavedModel to run for --precision (a cached bfloat16 copy on CPUs with bfloat16 units)."""
    import dataclasses

    def log(line):
        precision_line.announce()  # the choice first: it is why a copy is made
        print(line, file=sys.stderr)

    path = serving_precision.precision_copy(spec.path, precision_line.policy, log=log)
    if path == spec.path:
        return spec
    return dataclasses.replace(spec, path=path, metadata=model_spec.read_metadata(path))


def main(argv):
    del argv
    fmt = _check_flags()
    # Everything is validated before the first image is written; the model
    # (which may import TensorFlow) is loaded last.
    spec = model_spec.resolve_model(_MODEL.value, _MODEL_FORMAT.value)
    weights = _check_style_flags(spec)
    inputs = image_io.list_images(_CONTENT.value)
    outputs = _output_paths(inputs, fmt, spec.path)  # nothing written into the model either
    load_kwargs = {"max_pixels": _MAX_PIXELS.value} if _MAX_PIXELS.value is not None else {}
    # Every file is decoded now (corrupt ones fail before anything is written), at its
    # --max_size (a large JPEG is decoded at a fraction of its size); one input is kept.
    decoded = {}
    largest = 0  # pixels of the largest image stylized (after --compute_size): what auto chooses by
    for path in inputs:
        image = image_io.load_image(path, max_size=_MAX_SIZE.value, **load_kwargs)
        scale = min(1.0, _COMPUTE_SIZE.value / max(image.shape[:2])) if _COMPUTE_SIZE.value else 1.0
        largest = max(largest, int(image.shape[0] * image.shape[1] * scale * scale))
        if len(inputs) == 1:
            decoded[path] = image
        del image
    # --model_format=auto: LiteRT or TensorFlow, whichever runs this job faster; said in one line.
    spec = model_spec.choose_runtime(spec, largest, needs_saved_model="--mask" if _MASK.value else (
        "--precision" if flags.FLAGS["precision"].present else None))
    if spec.announcement:
        print(spec.announcement, file=sys.stderr, flush=True)
    options = _style_options(spec, weights, inputs, load_kwargs)  # style images and masks (mask sizes too)
    precision_line = None
    if spec.format == "saved_model":
        precision_line = common.PrecisionLine(_PRECISION.value)
        spec = _in_precision(spec, precision_line)
    model = spec.load()
    if precision_line is not None:
        # Announced once the model has loaded: a model that cannot load stays the only line.
        precision_line.announce()
    if spec.takes_style and _ALPHA.value is None and model.default_alpha != 1.0:
        print(f"alpha {model.default_alpha:g}: {spec.source}'s default (--alpha=1 for full strength)",
              file=sys.stderr, flush=True)
    pipeline = StylePipeline(model, options, note=lambda line: print(f"{line} (--tile=0: whole image)",
                                                                     file=sys.stderr, flush=True))
    backend = model.backend
    del model, options  # held by the pipeline (the style images only as it keeps them)
    if _OUTPUT_DIR.value:
        try:
            os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
        except OSError as e:
            raise StyleError(f"cannot create --output_dir '{_OUTPUT_DIR.value}': {e.strerror or e}") from None

    bar = common.ProgressBar(len(inputs), label=f"stylizing ({backend})")
    bar.update(0, force=True)
    for done, (path, out) in enumerate(zip(inputs, outputs), start=1):
        content = decoded.pop(path, None)
        if content is None:
            content = image_io.load_image(path, max_size=_MAX_SIZE.value, **load_kwargs)
        # The style is prepared once (per compute-size scale) and reused for every image.
        result = pipeline.stylize(content)
        if done == len(inputs):
            pipeline = None  # last image: the model's memory is freed before the output is encoded
        image_io.save_image(result, out, overwrite=_OVERWRITE.value)
        bar.update(done, os.path.basename(out))
    where = _OUTPUT.value or _OUTPUT_DIR.value
    print(f"wrote {len(outputs)} image{'s' if len(outputs) != 1 else ''} to {where}", file=sys.stderr)
    return 0


def run():
    common.run(main)


if __name__ == "__main__":
    run()
