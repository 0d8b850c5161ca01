"""Persons, not tracks: a face that leaves the picture (or is cut away from) and comes back
gets its person's number again.

A track is a face followed from frame to frame (app/tracking.py); a person is every track
that shows the same face. When a confirmed track has been found in a few frames
(tracking.IDENTIFY_AT), its face is embedded by SFace (the network of OpenCV's
FaceRecognizerSF, models/sface/, run by LiteRT: 128 floats, about 7 ms a face on two
cores), after alignment on the five landmarks that YuNet finds on the face's crop (about
1 ms). The track takes the number of the most similar person seen in this run who is not
in the picture now, where the cosine similarity to one of that person's kept embeddings
reaches MATCH_LEVEL; else it is a new person. Two faces in the picture at once are never
one person. The face is embedded again, never every frame, when its track has been found in
tracking.LATER_VIEWS frames (5 s, 30 s and 3 minutes at 30 frames/s): a person who leaves
comes back looking as they did when they left, not as they arrived. Each person keeps its
KEEP_EMBEDDINGS most recent embeddings (128 float32 each: 2.5 KB a person). Later views run
on the tracker's path, at most three a track (their cost: docs/REALTIME.md, People).
"""
import cv2
import numpy as np

from app.detectors import YUNET_MODEL, DetectorError, check_weights, check_yunet_file
from artefacts import PROJECT
from inference.runtimes import LiteRTClassifier

SFACE_SOURCE = PROJECT / "models" / "sface" / "face_recognition_sface_2021dec.onnx"
SFACE_SOURCE_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
# What the app runs: the same network as SFace's ONNX file, converted to LiteRT with float16
# weights by `python bench/sface_litert.py --convert` (models/sface/SOURCE.md): its
# embeddings and OpenCV's FaceRecognizerSF's agree to a cosine of 0.99999, at 7 ms a face
# where OpenCV takes 17-22 (docs/REALTIME.md, People). It records the ONNX file's SHA-256.
SFACE_MODEL = PROJECT / "models" / "sface" / "face_recognition_sface_2021dec.float16.tflite"
SFACE_SHA256 = "fabe44c0285e68c3d104c06cc2273ea65b6356f976e1b33e42ebc6372be3f6ca"
SOURCE_KEY = "sface_source_onnx_sha256"   # the twin's metadata entry naming its ONNX file
# The cosine similarity from which two faces are one person: fitted by `python bench/reid.py
# --fit` (docs/REALTIME.md, People): between FER-2013 faces under the app's framing and
# degradations and different faces, and on hamilton.mp4's shots labelled by eye.
MATCH_LEVEL = 0.45
KEEP_EMBEDDINGS = 5      # per person: its most recent ones
# Where alignment puts the five landmarks (eyes, nose tip, mouth corners) in SFace's 112x112
# input, and their mean: the constants of OpenCV's FaceRecognizerSF::alignCrop.
ALIGNED_POINTS = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                           [41.5493, 92.3655], [70.7299, 92.2041]])
ALIGNED_MEAN = np.array([56.0262, 71.9008])


def check_sface_file(path):
    """Raise DetectorError, naming --reid off, where SFace's weights are missing or altered."""
    check_weights(path, SFACE_SHA256, "SFace", "use --reid off")


