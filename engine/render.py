"""Draws explanations onto a given matplotlib ``Figure`` (never pyplot).

The window's canvases and the command line's PNG export both call these functions, so what
a user sees on screen is exactly what they export.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.table import Table
from matplotlib.ticker import FormatStrFormatter, MaxNLocator

import engine.class_layout as class_layout_module
import engine.compare_layout as compare_layout_module
from engine.fonts import use_fallback_fonts
from engine.jobs import Explanation

use_fallback_fonts()

METHOD_TITLES = {"shap": "SHAP (Partition)", "lime": "LIME", "gradcam": "Grad-CAM",
                 "ig": "Integrated Gradients"}
# One colour language for every signed map: red = for the class, blue = against (the same
# two colours in SHAP, IG, LIME and Compare); colour bars say so, with the unit.
COLORBAR_LABELS = {"shap": "SHAP value (Δ probability)\nagainst ← → for",
                   "shap-gradient": "SHAP value (Δ probability)\nagainst ← → for",
                   "gradcam": "Grad-CAM activation\n0 = none (unitless)",
                   "ig": "IG attribution (Δ logit)\nagainst ← → for"}
LIME_VIEWS = ("positive", "positive_negative", "hide_rest")


AGAINST_BLUE, FOR_RED = (0.118, 0.533, 0.898), (1.0, 0.051, 0.341)  # shap's own two colours


def _shap_colormap() -> LinearSegmentedColormap:
    # shap's red_transparent_blue: blue (away from the class) -> transparent -> red (towards).
    blue, red = AGAINST_BLUE, FOR_RED
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
    """RGB float image: chosen segments tinted red (for) / blue (against), as the signed maps
    are, boundaries marked."""
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
        for ids, colour in ((positive, FOR_RED), (negative, AGAINST_BLUE)):
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
# A result kept from an earlier request whose settings differ from the latest one (the
# window keeps finished methods while others are recomputed): its title says so, greyed.
EARLIER_MARK, EARLIER_COLOUR = "earlier settings", "0.5"


CURVE_NAMES = ("morf", "lerf", "random_morf", "random_lerf")
# Short lines: a text wider than its panel's column makes the layout shrink every map to fit it.
FAITHFULNESS_NOTE = ("SRG = AUC(LeRF) − AUC(MoRF),\n"
                     "−1…1: class drop, top cells\n"
                     "blurred first vs. last; it\n"
                     "must beat the random band")
NOT_RANDOM_BETTER = "not better than random"


def _for_class(results: dict, class_index: int):
    """``(method, result, k)`` for each per-method result (faithfulness, stability) that
    covers ``class_index``, ``k`` being the class's row in it."""
    for method, result in (results or {}).items():
        classes = list(result.get("classes", []))
        if class_index in classes:
            yield method, result, classes.index(class_index)


def class_scores(metrics: dict, class_index: int) -> dict:
    """``{method: engine.metrics.faithfulness result}`` -> ``{method: scores}`` for one class,
    scores being ``srg``, ``morf``, ``lerf`` (AUCs), ``random_mean``, ``random_sd`` and
    ``better`` (above the band). Methods whose result does not cover the class are left out."""
    return {method: {"srg": float(result["srg"][k]), "morf": float(result["morf_auc"][k]),
                     "lerf": float(result["lerf_auc"][k]),
                     "random_mean": float(result["random_srg_mean"][k]),
                     "random_sd": float(result["random_srg_sd"][k]),
                     "better": bool(result["better_than_random"][k])}
            for method, result, k in _for_class(metrics, class_index)}


def class_curves(metrics: dict, class_index: int) -> dict:
    """``{method: engine.metrics.faithfulness result}`` -> ``{method: curves}`` for one class,
    curves being ``fractions`` (S + 1,) and p(class)/p₀ along ``morf``, ``lerf`` and the
    random orders' mean ``random_morf``, ``random_lerf`` (S + 1,) each. Methods whose result
    does not cover the class, or carries no curves (a JSON summary), are left out."""
    curves = {}
    for method, result, k in _for_class(metrics, class_index):
        if "fractions" not in result or not all(f"{name}_curves" in result for name in CURVE_NAMES):
            continue
        picked = {"fractions": np.asarray(result["fractions"], np.float64)}
        picked.update({name: np.asarray(result[f"{name}_curves"][k], np.float64) for name in CURVE_NAMES})
        curves[method] = picked
    return curves


def best_method(scores: dict) -> str | None:
    """The most faithful method: the highest SRG among those above the random band. None
    with fewer than two scored methods (nothing to compare) or none above the band."""
    if len(scores) < 2:
        return None
    above = [m for m in scores if scores[m]["better"]]
    return max(above, key=lambda m: scores[m]["srg"]) if above else None


def band_text(score: dict) -> str:
    return f"random {score['random_mean']:.2f} ± {score['random_sd']:.2f}"


