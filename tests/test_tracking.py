"""Faces become tracks: numbers that stay with a person, new numbers for new people and after a cut."""
import numpy as np
import pytest

from app.detectors import make_detector
from app.tracking import FaceTracker, SceneChange, Track, region_changed, steady_label
from data import to_gray
from footage import SOFT, background, compose_frame


def paste(back, faces, boxes):
    """A grey frame: the faces pasted onto the background (as the benchmark's footage)."""
    return to_gray(compose_frame(back, faces, boxes))


def track_numbers(frames, scan_every=10, detector="haar", **detector_options):
    """For each grey frame, {track number: box} of the confirmed tracks reported in it (what is shown)."""
    tracker = FaceTracker(make_detector(detector, **detector_options), scan_every=scan_every)
    return [{t.number: t.box for t in tracker.update(frame, i / 30) if t.confirmed} for i, frame in enumerate(frames)]


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
    assert not seen[0] and not seen[1]                      # shown once confirmed, on its third frame
    assert all(1 in frame for frame in seen[2:10])
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
    assert all(seen[12:])                                   # the new face is shown once confirmed


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




@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_a_soft_blotchy_background_without_a_face_gives_no_face(detector):
    # YuNet at score 0.1 found faces as wide as the frame is tall on such backgrounds
    frames = [background(1280, 720, seed=seed, **SOFT)[i:i + 600, 2 * i:2 * i + 1000]
              for seed in range(4) for i in range(0, 60, 4)]
    assert not any(track_numbers(frames, detector=detector))


@pytest.mark.parametrize("detector, never_start", [("yunet", {"score_threshold": 0.999}),
                                                   ("haar", {"start_neighbors": 1000})])
def test_a_weak_detection_continues_a_track_but_never_starts_one(fer_faces, detector, never_start):
    back = background(960, 540)
    frames = [paste(back, fer_faces[:1], [(100 + 4 * i, 150, 180, 180)]) for i in range(20)]
    assert not any(track_numbers(frames, detector=detector, **never_start))   # weak only: no face
    tracker = FaceTracker(make_detector(detector), scan_every=5)
    seen = [{t.number for t in tracker.update(frame, i / 30) if t.confirmed} for i, frame in enumerate(frames[:5])]
    assert seen[-1] == {1}
    tracker.detector = make_detector(detector, **never_start)    # from now on every detection is weak
    later = [paste(back, fer_faces[:2], [(120 + 4 * i, 150, 180, 180), (600, 200, 180, 180)]) for i in range(20)]
    seen = [{t.number for t in tracker.update(frame, i / 30) if t.confirmed} for i, frame in enumerate(later)]
    assert all(numbers == {1} for numbers in seen)                # continued; the new face never starts


def test_a_track_is_confirmed_after_three_frames_in_a_row_and_a_blip_never_is(fer_faces):
    back = background(960, 540)
    face = paste(back, fer_faces[:1], [(300, 150, 180, 180)])
    tracker = FaceTracker(make_detector("yunet"), scan_every=1)
    states = [[(t.serial, t.number) for t in tracker.update(frame, i / 30)]
              for i, frame in enumerate([back, face, face, back, back, face, face, face, face])]
    assert states[1] == [(1, None)] and states[2] == [(1, None)]   # seen twice, then gone: a blip
    assert states[5] == [(2, None)] and states[6] == [(2, None)]
    assert states[7] == [(2, 1)] and states[8] == [(2, 1)]          # the first number goes to a confirmed track


def test_a_label_does_not_flip_on_a_one_frame_wobble_but_follows_a_lasting_change():
    names = ["happy", "sad", "neutral"]
    happy, sad = np.array([0.8, 0.1, 0.1]), np.array([0.05, 0.9, 0.05])
    track = Track(1, (0, 0, 10, 10), 0.0, 0.0)
    probs = [happy] * 10 + [sad] + [happy] * 10 + [sad] * 15
    labels = []
    for i, p in enumerate(probs):
        track.observe(p, i / 30, names, smooth=0.4)
        labels.append(names[track.label])
    assert labels[:21] == ["happy"] * 21                  # the wobble at frame 10 is not shown
    assert labels[-1] == "sad" and labels.index("sad") <= 21 + 5   # the change shows within 0.2 s
    assert labels[labels.index("sad"):] == ["sad"] * (len(labels) - labels.index("sad"))
    assert track.label_counts == {"happy": labels.count("happy"), "sad": labels.count("sad")}
    assert steady_label(0, np.array([0.40, 0.45, 0.15])) == 0     # a near tie keeps the label shown
    assert steady_label(0, np.array([0.20, 0.70, 0.10])) == 1
