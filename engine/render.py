"""Draws explanations onto a given matplotlib ``Figure`` (never pyplot).

The window's canvases and the command line's PNG export both call these functions, so what
a user sees on screen is exactly what they export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

from engine.jobs import Explanation

METHOD_TITLES = {"shap": "SHAP (Partition)", "lime": "LIME", "gradcam": "Grad-CAM",
                 "ig": "Integrated Gradients"}
COLORBAR_LABELS = {"shap": "SHAP value", "shap-gradient": "SHAP value", "gradcam": "Grad-CAM",
                   "ig": "IG attribution"}
LIME_VIEWS = ("positive", "positive_negative", "hide_rest")


def _shap_colormap() -> LinearSegmentedColormap:
    # shap's red_transparent_blue: blue (away from the class) -> transparent -> red (towards).
    blue, red = (0.118, 0.533, 0.898), (1.0, 0.051, 0.341)
    return LinearSegmentedColormap.from_list(
        "shap_red_transparent_blue",
        [(0.0, (*blue, 1.0)), (0.5, (*blue, 0.0)), (0.5, (*red, 0.0)), (1.0, (*red, 1.0))])


SHAP_CMAP = _shap_colormap()


@dataclass
class LimeView:
    """How to show LIME segments, as ``get_image_and_mask`` offers in the seeds."""

    mode: str = "positive_negative"  # positive | positive_negative | hide_rest
    num_features: int = 10
    boundaries: bool = True


def grey_backdrop(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0


def symmetric_limit(maps: np.ndarray, percentile: float = 99.9) -> float:
    """A colour scale centred on zero, robust to a few extreme pixels (as shap.image_plot)."""
    limit = float(np.nanpercentile(np.abs(maps), percentile)) if maps.size else 0.0
    return limit if limit > 0 else 1e-12


def class_title(explanation: Explanation, k: int) -> str:
    return f"{explanation.class_names[k]} (p = {explanation.probabilities[k]:.3f})"


def draw_shap(ax, explanation: Explanation, k: int, limit: float | None = None):
    """Red pushes towards the class, blue away, over a faded grey copy of the image."""
    attribution = explanation.maps[k]
    limit = limit or symmetric_limit(attribution)
    ax.imshow(grey_backdrop(explanation.image), cmap="gray", alpha=0.3, vmin=0, vmax=1)
    artist = ax.imshow(attribution, cmap=SHAP_CMAP, vmin=-limit, vmax=limit)
    ax.set_axis_off()
    return artist


def lime_selection(weights: np.ndarray, view: LimeView) -> tuple[np.ndarray, np.ndarray]:
    """Segment ids shown as positive and as negative, as lime's get_image_and_mask picks them."""
    order = np.argsort(-np.abs(weights))
    order = order[weights[order] != 0][: view.num_features]
    positive = order[weights[order] > 0]
    negative = order[weights[order] < 0] if view.mode == "positive_negative" else order[:0]
    return positive, negative


def lime_image(explanation: Explanation, k: int, view: LimeView) -> np.ndarray:
    """RGB float image: chosen segments tinted green (for) / red (against), boundaries marked."""
    from skimage.segmentation import mark_boundaries

    segments = explanation.extras["segments"]
    weights = explanation.extras["segment_weights"][k]
    positive, negative = lime_selection(weights, view)
    base = explanation.image.astype(np.float32) / 255.0
    shown = np.isin(segments, np.concatenate([positive, negative]))
    if view.mode == "hide_rest":
        picture = np.where(shown[..., None], base, 0.0)
    else:
        picture = base * 0.55 + grey_backdrop(explanation.image)[..., None] * 0.45
        for ids, colour in ((positive, (0.0, 0.9, 0.2)), (negative, (0.95, 0.1, 0.1))):
            mask = np.isin(segments, ids)[..., None]
            picture = np.where(mask, 0.5 * base + 0.5 * np.array(colour, np.float32), picture)
    if view.boundaries:
        picture = mark_boundaries(picture, segments, color=(1.0, 1.0, 0.0), mode="inner")
    return np.clip(picture, 0, 1)


