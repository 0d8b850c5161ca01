"""The live window's frame-rate overlay."""
import pytest

from app.window import RecentRate

def test_the_fps_overlay_shows_the_last_second_not_the_mean_since_start():
    rate = RecentRate(window=1.0)
    for i in range(20):                   # a slow start: 5 frames/s for 4 s
        rate.tick(i * 0.2)
    now = 3.8
    for _ in range(60):                   # then 30 frames/s
        now += 1 / 30
        shown = rate.tick(now)
    assert shown == pytest.approx(30, rel=0.05)