def alignment(landmarks):
    """The 2x3 similarity transform (rotation, one scale, shift) that takes five landmarks
    (5, 2) nearest, in least squares, onto ALIGNED_POINTS: Umeyama's solution, as
    OpenCV's alignCrop computes it (tests/test_reid.py compares the two)."""
    source = np.asarray(landmarks, np.float64)
    source_centred = source - source.mean(axis=0)
    target_centred = ALIGNED_POINTS - ALIGNED_MEAN
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.array([1.0, -1.0 if np.linalg.det(covariance) < 0 else 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = float(singular @ signs) / float(source_centred.var(axis=0).sum())
    shift = ALIGNED_MEAN - scale * rotation @ source.mean(axis=0)
    return np.hstack([scale * rotation, shift[:, np.newaxis]])


def align_face(bgr, landmarks):
    """SFace's 112x112 input: the face of a BGR image turned and scaled so its five
    landmarks sit where SFace was trained to see them."""
    return cv2.warpAffine(bgr, alignment(landmarks), (112, 112), flags=cv2.INTER_LINEAR)


class FaceEmbedder:
    """A face square of a frame -> a unit 128-float SFace embedding, or None where YuNet finds
    no landmarks on its crop (a face turned away, too small, not a face)."""

    def __init__(self, model_path=SFACE_MODEL, yunet_path=None, threads=2):
        check_sface_file(model_path)
        yunet_path = yunet_path or YUNET_MODEL
        try:
            check_yunet_file(yunet_path)
        except DetectorError as error:
            raise DetectorError(f"{error} (re-identification aligns faces with YuNet; or --reid off)") from None
        self.network = LiteRTClassifier(model_path, threads)
        self.landmarks = cv2.FaceDetectorYN.create(str(yunet_path), "", (160, 160), 0.3, 0.3, 5)

    def embed(self, frame, square):
        """The embedding of the face in `square` (x, y, side, side) of a BGR or grey frame (or
        of a view that `face_view` kept)."""
        crop, _ = face_view(frame, square)
        if crop.ndim == 2:
            crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        if crop.shape[0] < 24 or crop.shape[1] < 24:
            return None
        scale = min(1.0, 160 / max(crop.shape[:2]))
        small = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop
        self.landmarks.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.landmarks.detect(small)
        if rows is None:
            return None
        row = rows[int(np.argmax(rows[:, 2] * rows[:, 3]))]   # the largest face on the crop
        points = row[4:14].reshape(5, 2) / scale
        if points.std(axis=0).sum() < 1:   # landmarks on one spot: nothing to align
            return None
        aligned = align_face(crop, points)
        # as FaceRecognizerSF feeds it: RGB, 0-255 (the network normalises inside)
        rgb = cv2.cvtColor(aligned, cv2.COLOR_BGR2RGB).astype(np.float32)[np.newaxis]
        feature = self.network.predict_on_batch(rgb).ravel()
        return feature / (np.linalg.norm(feature) + 1e-9)


def face_view(frame, square):
    """(the part of `frame` around `square` that an embedding reads: a margin of a quarter of
    its side, clipped to the frame, copied; the square in it). Kept by the tracker for a
    track's embedding a few frames later; a view of a view is the same view."""
    x, y, side, _ = (int(v) for v in square)
    margin = side // 4
    x0, y0 = max(x - margin, 0), max(y - margin, 0)
    return frame[y0:y + side + margin, x0:x + side + margin].copy(), (x - x0, y - y0, side, side)


class People:
    """The persons of one run: each a number and its kept embeddings."""

    def __init__(self, match_level=MATCH_LEVEL, keep=KEEP_EMBEDDINGS):
        self.match_level, self.keep = match_level, keep
        self.embeddings = {}   # person number -> [unit embeddings], newest last
        self.next_number = 1

    def identify(self, embedding, present=()):
        """The number of the person `embedding` shows: the most similar one not `present` (in
        the picture now) that reaches match_level, else a new person. None: a new person too."""
        best, best_similarity = None, self.match_level
        if embedding is not None:
            for number, kept in self.embeddings.items():
                if number in present or not kept:
                    continue
                similarity = float(np.max(np.asarray(kept) @ embedding))
                if similarity >= best_similarity:
                    best, best_similarity = number, similarity
        if best is None:
            best, self.next_number = self.next_number, self.next_number + 1
            self.embeddings[best] = []
        self.remember(best, embedding)
        return best

    def remember(self, number, embedding):
        """Keep another embedding of person `number` (None: nothing to keep)."""
        if embedding is not None:
            self.embeddings[number] = (self.embeddings[number] + [embedding])[-self.keep:]
