"""Class names in any script draw as text: DejaVu Sans, then a CJK font where installed."""

import io
import warnings

from matplotlib.figure import Figure

from engine.fonts import fallback_families, use_fallback_fonts

# engine.render calls use_fallback_fonts() on import; pytest resets warning filters that
# collection-time imports install, so each test applies it again, as an app start does.


def _draw(text: str) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # our own filter off: see what matplotlib would say
        figure = Figure(figsize=(2, 1))
        figure.text(0.1, 0.5, text)
        figure.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in seen if "missing from font" in str(w.message)]


def test_latin_and_cjk_class_names_have_glyphs_when_a_cjk_font_is_installed():
    use_fallback_fonts()
    assert fallback_families()[0] == "DejaVu Sans"
    assert _draw("Ängstrom café") == []
    has_cjk = any("CJK" in family or "Hei" in family or "Gothic" in family for family in fallback_families())
    missing = _draw("猫 고양이 ネコ")
    # With a CJK font every glyph is found; without one the boxes are the substitution, and
    # the warning that would say so per glyph is filtered (checked in the next test).
    assert (missing == []) == has_cjk, (fallback_families(), missing)


def test_missing_glyph_warnings_never_reach_the_terminal():
    use_fallback_fonts()
    with warnings.catch_warnings(record=True) as seen:
        figure = Figure(figsize=(2, 1))
        figure.text(0.1, 0.5, "\U0001F40D \u2FD5")  # a snake emoji and a Kangxi radical: few fonts have them
        figure.savefig(io.BytesIO(), format="png")
    assert [w for w in seen if "missing from font" in str(w.message)] == []
