"""Temporal stability: DIS optical flow on the input frames, the reliability mask of
Ruder et al. 2016 (forward-backward consistency and motion boundaries), warping, and the
blend of the warped previous stylized frame into the new one. The warping error of Lai
et al. 2018 uses the same flow, mask and warp, so the metric measures what the blend does.
"""

from __future__ import annotations

import numpy as np


class FlowField:
    """Backward flow for frame t (where each pixel was in frame t-1) and its reliability mask."""

    def __init__(self, backward: np.ndarray, mask: np.ndarray):
        self.backward = backward  # (H, W, 2) float32: x + backward(x) in frame t-1
        self.mask = mask  # (H, W) float32 in {0, 1}: 1 where the flow is reliable

    def warp(self, previous: np.ndarray) -> np.ndarray:
        """`previous` (frame t-1's image) moved onto frame t."""
        import cv2

        height, width = self.backward.shape[:2]
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        return cv2.remap(previous, grid_x + self.backward[..., 0], grid_y + self.backward[..., 1],
                         interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FlowEstimator:
    """DIS flow (OpenCV, medium preset) between consecutive input frames."""

    def __init__(self):
        import cv2

        self._cv2 = cv2
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def gray(self, rgb: np.ndarray) -> np.ndarray:
        return self._cv2.cvtColor(np.asarray(rgb, np.uint8), self._cv2.COLOR_RGB2GRAY)

    def field(self, previous_gray: np.ndarray, gray: np.ndarray) -> FlowField:
        """The flow from frame t (`gray`) back to t-1 and where it can be trusted."""
        backward = self._dis.calc(gray, previous_gray, None)
        forward = self._dis.calc(previous_gray, gray, None)
        return FlowField(backward, reliable_mask(backward, forward, self._cv2))


def reliable_mask(backward: np.ndarray, forward: np.ndarray, cv2=None) -> np.ndarray:
    """1 where the backward flow is consistent with the forward flow and not on a motion
    boundary (Ruder et al. 2016, eqs. 5-6), else 0."""
    if cv2 is None:
        import cv2
    height, width = backward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    # The forward flow at the point each pixel came from: it should undo the backward flow.
    forward_there = cv2.remap(forward, grid_x + backward[..., 0], grid_y + backward[..., 1],
                              interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    total = backward + forward_there
    inconsistent = np.sum(total**2, -1) > 0.01 * (np.sum(backward**2, -1) + np.sum(forward_there**2, -1)) + 0.5
    du_y, du_x = np.gradient(backward[..., 0])
    dv_y, dv_x = np.gradient(backward[..., 1])
    boundary = du_x**2 + du_y**2 + dv_x**2 + dv_y**2 > 0.01 * np.sum(backward**2, -1) + 0.002
    # Pixels whose source lies outside frame t-1 have nothing to warp from.
    src_x, src_y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    outside = (src_x < 0) | (src_x > width - 1) | (src_y < 0) | (src_y > height - 1)
    return (~(inconsistent | boundary | outside)).astype(np.float32)


def blend(new: np.ndarray, warped_previous: np.ndarray, mask: np.ndarray, stability: float) -> np.ndarray:
    """`new` with `warped_previous` blended in by `stability` where `mask` is 1."""
    weight = (stability * mask)[..., None]
    return (1.0 - weight) * new + weight * warped_previous


def warping_error(previous: np.ndarray, current: np.ndarray, field: FlowField) -> float:
    """Lai et al.'s warping error for one frame pair: the mean squared difference, colours
    in [0, 1], between `current` and `previous` warped onto it, over the reliable pixels
    (images in [0, 255])."""
    warped = field.warp(np.asarray(previous, np.float32))
    diff = (np.asarray(current, np.float32) - warped) / 255.0
    mask = field.mask
    count = float(mask.sum())
    if count == 0:
        return 0.0
    return float((np.sum(diff**2, -1) * mask).sum() / (3.0 * count))
