"""Reading image files into the one array shape the engine uses: (H, W, 3) uint8 RGB.

Everything a user might open goes through here, so every failure becomes an
``ImageError`` whose message starts with the file name and fits on one line.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import ImageError
from engine.safe_files import require_regular_file

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "is_image_file",
    "list_images",
    "load_image",
    "load_image_bytes",
    "to_rgb_uint8",
    "fit_to_model",
]

MAX_PIXELS = 100_000_000

# Formats people actually hand to a classifier; kept to those this Pillow build can open
# (JPEG 2000 and AVIF, for example, depend on optional libraries).
_WANTED_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".bmp", ".dib", ".gif",
    ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm", ".pfm", ".ico",
    ".tga", ".pcx", ".dds", ".psd", ".sgi", ".rgb", ".qoi", ".avif",
    ".jp2", ".j2k", ".jpx", ".jpf",
}  # fmt: skip
Image.init()
# Our own pixel limit (MAX_PIXELS, checked from the header) is the guard and says so in one
# line; Pillow's warning just below it would only reach the terminal as noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    ext
    for ext, fmt in Image.registered_extensions().items()
    if ext in _WANTED_EXTENSIONS and fmt in Image.OPEN
)

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_16BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True if the name ends in an image suffix; the file itself is not opened."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (and below it if ``recursive``), hidden ones skipped, sorted."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ImageError(f"{root.name or root}: not a folder")
    if not root.is_dir():
        raise ImageError(f"{root.name or root}: folder not found")
    candidates = root.rglob("*") if recursive else root.iterdir()
    found = [
        p
        for p in candidates
        # Hidden files and anything inside hidden folders (.git, .thumbnails) are noise.
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
        and is_image_file(p)
        and p.is_file()
    ]
    return sorted(found, key=lambda p: (p.relative_to(root).as_posix().lower(), p.as_posix()))


def load_image(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as a C-contiguous (H, W, 3) uint8 RGB array, upright per EXIF."""
    path = Path(path)
    name = path.name or str(path)
    if path.is_dir():
        raise ImageError(f"{name}: is a folder, not an image")
    # stat before open: a FIFO would block open() forever, a device read forever.
    require_regular_file(path, "image", ImageError)
    try:
        with path.open("rb") as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise ImageError(f"{name}: file is empty (0 bytes)")
            return _decode(fp, name, max_pixels)
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied, cannot read the file") from None
    except OSError as err:  # only open/fstat can get here; _decode wraps its own errors
        raise ImageError(f"{name}: cannot read the file ({_one_line(err)})") from None


