import numpy as np
import pytest

from keras_style.contact_sheet import contact_sheet
from keras_style.errors import StyleError


def test_layout_and_fit():
    tall = np.zeros((40, 20, 3), np.float32)
    wide = np.full((10, 30, 3), 100.0, np.float32)
    sheet = contact_sheet([[tall, wide], [None, wide]], cell=16, gap=2)
    assert sheet.shape == (2 * 18 + 2, 2 * 18 + 2, 3)
    cell00 = sheet[2:18, 2:18]
    assert cell00[:, 4:12].max() == 0.0  # the tall image, centred, 8 px wide
    assert cell00[:, :3].min() == 255.0  # white margins
    assert np.all(sheet[20:36, 2:18] == 255.0)  # None: blank cell
    assert np.allclose(sheet[20 + 8, 20:36], 100.0, atol=1)  # wide image fills its row


def test_empty():
    with pytest.raises(StyleError):
        contact_sheet([])
