"""style_video / keras_style.video: PyAV I/O, flow stability, the warping error, the command's errors.

Runs on a synthetic moving pattern written here; the real-footage test uses
../shared/data/video/carphone_pristine.mp4 and skips when it is absent.
"""

import os
import sys

from fractions import Fraction

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, run_command

av = pytest.importorskip("av", reason="PyAV not installed: pip install 'keras-style[video]'")
cv2 = pytest.importorskip("cv2", reason="OpenCV not installed: pip install 'keras-style[video]'")

from keras_style.errors import StyleError  # noqa: E402
from keras_style.video import io, stability  # noqa: E402
from keras_style.video.stylize import VideoConfig, stylize_video  # noqa: E402

CARPHONE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "video", "carphone_pristine.mp4")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARRY_TFLITE = os.path.join(REPO, "saved_models", "starry_night", "starry_night_fp16.tflite")


def pattern(t, width, height):
    """A smooth texture translating right by 2 px a frame."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x = x - 2 * t
    image = np.stack([np.sin(x / 5.0) * np.cos(y / 7.0), np.sin((x + y) / 9.0), np.cos(x / 11.0)], -1)
    return (127.5 + 120 * image).astype(np.uint8)


def write_clip(path, frames=12, width=64, height=48, rate=25, rotation=0, audio=True, vfr=False):
    """H.264 MP4 (even sizes); a .mkv path: lossless FFV1 (yuv444p), which takes odd sizes."""
    with av.open(str(path), "w") as container:
        lossless = str(path).endswith(".mkv")
        stream = container.add_stream("ffv1" if lossless else "libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p" if lossless else "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000) if vfr else Fraction(1, rate)
        if rotation:
            stream.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream("aac", rate=8000)
            sound.layout = "mono"
        for t in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(t, stream.width, stream.height), format="rgb24")
            frame.pts = (t * 40 + (15 if vfr and t % 2 else 0)) if vfr else t
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio:
            samples = np.sin(np.arange(8000 * frames // rate) / 3.0).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                block = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                                   format="fltp", layout="mono")
                block.sample_rate, block.pts = 8000, start
                for packet in sound.encode(block):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
    return str(path)


class FlickerPipeline:
    """A stand-in for `StylePipeline`: the frame plus fresh noise each call (flicker)."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def stylize(self, frame):
        return np.clip(frame + self.rng.normal(0, 25, frame.shape), 0, 255).astype(np.float32)


def read_back(path):
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
        return container, stream, frames


def test_output_keeps_size_even_rate_audio_and_no_temp_files(tmp_path):
    clip = write_clip(tmp_path / "in.mkv", width=67, height=51)
    out = str(tmp_path / "out.mp4")
    result = stylize_video(FlickerPipeline(), clip, out, VideoConfig(stability=0.5))
    assert result.frames == 12 and (result.width, result.height) == (66, 50)
    with av.open(out) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (66, 50)
        assert video.codec_context.pix_fmt == "yuv420p" and video.average_rate == 25
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert len(list(container.decode(video))) == 12
    assert sorted(os.listdir(tmp_path)) == ["in.mkv", "out.mp4"]


