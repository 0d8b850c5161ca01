"""What a batch's INPUT arguments name: video files, folders of them (searched recursively),
and .txt lists of paths or URLs, one a line; and the output name each video gets."""
import re
from pathlib import Path

from app.sources import VIDEO_SUFFIXES

URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


class InputError(ValueError):
    """Inputs that name nothing to analyse."""


def expand_inputs(inputs):
    """Every video the inputs name, in order, each once: paths as absolute strings, URLs as
    given. A path that does not exist stays in the list (it is reported as failed)."""
    found = []
    for text in inputs:
        found += _expand(str(text), Path.cwd())
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError(f"no videos found in {', '.join(map(str, inputs))}")
    return unique


def _expand(text, base):
    if URL.match(text):
        return [text]
    path = Path(text).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():
        return [str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()]
    if path.suffix.lower() == ".txt" and path.is_file():
        lines = [line.strip() for line in path.read_text().splitlines()]
        return [item for line in lines if line and not line.startswith("#")
                for item in _expand(line, path.parent)]
    return [str(path.resolve()) if path.exists() else str(path)]


def output_names(sources):
    """{source: NAME} from each file's name (without its suffix), NAME-2, NAME-3, ... where
    two would collide; the same inputs give the same names in every run."""
    names, taken = {}, set()
    for source in sources:
        stem = Path(source.rstrip("/").split("?")[0]).stem or "stream"
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "video"
        name, count = stem, 1
        while name.lower() in taken:
            count += 1
            name = f"{stem}-{count}"
        taken.add(name.lower())
        names[source] = name
    return names
