"""Where the per-class figure's panels go, worked out from the figure's own size.

Everything drawn round a map (title, colour bar, score text, curve plot) has a fixed size
in points, so the room left for the maps follows from the figure's size: the maps get all
of it. A wide figure puts the score text and curve plots beside each map rather than under
it, when that makes the maps larger; either way the panels are centred, so no wide empty
band is left above, below or beside them. Pure arithmetic: no matplotlib, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

EDGE = 6.0  # points kept free at the figure's edges
GAP = 12.0  # between neighbouring panels
SUPTITLE = 20.0  # the figure's title line (12 pt) and its padding
TITLE_LINE, TITLE_PAD = 12.5, 4.0  # a panel title line (10 pt) and the gap to the map
BAR_GAP, BAR_HEIGHT = 4.0, 7.0  # colour bar under the map
UNDER_BAR = 54.0  # the bar, its tick labels and its two-line label, under the map
SCORE_TEXT = 52.0  # five lines of 8 pt score text (SRG, band, AUCs, verdict, best mark)
CURVE_HEIGHT, CURVE_TICKS = 64.0, 14.0  # a curve plot and its tick labels
SIDE_WIDTH = 118.0  # a column of score text and curve plot beside a map
SIDE_GAP = 16.0  # room for the curve plot's tick labels, left of it
UNDER_WIDTH = 124.0  # the widest text under a map (a colour bar's label, the score lines)
MIN_CURVE_MAP = 72.0  # maps (points; 100 px on screen) below which curve plots are left out
CURVE_POINTS = CURVE_HEIGHT + CURVE_TICKS + 6.0


@dataclass(frozen=True)
class ClassLayout:
    """``maps``: one (x, y, width, height) per panel in figure fractions; ``side``: True when
    scores and curves sit beside the maps; ``curves``: whether curve plots fit; ``size``: the
    maps' side in points."""

    maps: list[tuple[float, float, float, float]]
    side: bool
    curves: bool
    size: float
    pitch: float = 0.0  # each column's width for its map and the text under it (points)


def _below(scored: bool, curves: bool) -> float:
    return UNDER_BAR + (SCORE_TEXT if scored else 0.0) + (CURVE_POINTS if curves else 0.0)


def _pitch(size: float, side: bool, free_w: float, columns: int) -> float:
    """A column's width for its map: under it, wide enough for the text under the map (as
    the figure's width allows); beside it, the map's (the side column holds the text)."""
    return size if side else max(size, min(UNDER_WIDTH, free_w / columns))


def class_layout(width_pt: float, height_pt: float, columns: int, sided: list[bool],
                 title_lines: int, scored: bool, curves: bool) -> ClassLayout:
    """``columns`` square maps in one row; ``sided[i]``: panel i has text beside it in the
    side arrangement (scored methods, and the input's note); ``title_lines``: the tallest
    panel title. Picks the arrangement (and whether curve plots fit) with the largest maps."""
    above = TITLE_PAD + TITLE_LINE * max(1, title_lines)
    free_w = width_pt - 2 * EDGE - (columns - 1) * GAP
    free_h = height_pt - SUPTITLE - EDGE - above
    options = []
    for with_curves in ({curves, False} if curves else {False}):
        # Under the maps: the columns share the width; the text under them takes height.
        size = min(free_w / columns, free_h - _below(scored, with_curves))
        if size >= UNDER_WIDTH or free_w / columns >= UNDER_WIDTH:  # room for the text under it
            options.append((size, False, with_curves))
        if scored:
            # Beside the maps: the side columns take width; under the maps only the bar.
            side_room = sum(sided) * (SIDE_WIDTH + SIDE_GAP)
            size = min((free_w - side_room) / columns, free_h - UNDER_BAR)
            # The side column must hold the score text (and the curve plot) next to the map.
            needed = SCORE_TEXT + (CURVE_POINTS if with_curves else 0.0)
            if size >= needed:
                options.append((size, True, with_curves))
    if not any(not o[2] for o in options):  # too narrow for anything: the maps, as they come
        options.append((min(free_w / columns, free_h - _below(scored, False)), False, False))
    # Curve plots are worth some map size, not much: they stay while the maps keep about
    # two thirds of the size they would have without them.
    plain = max((o for o in options if not o[2]), key=lambda o: o[0])
    plotted = [o for o in options if o[2] and o[0] >= max(MIN_CURVE_MAP, 0.65 * plain[0])]
    kept = plotted or [o for o in options if not o[2]]
    # Of arrangements with about the largest maps, the one whose maps span most of the figure.
    largest = max(o[0] for o in kept)
    near = [o for o in kept if o[0] >= 0.9 * largest]

    def span(option) -> float:
        size, side, with_curves = option
        row = _pitch(size, side, free_w, columns) * columns + (columns - 1) * GAP + \
            (sum(sided) * (SIDE_WIDTH + SIDE_GAP) if side else 0.0)
        return max(row / width_pt, size / height_pt)  # how far the maps themselves reach

    size, side, with_curves = max(near, key=span)
    size = max(size, 1.0)
    below = UNDER_BAR if side else _below(scored, with_curves)
    # A column is as wide as its map, its side column, and the text under the map.
    pitch = _pitch(size, side, free_w, columns)
    widths = [pitch + ((SIDE_WIDTH + SIDE_GAP) if side and s else 0.0) for s in sided]
    row = sum(widths) + (columns - 1) * GAP
    x = max(EDGE, (width_pt - row) / 2)
    block = above + size + below
    top_free = height_pt - SUPTITLE
    y_top = top_free - max(0.0, (top_free - EDGE - block) / 2)  # centred under the title
    y = y_top - above - size
    maps = []
    for w, s in zip(widths, sided):
        offset = (pitch - size) / 2  # the map centred over the text under it
        maps.append(((x + offset) / width_pt, y / height_pt, size / width_pt, size / height_pt))
        x += w + GAP
    return ClassLayout(maps=maps, side=side, curves=with_curves, size=size, pitch=pitch)
