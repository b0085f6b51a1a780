"""Where images come from: files, folders, dropped or pasted data, and built-in samples.

Loading and checking is the engine's job (``engine.images``); this module only walks the
user's selection and collects one readable line per problem, so a drop of many files is
reported once, politely, while the good files still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import ImageError
from engine.images import is_image_file, list_images, load_image, load_image_bytes, to_rgb_uint8
from gui.image_entry import ImageEntry

# skimage.data photos that ship with scikit-image (no download), with friendly names.
SAMPLES = {
    "chelsea": "Chelsea the cat",
    "coffee": "Coffee cup",
    "astronaut": "Astronaut",
    "rocket": "Rocket launch",
    "camera": "Cameraman (grey)",
    "hubble_deep_field": "Hubble deep field",
    "immunohistochemistry": "Immunohistochemistry",
    "colorwheel": "Colour wheel",
}


@dataclass
class LoadResult:
    entries: list[ImageEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, starting with the name


def load_paths(paths) -> LoadResult:
    """Files and folders (their images, not recursive) in the order given."""
    result = LoadResult()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found = list_images(path)
            except ImageError as exc:
                result.problems.append(str(exc))
                continue
            if not found:
                result.problems.append(f"{path.name}: folder has no images")
            for image_path in found:
                _load_file(image_path, result)
        else:
            _load_file(path, result)
    return result


def _load_file(path: Path, result: LoadResult) -> None:
    try:
        image = load_image(path)
    except ImageError as exc:
        message = str(exc)
        if path.exists() and not is_image_file(path) and "not an image" in message:
            message = f"{path.name}: not an image file"
        result.problems.append(message)
        return
    result.entries.append(ImageEntry(name=path.stem, image=image, source=str(path), path=path))


def load_bytes(data: bytes, name: str) -> LoadResult:
    result = LoadResult()
    try:
        result.entries.append(ImageEntry(name=name, image=load_image_bytes(data, name), source=name))
    except ImageError as exc:
        result.problems.append(str(exc))
    return result


def load_sample(name: str) -> ImageEntry:
    """A photo from ``skimage.data`` kept in memory as a named image (grey ones made RGB)."""
    import skimage.data
    from PIL import Image

    array = getattr(skimage.data, name)()
    image = to_rgb_uint8(Image.fromarray(array))
    return ImageEntry(name=name, image=image, source=f"sample:{name}")


def describe_problems(problems: list[str]) -> str:
    """One message for the whole drop: "2 files were not added: a.txt: …; b.png: …"."""
    if not problems:
        return ""
    noun = "file was" if len(problems) == 1 else "files were"
    return f"{len(problems)} {noun} not added — " + "; ".join(problems)
