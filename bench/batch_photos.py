"""Writes N small synthetic photos in two labelled folders and a small convolutional model.

    python bench/batch_photos.py WORKDIR N
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    from known_models import save_conv_model

    work, count = Path(sys.argv[1]), int(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "conv.keras").exists():
        save_conv_model(work)
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = work / "photos" / ("left", "right")[i % 2] / f"{i // 1000:02d}"
        path = folder / f"{i:05d}.png"
        if path.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        # Smooth blobs rather than noise: closer to a photo, and PNG stays small.
        small = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((48, 48), Image.Resampling.BICUBIC).save(path)


if __name__ == "__main__":
    main()
