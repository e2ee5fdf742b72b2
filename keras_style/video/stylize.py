"""`stylize_video`: every frame of a video through one `StylePipeline`, with optical-flow
stability, written atomically as H.264 MP4 with the input's timing, rotation and audio.

    from keras_style.inference import load_stylizer
    from keras_style.inference.pipeline import StyleOptions, StylePipeline
    from keras_style.video.stylize import VideoConfig, stylize_video

    pipeline = StylePipeline(load_stylizer("starry_night"), StyleOptions())
    result = stylize_video(pipeline, "clip.mov", "styled.mp4", VideoConfig(stability=0.5))

Frames are streamed (one input frame, one previous output and its flow are held), so
memory does not grow with the clip's length. The style of an arbitrary-style model is
prepared once, on the first frame, and reused (`StylePipeline`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import Callable

import numpy as np

from keras_style import checks, files
from keras_style.errors import StyleError

DEFAULT_STABILITY = 0.5


def check_stability(value, name: str = "stability") -> float:
    """`value` as a float in [0, 1]."""
    return checks.check_alpha(value, name)  # the same [0, 1] rule and message


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Attributes:
      stability: in [0, 1], how much of the motion-warped previous stylized frame is
        blended into each new one where the flow is reliable; 0: frame by frame.
      max_size: scale frames down to this long side (None: the input's size).
      overwrite: replace an existing output.
      measure: compute the warping error of the output (and of the input, its floor).
    """

    stability: float = DEFAULT_STABILITY
    max_size: int | None = None
    overwrite: bool = False
    measure: bool = False

    def __post_init__(self):
        object.__setattr__(self, "stability", check_stability(self.stability))
        if self.max_size is not None:
            checks.check_size(self.max_size, "max size", 2, 1 << 15)


@dataclasses.dataclass
class VideoResult:
    frames: int
    seconds: float
    width: int
    height: int
    warping_error: float | None = None  # mean over frame pairs, colours in [0, 1]
    input_warping_error: float | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def stylize_video(pipeline, input: str, output: str, config: VideoConfig | None = None,
                  progress: Callable[[int, int, float], None] | None = None,
                  on_frame: Callable[[int, np.ndarray, np.ndarray], None] | None = None) -> VideoResult:
    """Stylizes `input` into `output` (MP4), published only when complete.

    Args:
      pipeline: a `StylePipeline` (any model kind, any options).
      progress: called as progress(frames done, frames expected, seconds so far).
      on_frame: called as on_frame(index, input rgb uint8, output rgb uint8) per frame.

    Raises:
      StyleError: the input is not a readable video (one line), the output exists and not
        `overwrite`, or it cannot be written. Nothing is left behind on any error or
        interruption.
    """
    from keras_style import video
    from keras_style.video import io, stability

    video.require()
    config = VideoConfig() if config is None else config
    info = io.probe(input, config.max_size)
    if os.path.lexists(output) and not config.overwrite:
        raise StyleError(files.exists_message(output))
    directory, base = os.path.split(os.path.abspath(output))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
    flow = stability.FlowEstimator() if (config.stability > 0 or config.measure) else None
    errors, input_errors = [], []
    start = time.perf_counter()
    done = 0
    writer = None
    try:
        with io.open_input(input) as container:
            try:
                writer = io.VideoWriter(tmp, info, container)
            except OSError as e:
                raise StyleError(files.write_failed_message(output, e)) from None
            previous_gray = previous_in = previous_out = None
            for rgb, pts in io.frames(container, info, on_audio=writer.audio_packet):
                result = pipeline.stylize(rgb.astype(np.float32))
                gray = flow.gray(rgb) if flow is not None else None
                if previous_out is not None and flow is not None:
                    field = flow.field(previous_gray, gray)
                    if config.stability > 0:
                        result = stability.blend(result, field.warp(previous_out), field.mask, config.stability)
                    if config.measure:
                        errors.append(stability.warping_error(previous_out, result, field))
                        input_errors.append(stability.warping_error(previous_in, rgb, field))
                out = np.clip(result + 0.5, 0, 255).astype(np.uint8)
                writer.write(out, pts)
                if on_frame is not None:
                    on_frame(done, rgb, out)
                # Kept as written (uint8): the next frame is blended with what the viewer saw.
                previous_out, previous_in, previous_gray = out.astype(np.float32), rgb, gray
                done += 1
                if progress is not None:
                    progress(done, max(info.frames, done), time.perf_counter() - start)
            writer.close()
            writer = None
        if done == 0:
            raise StyleError(f"'{input}' has no frames (a zero-length video)")
        files.publish_file(tmp, output, config.overwrite)
    finally:
        if writer is not None:
            writer.abort()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return VideoResult(done, time.perf_counter() - start, info.out_width, info.out_height,
                       float(np.mean(errors)) if errors else (0.0 if config.measure else None),
                       float(np.mean(input_errors)) if input_errors else (0.0 if config.measure else None))


def measure_warping_error(original: str, stylized: str) -> tuple[float, float, int]:
    """(warping error of `stylized`, of `original` itself (the floor), frame pairs) for
    a stylized video of `original` (any tool's), with the same flow, mask and warp as the
    `stability` blend; the original's frames are fitted to the stylized video's size."""
    from keras_style import video
    from keras_style.video import io, stability

    video.require()
    out_info = io.probe(stylized)
    in_info = dataclasses.replace(io.probe(original), out_width=out_info.out_width, out_height=out_info.out_height)
    flow = stability.FlowEstimator()
    errors, floors = [], []
    with io.open_input(original) as a, io.open_input(stylized) as b:
        previous = None
        for (rgb, _), (out, _) in zip(io.frames(a, in_info), io.frames(b, out_info)):
            gray = flow.gray(rgb)
            if previous is not None:
                field = flow.field(previous[0], gray)
                errors.append(stability.warping_error(previous[2], out, field))
                floors.append(stability.warping_error(previous[1], rgb, field))
            previous = (gray, rgb, out)
    return float(np.mean(errors)) if errors else 0.0, float(np.mean(floors)) if floors else 0.0, len(errors)