def test_rotation_and_variable_frame_rate_are_kept(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", rotation=90, vfr=True, audio=False)
    out = str(tmp_path / "out.mp4")
    stylize_video(FlickerPipeline(), clip, out, VideoConfig(stability=0.0))
    with av.open(clip) as a, av.open(out) as b:
        fa, fb = list(a.decode(video=0)), list(b.decode(video=0))
        assert fb[0].rotation == 90
        assert [f.time for f in fa] == pytest.approx([f.time for f in fb], abs=2e-3)


def test_max_size_scales_to_an_even_size():
    assert io.output_size(1280, 720, 640) == (640, 360)
    assert io.output_size(176, 144, None) == (176, 144)
    assert io.output_size(101, 51, 50) == (50, 24)


def test_warping_error_falls_with_stability(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=10, audio=False)
    errors = []
    for s in (0.0, 0.5, 0.9):
        result = stylize_video(FlickerPipeline(), clip, str(tmp_path / f"o{s}.mp4"),
                               VideoConfig(stability=s, measure=True))
        errors.append(result.warping_error)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * errors[0]
    assert result.input_warping_error < errors[2]


def test_mask_rejects_occlusions_and_keeps_translation():
    flow = stability.FlowEstimator()
    a, b = pattern(0, 64, 48), pattern(1, 64, 48)
    field = flow.field(flow.gray(a), flow.gray(b))
    assert field.mask[:, 8:-8].mean() > 0.9  # a plain translation is reliable inside the frame
    assert np.median(field.backward[:, 8:-8, 0]) == pytest.approx(-2.0, abs=0.3)
    # Inconsistent forward/backward flows are masked.
    back = np.zeros((8, 8, 2), np.float32)
    fwd = np.full((8, 8, 2), 3.0, np.float32)
    assert stability.reliable_mask(back, fwd).max() == 0.0
    assert stability.reliable_mask(back, np.zeros_like(back)).min() == 1.0


def test_interrupt_leaves_nothing_behind(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", audio=False)

    class Interrupting(FlickerPipeline):
        calls = 0

        def stylize(self, frame):
            self.calls += 1
            if self.calls == 5:
                raise KeyboardInterrupt
            return super().stylize(frame)

    with pytest.raises(KeyboardInterrupt):
        stylize_video(Interrupting(), clip, str(tmp_path / "out.mp4"))
    assert os.listdir(tmp_path) == ["in.mp4"]


def test_bad_inputs_are_one_line_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(StyleError, match="not a video"):
        io.probe(str(text))
    audio_only = tmp_path / "sound.m4a"
    with av.open(str(audio_only), "w") as container:
        sound = container.add_stream("aac", rate=8000)
        block = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        block.sample_rate, block.pts = 8000, 0
        for packet in list(sound.encode(block)) + list(sound.encode(None)):
            container.mux(packet)
    with pytest.raises(StyleError, match="no video stream"):
        io.probe(str(audio_only))
    empty = tmp_path / "empty.mp4"  # a zero-length file (PyAV writes no file for a clip with no frames)
    empty.write_bytes(b"")
    with pytest.raises(StyleError, match="not a video"):
        io.probe(str(empty))


def test_command_errors_and_existing_output(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=3, audio=False)
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep")
    result = run_command("keras_style.cli.video", "--model=starry_night", f"--input={clip}",
                         f"--output={existing}")
    assert_one_line_error(result, "exists")
    assert existing.read_bytes() == b"keep"
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    result = run_command("keras_style.cli.video", "--model=starry_night", f"--input={text}",
                         f"--output={tmp_path / 'x.mp4'}")
    assert_one_line_error(result, "not a video")
    result = run_command("keras_style.cli.video", "--model=starry_night", f"--input={clip}",
                         f"--output={tmp_path / 'x.mp4'}", "--stability=2")
    assert_one_line_error(result, "--stability")
    assert sorted(os.listdir(tmp_path)) == ["in.mp4", "notes.txt", "out.mp4"]


def test_help_imports_no_tensorflow_av_or_cv2():
    code = ("import sys; sys.argv=['style_video','--helpshort']\n"
            "from keras_style.cli import video\n"
            "try:\n    video.run()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', [m for m in ('tensorflow', 'av', 'cv2') if m in sys.modules])")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
    assert "--stability" in out.stdout + out.stderr


@pytest.mark.skipif(not os.path.isfile(CARPHONE), reason="../shared/data/video/carphone_pristine.mp4 not present")
@pytest.mark.skipif(not os.path.isfile(STARRY_TFLITE), reason="shipped starry_night .tflite not present")
def test_real_footage_tflite_stability(tmp_path):
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert not installed")
    from keras_style.inference import load_stylizer
    from keras_style.inference.pipeline import StyleOptions, StylePipeline

    pipeline = StylePipeline(load_stylizer(STARRY_TFLITE), StyleOptions())
    clip = str(tmp_path / "carphone.mp4")
    with av.open(CARPHONE) as src, av.open(clip, "w") as dst:  # the first 12 frames, to stay fast
        stream = dst.add_stream("libx264", rate=src.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        for k, frame in enumerate(src.decode(video=0)):
            if k == 12:
                break
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    plain = stylize_video(pipeline, clip, str(tmp_path / "a.mp4"), VideoConfig(stability=0.0, measure=True))
    steady = stylize_video(pipeline, clip, str(tmp_path / "b.mp4"), VideoConfig(measure=True))
    assert plain.frames == steady.frames == 12
    assert steady.warping_error < 0.7 * plain.warping_error
