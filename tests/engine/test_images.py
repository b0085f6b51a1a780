"""engine.images: every file a user might open becomes (H, W, 3) uint8 RGB or an ImageError."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageCms

from engine.errors import ImageError
from engine.images import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    fit_to_model,
    is_image_file,
    list_images,
    load_image,
    load_image_bytes,
    to_rgb_uint8,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def assert_rgb(arr: np.ndarray, height: int, width: int) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.shape == (height, width, 3)
    assert arr.dtype == np.uint8
    assert arr.flags.c_contiguous
    assert arr.flags.writeable


def save(img: Image.Image, path: Path, **params) -> Path:
    img.save(path, **params)
    return path


def stored(path: Path) -> SimpleNamespace:
    """What Pillow itself sees in a file (to check the test made what it meant to)."""
    with Image.open(path) as img:
        return SimpleNamespace(
            mode=img.mode, info=dict(img.info), n_frames=getattr(img, "n_frames", 1),
            exif=dict(img.getexif()),
        )


def close_to(pixel, expected, tol: int = 0) -> bool:
    return bool(np.all(np.abs(np.asarray(pixel, int) - np.asarray(expected, int)) <= tol))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge size, with a tiny (useless) IDAT: a cheap bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --- plain formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix, params",
    [
        (".png", {}),
        (".bmp", {}),
        (".tif", {}),
        (".webp", {"lossless": True}),
        (".ppm", {}),
        (".tga", {}),
    ],
)
def test_lossless_rgb_round_trips_exactly(tmp_path, suffix, params):
    pixels = noise(17, 23)
    path = save(Image.fromarray(pixels), tmp_path / f"img{suffix}", **params)
    out = load_image(path)
    assert_rgb(out, 17, 23)
    np.testing.assert_array_equal(out, pixels)


def test_accepts_str_path_and_returns_a_private_writable_copy(tmp_path):
    path = save(Image.new("RGB", (4, 3), RED), tmp_path / "red.png")
    out = load_image(str(path))
    assert_rgb(out, 3, 4)
    out[0, 0] = 0  # must not raise (read-only arrays would)
    assert tuple(load_image(path)[0, 0]) == RED


# --- every colour mode ---------------------------------------------------------------


def test_mode_1_bilevel(tmp_path):
    bits = np.zeros((8, 8), bool)
    bits[::2, ::2] = True
    path = save(Image.fromarray(bits).convert("1"), tmp_path / "bits.png")
    assert stored(path).mode == "1"
    out = load_image(path)
    assert_rgb(out, 8, 8)
    assert tuple(out[0, 0]) == WHITE and tuple(out[0, 1]) == (0, 0, 0)


def test_mode_L_grey(tmp_path):
    path = save(Image.new("L", (5, 4), 77), tmp_path / "grey.png")
    out = load_image(path)
    assert_rgb(out, 4, 5)
    assert np.all(out == 77)


def test_mode_LA_composited_over_white(tmp_path):
    img = Image.new("LA", (3, 1))
    img.putpixel((0, 0), (0, 0))  # transparent black -> white
    img.putpixel((1, 0), (40, 255))  # opaque -> unchanged
    img.putpixel((2, 0), (0, 128))  # half black -> mid grey
    path = save(img, tmp_path / "la.png")
    assert stored(path).mode == "LA"
    out = load_image(path)
    assert_rgb(out, 1, 3)
    assert tuple(out[0, 0]) == WHITE
    assert tuple(out[0, 1]) == (40, 40, 40)
    assert close_to(out[0, 2], (127, 127, 127), tol=1)


def test_mode_RGBA_transparent_pixel_becomes_white_not_its_hidden_colour(tmp_path):
    img = Image.new("RGBA", (3, 1))
    img.putpixel((0, 0), (0, 0, 0, 0))  # hidden colour black, fully transparent
    img.putpixel((1, 0), (255, 0, 0, 255))
    img.putpixel((2, 0), (255, 0, 0, 128))  # half red over white = pink
    path = save(img, tmp_path / "rgba.png")
    out = load_image(path)
    assert_rgb(out, 1, 3)
    assert tuple(out[0, 0]) == WHITE
    assert tuple(out[0, 1]) == RED
    assert close_to(out[0, 2], (255, 127, 127), tol=1)


def test_mode_P_palette_colours(tmp_path):
    img = Image.new("P", (3, 1))
    img.putpalette([*RED, *GREEN, *BLUE] + [0] * (256 - 3) * 3)
    img.putdata([0, 1, 2])
    path = save(img, tmp_path / "palette.png")
    assert stored(path).mode == "P"
    out = load_image(path)
    assert_rgb(out, 1, 3)
    assert [tuple(p) for p in out[0]] == [RED, GREEN, BLUE]


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_mode_P_with_transparency_index_becomes_white(tmp_path, suffix):
    img = Image.new("P", (2, 1))
    img.putpalette([*BLUE, 0, 0, 0] + [0] * 254 * 3)
    img.putdata([0, 1])
    path = save(img, tmp_path / f"ptrans{suffix}", transparency=1)
    reopened = stored(path)
    assert reopened.mode == "P" and "transparency" in reopened.info
    out = load_image(path)
    assert tuple(out[0, 0]) == BLUE
    assert tuple(out[0, 1]) == WHITE  # index 1 is black in the palette but transparent


def test_mode_PA_and_premultiplied_modes_via_to_rgb_uint8():
    pa = Image.new("PA", (1, 1))
    pa.putpalette([*RED] + [0] * 255 * 3)
    pa.putpixel((0, 0), (0, 0))
    assert tuple(to_rgb_uint8(pa)[0, 0]) == WHITE
    la_premultiplied = Image.new("La", (1, 1), (0, 0))
    assert tuple(to_rgb_uint8(la_premultiplied)[0, 0]) == WHITE
    rgba_premultiplied = Image.new("RGBa", (1, 1), (0, 0, 0, 0))
    assert tuple(to_rgb_uint8(rgba_premultiplied)[0, 0]) == WHITE


def test_mode_CMYK_tiff_pure_cyan(tmp_path):
    path = save(Image.new("CMYK", (4, 4), (255, 0, 0, 0)), tmp_path / "cyan.tif")
    assert stored(path).mode == "CMYK"
    out = load_image(path)
    assert_rgb(out, 4, 4)
    assert close_to(out[0, 0], (0, 255, 255), tol=2)


def test_mode_CMYK_jpeg_pure_cyan(tmp_path):
    # Pillow writes Adobe-style inverted CMYK JPEGs; reading must undo that.
    path = save(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), tmp_path / "cyan.jpg", quality=95)
    assert stored(path).mode == "CMYK"
    out = load_image(path)
    assert close_to(out[8, 8], (0, 255, 255), tol=8)


def test_mode_YCbCr():
    ycbcr = Image.new("RGB", (2, 2), RED).convert("YCbCr")
    assert ycbcr.mode == "YCbCr"
    out = to_rgb_uint8(ycbcr)
    assert_rgb(out, 2, 2)
    assert close_to(out[0, 0], RED, tol=3)


def test_mode_LAB_tiff_is_colour_converted_not_copied(tmp_path):
    to_lab = ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
    )
    lab = ImageCms.applyTransform(Image.new("RGB", (2, 2), RED), to_lab)
    path = save(lab, tmp_path / "lab.tif")
    assert stored(path).mode == "LAB"
    assert close_to(load_image(path)[0, 0], RED, tol=6)


@pytest.mark.parametrize("mode, suffix", [("I;16", ".png"), ("I;16", ".tif"), ("I;16B", ".tif")])
def test_16_bit_is_scaled_by_bit_depth_not_clipped(tmp_path, mode, suffix):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    # (Image.convert("I;16B") would clip to 0..255 first, so build big-endian data directly.)
    img = Image.fromarray(values.astype(">u2") if mode == "I;16B" else values)
    path = save(img, tmp_path / f"deep{suffix}")
    assert stored(path).mode == mode
    out = load_image(path)
    assert_rgb(out, 1, 4)
    assert out[0, :, 0].tolist() == [0, 1, 128, 255]
    assert np.all(out[..., 0] == out[..., 2])  # grey


def test_16_bit_dark_image_stays_dark(tmp_path):
    # Clipping 16-bit values at 255 would turn this (dark) image pure white.
    path = save(Image.fromarray(np.full((4, 4), 5000, np.uint16)), tmp_path / "dark16.png")
    out = load_image(path)
    assert np.all(out == round(5000 / 257))


def test_mode_I_32_bit_signed_is_stretched(tmp_path):
    values = np.array([[-1_000_000, 0, 1_000_000]], dtype=np.int32)
    path = save(Image.fromarray(values), tmp_path / "int32.tif")
    assert stored(path).mode == "I"
    out = load_image(path)
    assert out[0, :, 0].tolist() == [0, 128, 255]


def test_mode_I_small_values_are_kept_as_8_bit():
    img = Image.new("L", (3, 1), 200).convert("I")
    assert img.mode == "I"
    assert np.all(to_rgb_uint8(img) == 200)


def test_mode_F_float_tiff_scaled_by_its_range(tmp_path):
    values = np.array([[-1.0, 1.0, 3.0]], dtype=np.float32)
    path = save(Image.fromarray(values), tmp_path / "float.tif")
    assert stored(path).mode == "F"
    out = load_image(path)
    assert out[0, :, 0].tolist() == [0, 128, 255]


def test_mode_F_constant_and_nan_images_do_not_crash(tmp_path):
    const = save(Image.fromarray(np.full((3, 3), 7.5, np.float32)), tmp_path / "const.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero / invalid-value warnings either
        out = load_image(const)
        assert_rgb(out, 3, 3)
        assert len(np.unique(out)) == 1

        values = np.array([[np.nan, 0.0, 10.0, np.inf]], dtype=np.float32)
        out = load_image(save(Image.fromarray(values), tmp_path / "nan.tif"))
        assert out[0, 1:3, 0].tolist() == [0, 255]
        assert out[0, 3, 0] == 255  # +inf is the brightest

        all_nan = save(Image.fromarray(np.full((2, 2), np.nan, np.float32)), tmp_path / "nan2.tif")
        assert_rgb(load_image(all_nan), 2, 2)


# --- orientation and frames ----------------------------------------------------------


def _top_red_bottom_blue(width: int, height: int) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2] = RED
    pixels[height // 2 :] = BLUE
    return Image.fromarray(pixels)


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    img = _top_red_bottom_blue(width=40, height=20)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = save(img, tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    assert stored(path).exif[0x0112] == 6
    out = load_image(path)
    assert_rgb(out, 40, 20)  # stored 40 wide x 20 tall, shown 20 wide x 40 tall
    # The stored top (red) ends up on the right, the bottom (blue) on the left.
    assert close_to(out[20, 17], RED, tol=40)
    assert close_to(out[20, 2], BLUE, tol=40)


def test_no_exif_orientation_leaves_image_as_stored(tmp_path):
    path = save(_top_red_bottom_blue(width=40, height=20), tmp_path / "upright.jpg", quality=95)
    out = load_image(path)
    assert_rgb(out, 20, 40)
    assert close_to(out[2, 20], RED, tol=40)
    assert close_to(out[17, 20], BLUE, tol=40)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 5), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert stored(path).n_frames == 3
    out = load_image(path)
    assert_rgb(out, 5, 6)
    assert np.all(out == RED)


def test_multi_frame_tiff_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), GREEN), Image.new("RGB", (8, 8), BLUE)]
    path = tmp_path / "pages.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert stored(path).n_frames == 2
    out = load_image(path)
    assert_rgb(out, 4, 4)
    assert np.all(out == GREEN)


# --- bad input -> ImageError, one line, starting with the file name ------------------


def load_error(path, **kwargs) -> str:
    with pytest.raises(ImageError) as caught:
        load_image(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{Path(path).name}: "), message
    assert "\n" not in message
    assert str(Path(path).parent) not in message  # the base name, not the whole path
    return message


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file(tmp_path, suffix):
    whole = io.BytesIO()
    Image.fromarray(noise(64, 64)).save(whole, format="PNG" if suffix == ".png" else "JPEG")
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    assert "truncated or corrupt" in load_error(path)


def test_random_bytes_with_image_suffix(tmp_path):
    path = tmp_path / "fake.jpg"
    path.write_bytes(np.random.default_rng(1).bytes(2000))
    assert "not an image Pillow can read" in load_error(path)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # PNG signature, garbage chunks
        b"\xff\xd8\xff\xe0" + b"\x00" * 40,  # JPEG start, garbage
        b"GIF89a" + b"\xff" * 20,  # GIF header, nothing else
        b"II*\x00" + b"\xff" * 20,  # TIFF header, nonsense IFD offset
        b"BM" + b"\x00" * 60,  # BMP header of zeros
    ],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_broken_headers_never_leak_raw_exceptions(tmp_path, data):
    path = tmp_path / "broken.img"
    path.write_bytes(data)
    load_error(path)
    with pytest.raises(ImageError):
        load_image_bytes(data)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert "empty" in load_error(path)


def test_missing_file(tmp_path):
    assert "not found" in load_error(tmp_path / "nowhere.png")


def test_directory(tmp_path):
    folder = tmp_path / "photos.png"
    folder.mkdir()
    assert "is a folder, not an image" in load_error(folder)


def test_permission_denied(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (2, 2)), tmp_path / "locked.png")

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    assert "permission denied" in load_error(path)


def test_header_over_limit_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(12_000, 9_000))  # 108 MP in a ~70 byte file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        message = load_error(path)
    # Had it decoded first, the useless IDAT would have been reported as corrupt.
    assert "too large (12000×9000 = 108 megapixels; limit 100)" in message


def test_header_far_over_limit_caught_when_pillow_refuses_first(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(png_header_only(30_000, 30_000))
    message = load_error(path)
    assert "too large" in message and "900 megapixels" in message


def test_pillow_bomb_warning_as_error_is_an_image_error(tmp_path):
    path = tmp_path / "warned.png"
    path.write_bytes(png_header_only(10_000, 9_500))  # 95 MP: under our limit, over Pillow's
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert "too large" in load_error(path, max_pixels=10**9)


def test_max_pixels_argument(tmp_path):
    path = save(Image.new("RGB", (100, 100)), tmp_path / "small.png")
    message = load_error(path, max_pixels=1000)
    assert "too large" in message and "100×100" in message
    assert_rgb(load_image(path, max_pixels=10_000), 100, 100)  # exactly at the limit is fine
    assert MAX_PIXELS == 100_000_000


# --- bytes ---------------------------------------------------------------------------


def test_load_image_bytes():
    buffer = io.BytesIO()
    Image.new("RGBA", (3, 2), (0, 255, 0, 0)).save(buffer, format="PNG")
    out = load_image_bytes(buffer.getvalue())
    assert_rgb(out, 2, 3)
    assert np.all(out == 255)  # transparent -> white, same conversion as files


def test_load_image_bytes_errors_name_the_source():
    with pytest.raises(ImageError, match=r"^clipboard: not an image"):
        load_image_bytes(b"hello, world")
    with pytest.raises(ImageError, match=r"^paste\.png: "):
        load_image_bytes(b"", name="paste.png")


# --- fit_to_model --------------------------------------------------------------------


def test_fit_to_model_squashes_to_height_width():
    image = noise(50, 80)
    out = fit_to_model(image, (30, 60))  # (height, width)
    assert_rgb(out, 30, 60)
    expected = np.asarray(Image.fromarray(image).resize((60, 30), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out, expected)


def test_fit_to_model_keeps_colours_and_handles_views():
    image = np.zeros((40, 90, 3), np.uint8)
    image[:] = (10, 200, 30)
    out = fit_to_model(image[:, ::3], (224, 224))  # a non-contiguous view
    assert_rgb(out, 224, 224)
    assert np.all(out == (10, 200, 30))


def test_fit_to_model_same_size_is_an_equal_copy():
    image = noise(8, 9)
    out = fit_to_model(image, (8, 9))
    np.testing.assert_array_equal(out, image)
    out[0, 0] = 1 - image[0, 0]
    assert not np.array_equal(out, image)  # the caller's array is untouched


@pytest.mark.parametrize(
    "image, size",
    [
        (np.zeros((4, 4), np.uint8), (2, 2)),
        (np.zeros((4, 4, 4), np.uint8), (2, 2)),
        (np.zeros((4, 4, 3), np.float32), (2, 2)),
        (np.zeros((4, 4, 3), np.uint8), (0, 2)),
        (np.zeros((4, 4, 3), np.uint8), (2,)),
    ],
)
def test_fit_to_model_rejects_bad_input(image, size):
    with pytest.raises(ValueError):
        fit_to_model(image, size)


# --- file names and folders ----------------------------------------------------------


def test_extensions_and_is_image_file():
    common = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".ico"}
    assert common <= IMAGE_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in IMAGE_EXTENSIONS)
    assert ".pdf" not in IMAGE_EXTENSIONS  # Pillow can write PDFs, not read them
    assert is_image_file("a/b/photo.JPG")
    assert is_image_file(Path("scan.tiff"))
    assert not is_image_file("notes.txt")
    assert not is_image_file("README")


def test_list_images(tmp_path):
    for name in ["b.png", "A.JPG", "c.txt", ".hidden.png", "sub/d.webp", ".cache/e.png"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "looks_like.png").mkdir()  # a folder with an image suffix

    assert list_images(tmp_path) == [tmp_path / "A.JPG", tmp_path / "b.png"]
    assert list_images(str(tmp_path), recursive=True) == [
        tmp_path / "A.JPG",
        tmp_path / "b.png",
        tmp_path / "sub" / "d.webp",
    ]


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        list_images(tmp_path / "missing")
