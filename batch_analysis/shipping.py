"""What the client sends a cluster, so that a scheduler and workers started with nothing but
the requirements installed (any folder, no PYTHONPATH, no checkout, no model file) can
analyse a batch:

- the project's code, as one zip uploaded with Dask's own upload plugins (those of
  `Client.upload_file`): the scheduler needs it too (it unpickles each task, which names
  batch_analysis.worker), and a worker plugin reaches a worker that joins later as well.
  Only to a cluster started elsewhere: the embedded cluster's scheduler runs in the
  client's process, which the upload would make reload its own modules;
- the model and the detector's weights, as bytes inside the worker plugin
  (worker.RecognizerPlugin), written to each worker's own folder before it loads them.

About 0.1 MB of code and 4.7 MB of model (24 MB with SFace's LiteRT twin for
re-identification), sent in well under a second on the loopback (docs/REALTIME.md, Batch on
a real cluster); `pip install .` on every machine would need a packaging of the project and
a reinstall on every machine at each change, and still not carry the model.
"""
import hashlib
import io
import zipfile
from pathlib import Path

from app.detectors import YUNET_MODEL
from app.reid import SFACE_MODEL
from artefacts import PROJECT, labels_path, litert_path

# The packages and modules a worker imports (model.py only for --runtime keras: it imports Keras).
CODE = ("app", "batch_analysis", "common", "inference", "artefacts.py", "data.py")


def code_archive(with_keras=False):
    """(file name, zip bytes) of the project's code that a worker runs; the name carries a
    hash of the content, so a changed checkout never meets an older copy on the cluster."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in CODE + (("model.py",) if with_keras else ()):
            path = PROJECT / name
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            for file in files:
                # a fixed date: the same code gives the same bytes, and so the same name
                info = zipfile.ZipInfo(str(file.relative_to(PROJECT)), date_time=(2020, 1, 1, 0, 0, 0))
                archive.writestr(info, file.read_bytes(), zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    return f"emotion-code-{hashlib.sha256(data).hexdigest()[:12]}.zip", data


def model_files(model_path, runtime, detector, reid=False):
    """{file name: bytes} a worker needs to load the model with `runtime` (as chosen on the
    client), the detector and re-identification: the runtime's file and the class names,
    YuNet's weights (also what re-identification aligns faces with) and SFace's."""
    model_path = Path(model_path)
    main = model_path if runtime == "keras" else litert_path(model_path, runtime)
    files = {f"model{''.join(main.suffixes)}": main.read_bytes(),
             "model.labels.json": labels_path(model_path).read_bytes()}
    if detector == "yunet" or reid:
        files[YUNET_MODEL.name] = YUNET_MODEL.read_bytes()
    if reid:
        files[SFACE_MODEL.name] = SFACE_MODEL.read_bytes()
    return files


def unpack_model(files, folder):
    """Write `files` (model_files' result) into a folder of `folder` named by their content;
    (the model's path for load_classifier, YuNet's path or None, SFace's path or None)."""
    digest = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()[:12]
    target = Path(folder) / f"emotion-model-{digest}"
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = target / name
        if not path.is_file() or path.stat().st_size != len(data):
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            partial.replace(path)
    yunet, sface = target / YUNET_MODEL.name, target / SFACE_MODEL.name
    return target / "model.h5", (yunet if yunet.is_file() else None), (sface if sface.is_file() else None)
