r"""The README's side-by-side sheet, drawn from a `style_evaluate` run's output images.

  python scripts/side_by_side_sheet.py --evaluation=eval/held --content=examples/content \
      --methods=adain,adain_alpha0.6,metanet,peer --output=docs/images/comparison_contact_sheet.jpg

One row per content photo × painting (`--style`): the photo, the painting, the fixed-style
model the run evaluated on that painting (any of its fixed-style methods with an output
for the pair), then each `--methods` label's output. Unlike the run's own
`sheet_side_by_side.jpg`, it takes a subset of the run's photos and methods.
"""

import os

from absl import flags

from keras_style.cli import common

_EVALUATION = flags.DEFINE_string("evaluation", None, "A style_evaluate --output_dir.")
_CONTENT = flags.DEFINE_string("content", "examples/content", "Content photos (rows): file, folder, glob or list.")
_STYLE = flags.DEFINE_string("style", "examples/styles", "Paintings: file, folder, glob or list.")
_METHODS = flags.DEFINE_list("methods", None, "Method labels of the run, one column each.")
_FIXED = flags.DEFINE_list("fixed", ["starry_night", "great_wave", "auvers", "hokusai_bridge"],
                           "Fixed-style method labels; each pair's column shows whichever has an output.")
_OUTPUT = flags.DEFINE_string("output", None, "Output image (.jpg or .png).")
_CELL = flags.DEFINE_integer("cell", 160, "Cell size in the sheet.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing output.")
flags.mark_flags_as_required(["evaluation", "methods", "output"])


def main(argv):
    del argv
    from pathlib import Path

    from keras_style import image_io
    from keras_style.contact_sheet import contact_sheet
    from keras_style.evaluation.evaluate import OUTPUTS_DIR

    image_io.check_output_path(_OUTPUT.value, _OVERWRITE.value)
    outputs = os.path.join(_EVALUATION.value, OUTPUTS_DIR)

    def output(label, content, style):
        path = os.path.join(outputs, label, f"{content}__{style}.png")
        return image_io.load_image(path) if os.path.exists(path) else None

    rows = []
    for content_path in image_io.list_images(_CONTENT.value):
        content = Path(content_path).stem
        for style_path in image_io.list_images(_STYLE.value):
            style = Path(style_path).stem
            fixed = next((o for o in (output(f, content, style) for f in _FIXED.value) if o is not None), None)
            rows.append([image_io.load_image(content_path, max_size=512), image_io.load_image(style_path, max_size=512),
                         fixed] + [output(label, content, style) for label in _METHODS.value])
    image_io.save_image(contact_sheet(rows, cell=_CELL.value), _OUTPUT.value, overwrite=_OVERWRITE.value, quality=88)
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    common.run(main)