def score_text(score: dict) -> str:
    verdict = "" if score["better"] else f"\n{NOT_RANDOM_BETTER}"
    # Three short lines, not two long ones: see FAITHFULNESS_NOTE.
    return (f"SRG {score['srg']:.2f}\n({band_text(score)})\n"
            f"MoRF {score['morf']:.2f} · LeRF {score['lerf']:.2f}{verdict}")


def _draw_score(ax, score: dict, best: bool, at, side: bool, fontsize: float = 8) -> None:
    """``at``: ((x, y) in the panel's fractions, points below it): under the colour bar, or
    (``side``) beside the map's top."""
    text = score_text(score) + (f"\n{BEST_MARK}" if best else "")
    colour = "darkgreen" if best else "0.2" if score["better"] else "firebrick"
    xy, below = at
    ax.annotate(text, xy=xy, xycoords="axes fraction", xytext=(0, -below),
                textcoords="offset points", ha="left" if side else "center", va="top", fontsize=fontsize,
                color=colour, fontweight="bold" if best else "normal", gid="faithfulness")


def _draw_note(ax, at, side: bool) -> None:
    """What the score means, once per figure, by the input image."""
    xy, below = at
    ax.annotate(FAITHFULNESS_NOTE, xy=xy if side else (0.0, 0.0), xycoords="axes fraction",
                xytext=(0, -below), textcoords="offset points", ha="left", va="top", fontsize=6.5,
                color="0.35", gid="faithfulness-note")


# Faithfulness curves: p(class)/p₀ as cells are blurred most relevant first (MoRF: a
# faithful map makes it fall fast) and least relevant first (LeRF: it stays up), beside the
# random orders' mean. Curves keep clear of red and blue, which mean "for" and "against" in
# the maps beside them.
MORF_COLOUR, LERF_COLOUR = "#a6611a", "#4d9221"  # brown, green
RANDOM_STYLE = {"color": "0.55", "linestyle": (0, (3, 2)), "linewidth": 1.0}
METHOD_COLOURS = {"shap": "#e6ab02", "shap-gradient": "#a6761d", "lime": "#66a61e",
                  "ig": "#7570b3", "gradcam": "#d95f02"}  # ColorBrewer Dark2: no red, no blue


def curve_limit(curves: dict) -> float:
    """The top of one probability axis for every small plot of a figure, so they compare."""
    top = max((float(np.nanmax(c[name])) for c in curves.values() for name in CURVE_NAMES), default=0.0)
    return top * 1.08 if top > 0 else 1.0


