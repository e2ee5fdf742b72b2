r"""Contact sheet for shipped models: content photos (rows) x models (columns).

  python scripts/shipped_contact_sheet.py --models=saved_models/starry_night,saved_models/great_wave \
      --content=examples/content --output=saved_models/contact_sheet.jpg

The first column is the content photo; each further column is one model's output
(`--style` for arbitrary-style models, one per model or one shared; their outputs get
the palette step, as `style_transfer` gives them by default).
"""

from absl import flags

from keras_style.cli import common

_MODELS = flags.DEFINE_list("models", None, "Model specs (directories, .tflite files or shipped names).")
_CONTENT = flags.DEFINE_string("content", "examples/content", "Content images: file, folder, glob or list.")
_STYLES = flags.DEFINE_list("styles", None, "For arbitrary-style models: one style image per model.")
_ALPHA = flags.DEFINE_float("alpha", None, "Style strength for arbitrary-style models; default: each model's own.")
_OUTPUT = flags.DEFINE_string("output", None, "Output image (.jpg or .png).")
_SIZE = flags.DEFINE_integer("max_size", 512, "Long side the content is stylized at.")
_CELL = flags.DEFINE_integer("cell", 256, "Cell size in the sheet.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing output.")
flags.mark_flags_as_required(["models", "output"])


def main(argv):
    del argv
    from keras_style import image_io
    from keras_style.contact_sheet import contact_sheet
    from keras_style.inference import load_stylizer

    image_io.check_output_path(_OUTPUT.value, _OVERWRITE.value)
    contents = [image_io.load_image(p, max_size=_SIZE.value) for p in image_io.list_images(_CONTENT.value)]
    styles = _STYLES.value or [None] * len(_MODELS.value)
    header = [None]
    columns = []
    for spec, style_path in zip(_MODELS.value, styles):
        stylizer = load_stylizer(spec)
        style = None
        if style_path:
            style_image = image_io.load_image(style_path, max_size=_SIZE.value)
            header.append(style_image)
            style = stylizer.prepare_style([style_image])
        else:
            header.append(None)
        outputs = [stylizer.stylize(c, style=style, alpha=_ALPHA.value if style is not None else None)
                   for c in contents]
        columns.append([style.palette.apply(o) for o in outputs] if style is not None else outputs)
    rows = ([header] if any(h is not None for h in header) else []) + [
        [c] + [col[i] for col in columns] for i, c in enumerate(contents)
    ]
    image_io.save_image(contact_sheet(rows, cell=_CELL.value), _OUTPUT.value, overwrite=_OVERWRITE.value)
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    common.run(main)
