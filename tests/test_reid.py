"""Persons, not tracks: SFace embeddings give a face that comes back its old number."""
import cv2
import numpy as np
import pytest

from app.detectors import DetectorError, make_detector
from app.reid import (ALIGNED_POINTS, SFACE_MODEL, SFACE_SOURCE, SFACE_SOURCE_SHA256, SOURCE_KEY, FaceEmbedder,
                       People, align_face, alignment)
from artefacts import fingerprint, read_litert_fingerprint
from app.tracking import FaceTracker
from footage import background, compose_frame, varied_face


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


def numbers_seen(frames, embedder):
    """For each frame, the sorted person numbers shown in it (confirmed tracks)."""
    tracker = FaceTracker(make_detector("yunet"), scan_every=5, embedder=embedder, people=People())
    return [sorted(t.number for t in tracker.update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), i / 30, frame)
                   if t.confirmed) for i, frame in enumerate(frames)]


def shot(faces, boxes, frames=12, seed=0):
    back = background(1280, 720, seed=seed, level=(60 + 20 * seed, 170 - 10 * seed))
    return [compose_frame(back, faces, boxes)] * frames


def test_a_face_that_leaves_the_picture_and_comes_back_keeps_its_number(fer_faces, embedder):
    rng = np.random.default_rng(0)
    face = fer_faces[0]
    back = background(1280, 720, seed=1)
    frames = (shot([face], [(200, 200, 180, 180)], seed=1) + [cv2.cvtColor(back, cv2.COLOR_GRAY2BGR)] * 20
              + shot([varied_face(face, rng)], [(800, 250, 150, 150)], seed=1))
    seen = numbers_seen(frames, embedder)
    assert seen[10] == [1] and not any(seen[14:32])
    assert seen[-1] == [1]                                   # back, elsewhere, a little changed: still #1


def test_after_a_cut_a_face_keeps_its_number_and_a_new_face_gets_a_new_one(fer_faces, embedder):
    rng = np.random.default_rng(1)
    frames = (shot(fer_faces[:1], [(200, 200, 180, 180)], seed=1)
              + shot([fer_faces[1], varied_face(fer_faces[0], rng)], [(150, 150, 200, 200), (800, 300, 160, 160)],
                     seed=2))
    seen = numbers_seen(frames, embedder)
    assert seen[10] == [1]
    assert seen[-1] == [1, 2]


def test_a_different_face_in_the_same_place_gets_a_new_number(fer_faces, embedder):
    box = [(300, 150, 200, 200)]
    seen = numbers_seen(shot(fer_faces[:1], box, seed=3) + shot(fer_faces[1:2], box, seed=3), embedder)
    assert seen[10] == [1] and seen[-1] == [2]


def test_two_faces_at_once_never_share_a_number_even_when_alike(fer_faces, embedder):
    rng = np.random.default_rng(2)
    twin = varied_face(fer_faces[0], rng)                    # the same face twice in one picture
    frames = shot(fer_faces[:1], [(200, 200, 180, 180)], seed=1) + shot(
        [fer_faces[0], twin], [(150, 150, 200, 200), (800, 300, 180, 180)], seed=2)
    seen = numbers_seen(frames, embedder)
    assert len(seen[-1]) == 2 and len(set(seen[-1])) == 2


def test_alignment_undoes_a_turn_a_scale_and_a_shift_of_the_landmarks():
    angle = np.radians(20)
    turn = 1.7 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    seen = ALIGNED_POINTS @ turn.T + (300, 120)              # a face tilted, bigger, elsewhere
    matrix = alignment(seen)
    assert np.allclose(seen @ matrix[:, :2].T + matrix[:, 2], ALIGNED_POINTS, atol=1e-6)


