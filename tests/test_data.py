import shutil

import cv2
import numpy as np
import pytest

import data
from training.batches import TrainingBatches
from helpers import make_dataset


def test_class_names_are_sorted_folders_and_arrays_are_model_ready(pattern_dataset):
    dataset = data.load_dataset(pattern_dataset)
    assert dataset.class_names == ["disc", "horizontal", "vertical"]
    assert dataset.train.x.shape == (120, 48, 48, 1)
    assert dataset.train.x.dtype == np.float32
    assert 0.0 <= dataset.train.x.min() and dataset.train.x.max() <= 1.0
    assert np.bincount(dataset.validation.y).tolist() == [12, 12, 12]
    table = data.class_distribution(dataset)
    assert table["train"].tolist() == [40, 40, 40]
    assert table["validation"].tolist() == [12, 12, 12]


def test_kaggle_images_wrapper_is_accepted(tmp_path):
    make_dataset(tmp_path / "images", per_class=(3, 2))
    assert data.load_dataset(tmp_path).class_names == ["disc", "horizontal", "vertical"]


@pytest.mark.parametrize("image", [
    np.full((100, 80, 3), (10, 200, 90), np.uint8),                     # BGR, not square
    np.dstack([np.full((30, 30, 3), 50, np.uint8), np.full((30, 30), 0, np.uint8)]),  # BGRA, transparent
    np.full((64, 64), 40000, np.uint16),                                 # 16-bit grey
    np.full((48, 48, 1), 128, np.uint8),
])
def test_any_image_becomes_48x48_grey_in_unit_range(image):
    face = data.preprocess_face(image)
    assert face.shape == (48, 48, 1) and face.dtype == np.float32
    assert 0.0 <= face.min() <= face.max() <= 1.0


def test_colour_conversion_uses_luminance_and_alpha_shows_as_white():
    green = np.zeros((48, 48, 3), np.uint8)
    green[:, :, 1] = 255
    assert data.preprocess_face(green)[0, 0, 0] == pytest.approx(150 / 255, abs=0.01)
    transparent = np.zeros((48, 48, 4), np.uint8)
    assert data.preprocess_face(transparent)[0, 0, 0] == pytest.approx(1.0)