def load_image_bytes(
    data: bytes, name: str = "clipboard", max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Like ``load_image`` for encoded image bytes held in memory (a paste, a download)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError(f"{name}: expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError(f"{name}: no image data (0 bytes)")
    return _decode(io.BytesIO(bytes(data)), name, max_pixels)


def _decode(fp: BinaryIO, name: str, max_pixels: int) -> np.ndarray:
    try:
        img = Image.open(fp)
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own guard fires inside open() above 2x its limit (or above 1x when
        # warnings are errors), before we see the size; its message holds the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{_megapixels(int(found[1]))} megapixels; " if found else ""
        raise ImageError(
            f"{name}: image is too large ({size}limit {_megapixels(max_pixels)})"
        ) from None
    except Exception as err:  # a recognised header that is broken
        raise ImageError(f"{name}: file is truncated or corrupt ({_one_line(err)})") from None

    with img:
        # The header gives the size; refuse before decoding allocates the pixels.
        width, height = img.size
        if width * height > max_pixels:
            raise ImageError(
                f"{name}: image is too large ({width}×{height} = "
                f"{_megapixels(width * height)} megapixels; limit {_megapixels(max_pixels)})"
            )
        if width == 0 or height == 0:
            raise ImageError(f"{name}: image has no pixels ({width}×{height})")
        try:
            img.load()  # decode now, so truncation is reported here and not later
            ImageOps.exif_transpose(img, in_place=True)  # in place keeps TIFF tags for to_rgb
        except MemoryError:
            raise ImageError(f"{name}: not enough memory to decode the image") from None
        except Exception as err:
            if "decoder" in str(err) and "not available" in str(err):
                message = f"{name}: this Pillow cannot decode {img.format} images"
                raise ImageError(message) from None
            raise ImageError(f"{name}: file is truncated or corrupt ({_one_line(err)})") from None
        try:
            return to_rgb_uint8(img)
        except MemoryError:
            raise ImageError(f"{name}: not enough memory to convert the image") from None
        except ValueError as err:
            message = f"{name}: unsupported image mode {img.mode} ({_one_line(err)})"
            raise ImageError(message) from None


def to_rgb_uint8(pil_image: Image.Image) -> np.ndarray:
    """Convert a Pillow image of any mode to a C-contiguous (H, W, 3) uint8 RGB array."""
    img = pil_image
    mode = img.mode
    if mode in _16BIT_MODES:
        return _gray_to_rgb(_scale(np.asarray(img), 0, 2 ** _bits_per_sample(img) - 1))
    if mode == "I":
        return _gray_to_rgb(_scale_int32(np.asarray(img)))
    if mode == "F":
        return _gray_to_rgb(_scale_float(np.asarray(img)))
    if mode == "La":
        img = img.convert("LA")  # Pillow converts premultiplied La only to LA
    if img.mode in _ALPHA_MODES or img.has_transparency_data:
        # Transparent areas are usually background: show them white, as viewers do,
        # instead of whatever colour the hidden pixels happen to hold.
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
        rgb, alpha = rgba[..., :3], rgba[..., 3:]
        out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
        return np.ascontiguousarray(out, dtype=np.uint8)
    if img.mode != "RGB":
        img = img.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX ...
    return np.array(img, dtype=np.uint8, order="C")  # a writable copy


def fit_to_model(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to exactly ``size`` = (height, width) with bilinear filtering, no crop.

    Squashes rather than crops, as ``keras.utils.load_img(target_size=...)`` does; the
    pixels match ``load_img(..., interpolation="bilinear")`` (keras's default is "nearest").
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"fit_to_model needs an (H, W, 3) array, got {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"fit_to_model needs a uint8 image, got {image.dtype}")
    if not (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
        and min(size) > 0
    ):
        raise ValueError(f"fit_to_model needs size=(height, width) of positive ints, got {size!r}")
    height, width = int(size[0]), int(size[1])
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image).copy()
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.array(resized, dtype=np.uint8, order="C")


def _bits_per_sample(img: Image.Image) -> int:
    """Real bit depth of a 16-bit-mode image: TIFFs may store 12 bits in 16."""
    tags = getattr(img, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None  # 258 = BitsPerSample
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return int(bits) if isinstance(bits, int) and 1 <= bits <= 16 else 16


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map [low, high] linearly onto 0..255 (rounding, clipping strays)."""
    scaled = (values.astype(np.float64) - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _scale_int32(values: np.ndarray) -> np.ndarray:
    # Mode I holds 8-bit data converted up, 16-bit data, or true 32-bit/signed data;
    # scale each the way its range suggests rather than clipping at 255.
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 255:
        return values.astype(np.uint8)
    if low >= 0 and high <= 65535:
        return _scale(values, 0, 65535)
    return _scale(values, low, high)


def _scale_float(values: np.ndarray) -> np.ndarray:
    # Float images have no fixed range: stretch the finite values to 0..255.
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    if high == low:  # constant: nothing to stretch; black rather than a divide by zero
        return np.zeros(values.shape, np.uint8)
    cleaned = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
    return _scale(cleaned, low, high)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def _megapixels(pixels: int) -> str:
    mp = pixels / 1_000_000
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.3g}"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