def _style_curve_axes(ax, top: float) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, top)
    ax.set_xticks([0.0, 0.5, 1.0], ["0", "50%", "100%"])
    # The end labels inside the plot's width, never over a neighbouring plot's.
    labels = ax.get_xticklabels()
    labels[0].set_horizontalalignment("left")
    labels[-1].set_horizontalalignment("right")
    ax.yaxis.set_major_locator(MaxNLocator(nbins=2))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:.2g}"))
    ax.tick_params(labelsize=6, length=2, pad=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_method_curves(ax, curve: dict, top: float) -> None:
    """One method's MoRF and LeRF curves (solid) over the random orders' mean (dashed)."""
    x = curve["fractions"]
    _style_curve_axes(ax, top)
    for name in ("morf", "lerf"):
        ax.plot(x, curve[f"random_{name}"], gid=f"random:{name}", **RANDOM_STYLE)
    for name, colour in (("morf", MORF_COLOUR), ("lerf", LERF_COLOUR)):
        ax.fill_between(x, curve[name], color=colour, alpha=0.08, linewidth=0)
        ax.plot(x, curve[name], color=colour, linewidth=1.4, gid=f"method:{name}")


def _curve_key(ax) -> None:
    """The small plots' one key, in the input column's free space under the image."""
    from matplotlib.lines import Line2D

    ax.set_axis_off()
    handles = [Line2D([], [], color=MORF_COLOUR, linewidth=1.4, label="MoRF ↓"),
               Line2D([], [], color=LERF_COLOUR, linewidth=1.4, label="LeRF ↑"),
               Line2D([], [], label="random orders", **RANDOM_STYLE)]
    legend = ax.legend(handles=handles, loc="center", fontsize=7, frameon=False, handlelength=2.2,
                       title="p(class) / p₀ vs. share\nof cells blurred",
                       title_fontsize=7, borderaxespad=0.0)
    legend.set_gid("curve-key")


def class_stability(stability: dict, class_index: int) -> dict:
    """``{method: engine.stability.rerun_stability result}`` -> ``{method: {"spread": (H, W),
    "score": float, "runs": int}}`` for one class; methods not covering it are left out."""
    return {method: {"spread": np.asarray(result["spread"][k]), "score": float(result["score"][k]),
                     "runs": int(result["runs"])}
            for method, result, k in _for_class(stability, class_index)}


def method_title(method: str) -> str:
    return METHOD_TITLES.get(method, method)


SHORT_TITLES = {"shap": "SHAP", "lime": "LIME", "ig": "IG", "gradcam": "Grad-CAM",
                "shap-gradient": "SHAP (background)"}  # for table cells


def input_title(image: np.ndarray) -> str:
    """The first panel shows what the model saw: the image squashed to its input size (short: it shares the row with the method titles)."""
    height, width = np.asarray(image).shape[:2]
    return f"input {width}×{height}"


def hide_axis_ticks(figure: Figure) -> None:
    """Axes drawn with ``set_axis_off()`` still have their ticks laid out on every draw
    (constrained layout asks for them); hiding those axis objects changes no pixel and cuts
    the render time by about 40 %, on screen and in exported files alike."""
    for ax in [*figure.axes, *(child for ax in figure.axes for child in ax.child_axes)]:
        if not ax.axison:
            ax.xaxis.set_visible(False)
            ax.yaxis.set_visible(False)


# Compare's rows: maps, then a thin row for the shared colour bar.
IMAGE_ROW, BAR_ROW = 1.0, 0.05
# Under a per-class panel, at the panel's width less a margin (so the end ticks' labels stay
# over their own bar, never over the next one or off the figure's edge).
BAR_INSET = 0.06
TITLE_CHAR_POINTS = 5.5  # a 10 pt title's mean character width, to tell when it would not fit


def _points(ax, points: float) -> float:
    """``points`` as a fraction of ``ax``'s height (its maps are square: of its width too)."""
    figure = ax.get_figure(root=True)
    return points * figure.dpi / 72.0 / max(ax.get_position().height * figure.bbox.height, 1.0)


def _under_map(ax, top_points: float, height_points: float, side: bool = False):
    """A child axes of panel ``ax`` at a fixed offset in points: under the map at its width,
    or (``side``) in the column beside it, starting ``top_points`` below the map's top."""
    top, height = _points(ax, top_points), _points(ax, height_points)
    if side:
        gap, width = _points(ax, class_layout_module.SIDE_GAP), _points(ax, class_layout_module.SIDE_WIDTH)
        return ax.inset_axes((1.0 + gap, 1.0 - top - height, width, height))
    return ax.inset_axes((0.0, -top - height, 1.0, height))


def class_columns(explanations: list[Explanation], class_index: int, stability: dict | None = None) -> int:
    """How many panels ``draw_class`` puts in its row (sizes exported figures);
    ``stability`` as ``class_stability`` gives it."""
    present = [e for e in explanations if class_index in e.classes]
    return 1 + len(present) + sum(e.method in (stability or {}) for e in present)


def _colorbar(figure: Figure, artist, cax, label: str, symmetric: bool):
    from matplotlib.ticker import FuncFormatter

    # Very small or large values: the power of ten goes into the label, not into an offset
    # text that a narrow bar would draw over its own label.
    top = max(abs(float(artist.norm.vmin or 0.0)), abs(float(artist.norm.vmax or 0.0)))
    power = int(np.floor(np.log10(top))) if top > 0 else 0
    if not -2 <= power <= 3:  # the scale goes on the first line, the meaning stays below it
        first, _, rest = label.partition("\n")
        label = f"{first} (×1e{power})" + (f"\n{rest}" if rest else "")
        formatter = FuncFormatter(lambda value, _pos, scale=10.0 ** power: f"{value / scale:.3g}")
    else:
        formatter = FuncFormatter(lambda value, _pos: f"{value:.3g}")
    colorbar = figure.colorbar(artist, cax=cax, orientation="horizontal", label=label)
    colorbar.ax.xaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=symmetric))
    colorbar.ax.xaxis.set_major_formatter(formatter)
    colorbar.ax.tick_params(labelsize=7)
    colorbar.ax.xaxis.label.set_fontsize(8)
    return colorbar


