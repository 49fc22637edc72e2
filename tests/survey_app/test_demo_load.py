"""The demo page under a burst of uploads, on the development server in a process of its
own, its memory read from the kernel (`benchmarks/demo_burst.py`, which prints the figures
and /health's times). 20 clients at once, no upload limit per client: the PNG bombs are
refused before they are decoded, the 24-megapixel photos decoded at 1/8, and the process
neither grows by more than a picture's worth nor stays grown. A burst of 40-megapixel
pictures under a raised limit is decoded two at a time and given back afterwards."""

from __future__ import annotations

import pytest

from benchmarks.demo_burst import burst, pictures, served

pytest.importorskip("onnxruntime", reason="the demo extra: pip install -e '.[demo]'")
pytest.importorskip("onnx", reason="the export extra makes the hand-made classifier")
pytestmark = pytest.mark.slow


def test_a_burst_of_twenty_uploads_leaves_the_memory_flat(tmp_path):
    with served(tmp_path, DEMO_RATE_LIMIT="") as (base, pid):
        result = burst(base, pid, pictures("mixed", 20))
    assert result.statuses == {200: 10, 400: 10}
    assert result.messages == {
        "bomb.png has 6300 x 6300 pixels, more than the limit of 16,000,000": 10
    }
    # Before: 3,346 MB at the peak and 987 MB after, from 129 MB.
    assert result.peak_mb - result.before_mb < 150, result
    assert result.after_mb - result.before_mb < 50, result


def test_large_pictures_are_decoded_two_at_a_time_and_given_back(tmp_path):
    """A 40-megapixel PNG takes about 300 MB while it is decoded; four at once took 1.3 GB."""
    settings = {"DEMO_RATE_LIMIT": "", "DEMO_MAX_PIXELS": 40_000_000}
    with served(tmp_path, **settings) as (base, pid):
        result = burst(base, pid, pictures("png-bomb", 4))
    assert result.statuses == {200: 4}
    assert result.peak_mb - result.before_mb < 2 * 400, result
    assert result.after_mb - result.before_mb < 50, result
