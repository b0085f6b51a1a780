"""The Grid tab's columns are the classes the images explained, those most images explained
first, so nearly every cell has a map; the method it shows (plain data: no model needed)."""

import numpy as np

from engine.jobs import Explanation
from gui.grid_data import build_grid
from gui.image_entry import ImageEntry

NAMES = [f"class {i}" for i in range(10)]


def explained(classes: list[int], probabilities: list[float], method: str = "shap") -> ImageEntry:
    image = np.zeros((8, 8, 3), np.uint8)
    maps = np.stack([np.full((8, 8), c + 1.0, np.float32) for c in classes])
    result = Explanation(method=method, image=image, classes=classes, class_names=[NAMES[c] for c in classes],
                         probabilities=probabilities, maps=maps, params={}, timings={}, versions={},
                         model="toy")
    entry = ImageEntry(name=f"image {classes}", image=image, source="test")
    entry.results[method] = result
    return entry


def test_columns_are_the_explained_classes_most_often_explained_first():
    entries = [explained([3, 7], [0.9, 0.05]), explained([5, 7], [0.6, 0.3]), explained([7, 5], [0.5, 0.4])]
    grid = build_grid(entries, "shap", max_columns=6)
    # 7: three images; 5: two; 3: one, though its 0.9 is the highest probability of all.
    assert grid.classes == [7, 5, 3]
    assert grid.class_names == ["class 7", "class 5", "class 3"]
    assert grid.missing.tolist() == [[False, True, False], [False, False, True], [False, False, True]]
    assert np.all(grid.maps[1, 0] == 8.0) and np.all(grid.maps[2, 1] == 6.0)  # each map in its column


def test_equal_counts_are_ordered_by_mean_probability_and_the_cap_keeps_the_most_explained():
    entries = [explained([1, 2], [0.5, 0.1]), explained([2, 4], [0.5, 0.2]), explained([1, 4], [0.2, 0.1])]
    # Each class twice; means: 1 -> 0.35, 2 -> 0.3, 4 -> 0.15.
    assert build_grid(entries, "shap", max_columns=6).classes == [1, 2, 4]
    entries.append(explained([9, 4], [0.99, 0.5]))
    assert build_grid(entries, "shap", max_columns=1).classes == [4]  # three images explain it


def test_two_images_explained_on_different_classes_give_exactly_those_columns():
    grid = build_grid([explained([2], [0.8]), explained([6], [0.7])], "shap")
    assert sorted(grid.classes) == [2, 6] and grid.shape == (2, 2)


def test_the_grid_shows_the_first_method_until_the_person_picks_one(qtbot, clean_settings):
    from gui.grid_view import GridView

    entry = explained([1, 2], [0.5, 0.2], method="gradcam")  # the quick preview comes first
    view = GridView(entries=lambda: [entry])
    qtbot.addWidget(view)
    view.refresh()
    assert view.data.method == "gradcam"
    entry.results["shap"] = explained([1, 2], [0.5, 0.2]).results["shap"]
    entry.results["lime"] = explained([1, 2], [0.5, 0.2], method="lime").results["lime"]
    view.refresh()
    assert view.data.method == "shap"  # SHAP, first in the fixed order, once it has run
    view.set_method("lime")
    view.refresh()
    entry.results["ig"] = explained([1, 2], [0.5, 0.2], method="ig").results["ig"]
    view.refresh()
    assert view.data.method == "lime"  # the person's choice stays