def draw_class(figure: Figure, explanations: list[Explanation], class_index: int,
               lime_view: LimeView | None = None, scores: dict | None = None,
               stability: dict | None = None, curves: dict | None = None,
               earlier: Collection[str] = ()) -> None:
    """One class, every method that has run side by side, each with its colour bar and title.

    Image panels share one row and one size; colour bars (and LIME's legend) share the row
    beneath. ``scores`` (optional, ``class_scores``): SRG and its random band written under
    each method's panel (flagged when not above the band), the best method marked, and one
    line on what the score means under the input. ``stability``
    (optional, ``class_stability``): the method's stability score in its title and a spread
    panel beside it. ``curves`` (optional, ``class_curves``): under each scored panel, a
    small plot of its MoRF and LeRF curves over the random orders' mean, all on one
    probability axis, with one key under the input image. ``earlier``: methods whose result
    was made with settings other than the latest ones; their titles say so, in grey. Clears
    and fills ``figure``; the caller owns it (a Qt canvas or an off-screen PNG).
    """
    from engine.class_layout import BAR_GAP, BAR_HEIGHT, SCORE_TEXT, UNDER_BAR, class_layout

    scores = scores or {}
    stability = stability or {}
    curves = {m: c for m, c in (curves or {}).items() if m in scores}
    best = best_method(scores)
    figure.clear()
    figure.set_layout_engine("none")  # placed by class_layout, from the figure's size
    present = [e for e in explanations if class_index in e.classes]
    if not present:
        return
    first = present[0]
    k0 = first.index_of(class_index)
    header = class_title(first, k0)
    if first.untrained:
        header += "  — untrained model"
    figure.suptitle(header, fontsize=12, color="firebrick" if first.untrained else "black",
                    y=1.0 - 4.0 / 72.0 / figure.get_size_inches()[1], va="top")
    # Columns: the input, then each method (and its spread panel when re-run).
    kinds = [("input", None)]
    for explanation in present:
        kinds.append(("method", explanation))
        if explanation.method in stability:
            kinds.append(("spread", explanation))
    sided = [bool(scores) if kind == "input" else kind == "method" and e.method in scores for kind, e in kinds]
    width_pt, height_pt = (v * 72.0 for v in figure.get_size_inches())
    earlier = {e.method for e in present if e.method in set(earlier)}
    title_lines = 1 + bool(stability or earlier)
    layout = class_layout(width_pt, height_pt, len(kinds), sided, title_lines, bool(scores), bool(curves))
    # Narrow columns: titles in a smaller font, or the longest would run into the next one.
    second_line = len(EARLIER_MARK) + (len("stability 0.00 · ") if stability else 0) if earlier else 0
    widest = max(second_line, *(len(method_title(e.method)) for e in present)) * TITLE_CHAR_POINTS
    title_size = 10 if widest <= layout.pitch + class_layout_module.GAP else 8
    # The same for the text under the maps (score lines, colour bar labels).
    under_size = 8 if layout.side or layout.pitch >= class_layout_module.UNDER_WIDTH else 7
    if not layout.curves:
        curves = {}
    top = curve_limit(curves)
    panels = [figure.add_axes(rect) for rect in layout.maps]
    # Each colour bar hangs under its panel, a little narrower than the panel.
    bars = []
    for ax in panels:
        gap, height = _points(ax, BAR_GAP), _points(ax, BAR_HEIGHT)
        bars.append(ax.inset_axes((BAR_INSET, -gap - height, 1.0 - 2 * BAR_INSET, height)))
    # Scores and curves: under the bar, or in the column beside the map.
    score_at = ((1.0 + _points(panels[0], class_layout_module.SIDE_GAP), 1.0), 0.0) if layout.side \
        else ((0.5, 0.0), UNDER_BAR)
    curve_top = SCORE_TEXT + 4.0 if layout.side else UNDER_BAR + SCORE_TEXT + 4.0
    panels[0].imshow(first.image)
    panels[0].set_title(input_title(first.image), fontsize=10)
    panels[0].set_axis_off()
    bars[0].set_axis_off()
    for (kind, explanation), ax, cax in zip(kinds[1:], panels[1:], bars[1:]):
        spread = stability.get(explanation.method)
        if kind == "spread":
            _draw_spread(figure, ax, cax, explanation, spread)
            continue
        k = explanation.index_of(class_index)
        second = ([f"stability {spread['score']:.2f}"] if spread is not None else []) + \
            ([EARLIER_MARK] if explanation.method in earlier else [])
        title = "\n".join([method_title(explanation.method), " · ".join(second)]) if second \
            else method_title(explanation.method)
        _mark_earlier(ax.set_title(title, fontsize=title_size), explanation.method, earlier)
        score = scores.get(explanation.method)
        if explanation.method == "lime":
            draw_lime(ax, explanation, k, lime_view)
            cax.set_axis_off()
            _lime_legend(cax, lime_view or LimeView())
        else:
            if explanation.method == "gradcam":
                artist = draw_heatmap(ax, explanation, k)
            else:
                # Pixel-level gradients are speckled: clip the scale at the 99th percentile.
                limit = symmetric_limit(explanation.maps[k], 99.0) if explanation.method == "ig" else None
                artist = draw_shap(ax, explanation, k, limit)
            label = COLORBAR_LABELS.get(explanation.method, f"{explanation.method} value")
            colorbar = _colorbar(figure, artist, cax, label, symmetric=explanation.method != "gradcam")
            colorbar.ax.xaxis.label.set_fontsize(under_size)
        if score is not None:
            _draw_score(ax, score, explanation.method == best, score_at, layout.side, under_size)
        if explanation.method in curves:
            plot = _under_map(ax, curve_top, class_layout_module.CURVE_HEIGHT, layout.side)
            plot.set_gid(f"curves:{explanation.method}")
            _draw_method_curves(plot, curves[explanation.method], top)
    if scores:
        _draw_note(panels[0], score_at, layout.side)
    if curves:
        key = _under_map(panels[0], curve_top, class_layout_module.CURVE_HEIGHT, layout.side)
        _curve_key(key)
    hide_axis_ticks(figure)