def test_bad_files_are_skipped_named_and_counted(pattern_dataset, capsys):
    folder = pattern_dataset / "train" / "disc"
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    (folder / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    cv2.imwrite(str(folder / "blank.png"), np.zeros((48, 48), np.uint8))
    split = data.load_split(pattern_dataset / "train")
    reasons = {path.name: reason for path, reason in split.skipped}
    assert reasons == {"empty.jpg": "empty file", "notes.txt": "not a readable image",
                       "truncated.png": "not a readable image", "blank.png": "blank image"}
    assert len(split.y) == 120
    data.report_skipped(split.skipped)
    err = capsys.readouterr().err
    assert "empty.jpg: empty file" in err and "4 file(s) skipped" in err


def test_mismatched_class_folders_are_rejected_naming_the_difference(pattern_dataset):
    (pattern_dataset / "validation" / "vertical").rename(pattern_dataset / "validation" / "zigzag")
    with pytest.raises(data.DatasetError, match="missing vertical; unexpected zigzag"):
        data.load_dataset(pattern_dataset)


def test_a_dataset_of_one_class_is_rejected(pattern_dataset):
    for split in ("train", "validation"):
        for name in ("horizontal", "vertical"):
            shutil.rmtree(pattern_dataset / split / name)
    with pytest.raises(data.DatasetError, match="one class folder \\(disc\\).*at least two"):
        data.load_dataset(pattern_dataset)


def test_missing_split_empty_class_and_no_images_are_clear_errors(tmp_path, pattern_dataset):
    with pytest.raises(data.DatasetError, match="not found"):
        data.load_dataset(tmp_path / "nowhere")
    (tmp_path / "only" / "train" / "a").mkdir(parents=True)
    with pytest.raises(data.DatasetError, match="no validation/ folder"):
        data.load_dataset(tmp_path / "only")
    (pattern_dataset / "train" / "extra").mkdir()
    with pytest.raises(data.DatasetError, match="class folder is empty: .*extra"):
        data.load_split(pattern_dataset / "train")
    junk = tmp_path / "junk" / "a"
    junk.mkdir(parents=True)
    (junk / "x.jpg").write_text("nope")
    with pytest.raises(data.DatasetError, match="no usable images"):
        data.load_split(tmp_path / "junk")


def test_augmentation_changes_images_but_keeps_shape_and_range():
    rng = np.random.default_rng(0)
    images = np.random.default_rng(1).random((5, 48, 48, 1), dtype=np.float32)
    for options in ({}, {"min_crop": 40}, {"min_crop": 40, "erase": 1.0}):
        out = data.augment_batch(images, rng, **options)
        assert out.shape == images.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        assert all(not np.allclose(o, i) for o, i in zip(out, images))


def test_crop_jitter_only_zooms_in_and_stays_inside_the_face():
    # A face with a frame of ones round a zero middle: a crop of 40-48 pixels scaled
    # back to 48 keeps the middle's zeros and pushes part of the frame out, never
    # showing anything from beyond the face (reflected border) as a wider view would.
    face = np.ones((48, 48, 1), np.float32)
    face[4:-4, 4:-4] = 0.0
    rng = np.random.default_rng(0)
    out = data.augment_batch(np.repeat(face[np.newaxis], 200, axis=0), rng,
                             max_rotation=0.0, min_crop=40)
    assert (out.mean(axis=(1, 2, 3)) <= face.mean() + 1e-6).all()    # never zoomed out
    assert out.mean(axis=(1, 2, 3)).min() < 0.5 * face.mean()     # zoomed in enough to lose most of the frame
    assert np.allclose(out[:, 20:28, 20:28], 0.0)                 # the middle stays in view


def test_frame_jitter_frames_faces_as_the_detectors_squares_spread():
    # A bright square of 24 pixels in the middle of a dark face: its width after the warp
    # tells each draw's zoom; its centre the shift.
    face = np.zeros((48, 48, 1), np.float32)
    face[12:36, 12:36] = 1.0
    rng = np.random.default_rng(0)
    out = data.augment_batch(np.repeat(face[np.newaxis], 400, axis=0), rng, max_rotation=0.0, frame_jitter=1.0)
    widths = (out[:, 24, :, 0] > 0.5).sum(axis=1)
    log_side = np.log(24 / widths)   # the square's side against the face's
    assert abs(np.median(log_side)) < 0.03                          # around the true face
    assert 0.10 < log_side.std() < 0.18                              # YuNet 0.152, Haar 0.134 (bench)
    columns = np.nonzero(out[:, 24, :, 0] > 0.5)
    centres = np.array([columns[1][columns[0] == i].mean() for i in range(400)]) + 0.5
    face_sides = 2 * widths                                          # the face is twice the square
    assert 0.03 < ((centres - 24) / face_sides).std() < 0.07         # shift sd 0.05 of the face
    same = data.augment_batch(face[np.newaxis], np.random.default_rng(1), max_rotation=0.0,
                              max_shift=0.0, max_zoom=0.0, frame_jitter=0.0)
    np.testing.assert_allclose(same[0], face)                        # 0: off


def test_camera_degradations_keep_the_face_readable_and_cost_no_draw_when_off(fer_faces):
    faces = np.stack([data.preprocess_face(face) for face in fer_faces])
    rng = np.random.default_rng(0)
    degraded = np.stack([data.degrade_face(face, rng) for face in faces for _ in range(10)])
    assert degraded.shape == (10 * len(faces), 48, 48, 1) and degraded.dtype == np.float32
    assert 0.0 <= degraded.min() and degraded.max() <= 1.0
    originals = np.repeat(faces, 10, axis=0)
    differences = np.abs(degraded - originals).mean(axis=(1, 2, 3))
    assert (differences > 0.002).mean() > 0.8                        # most views change
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(degraded, originals)]
    assert np.median(correlation) > 0.8                              # and still show the face
    plain = data.augment_batch(faces, np.random.default_rng(3), erase=0.5)
    np.testing.assert_array_equal(plain, data.augment_batch(faces, np.random.default_rng(3), erase=0.5, degrade=0.0))


def test_random_erasing_fills_one_rectangle_with_noise():
    images = np.zeros((300, 48, 48, 1), np.float32)
    rng = np.random.default_rng(0)
    out = data.augment_batch(images, rng, max_rotation=0.0, max_shift=0.0, max_zoom=0.0, erase=0.5)
    changed = (out != 0).any(axis=(1, 2, 3))
    assert 0.4 < changed.mean() < 0.6                  # about half the faces, as asked
    for face in out[changed][:20, :, :, 0]:
        rows, cols = np.nonzero(face)
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert 0.02 * 48 * 48 * 0.8 <= area <= 0.33 * 48 * 48 * 1.2   # a rectangle of 2-33% of the face
        assert (face[rows.min():rows.max() + 1, cols.min():cols.max() + 1] > 0).mean() > 0.99


