"""Faithfulness scores (SRG against the random band) under each method's panel, the best one
marked only above the band, one line on what the score means, Integrated Gradients scored
like the rest; the scores travel with exported maps."""

import numpy as np
from gui_helpers import REGION_LABELS, read_json, wait_until_done

from engine.render import BEST_MARK, FAITHFULNESS_NOTE, best_method, class_scores, score_text


def _score_texts(canvas) -> list[str]:
    canvas.ensure_built()
    return [t.get_text() for ax in canvas.figure.axes for t in ax.texts if t.get_gid() == "faithfulness"]


def test_faithfulness_scores_every_method_and_marks_the_best(window, qtbot, image_folder, tmp_path):
    window.settings_panel.apply_overrides(methods="shap,lime,ig", ig_steps=8, faithfulness=True,
                                          faithfulness_steps=4)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        job = window.explain(entry)
        # The plan counts the extra evaluations. Per map, K = 2 classes, 4 steps: the image
        # and its blur, MoRF and LeRF (2 K (4 - 1)), the per-pixel detail (2 K (8 + 1)); the
        # random band (10 orders × 2 × (4 - 1)) once for the image.
        assert job.faithfulness_steps == 4
        per_map = 2 + 2 * 2 * 3 + 2 * 2 * 9
        assert job.total == 120 + 120 + 8 * 2 + 3 * per_map + 10 * 2 * 3
        wait_until_done(qtbot, window, [entry])
        assert entry.status == "done"
        assert set(entry.results) == {"shap", "lime", "ig"}
        assert set(entry.metrics) == {"shap", "lime", "ig"}
        for method, scores in entry.metrics.items():
            assert scores["steps"] == 4 and scores["classes"] == list(entry.results[method].classes)
            assert scores["morf_curves"].shape == (2, 5)
        # One band per image and class, shared by every method.
        assert len({tuple(s["random_srg_mean"]) for s in entry.metrics.values()}) == 1

        tabs = window.results_view.current_tabs()
        assert [tabs.tabText(i) for i in range(tabs.count())] == REGION_LABELS
        for index in range(tabs.count()):
            canvas = tabs.widget(index)
            texts = _score_texts(canvas)
            titles = [ax.get_title() for ax in canvas.figure.axes]
            assert "Integrated Gradients" in titles
            scores = class_scores(entry.metrics, canvas.class_index)
            best = best_method(scores)
            assert len(texts) == 3, texts
            assert sorted(texts) == sorted(score_text(s) + (f"\n{BEST_MARK}" if m == best else "")
                                           for m, s in scores.items())
            assert all("SRG" in t and "random" in t and " ± " in t for t in texts)
            for method, s in scores.items():  # the flag follows the band
                # (SHAP and IG may rank this linear model's cells alike: equal texts are fine)
                shown = [t for t in texts if t.startswith(score_text(s))]
                assert shown and all(("not better than random" in t) is (not s["better"]) for t in shown)
            marked = [t for t in texts if BEST_MARK in t]
            assert len(marked) == (best is not None)
            if best is not None:
                assert scores[best]["better"]
                assert scores[best]["srg"] == max(s["srg"] for s in scores.values() if s["better"])
            notes = [t.get_text() for ax in canvas.figure.axes for t in ax.texts if t.get_gid() == "faithfulness-note"]
            assert notes == [FAITHFULNESS_NOTE]
            # Each scored panel has its small plot of the very curves the engine measured.
            plots = {child.get_gid(): child for ax in canvas.figure.axes for child in ax.child_axes
                     if (child.get_gid() or "").startswith("curves:")}
            assert set(plots) == {"curves:shap", "curves:lime", "curves:ig"}
            k = entry.metrics["lime"]["classes"].index(canvas.class_index)
            (line,) = [ln for ln in plots["curves:lime"].lines if ln.get_gid() == "method:morf"]
            np.testing.assert_allclose(line.get_ydata(), entry.metrics["lime"]["morf_curves"][k])

        written = window.export_maps(tmp_path)
        assert written
        summary = read_json(tmp_path / "region.shap.json")
        assert summary["metrics"]["srg"] == entry.metrics["shap"]["srg"]
        assert summary["metrics"]["better_than_random"] == entry.metrics["shap"]["better_than_random"]
        with np.load(tmp_path / "region.lime.npz") as arrays:
            assert arrays["metrics_lerf_curves"].shape == (2, 5)
    finally:
        window.settings_panel.apply_overrides(faithfulness=False, methods="shap,lime")


def test_without_faithfulness_there_are_no_scores(window, qtbot, image_folder):
    window.settings_panel.apply_overrides(faithfulness=False)
    (entry,) = window.add_paths([image_folder / "region.png"])
    job = window.explain(entry)
    assert job.faithfulness_steps == 0 and job.total == 240
    wait_until_done(qtbot, window, [entry])
    assert entry.metrics == {}
    assert _score_texts(window.results_view.current_canvas()) == []
