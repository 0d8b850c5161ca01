"""Faces become tracks: numbers that stay with a person, new numbers for new people and after a cut."""
import numpy as np
import pytest

from app.detectors import make_detector
from app.tracking import FaceTracker, SceneChange, Track, region_changed
from data import to_gray
from footage import background, compose_frame


def paste(back, faces, boxes):
    """A grey frame: the faces pasted onto the background (as the benchmark's footage)."""
    return to_gray(compose_frame(back, faces, boxes))


def track_numbers(frames, scan_every=10, detector="haar"):
    """For each grey frame, {track number: box} of the tracks reported in it."""
    tracker = FaceTracker(make_detector(detector), scan_every=scan_every)
    return [{t.number: t.box for t in tracker.update(frame, i / 30)} for i, frame in enumerate(frames)]


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_a_face_moving_across_the_picture_keeps_one_number(fer_faces, detector):
    back = background(960, 540)
    frames = [paste(back, fer_faces[:1], [(40 + 12 * i, 150 + i, 180, 180)]) for i in range(60)]
    seen = track_numbers(frames, detector=detector)
    numbers = {n for frame in seen for n in frame}
    assert numbers == {1}
    assert sum(len(frame) == 1 for frame in seen) >= 55   # found nearly all the way


def test_two_faces_side_by_side_keep_their_numbers(fer_faces):
    back = background(960, 540)
    frames = [paste(back, fer_faces[:2], [(80 + 3 * i, 150, 170, 170), (560 - 3 * i, 170, 150, 150)])
              for i in range(40)]
    seen = track_numbers(frames)
    left = {n for frame in seen for n, box in frame.items() if box[0] < 400}
    right = {n for frame in seen for n, box in frame.items() if box[0] >= 400}
    assert len(left) == 1 and len(right) == 1 and left != right


def test_a_cut_starts_new_numbers_and_numbers_are_never_reused(fer_faces):
    first = [paste(background(960, 540, seed=1, level=(40, 120)), fer_faces[:2],
                   [(60, 100, 180, 180), (500, 150, 160, 160)])] * 15
    second = [paste(background(960, 540, seed=2, level=(150, 60)), fer_faces[2:4],
                    [(120, 200, 170, 170), (600, 80, 190, 190)])] * 15
    seen = track_numbers(first + second, scan_every=100)   # only the cut can trigger the new scan
    before = {n for frame in seen[:15] for n in frame}
    after = {n for frame in seen[15:] for n in frame}
    assert len(before) == 2 and len(after) == 2
    assert min(after) > max(before)


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_a_face_that_leaves_ends_its_track_after_two_missed_frames(fer_faces, detector):
    back = background(960, 540)
    present = [paste(back, fer_faces[:1], [(100, 150, 180, 180)])] * 10
    seen = track_numbers(present + [back] * 5 + present, scan_every=3, detector=detector)
    assert all(1 in frame for frame in seen[:10])
    assert all(not frame for frame in seen[10:15])          # a face not seen is never reported
    assert set(seen[-1]) == {2}                             # back again: a new number


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_another_face_at_the_same_place_after_a_cut_between_similar_pictures_gets_a_new_number(
        fer_faces, detector):
    back = background(960, 540, seed=3)
    box = [(300, 150, 200, 200)]
    first = [paste(back, fer_faces[:1], box)] * 10
    second = [paste(back, fer_faces[1:2], box)] * 10   # the same background: no whole-picture cut
    change = SceneChange()
    change.check(first[0], [])
    assert change.check(second[0], [])[0] is False          # the whole picture's change misses it
    seen = track_numbers(first + second, scan_every=100, detector=detector)
    assert set(seen[9]) == {1}
    assert all(1 not in frame for frame in seen[10:])       # no box of the old face after the cut
    assert {n for frame in seen[10:] for n in frame} == {2}
    assert sum(bool(frame) for frame in seen[10:]) >= 9     # the new face is found at once


def test_the_region_check_follows_a_face_moving_fast_and_still_sees_a_new_face(fer_faces):
    back = background(960, 540)
    box, step = (300, 150, 180, 180), 18                     # a tenth of the face a frame: fast
    before = paste(back, fer_faces[:1], [box])
    moved = paste(back, fer_faces[:1], [(300 + step, 150, 180, 180)])
    other = paste(back, fer_faces[1:2], [box])
    assert region_changed(before, moved, box)                # compared in place only, it looks like another face
    assert not region_changed(before, moved, box, motion=(step, 0))
    assert not region_changed(before, before, box, motion=(step, 0))   # a still face, a jittery motion
    assert region_changed(before, other, box, motion=(step, 0))
    assert region_changed(before, other, box)


def test_scene_change_tells_a_cut_from_a_moving_face():
    change = SceneChange()
    back = background(320, 180, seed=1)
    assert change.check(back, []) == (True, True)            # the first frame: scan
    moved = back.copy()
    moved[50:90, 100:140] = 255                              # something new outside any face
    assert change.check(back, []) == (False, False)
    assert change.check(moved, []) == (False, True)
    assert change.check(moved, []) == (False, False)
    assert change.check(255 - moved, []) == (True, True)    # a cut


def test_track_smoothing_averages_its_own_past_only():
    names = ["a", "b", "c"]
    track = Track(1, (0, 0, 10, 10), 0.0, 0.0)
    np.testing.assert_allclose(track.observe(np.array([1.0, 0.0, 0.0]), 0.0, names, smooth=0.5), [1, 0, 0])
    np.testing.assert_allclose(track.observe(np.array([0.0, 1.0, 0.0]), 0.1, names, smooth=0.5), [.5, .5, 0])
    fresh = Track(2, (50, 0, 10, 10), 0.1, 0.1)
    np.testing.assert_allclose(fresh.observe(np.array([0.0, 0.0, 1.0]), 0.1, names, smooth=0.5), [0, 0, 1])
    assert (track.frames, track.last_time, track.dominant) == (2, 0.1, "a")
    unsmoothed = Track(3, (0, 0, 10, 10), 0.0, 0.0)
    unsmoothed.observe(np.array([1.0, 0.0, 0.0]), 0.0, names)
    np.testing.assert_allclose(unsmoothed.observe(np.array([0.0, 1.0, 0.0]), 0.1, names), [0, 1, 0])