def draw_lime(ax, explanation: Explanation, k: int, view: LimeView | None = None):
    view = view or LimeView()
    ax.imshow(lime_image(explanation, k, view))
    ax.set_axis_off()
    return None


BEST_MARK = "★ most faithful"


def class_scores(metrics: dict, class_index: int) -> dict:
    """``{method: engine.metrics.faithfulness result}`` -> ``{method: scores}`` for one class,
    scores being ``deletion``, ``insertion``, ``random_deletion``, ``random_insertion`` AUCs.
    Methods whose result does not cover the class are left out."""
    scores = {}
    for method, result in (metrics or {}).items():
        classes = list(result.get("classes", []))
        if class_index not in classes:
            continue
        k = classes.index(class_index)
        scores[method] = {name: float(result[f"{prefix}_auc"][k]) for name, prefix in
                          (("deletion", "deletion"), ("insertion", "insertion"),
                           ("random_deletion", "random_deletion"),
                           ("random_insertion", "random_insertion"))}
    return scores


def best_method(scores: dict) -> str | None:
    """The method whose map is most faithful: highest insertion AUC minus deletion AUC.
    None with fewer than two scored methods (nothing to compare)."""
    if len(scores) < 2:
        return None
    return max(scores, key=lambda m: scores[m]["insertion"] - scores[m]["deletion"])


def score_text(score: dict) -> str:
    return (f"deletion AUC {score['deletion']:.2f} (random {score['random_deletion']:.2f})\n"
            f"insertion AUC {score['insertion']:.2f} (random {score['random_insertion']:.2f})")


def _draw_score(ax, score: dict, best: bool, below_points: float) -> None:
    text = score_text(score) + (f"\n{BEST_MARK}" if best else "")
    ax.annotate(text, xy=(0.5, 0.0), xycoords="axes fraction", xytext=(0, -below_points),
                textcoords="offset points", ha="center", va="top", fontsize=8,
                color="darkgreen" if best else "0.2", fontweight="bold" if best else "normal",
                gid="faithfulness")


def draw_class(figure: Figure, explanations: list[Explanation], class_index: int,
               lime_view: LimeView | None = None, scores: dict | None = None) -> None:
    """One class, every method that has run side by side, each with its colour bar and title.

    ``scores`` (optional, ``class_scores``): faithfulness AUCs written under each method's
    panel beside the random baseline, the best method marked. Clears and fills ``figure``;
    the caller owns it (a Qt canvas or an off-screen PNG).
    """
    scores = scores or {}
    best = best_method(scores)
    figure.clear()
    figure.set_layout_engine("constrained")
    present = [e for e in explanations if class_index in e.classes]
    if not present:
        return
    first = present[0]
    k0 = first.index_of(class_index)
    header = class_title(first, k0)
    if first.untrained:
        header += "  — untrained model"
    figure.suptitle(header, fontsize=12, color="firebrick" if first.untrained else "black")
    axes = figure.subplots(1, len(present) + 1, squeeze=False)[0]
    axes[0].imshow(first.image)
    axes[0].set_title("input", fontsize=10)
    axes[0].set_axis_off()
    for ax, explanation in zip(axes[1:], present):
        k = explanation.index_of(class_index)
        ax.set_title(METHOD_TITLES.get(explanation.method, explanation.method), fontsize=10)
        score = scores.get(explanation.method)
        if explanation.method == "lime":
            draw_lime(ax, explanation, k, lime_view)
            _lime_legend(ax, lime_view or LimeView())
            if score is not None:
                _draw_score(ax, score, explanation.method == best, 16)
        else:
            if explanation.method == "gradcam":
                artist = draw_heatmap(ax, explanation, k)
            else:
                # Pixel-level gradients are speckled: clip the scale at the 99th percentile.
                limit = symmetric_limit(explanation.maps[k], 99.0) if explanation.method == "ig" else None
                artist = draw_shap(ax, explanation, k, limit)
            label = COLORBAR_LABELS.get(explanation.method, f"{explanation.method} value")
            colorbar = figure.colorbar(artist, ax=ax, orientation="horizontal", fraction=0.05,
                                       pad=0.04, label=label)
            colorbar.ax.xaxis.set_major_locator(
                MaxNLocator(nbins=4, symmetric=explanation.method != "gradcam"))
            colorbar.formatter.set_powerlimits((-2, 3))
            colorbar.ax.tick_params(labelsize=7)
            if score is not None:
                _draw_score(colorbar.ax, score, explanation.method == best, 36)