def test_the_twin_embeds_faces_as_opencvs_face_recognizer_does(fer_faces, embedder):
    """The app runs SFace's LiteRT twin on its own alignment: the embeddings must be those of
    OpenCV's FaceRecognizerSF on the ONNX file the twin was converted from."""
    assert fingerprint(SFACE_SOURCE) == SFACE_SOURCE_SHA256
    assert read_litert_fingerprint(SFACE_MODEL, SOURCE_KEY) == SFACE_SOURCE_SHA256
    opencv = cv2.FaceRecognizerSF.create(str(SFACE_SOURCE), "")
    compared = 0
    for face in fer_faces[:6]:
        image = cv2.cvtColor(cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        embedder.landmarks.setInputSize((160, 160))
        _, rows = embedder.landmarks.detect(image)
        if rows is None:
            continue
        theirs, ours = opencv.alignCrop(image, rows[0]), align_face(image, rows[0][4:14].reshape(5, 2))
        assert np.abs(theirs.astype(int) - ours.astype(int)).mean() < 0.01   # rounding, on a few edge pixels
        reference = opencv.feature(theirs).ravel()
        embedding = embedder.embed(image, (0, 0, 160, 160))
        assert embedding @ reference / np.linalg.norm(reference) > 0.999
        compared += 1
    assert compared >= 4


def test_a_person_keeps_a_later_view_of_a_long_track(fer_faces, embedder):
    from app.tracking import IDENTIFY_AT, LATER_VIEWS
    people = People()
    tracker = FaceTracker(make_detector("yunet"), scan_every=5, embedder=embedder, people=people)
    frames = shot(fer_faces[:1], [(200, 200, 180, 180)], frames=LATER_VIEWS[0] + 2, seed=1)
    for i, frame in enumerate(frames):
        tracker.update(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), i / 30, frame)
        if i + 1 == IDENTIFY_AT:
            assert len(people.embeddings[1]) == 1            # identified: its first view
    assert list(people.embeddings) == [1] and len(people.embeddings[1]) == 2   # and one from later in its stay


def test_people_match_the_most_similar_absent_person_above_the_level():
    people = People(match_level=0.5)
    a, b = np.eye(4)[0], np.eye(4)[1]
    assert people.identify(a) == 1 and people.identify(b) == 2
    assert people.identify(a) == 1                            # back: #1
    assert people.identify(a, present={1}) == 3               # #1 is in the picture: someone else
    assert people.identify(None) == 4                         # no landmarks: a new person
    near_b = np.array([0.3, 0.95, 0, 0]) / np.linalg.norm([0.3, 0.95])
    assert people.identify(near_b) == 2
    assert people.identify(np.array([0.4, 0.0, 0.9165, 0])) == 5   # 0.4 from #1 and #3: below the level


def test_a_missing_or_altered_sface_file_is_an_error_that_names_reid_off(tmp_path):
    with pytest.raises(DetectorError, match="not found.*--reid off"):
        FaceEmbedder(tmp_path / "missing.tflite")
    altered = tmp_path / "sface.tflite"
    altered.write_bytes(SFACE_MODEL.read_bytes()[:-1] + b"\0")
    with pytest.raises(DetectorError, match="altered.*--reid off"):
        FaceEmbedder(altered)


def test_main_with_an_altered_sface_file_is_a_one_line_error_and_runs_with_reid_off(tmp_path, capsys, monkeypatch,
                                                                                  app_model, fer_faces):
    import main
    from app import reid
    from footage import write_face_video
    clip = tmp_path / "c.avi"
    write_face_video(clip, fer_faces, frames=6)
    altered = tmp_path / "sface.tflite"
    altered.write_bytes(b"not a network")
    monkeypatch.setattr(reid, "SFACE_MODEL", altered)
    monkeypatch.setattr(reid.FaceEmbedder.__init__, "__defaults__", (altered, None, 2))
    argv = ["--source", str(clip), "--model", str(app_model[0]), "--no-display"]
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: SFace model") and "--reid off" in err and "\n" not in err
    assert main.main(argv + ["--reid", "off"]) == 0