def _mark_earlier(title, method: str, earlier: Collection[str]) -> None:
    """Grey the title of a result made with earlier settings; its gid names the method, so a
    window can find the panel (to say what differs on hover)."""
    if method in earlier:
        title.set_color(EARLIER_COLOUR)
        title.set_gid(f"earlier-settings:{method}")


def _draw_spread(figure: Figure, ax, cax, explanation: Explanation, spread: dict) -> None:
    """Where repeated runs disagree: the per-pixel standard deviation over the image."""
    values = spread["spread"]
    top = float(np.nanpercentile(values, 99.9)) if values.size else 0.0
    ax.imshow(grey_backdrop(explanation.image), cmap="gray", vmin=0, vmax=1)
    artist = ax.imshow(values, cmap="viridis", alpha=0.75, vmin=0, vmax=top if top > 0 else 1e-12)
    ax.set_title(f"{method_title(explanation.method)} spread\n({spread['runs']} runs)", fontsize=10)
    ax.set_axis_off()
    ax.set_gid("spread")
    _colorbar(figure, artist, cax, "std. dev. across runs", symmetric=False)


def draw_heatmap(ax, explanation: Explanation, k: int):
    """Non-negative maps (Grad-CAM): a sequential heat map over the image."""
    attribution = explanation.maps[k]
    top = float(np.nanpercentile(attribution, 99.9)) if attribution.size else 0.0
    ax.imshow(explanation.image)
    artist = ax.imshow(attribution, cmap="inferno", alpha=0.55, vmin=0, vmax=top if top > 0 else 1e-12)
    ax.set_axis_off()
    return artist


def _lime_legend(ax, view: LimeView) -> None:
    text = {"positive": "red: for the class",
            "positive_negative": "red: for  ·  blue: against",
            "hide_rest": f"top {view.num_features} segments only"}[view.mode]
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8)


# ---------------------------------------------------------------------------------------------
# Comparison: every method for one class on one colour scale, with agreement and scores
# ---------------------------------------------------------------------------------------------

TOP_FRACTION = 0.1  # "top 10 %" regions for the overlap column
COMPARE_LABEL = "attribution, each map ÷ its 99th-percentile |value|  (red: for the class · blue: against)"


def comparable_map(explanation: Explanation, k: int) -> np.ndarray:
    """The map scaled into [-1, 1] by its own robust size, so methods with different units
    (probabilities, logits, LIME weights, Grad-CAM activations) share one colour scale.
    LIME's is its segment-weight map (each pixel its segment's weight)."""
    attribution = np.asarray(explanation.maps[k], np.float32)
    return np.clip(attribution / symmetric_limit(attribution, 99.0), -1.0, 1.0)


def agreement(explanations: list[Explanation], class_index: int,
              fraction: float = TOP_FRACTION) -> list[tuple[str, str, float, float]]:
    """``(method_a, method_b, rank correlation, top-``fraction`` overlap)`` for every pair of
    methods that explain ``class_index``, in the order they are given."""
    from itertools import combinations

    from engine.metrics import rank_correlation, top_overlap

    present = [e for e in explanations if class_index in e.classes]
    rows = []
    for a, b in combinations(present, 2):
        map_a, map_b = a.maps[a.index_of(class_index)], b.maps[b.index_of(class_index)]
        rows.append((a.method, b.method, rank_correlation(map_a, map_b),
                     top_overlap(map_a, map_b, fraction)))
    return rows