def draw_heatmap(ax, explanation: Explanation, k: int):
    """Non-negative maps (Grad-CAM): a sequential heat map over the image."""
    attribution = explanation.maps[k]
    top = float(np.nanpercentile(attribution, 99.9)) if attribution.size else 0.0
    ax.imshow(explanation.image)
    artist = ax.imshow(attribution, cmap="inferno", alpha=0.55, vmin=0, vmax=top if top > 0 else 1e-12)
    ax.set_axis_off()
    return artist


def _lime_legend(ax, view: LimeView) -> None:
    text = {"positive": "green: for the class",
            "positive_negative": "green: for  ·  red: against",
            "hide_rest": f"top {view.num_features} segments only"}[view.mode]
    ax.text(0.5, -0.06, text, transform=ax.transAxes, ha="center", va="top", fontsize=8)


def draw_message(figure: Figure, message: str) -> None:
    figure.clear()
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="0.4", wrap=True)


def new_figure(width_in: float = 9.0, height_in: float = 4.0, dpi: int = 100) -> Figure:
    """An off-screen figure for export (no pyplot, no GUI backend)."""
    return Figure(figsize=(width_in, height_in), dpi=dpi)


def save_class_png(path, explanations: list[Explanation], class_index: int,
                   lime_view: LimeView | None = None, dpi: int = 120) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = new_figure(4.2 * (1 + len(explanations)) , 4.6)
    FigureCanvasAgg(figure)
    draw_class(figure, explanations, class_index, lime_view)
    figure.savefig(path, dpi=dpi)


TRUE_COLOUR, PREDICTED_COLOUR = "#2ca02c", "#ff7f0e"


