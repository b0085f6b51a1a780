"""The docs/ figures from a real, trained network, made with the command line's own export.

    python docs/real_model_figures.py [--out docs/figures] [--quick]

EfficientNet-Lite0 (ImageNet-trained, rebuilt from the dev dependency's weights by
tests/real_model.py; no weights are shipped) explains scikit-image's chelsea and coffee
with every method: ``main.py explain ... --out DIR`` writes one PNG per class, the NPZ maps
and the JSON summary (with the faithfulness scores of ``--metrics``) per image and method.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--quick", action="store_true", help="SHAP 100 evals, LIME 200 samples")
    parser.add_argument("--replace", action="store_true", help="replace the figures already in OUT")
    args = parser.parse_args(argv)
    if args.out.is_dir() and any(args.out.iterdir()) and not args.replace:
        print(f"error: {args.out} already holds files; pass --replace to write over them",
              file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "tests"))
    from PIL import Image

    import real_model

    from engine.models import imagenet_class_names

    model = real_model.efficientnet_lite0_keras(Path.home() / ".cache" / "image-explainer-tests")
    with tempfile.TemporaryDirectory() as folder:
        photos = []
        for name in ("chelsea", "coffee"):
            photos.append(Path(folder) / f"{name}.png")
            Image.fromarray(real_model.sample_image(name)).save(photos[-1])
        labels = Path(folder) / "imagenet.txt"  # the ImageNet names, one a line
        labels.write_text("\n".join(_unique(imagenet_class_names())) + "\n", encoding="utf-8")
        evals, samples = ("100", "200") if args.quick else ("500", "1000")
        command = [sys.executable, str(ROOT / "main.py"), "explain", *map(str, photos),
                   "--model", str(model), "--labels", str(labels), "--preprocess", real_model.PREPROCESS,
                   "--method", "shap,lime,gradcam,ig", "--classes", "3", "--metrics",
                   "--max-evals", evals, "--samples", samples, "--out", str(args.out)]
        return subprocess.run(command, cwd=ROOT).returncode


def _unique(names: list[str]) -> list[str]:
    """Two ImageNet classes share a name with another ("crane", "maillot"): the index tells
    them apart, so a labels file never names two outputs alike."""
    counts = {n: names.count(n) for n in set(names)}
    return [f"{n} ({i})" if counts[n] > 1 else n for i, n in enumerate(names)]


if __name__ == "__main__":
    raise SystemExit(main())
