"""Where the Compare figure's maps and tables go, worked out from the figure's own size.

The tables' heights are fixed in points (8 pt rows), so a short figure (a laptop's canvas)
cannot hold maps, colour bar and tables stacked: there the tables go to the right of the
maps. Either way the rows are given the heights their contents need, so the layout engine
never squeezes a table over its title or the colour bar. Pure arithmetic: no matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

ROW = 11.0  # a table row of 8 pt text (render._PointRowsTable draws them this high)
TABLE_TITLE = 18.0  # a table's 9 pt title and its padding
NOTE = 44.0  # the five-line note under the faithfulness table
SUPTITLE, MAP_TITLES = 22.0, 30.0  # the figure's title; two-line map titles (best mark)
BAR = 36.0  # the shared colour bar with its tick labels and one-line label
CURVES = 110.0  # the MoRF | LeRF pair and its key, when plotted
EDGE, GAP, TABLE_GAP = 8.0, 14.0, 8.0
BESIDE_WIDTH = 330.0  # the tables' column when beside the maps (the faithfulness table's width)


@dataclass(frozen=True)
class CompareLayout:
    beside: bool  # tables right of the maps (else under them)
    curves: bool  # room for the curve plots
    maps: float  # the maps' side, points
    heights: tuple[float, ...]  # stacked: (maps, bar, tables); beside: (agreement, faithfulness)
    width_ratios: tuple[float, float] = (1.0, 0.0)  # beside: maps | tables


def table_heights(methods: int, scored: bool) -> tuple[float, float]:
    """Points taken by the agreement and the faithfulness table (with its note)."""
    pairs = methods * (methods - 1) // 2
    agreement = TABLE_TITLE + (pairs + 1) * ROW if pairs else 30.0
    faithfulness = TABLE_TITLE + (methods + 1) * ROW + NOTE if scored else 30.0
    return agreement, faithfulness


def compare_layout(width_pt: float, height_pt: float, methods: int, scored: bool, curves: bool) -> CompareLayout:
    columns = 1 + methods
    agreement, faithfulness = table_heights(methods, scored)
    free_h = height_pt - SUPTITLE - MAP_TITLES - BAR - 2 * EDGE
    options = []
    for with_curves in ({curves, False} if curves else {False}):
        tables = max(agreement, faithfulness, CURVES if with_curves else 0.0)
        size = min((width_pt - 2 * EDGE - (columns - 1) * GAP) / columns, free_h - tables - GAP)
        options.append(CompareLayout(False, with_curves, size, (max(size, 1.0), BAR * 0.25, tables)))
    # Beside: tables stacked in a column of their own (curves only where they fit under them).
    column_h = height_pt - SUPTITLE - EDGE
    if agreement + faithfulness + TABLE_GAP <= column_h:
        maps_w = width_pt - 2 * EDGE - BESIDE_WIDTH - GAP
        size = min((maps_w - (columns - 1) * GAP) / columns, free_h)
        options.append(CompareLayout(True, False, size, (agreement, faithfulness), (maps_w, BESIDE_WIDTH)))
    # Curves stay while the maps keep most of their size; then the largest maps.
    plain = max((o for o in options if not o.curves), key=lambda o: o.maps)
    plotted = [o for o in options if o.curves]
    if plotted and plotted[0].maps >= 0.75 * plain.maps:
        return plotted[0]
    return plain
