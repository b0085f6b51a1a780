"""Fonts for every figure: DejaVu Sans first, then CJK-capable fonts where installed.

matplotlib (3.6+) falls back glyph by glyph along ``font.family``, so Chinese, Japanese or
Korean class names draw as text instead of boxes. Only installed families are listed: a
missing one would make matplotlib warn on every figure.
"""

from __future__ import annotations

import warnings

_PREFERRED = ("DejaVu Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR",
              "Noto Sans CJK TC", "Source Han Sans", "WenQuanYi Zen Hei", "Droid Sans Fallback",
              "Microsoft YaHei", "Yu Gothic", "Malgun Gothic", "PingFang SC", "Hiragino Sans",
              "Arial Unicode MS")

_installed: list[str] | None = None


def fallback_families() -> list[str]:
    """The preferred families this machine has, DejaVu Sans (shipped with matplotlib) first."""
    global _installed
    if _installed is None:
        from matplotlib import font_manager

        names = {f.name for f in font_manager.fontManager.ttflist}
        _installed = [family for family in _PREFERRED if family in names] or ["DejaVu Sans"]
    return _installed


def use_fallback_fonts() -> None:
    import matplotlib

    # The list itself, not "sans-serif": a generic family resolves to one font, no fallback.
    matplotlib.rcParams["font.family"] = fallback_families()
    # A glyph no installed font has still draws as a box; one warning per character and
    # figure would bury the terminal, and the box is the clear substitution.
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
