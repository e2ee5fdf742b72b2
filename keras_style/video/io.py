"""Reading and writing video with PyAV (FFmpeg), one frame at a time.

The reader decodes frames as RGB uint8 (H, W, 3) at their stored orientation; the
rotation of a phone video stays display metadata, copied to the output, so the pixels
are never rotated twice. Frame timestamps are kept (variable frame rate included) and
the audio track is copied packet by packet, interleaved as it is read, or re-encoded
to AAC where MP4 cannot hold its codec. H.264 (yuv420p) needs even sizes, so frames
are cropped by at most one row and column.
"""

from __future__ import annotations

import dataclasses
import os
from fractions import Fraction

import numpy as np

from keras_style import image_io
from keras_style.errors import StyleError

# Audio codecs the MP4 muxer holds as they are; any other is re-encoded to AAC.
MP4_AUDIO_CODECS = ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac")


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns before any frame is decoded: the stored frame size, the
    output size (after `max_size`, made even), frames (an estimate where the container
    records none), rate, rotation in degrees (counter-clockwise), and the audio codec."""

    width: int
    height: int
    out_width: int
    out_height: int
    frames: int
    rate: Fraction
    rotation: int
    audio_codec: str | None


def _open(path: str):
    import av

    if not os.path.isfile(path):
        raise StyleError(f"input '{path}' does not exist or is not a file")
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise StyleError(f"'{path}' is not a video FFmpeg can read ({getattr(e, 'strerror', None) or e})") from None


def output_size(width: int, height: int, max_size: int | None) -> tuple[int, int]:
    """(width, height) of the output: scaled down to `max_size` on the long side, then even."""
    if max_size and max(width, height) > max_size:
        scale = max_size / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    return width - width % 2, height - height % 2


def probe(path: str, max_size: int | None = None) -> VideoInfo:
    """Checks `path` is a video with frames, without decoding it all.

    Raises:
      StyleError: not a video, no video stream, no frames, or a frame smaller than 2x2.
    """
    container = _open(path)
    with container:
        if not container.streams.video:
            raise StyleError(f"'{path}' has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate or Fraction(25)
        frames = stream.frames
        if not frames and stream.duration and stream.time_base:
            frames = round(float(stream.duration * stream.time_base * rate))
        if not frames and container.duration:
            frames = round(container.duration / 1e6 * float(rate))
        # Decoding the first frame is the only sure test of a zero-length video.
        try:
            first = next(container.decode(stream), None)
        except Exception as e:  # noqa: BLE001 - FFmpeg's many decode errors, one line
            raise StyleError(f"cannot decode the video in '{path}': {e}") from None
        if first is None:
            raise StyleError(f"'{path}' has no frames (a zero-length video)")
        width, height = first.width, first.height
        if min(width, height) < 2:
            raise StyleError(f"'{path}' frames are {width}x{height}; need at least 2x2")
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        out_width, out_height = output_size(width, height, max_size)
        return VideoInfo(width, height, out_width, out_height, max(int(frames or 0), 1), Fraction(rate),
                         int(first.rotation or 0), audio)


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """`frame` (H, W, 3) uint8 at (height, width): resized (Lanczos) if larger, cropped to even."""
    if frame.shape[1] - width > 1 or frame.shape[0] - height > 1:
        frame = np.clip(image_io.resize_image(frame.astype(np.float32), (height, width)) + 0.5, 0, 255)
        return frame.astype(np.uint8)
    return np.ascontiguousarray(frame[:height, :width])


class VideoWriter:
    """Encodes frames to H.264 MP4 (yuv420p) at `path` with the input's timing and
    rotation, copying (or re-encoding) the input's audio packets through `audio_packet`."""

    def __init__(self, path: str, info: VideoInfo, input_container, crf: int = 18):
        import av

        self._av = av
        self.container = av.open(path, "w", format="mp4")
        in_video = input_container.streams.video[0]
        self.stream = self.container.add_stream("libx264", rate=info.rate)
        self.stream.width, self.stream.height = info.out_width, info.out_height
        self.stream.pix_fmt = "yuv420p"
        self.time_base = in_video.time_base  # the input's timestamps, kept (variable rates too)
        self.stream.codec_context.time_base = in_video.time_base
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self.audio_in = input_container.streams.audio[0] if input_container.streams.audio else None
        self.audio_out = None
        self._resample = None
        if self.audio_in is not None:
            if self.audio_in.codec_context.name in MP4_AUDIO_CODECS:
                self.audio_out = self.container.add_stream_from_template(self.audio_in)
            else:
                rate = self.audio_in.codec_context.sample_rate or 48000
                self.audio_out = self.container.add_stream("aac", rate=rate)
                self._resample = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
                self.audio_out.layout = "stereo"

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        frame = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def audio_packet(self, packet) -> None:
        if self.audio_out is None or packet.dts is None:
            return
        if self._resample is None:
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resample.resample(frame):
                for out in self.audio_out.encode(resampled):
                    self.container.mux(out)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self._resample is not None:
            for packet in self.audio_out.encode(None):
                self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file is discarded anyway
            pass


def frames(input_container, info: VideoInfo, on_audio=None):
    """Yields (rgb uint8 (H, W, 3) at the output size, pts) per frame, in order,
    passing the audio packets met on the way to `on_audio` (streamed: one frame held)."""
    video = input_container.streams.video[0]
    streams = [video] + ([input_container.streams.audio[0]] if on_audio and input_container.streams.audio else [])
    last_pts = None
    for packet in input_container.demux(*streams):
        if packet.stream.type == "audio":
            on_audio(packet)
            continue
        for frame in packet.decode():
            pts = frame.pts
            if pts is None or (last_pts is not None and pts <= last_pts):
                pts = None if last_pts is None else last_pts + 1  # a muxer needs rising timestamps
            last_pts = pts
            yield fit_frame(frame.to_ndarray(format="rgb24"), info.out_width, info.out_height), pts


def open_input(path: str):
    """The input container (`probe` has checked it)."""
    return _open(path)
