"""Where images come from: files, folders, dropped or pasted data, and built-in samples.

Loading and checking is the engine's job (``engine.images``); this module only walks the
user's selection (folders with their sub-folders, up to a cap) and collects one readable line
per problem, so a drop of many files is reported once, politely, while the good files still load.
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


FOLDER_CAP = 500  # images taken from one folder: more would fill memory and the list for little use
NAMES_SHOWN = 5  # unreadable files named in the summary line before "…"


@dataclass
class LoadResult:
    entries: list[ImageEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line each, starting with the name
    unreadable: list[str] = field(default_factory=list)  # images found in a folder that failed to load


@dataclass
class FolderCount:
    """One opened folder: how many images were found below it and how many are taken."""

    folder: Path
    found: int
    taken: int


@dataclass
class IntakePlan:
    """What one open or drop will load: files in order, each with the folder it was found in."""

    files: list[tuple[Path, FolderCount | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folders: list[FolderCount] = field(default_factory=list)


def plan_paths(paths, cap: int | None = None) -> IntakePlan:
    """Files as given; folders walked with their sub-folders, sorted, the first ``cap`` taken.

    Nothing is decoded here: walking is cheap, so the whole selection is known (and counted)
    before the slow part starts."""
    cap = FOLDER_CAP if cap is None else cap
    plan = IntakePlan()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            plan.files.append((path, None))
            continue
        try:
            found = list_images(path, recursive=True)
        except (ImageError, OSError) as exc:
            plan.problems.append(str(exc) if isinstance(exc, ImageError) else f"{path.name}: {exc.strerror}")
            continue
        if not found:
            plan.problems.append(f"{path.name}: folder has no images")
            continue
        count = FolderCount(path, len(found), min(len(found), cap))
        plan.folders.append(count)
        plan.files += [(image_path, count) for image_path in found[:cap]]
    return plan


def load_file(path: Path, result: LoadResult, folder: Path | None = None) -> None:
    """Load one file into ``result``; a failure is a problem line (a named file) or, for a
    file found in ``folder``, one more name for the "could not be read" summary."""
    try:
        image = load_image(path)
    except ImageError as exc:
        if folder is not None:
            result.unreadable.append(path.relative_to(folder).as_posix())
            return
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


def describe_unreadable(names: list[str]) -> str:
    """One line for the images of a folder that failed: "3 files could not be read: a.png, …"."""
    if not names:
        return ""
    shown = ", ".join(names[:NAMES_SHOWN]) + (", …" if len(names) > NAMES_SHOWN else "")
    noun = "file" if len(names) == 1 else "files"
    return f"{len(names)} {noun} could not be read: {shown}"


def describe_folder(count: FolderCount, added: int) -> str:
    """The status line of an opened folder, saying so when the cap left images out."""
    name = count.folder.name or count.folder.resolve().name or str(count.folder)
    if count.found > count.taken:
        return (f"Opened {count.taken:,} of {count.found:,} images in {name} "
                f"(the first {count.taken:,}; the rest skipped)")
    return f"Opened {added:,} image{'s' if added != 1 else ''} in {name}"
