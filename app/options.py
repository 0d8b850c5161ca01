"""The analysis options that main.py and serve.py share (detector, tracking, labels,
re-identification), defined once, and the recognizer they build."""
from pathlib import Path

from app.detectors import DETECTORS, HAAR_CASCADE, HAAR_NEIGHBORS, YUNET_SCORE, YUNET_TRACK_SCORE, make_detector
from app.pipeline import Recognizer
from app.reid import FaceEmbedder
from app.tracking import LABEL_MARGIN, SCAN_EVERY
from common.arguments import add_classifier_options, non_negative, number, positive
from inference.runtimes import load_classifier

DEFAULT_SMOOTH = 0.4   # docs/REALTIME.md: a third less label flicker; 0.6 lags expression changes
RUNTIME_NAMES = {"litert-int8": "LiteRT, int8", "litert": "LiteRT, float32", "keras": "Keras"}


def add_analysis_options(parser):
    """--model ... --light-fix (common.arguments), the detector's options, --scan-every,
    --smooth, --label-margin and --reid."""
    add_classifier_options(parser)
    parser.add_argument("--detector", choices=DETECTORS, default="yunet",
                        help="face detector: yunet (OpenCV's FaceDetectorYN, models/yunet/) or haar "
                             "(the Haar cascade: fewer faces found, and only in good light)")
    parser.add_argument("--score-threshold", type=number(float, 0.0, 1.0, low_open=True, high_open=True),
                        default=YUNET_SCORE, help="yunet: lowest score of a new face (higher: fewer false faces)")
    parser.add_argument("--track-score", type=number(float, 0.0, 1.0, low_open=True, high_open=True),
                        default=YUNET_TRACK_SCORE,
                        help="yunet: lowest score that continues a face already followed, near where it was")
    parser.add_argument("--cascade", type=Path, default=HAAR_CASCADE, help="haar: OpenCV Haar cascade")
    parser.add_argument("--scale-factor", type=number(float, 1.0, 3.0, low_open=True), default=1.1,
                        help="haar: pyramid step (> 1; smaller finds more faces, slower)")
    parser.add_argument("--min-neighbors", type=non_negative(int), default=3,
                        help="haar: detections that continue a face already followed")
    parser.add_argument("--start-neighbors", type=non_negative(int), default=HAAR_NEIGHBORS,
                        help="haar: detections needed for a new face (higher: fewer false faces)")
    parser.add_argument("--min-face-size", type=number(int, 12), default=48,
                        help="smallest face, in input pixels")
    parser.add_argument("--detect-width", type=non_negative(int), default=640,
                        help="frames wider than this are downscaled for full-frame detection "
                             "(0: never; else at least 160)")
    parser.add_argument("--scan-every", type=positive(int), default=SCAN_EVERY,
                        help="video: full-frame detection every N frames (and at once on a cut or a "
                             "new face); in between, each face is looked for near its last place")
    parser.add_argument("--smooth", type=number(float, 0.0, 1.0, high_open=True), nargs="?",
                        const=DEFAULT_SMOOTH, default=None, metavar="WEIGHT",
                        help=f"average each tracked face's emotion over frames; WEIGHT in [0, 1) is the "
                             f"share kept from the past (default: {DEFAULT_SMOOTH} for video and camera, "
                             f"off for images; 0 turns it off)")
    parser.add_argument("--label-margin", type=number(float, 0.0, 1.0), default=LABEL_MARGIN,
                        help="video: a face's label changes only when another emotion's (smoothed) "
                             "probability leads it by this much (0: always the most probable)")
    parser.add_argument("--reid", choices=("on", "off"), default="on",
                        help="video: a face that comes back (after leaving the picture or a cut) keeps its "
                             "person's number, by SFace embeddings (models/sface/); off: a new number")


def check_analysis_options(parser, args):
    if 0 < args.detect_width < 160:
        parser.error("argument --detect-width: must be 0 or at least 160")


def build_recognizer(args, video=True):
    """(Recognizer, runtime) of the analysis options; `video`: with re-identification where
    --reid on. Raises the one-line errors of a model or weights that cannot be loaded."""
    detector = make_detector(args.detector, args.min_face_size, args.detect_width, args.cascade,
                             args.scale_factor, args.min_neighbors, args.score_threshold, args.track_score,
                             args.start_neighbors)
    classifier, class_names, runtime = load_classifier(args.model, args.runtime)
    embedder = FaceEmbedder() if video and args.reid == "on" else None
    recognizer = Recognizer(detector, classifier, class_names, tta=args.tta, light_fix=args.light_fix,
                            embedder=embedder)
    return recognizer, runtime
