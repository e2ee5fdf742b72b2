"""style_gatys end to end, and every bad input: one stderr line, non-zero exit, no file."""

import os

import numpy as np
import pytest
from PIL import Image

from conftest import CONTENT_IMAGE, STYLE_IMAGE, STYLE_IMAGE_2, assert_one_line_error, run_command

FAST = ["--image_size=40", "--iterations=4", "--style_layers=relu1_1,relu2_1", "--content_layers=relu2_1"]


def gatys(*args):
    return run_command("keras_style.cli.gatys", *args)


def test_runs_and_writes_intermediates(tmp_path, vgg19_weights_path):
    out = tmp_path / "out.png"
    result = gatys(f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE},{STYLE_IMAGE_2}",
                   "--style_blend_weights=0.7,0.3", f"--output_image={out}", "--save_every=2", *FAST)
    assert result.returncode == 0, result.stderr
    image = np.asarray(Image.open(out))
    assert image.shape == (40, 40, 3)
    assert (tmp_path / "out_s1_00002.png").exists() and (tmp_path / "out_s1_00004.png").exists()
    assert "eval/s" in result.stderr and "wrote" in result.stderr
    # An existing output is never overwritten silently...
    before = out.read_bytes()
    again = gatys(f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}", f"--output_image={out}", *FAST)
    assert_one_line_error(again, "exists; pass --overwrite")
    assert out.read_bytes() == before
    # ...unless asked, and flagfiles work.
    flagfile = tmp_path / "recipe.cfg"
    flagfile.write_text("\n".join(FAST + ["--overwrite", "--preserve_color=histogram"]))
    result = gatys(f"--flagfile={flagfile}", f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}",
                   f"--output_image={out}")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "corrupt.jpg").write_bytes(open(CONTENT_IMAGE, "rb").read()[:500])
    (tmp_path / "notes.png").write_text("this is not an image")
    return tmp_path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--content_image=missing.jpg"], "no such file"),
        (["--content_image={tmp}/corrupt.jpg"], "corrupt.jpg"),
        (["--style_images={tmp}/notes.png"], "notes.png"),
        (["--style_layers=relu1_1,block7_conv1"], "unknown vgg19 layer 'block7_conv1'"),
        (["--style_weight=-3"], "style_weight must be >= 0"),
        (["--image_size=10"], "too small"),
        (["--output_image={tmp}/no/such/dir/out.png"], "does not exist"),
        (["--output_image={tmp}/out.xyz"], "xyz"),
        (["--style_blend_weights=1,2"], "--style_blend_weights: 2 value(s) for 1 style(s)"),
        (["--style_blend_weights=a"], "--style_blend_weights must be comma-separated numbers"),
        (["--iterations=x"], "--iterations"),
        (["--max_image_pixels=1000"], "over the limit"),
        (["--network=vgg16", "--weights={tmp}/none.h5"], "does not exist"),
        (["positional"], "unexpected arguments"),
        # Issue 15: non-finite numbers ran to exit 0 with an unstyled picture, or a traceback.
        (["--style_weight=nan"], "style_weight must be a finite number, got nan"),
        (["--content_layer_weights=inf"], "content layer weights must be finite numbers"),
        (["--style_scale=nan"], "style_scale must be a finite number"),
        (["--style_scale=150"], "the limit is 4096 px"),
    ],
)
def test_bad_inputs(bad_files, args, message, vgg19_weights_path):
    defaults = {
        "--content_image": CONTENT_IMAGE,
        "--style_images": STYLE_IMAGE,
        "--output_image": f"{bad_files}/out.png",
        **dict(a.split("=", 1) for a in FAST),
    }
    given = [a.format(tmp=bad_files) for a in args]
    for a in given:
        defaults.pop(a.split("=")[0], None)
    result = gatys(*[f"{k}={v}" for k, v in defaults.items()], *given)
    assert_one_line_error(result, message)
    assert not (bad_files / "out.png").exists()
    assert not [p for p in os.listdir(bad_files) if p.startswith(".")]  # no temp files left


def test_missing_required_flag():
    result = gatys(f"--content_image={CONTENT_IMAGE}")
    assert_one_line_error(result, "style_images")


@pytest.mark.parametrize("role", ["content", "style", "init"])
def test_overwrite_never_replaces_an_input(tmp_path, role, vgg19_weights_path):
    """--output_image naming an input is refused even with --overwrite (issue 15)."""
    photo, painting = tmp_path / "photo.jpg", tmp_path / "painting.jpg"
    photo.write_bytes(open(CONTENT_IMAGE, "rb").read())
    painting.write_bytes(open(STYLE_IMAGE, "rb").read())
    init = tmp_path / "start.jpg"
    init.write_bytes(open(CONTENT_IMAGE, "rb").read())
    target = {"content": photo, "style": painting, "init": init}[role]
    before = target.read_bytes()
    # The same file by another path: the check compares files, not strings.
    output = tmp_path / "sub" / ".." / target.name
    (tmp_path / "sub").mkdir()
    result = gatys(f"--content_image={photo}", f"--style_images={STYLE_IMAGE_2},{painting}", f"--init={init}",
                   f"--output_image={output}", "--overwrite", *FAST)
    assert_one_line_error(result, f"is the {role} image")
    assert target.read_bytes() == before