def draw_comparison(figure: Figure, explanations: list[Explanation], class_index: int,
                    metrics: dict | None = None, stability: dict | None = None,
                    earlier: Collection[str] = ()) -> None:
    """Every method that has run for ``class_index`` side by side on ONE colour scale, with
    a table of pairwise agreement (rank correlation, top-10 % overlap) and, where scored, a
    table of faithfulness (SRG beside the random band, MoRF / LeRF AUCs) with the most
    faithful method above the band marked; with the results' curves, a small MoRF | LeRF pair
    of plots beside the table, one line per scored method over the random order's.

    ``metrics``: ``{method: engine.metrics.faithfulness result}`` (as exported);
    ``stability``: ``{method: engine.stability.rerun_stability result}`` adds a column;
    ``earlier``: methods made with earlier settings, titled so in grey (as ``draw_class``).
    """
    from matplotlib.colors import Normalize

    figure.clear()
    figure.set_layout_engine("constrained")
    present = [e for e in explanations if class_index in e.classes]
    if not present:
        return
    scores = class_scores(metrics or {}, class_index)
    steadiness = class_stability(stability or {}, class_index)
    best = best_method(scores)
    first = present[0]
    header = "Compare methods: " + class_title(first, first.index_of(class_index))
    if first.untrained:
        header += "  — untrained model"
    figure.suptitle(header, fontsize=12, color="firebrick" if first.untrained else "black")
    from engine.compare_layout import compare_layout

    columns = 1 + len(present)
    curves = class_curves(metrics or {}, class_index)
    plotted = [e.method for e in present if e.method in curves and e.method in scores]
    width_pt, height_pt = (v * 72.0 for v in figure.get_size_inches())
    layout = compare_layout(width_pt, height_pt, len(present), bool(scores or steadiness), bool(plotted))
    if not layout.curves:
        plotted = []
    if layout.beside:  # a short figure: the tables to the right of the maps
        outer = figure.add_gridspec(1, 2, width_ratios=layout.width_ratios)
        grid = outer[0, 0].subgridspec(2, columns, height_ratios=[IMAGE_ROW, BAR_ROW])
        tables = outer[0, 1].subgridspec(2, 1, height_ratios=layout.heights)
        table_cells = (tables[0, 0], tables[1, 0])
    else:
        grid = figure.add_gridspec(3, columns, height_ratios=layout.heights)
        widths = [0.42, 0.58]  # agreement | faithfulness; a stability column widens the latter
        if plotted:
            widths = [0.34, 0.46, 0.2] if steadiness else [0.35, 0.39, 0.26]
        tables = grid[2, :].subgridspec(1, len(widths), width_ratios=widths)
        table_cells = (tables[0, 0], tables[0, 1])
    panels = [figure.add_subplot(grid[0, c], anchor="S") for c in range(columns)]
    panels[0].imshow(first.image)
    panels[0].set_title(input_title(first.image), fontsize=10)
    panels[0].set_axis_off()
    norm = Normalize(vmin=-1.0, vmax=1.0)  # one object: every panel is drawn on this scale
    artist = None
    for ax, explanation in zip(panels[1:], present):
        k = explanation.index_of(class_index)
        ax.imshow(grey_backdrop(explanation.image), cmap="gray", alpha=0.3, vmin=0, vmax=1)
        artist = ax.imshow(comparable_map(explanation, k), cmap=SHAP_CMAP, norm=norm)
        ax.set_gid(f"compare:{explanation.method}")
        is_best = explanation.method == best
        lines = [method_title(explanation.method)] + ([BEST_MARK] if is_best else []) + \
            ([EARLIER_MARK] if explanation.method in earlier else [])
        title = ax.set_title("\n".join(lines), fontsize=10, color="darkgreen" if is_best else "black",
                             fontweight="bold" if is_best else "normal")
        _mark_earlier(title, explanation.method, earlier)
        if is_best:
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor("darkgreen")
                spine.set_linewidth(2.5)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.set_axis_off()
    cax = figure.add_subplot(grid[1, 1:])
    # Beside the tables the bar is narrow: its label takes two lines.
    label = COMPARE_LABEL.replace("  (", "\n(") if layout.beside else COMPARE_LABEL
    colorbar = _colorbar(figure, artist, cax, label, symmetric=True)
    colorbar.ax.set_gid("shared-scale")
    figure.add_subplot(grid[1, 0]).set_axis_off()
    _agreement_table(figure.add_subplot(table_cells[0]), agreement(present, class_index))
    _faithfulness_table(figure.add_subplot(table_cells[1]), present, scores, best, steadiness)
    if plotted:
        _comparison_curves(figure, tables[0, 2], {m: curves[m] for m in plotted}, best)
    hide_axis_ticks(figure)


def _comparison_curves(figure: Figure, cell, curves: dict, best: str | None) -> None:
    """MoRF | LeRF: every scored method's curve in its colour (the best one thicker) over
    the random orders' mean, dashed; methods scored on one image share those orders."""
    from matplotlib.lines import Line2D

    # The key gets a row of its own under both plots: beside them it would take their width.
    pair = cell.subgridspec(2, 2, height_ratios=[1.0, 0.3])
    top = curve_limit(curves)
    reference = next(iter(curves.values()))
    plots = []
    for column, name in enumerate(("morf", "lerf")):
        ax = figure.add_subplot(pair[0, column])
        ax.set_gid(f"compare-curves:{name}")
        _style_curve_axes(ax, top)
        ax.set_title("MoRF ↓" if name == "morf" else "LeRF ↑", fontsize=8, pad=2)
        ax.plot(reference["fractions"], reference[f"random_{name}"], gid="random", **RANDOM_STYLE)
        for index, (method, curve) in enumerate(curves.items()):
            ax.plot(curve["fractions"], curve[name], gid=method, color=method_colour(method, index),
                    linewidth=2.6 if method == best else 1.2, zorder=3 if method == best else 2)
        plots.append(ax)
    plots[0].set_ylabel("p(class) / p₀", fontsize=6, labelpad=1)
    plots[1].tick_params(labelleft=False)  # the same axis as its neighbour's
    handles = [Line2D([], [], color=method_colour(m, i), linewidth=2.6 if m == best else 1.2,
                      label=_short(m)) for i, m in enumerate(curves)]
    handles.append(Line2D([], [], label="random orders", **RANDOM_STYLE))
    key = figure.add_subplot(pair[1, :])
    key.set_axis_off()
    legend = key.legend(handles=handles, loc="center", ncols=3, fontsize=6, frameon=False,
                        handlelength=1.6, columnspacing=1.0, borderaxespad=0.0, labelspacing=0.2)
    legend.set_gid("compare-curve-key")


