"""Video stylization: PyAV reading/writing (`io`), optical-flow stability (`stability`),
and `stylize_video` (`stylize`), which runs every frame through one `StylePipeline`.

PyAV and OpenCV are the `video` extra (`pip install 'keras-style[video]'`); nothing here
imports them until a video is read.
"""

from __future__ import annotations

import importlib.util

from keras_style.errors import StyleError

INSTALL_HINT = "pip install 'keras-style[video]'"


def require() -> None:
    """Raises a one-line StyleError naming what to install when PyAV or OpenCV is missing."""
    missing = [name for module, name in (("av", "PyAV (av)"), ("cv2", "OpenCV (opencv-python-headless)"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise StyleError(f"video needs {' and '.join(missing)}: {INSTALL_HINT}")