def draw_grid(figure: Figure, images: np.ndarray, maps: np.ndarray, class_names: list[str],
              row_labels: list[str], true_classes, predicted_classes,
              value_label: str = "SHAP value") -> None:
    """Images × classes, as ``shap.image_plot``: the image, then one attribution per class.

    ``images`` (N, H, W, 3) uint8, ``maps`` (N, C, H, W), ``class_names`` (C),
    ``row_labels`` (N), ``true_classes`` (N column indices, -1 or None for unknown, or None
    for all) and ``predicted_classes`` (N column indices, -1 where the prediction is not
    among the columns). All cells share ONE symmetric colour scale and one colour bar, so
    cells compare with each other. The true class's cell gets a green frame, the predicted
    class's an orange one (both: green outside, orange inside).
    """
    from matplotlib.patches import Rectangle

    images = np.asarray(images)
    maps = np.asarray(maps, np.float32)
    n, c = maps.shape[:2]
    if len(images) != n or len(class_names) != c or len(row_labels) != n:
        raise ValueError(f"grid needs matching sizes: {len(images)} images, maps {maps.shape}, "
                         f"{len(class_names)} class names, {len(row_labels)} row labels")
    true_classes = [None] * n if true_classes is None else list(true_classes)
    predicted_classes = list(predicted_classes)
    figure.clear()
    figure.set_layout_engine("constrained")
    axes = figure.subplots(n, c + 1, squeeze=False)
    limit = symmetric_limit(maps)
    artist = None
    for row in range(n):
        axes[row, 0].imshow(images[row])
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(row_labels[row], fontsize=8)
        for col in range(c):
            ax = axes[row, col + 1]
            ax.imshow(grey_backdrop(images[row]), cmap="gray", alpha=0.3, vmin=0, vmax=1)
            artist = ax.imshow(maps[row, col], cmap=SHAP_CMAP, vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if row == 0:
                ax.set_title(class_names[col], fontsize=9)
            is_true = true_classes[row] is not None and int(true_classes[row]) == col
            is_predicted = predicted_classes[row] is not None and int(predicted_classes[row]) == col
            if is_true:
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_edgecolor(TRUE_COLOUR)
                    spine.set_linewidth(3)
            if is_predicted:
                inset = 0.035 if is_true else 0.0
                ax.add_patch(Rectangle((inset, inset), 1 - 2 * inset, 1 - 2 * inset, transform=ax.transAxes,
                                       fill=False, edgecolor=PREDICTED_COLOUR, linewidth=2.5,
                                       linestyle="-" if not is_true else "--", gid="predicted"))
    axes[0, 0].set_title("image", fontsize=9)
    colorbar = figure.colorbar(artist, ax=axes[:, 1:].ravel().tolist() if c else axes.ravel().tolist(),
                               orientation="horizontal", fraction=0.04 if n > 1 else 0.08, pad=0.02,
                               aspect=40, label=f"{value_label} (red: for the class, blue: against)")
    colorbar.ax.xaxis.set_major_locator(MaxNLocator(nbins=5, symmetric=True))
    colorbar.ax.xaxis.set_major_formatter(FormatStrFormatter("%.2g"))  # no offset text to collide
    colorbar.ax.tick_params(labelsize=7)
    figure.suptitle("green frame: true class   ·   orange frame: predicted class", fontsize=8, color="0.3")


def save_grid(path, images, maps, class_names, row_labels, true_classes, predicted_classes,
              dpi: int = 120, format: str | None = None, value_label: str = "SHAP value") -> None:
    """PNG, PDF or SVG (``format``, else the file's suffix); each cell about 1.8 inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    n, c = np.asarray(maps).shape[:2]
    figure = new_figure(1.8 * (c + 1) + 0.6, 1.8 * n + 1.0)
    FigureCanvasAgg(figure)
    draw_grid(figure, images, maps, class_names, row_labels, true_classes, predicted_classes, value_label)
    figure.savefig(path, dpi=dpi, format=format or _format_of(path))


def draw_confusion_matrix(figure: Figure, result, max_labels: int = 30) -> None:
    """Counts in the cells, colour by share of the true class (row-normalised), labels on
    both axes. Models with many classes show only the classes that occur (true or predicted)."""
    figure.clear()
    figure.set_layout_engine("constrained")
    matrix = np.asarray(result.confusion_matrix)
    labels = list(result.labels)
    shown = np.arange(len(labels))
    if len(labels) > max_labels:
        shown = np.flatnonzero(matrix.sum(axis=0) + matrix.sum(axis=1))
    matrix = matrix[np.ix_(shown, shown)]
    names = [labels[i] for i in shown]
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, np.float64), where=totals > 0)
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    size = len(names)
    if size <= 40:
        fontsize = 9 if size <= 10 else 7 if size <= 20 else 5
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=fontsize,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(size), names, rotation=45 if size > 4 else 0, ha="right" if size > 4 else "center",
                  fontsize=8)
    ax.set_yticks(range(size), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"accuracy {result.accuracy:.1%}  (n = {int(np.asarray(result.confusion_matrix).sum())})",
                 fontsize=11)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")


def save_confusion_matrix(path, result, dpi: int = 120, format: str | None = None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    size = min(len(result.labels), 30)
    figure = new_figure(max(5.0, 0.45 * size + 3.0), max(4.2, 0.45 * size + 2.2))
    FigureCanvasAgg(figure)
    draw_confusion_matrix(figure, result)
    figure.savefig(path, dpi=dpi, format=format or _format_of(path))


def _format_of(path) -> str:
    from pathlib import Path

    suffix = Path(str(path)).suffix.lower().lstrip(".") if isinstance(path, (str, Path)) else ""
    return suffix if suffix in ("png", "pdf", "svg") else "png"


# Titles for methods added after the first two (draw_class looks them up at draw time).
METHOD_TITLES.setdefault("shap-gradient", "SHAP (background set)")