def method_colour(method: str, index: int = 0) -> str:
    """A method's line colour in the Compare plots; methods without one take tab10's."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return METHOD_COLOURS.get(method) or to_hex(colormaps["tab10"](index % 10))


class _PointRowsTable(Table):
    """A table whose rows are a fixed height in points. Matplotlib's rows are fractions of
    the axes' height taken when the table is made, before the layout engine sizes the axes:
    a table in a short axes then drew its rows over each other."""

    ROW_POINTS = compare_layout_module.ROW

    def _update_positions(self, renderer):
        axes_height = max(self._axes.bbox.height, 1.0)
        height = self.ROW_POINTS * self.figure.dpi / 72.0 / axes_height
        for cell in self._cells.values():
            cell.set_height(height)
        super()._update_positions(renderer)


def _table(ax, title: str, header: list[str], rows: list[list[str]], gid: str,
           first_width: float = 0.3):
    ax.set_axis_off()
    ax.set_title(title, fontsize=9, loc="left")
    rest = (1.0 - first_width) / max(1, len(header) - 1)
    table = ax.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="center",
                     colWidths=[first_width] + [rest] * (len(header) - 1))
    table.__class__ = _PointRowsTable  # rows of fixed height, whatever the axes' final size
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.set_gid(gid)
    for (row, _), cell in table.get_celld().items():
        cell.set_edgecolor("0.8")
        if row == 0:
            cell.set_facecolor("0.93")
    return table


def _agreement_table(ax, rows: list[tuple[str, str, float, float]]) -> None:
    if not rows:
        ax.set_axis_off()
        ax.text(0.5, 0.6, "Agreement needs two methods: choose \"All methods (compare)\"",
                ha="center", va="center", fontsize=9, color="0.4", transform=ax.transAxes)
        return
    _table(ax, f"Agreement (top {TOP_FRACTION:.0%} overlap: intersection over union)",
           ["methods", "rank correlation", f"top {TOP_FRACTION:.0%} overlap"],
           [[f"{_short(a)} · {_short(b)}", f"{rho:.2f}", f"{overlap:.2f}"]
            for a, b, rho, overlap in rows], "agreement", first_width=0.4)


def _short(method: str) -> str:
    return SHORT_TITLES.get(method, method)


def _faithfulness_table(ax, present: list[Explanation], scores: dict, best: str | None,
                        steadiness: dict) -> None:
    if not scores and not steadiness:
        ax.set_axis_off()
        ax.text(0.5, 0.6, "Turn on \"Score faithfulness\" to see which map\nfollows the model best",
                ha="center", va="center", fontsize=9, color="0.4", transform=ax.transAxes)
        return
    header = ["method"]
    if scores:
        header += ["SRG ↑", "random band", "MoRF ↓ / LeRF ↑"]
    if steadiness:
        header += ["stability"]
    rows = []
    for explanation in present:
        method = explanation.method
        row = [_short(method) + (" ★" if method == best else "")]
        if scores:
            s = scores.get(method)
            row += ([f"{s['srg']:.2f}" + ("" if s["better"] else " ✗"),
                     f"{s['random_mean']:.2f} ± {s['random_sd']:.2f}", f"{s['morf']:.2f} / {s['lerf']:.2f}"]
                    if s is not None else ["–", "–", "–"])
        if steadiness:
            st = steadiness.get(method)
            row += [f"{st['score']:.2f} ({st['runs']} runs)" if st is not None else "–"]
        rows.append(row)
    title = "Faithfulness" + (f"  (★ {BEST_MARK[2:]})" if best else "") if scores else "Stability"
    table = _table(ax, title, header, rows, "faithfulness", first_width=0.16)
    if scores:
        ax.text(0.0, 0.0, FAITHFULNESS_NOTE + f"\n✗ {NOT_RANDOM_BETTER} (not above mean + 2 sd): never ★",
                transform=ax.transAxes, ha="left", va="top", fontsize=6.5, color="0.35",
                gid="faithfulness-note")
    if best is not None:
        row = 1 + [e.method for e in present].index(best)
        for (r, _), cell in table.get_celld().items():
            if r == row:
                cell.set_facecolor("#e3f3e3")
                cell.get_text().set_fontweight("bold")


def save_comparison_png(path, explanations: list[Explanation], class_index: int,
                        metrics: dict | None = None, stability: dict | None = None,
                        dpi: int = 120) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = new_figure(max(8.0, 3.2 * (1 + len(explanations))), 5.8)
    FigureCanvasAgg(figure)
    draw_comparison(figure, explanations, class_index, metrics, stability)
    figure.savefig(path, dpi=dpi)


def draw_message(figure: Figure, message: str) -> None:
    figure.clear()
    figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="0.4", wrap=True)


def new_figure(width_in: float = 9.0, height_in: float = 4.0, dpi: int = 100) -> Figure:
    """An off-screen figure for export (no pyplot, no GUI backend)."""
    return Figure(figsize=(width_in, height_in), dpi=dpi)


def save_class_png(path, explanations: list[Explanation], class_index: int,
                   lime_view: LimeView | None = None, dpi: int = 120, scores: dict | None = None,
                   stability: dict | None = None, curves: dict | None = None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    columns = class_columns(explanations, class_index, stability)
    plotted = any(m in (scores or {}) for m in (curves or {}))
    figure = new_figure(3.6 * columns + 0.6, 4.6 if not scores else 6.8 if plotted else 5.2)
    FigureCanvasAgg(figure)
    draw_class(figure, explanations, class_index, lime_view, scores, stability, curves)
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
    legend = grid_legend(true_classes, predicted_classes, c)
    if legend:
        figure.suptitle(legend, fontsize=8, color="0.3").set_gid("grid-legend")


def grid_legend(true_classes, predicted_classes, columns: int) -> str:
    """The key to the frames ``draw_grid`` draws: only those some cell has (a key to marks
    nowhere in the grid would send the reader looking for them)."""
    def marked(classes) -> bool:
        return any(c is not None and 0 <= int(c) < columns for c in classes or [])

    entries = [text for present, text in ((marked(true_classes), "green frame: true class"),
                                          (marked(predicted_classes), "orange frame: predicted class"))
               if present]
    return "   ·   ".join(entries)


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


# ---------------------------------------------------------------------------------------------
# Sanity check: the maps of the model randomised top-down, beside the original
# ---------------------------------------------------------------------------------------------


def sanity_rows(results: dict, class_index: int) -> dict:
    """``{method: engine.sanity.sanity_check result}`` -> ``{method: {"layers", "maps" (steps,
    H, W), "spearman", "ssim" (per step), "flagged"}}`` for one class."""
    return {method: {"layers": list(result["layers"]),
                     "maps": np.asarray(result["maps"])[:, k],
                     "spearman": [float(step[k]) for step in result["spearman"]],
                     "ssim": [float(step[k]) for step in result["ssim"]],
                     "flagged": bool(result["does_not_depend_on_model"][k])}
            for method, result, k in _for_class(results, class_index)}


def draw_sanity(figure: Figure, explanations: list[Explanation], results: dict, class_index: int) -> None:
    """One row per checked method: its map, then the map with the model randomised down to
    each step's layer (head first), each with Spearman ρ of |map| and SSIM against the first;
    a row whose map survives a fully random network says it does not depend on the model."""
    from engine.sanity import DOES_NOT_DEPEND, FLAG_TEXT

    figure.clear()
    figure.set_layout_engine("constrained")
    rows = sanity_rows(results, class_index)
    present = [e for e in explanations if e.method in rows and class_index in e.classes]
    if not present:
        return
    first = present[0]
    figure.suptitle("Sanity check (model randomised top-down): " + class_title(first, first.index_of(class_index)),
                    fontsize=11)
    columns = 1 + max(len(rows[e.method]["layers"]) for e in present)
    axes = figure.subplots(len(present), columns, squeeze=False)
    for r, explanation in enumerate(present):
        row = rows[explanation.method]
        original = np.abs(explanation.maps[explanation.index_of(class_index)])
        panels = [original] + [np.abs(m) for m in row["maps"]]
        for c, ax in enumerate(axes[r]):
            ax.set_axis_off()
            if c >= len(panels):
                continue
            top = float(np.percentile(panels[c], 99.5)) or 1.0
            ax.imshow(panels[c], cmap="magma", vmin=0, vmax=top)
            if c == 0:
                flag = f"\n{FLAG_TEXT}" if row["flagged"] else ""
                ax.set_title(f"{method_title(explanation.method)}\n|map|{flag}", fontsize=8,
                             color="firebrick" if row["flagged"] else "black")
            else:
                rho, ssim = row["spearman"][c - 1], row["ssim"][c - 1]
                ax.set_title(f"random to {row['layers'][c - 1]}\nρ {rho:.2f} · SSIM {ssim:.2f}", fontsize=7,
                             color="firebrick" if c == len(panels) - 1 and rho > DOES_NOT_DEPEND else "black",
                             gid="sanity-step")
    hide_axis_ticks(figure)


def save_sanity_png(path, explanations: list[Explanation], results: dict, class_index: int, dpi: int = 110) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    steps = max((len(r["layers"]) for r in results.values()), default=1)
    figure = new_figure(1.9 * (1 + steps) + 0.4, 0.6 + 2.1 * max(1, len(results)))
    FigureCanvasAgg(figure)
    draw_sanity(figure, explanations, results, class_index)
    figure.savefig(path, dpi=dpi)
