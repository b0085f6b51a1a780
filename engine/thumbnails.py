"""Small JPEG thumbnails for the batch report: an image, and a map drawn over it."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

THUMBNAIL_SIZE = 72  # pixels on the long side: small enough for thousands in one page


def jpeg(rgb: np.ndarray, size: int = THUMBNAIL_SIZE, quality: int = 80) -> bytes:
    picture = Image.fromarray(np.asarray(rgb, np.uint8))
    picture.thumbnail((size, size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def map_overlay(image: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    """Red where the map pushes towards the class, blue where against, over a grey copy of the
    image; the colour scale is symmetric around 0 at the map's 99th percentile of |value|."""
    grey = np.asarray(image, np.float32).mean(axis=2, keepdims=True) * 0.6 + 60
    values = np.asarray(attribution, np.float32)
    limit = float(np.percentile(np.abs(values), 99)) or 1.0
    strength = np.clip(values / limit, -1, 1)[..., None]
    red, blue = np.array([220, 30, 30], np.float32), np.array([30, 90, 230], np.float32)
    colour = np.where(strength > 0, red, blue)
    alpha = np.abs(strength) * 0.85
    return np.clip(grey * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def map_jpeg(image: np.ndarray, attribution: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    return jpeg(map_overlay(image, attribution), size)
