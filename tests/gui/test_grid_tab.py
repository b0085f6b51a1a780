"""The Grid tab: explained images × classes in one figure with one colour scale, drawn only
while on screen, exported as PNG/PDF/SVG without replacing files unasked."""

import pytest
from gui_helpers import wait_until_done
from PySide6.QtWidgets import QMessageBox


@pytest.fixture(autouse=True)
def back_to_explanations(window):
    """The window is shared by the whole session: leave it on its first tab."""
    yield
    window.central_tabs.show_page("explanations")


def image_axes(figure):
    return [ax for ax in figure.axes if ax.images and ax.get_label() != "<colorbar>"]


def colour_bars(figure):
    return [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]


def test_two_explained_images_make_a_rows_by_columns_grid_with_one_colour_scale(window, qtbot, image_folder):
    entries = window.add_paths([image_folder / "region.png", image_folder / "flipped.png"])
    grid = window.grid.view
    before = grid.rebuild_count
    for entry in entries:
        window.explain(entry)
    wait_until_done(qtbot, window, entries)
    assert grid.rebuild_count == before  # hidden: results arriving do not rebuild it

    window.central_tabs.show_page("grid")
    qtbot.waitUntil(lambda: grid.data is not None and grid.canvas.render_count > 0, timeout=10_000)
    assert [grid.method_combo.itemData(i) for i in range(grid.method_combo.count())][:2] == ["shap", "lime"]
    assert grid.data.method == "shap" and grid.data.shape == (2, 2)
    figure = grid.canvas.figure
    assert len(image_axes(figure)) == 2 * (2 + 1)  # the image, then one panel per class, per row
    assert len(colour_bars(figure)) == 1
    panels = image_axes(figure)
    limits = {panels[r * 3 + c].images[-1].get_clim() for r in range(2) for c in (1, 2)}
    assert len(limits) == 1 and next(iter(limits))[0] == -next(iter(limits))[1]  # one symmetric scale
    # Each row marks its predicted class (the model has two classes: both are columns).
    for row, entry in enumerate(entries):
        predicted = grid.data.classes.index(entry.predictions[0].index)
        marked = [c for c in (1, 2) if any(p.get_gid() == "predicted" for p in panels[row * 3 + c].patches)]
        assert marked == [predicted + 1]
        assert entry.name in panels[row * 3].get_ylabel()

    # Shown again with nothing new: no rebuild. Another method: a rebuild with its maps.
    rebuilt = grid.rebuild_count
    window.central_tabs.show_page("explanations")
    window.central_tabs.show_page("grid")
    qtbot.wait(50)
    assert grid.rebuild_count == rebuilt
    grid.set_method("lime")
    assert grid.rebuild_count == rebuilt + 1 and grid.data.method == "lime"
    assert len(image_axes(grid.canvas.figure)) == 6 and len(colour_bars(grid.canvas.figure)) == 1
    assert "LIME" in colour_bars(grid.canvas.figure)[0].get_xlabel()

    # A removed image leaves the grid while it is on screen.
    window.intake.remove_image(entries[1].key)
    qtbot.waitUntil(lambda: grid.data is not None and grid.data.shape == (1, 2), timeout=5_000)


def test_export_writes_each_format_and_asks_before_replacing(window, qtbot, image_folder, tmp_path, monkeypatch):
    assert window.grid.export(tmp_path / "nothing.png") is None  # nothing explained yet
    assert not (tmp_path / "nothing.png").exists()
    entries = window.add_paths([image_folder / "region.png", image_folder / "noise.png"])
    window.settings_panel.apply_overrides(methods="shap")
    for entry in entries:
        window.explain(entry)
    wait_until_done(qtbot, window, entries)
    assert window.grid.export_action.isEnabled()

    png, pdf, svg = tmp_path / "grid.png", tmp_path / "grid.pdf", tmp_path / "grid.svg"
    assert window.grid.export(png) == png and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert window.grid.export(pdf) == pdf and pdf.read_bytes()[:5] == b"%PDF-"
    assert window.grid.export(svg) == svg and b"<svg" in svg.read_bytes()[:500]

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No))
    png.write_bytes(b"keep me")
    assert window.grid.export(png) is None
    assert asked and png.read_bytes() == b"keep me"


def test_columns_are_the_classes_explained_and_the_legend_names_only_marks_shown(window, qtbot, image_folder):
    entries = window.add_paths([image_folder / "region.png", image_folder / "flipped.png"])
    window.settings_panel.apply_overrides(methods="shap", classes=1)  # each image: its top class only
    for entry in entries:
        window.explain(entry)
    wait_until_done(qtbot, window, entries)
    explained = [entry.results["shap"].classes[0] for entry in entries]
    assert len(set(explained)) == 2  # the flipped picture's top class is the other one

    window.central_tabs.show_page("grid")
    grid = window.grid.view
    qtbot.waitUntil(lambda: grid.data is not None and grid.data.shape == (2, 2), timeout=10_000)
    assert sorted(grid.data.classes) == sorted(explained)  # each image's own class, nothing else
    legend = grid.canvas.figure.get_suptitle()
    # Each row's predicted class is a column: its frame is explained. No true class is known
    # (the folder is not named like one): no green frame, so no word about one.
    assert "orange frame" in legend and "green" not in legend