def test_warp_face_without_change_or_with_only_a_flip_is_exact():
    image = np.random.default_rng(1).random((48, 48, 1), dtype=np.float32)
    np.testing.assert_array_equal(data.warp_face(image), image)
    np.testing.assert_array_equal(data.warp_face(image, flip=True), image[:, ::-1])
    assert not np.allclose(data.warp_face(image, angle=6.0), image)


def test_training_batches_shuffle_every_epoch_and_cover_all_images(pattern_dataset):
    split = data.load_split(pattern_dataset / "train")
    batches = TrainingBatches(split, batch_size=32, augment="on", seed=3,
                                   class_weights=[1.0, 2.0, 3.0])
    assert len(batches) == 4
    x, y, w = batches[0]
    assert x.shape == (32, 48, 48, 1) and y.shape == (32, 3)
    np.testing.assert_array_equal(w, np.array([1.0, 2.0, 3.0])[y.argmax(axis=1)])
    first = batches.order.copy()
    batches.on_epoch_end()
    assert sorted(first) == sorted(batches.order) == list(range(120))
    assert not np.array_equal(first, batches.order)


def test_augmentation_strengths_off_light_on_change_faces_more_and_more(pattern_dataset):
    split = data.load_split(pattern_dataset / "train")
    batch = {strength: TrainingBatches(split, batch_size=32, augment=strength, seed=3)[0][0]
             for strength in ("off", "light", "on")}
    rows = TrainingBatches(split, batch_size=32, seed=3).order[:32]
    np.testing.assert_array_equal(batch["off"], split.x[rows])
    change = {strength: np.abs(batch[strength] - batch["off"]).mean() for strength in ("light", "on")}
    assert 0 < change["light"] < change["on"]


def test_last_epochs_train_on_light_augmentation_alone(pattern_dataset):
    split = data.load_split(pattern_dataset / "train")
    batches = TrainingBatches(split, batch_size=32, augment="on", min_crop=40, erase=1.0, mixup=0.4,
                              seed=3, light_from=2)
    light = TrainingBatches(split, batch_size=32, augment="light", seed=3)
    for epoch in (1, 2, 5):   # 5: a run resumed late
        batches.set_epoch(epoch)
        light.set_epoch(epoch)
        x, y = batches[0]
        if epoch < 2:
            assert (y.max(axis=1) < 0.99).any()   # still mixup
        else:   # no crops, erasing or mixup: exactly the light batch
            np.testing.assert_array_equal(x, light[0][0])
            np.testing.assert_array_equal(y, light[0][1])


def test_mixup_blends_images_and_labels_by_the_same_share():
    # every face of class c is the flat grey c / 2, so a blend's grey gives away its shares
    labels = np.arange(60) % 3
    faces = np.repeat(labels / 2, 48 * 48).reshape(60, 48, 48, 1).astype(np.float32)
    split = data.Split(faces, labels, ["a", "b", "c"], [])
    x, y = TrainingBatches(split, batch_size=32, seed=3, mixup=0.4)[0]
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    assert (y.max(axis=1) < 0.99).mean() > 0.5           # most labels are blends of two classes
    np.testing.assert_allclose(x[:, 0, 0, 0], y @ np.array([0.0, 0.5, 1.0]), atol=1e-5)
    assert np.ptp(x, axis=(1, 2, 3)).max() < 1e-6        # blended as wholes, pixel for pixel


def test_balanced_class_weights_favour_rare_classes():
    weights = data.balanced_class_weights(np.array([0] * 90 + [1] * 10), 2)
    np.testing.assert_allclose(weights, [100 / 180, 100 / 20])


def test_stretch_light_fix_undoes_uniform_darkening():
    face = data.preprocess_face(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8))
    np.testing.assert_allclose(data.fix_light(face * 0.5, "stretch"), data.fix_light(face, "stretch"),
                               atol=1e-6)
    batch = np.stack([face * 0.3, face])
    fixed = data.fix_light(batch, "clahe")
    assert fixed.shape == batch.shape and 0 <= fixed.min() and fixed.max() <= 1
    assert fixed[0].mean() > batch[0].mean()   # a dark face comes out brighter
    with pytest.raises(ValueError, match="unknown light fix"):
        data.fix_light(face, "sunglasses")
