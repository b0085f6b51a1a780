"""Faithfulness scores (deletion / insertion) under each method's panel, the best one marked,
and Integrated Gradients as a method choice; the scores travel with exported maps."""

import numpy as np
from gui_helpers import REGION_LABELS, read_json, wait_until_done

from engine.render import BEST_MARK, best_method, class_scores, score_text


def _score_texts(canvas) -> list[str]:
    canvas.ensure_built()
    return [t.get_text() for ax in canvas.figure.axes for t in ax.texts if t.get_gid() == "faithfulness"]


def test_faithfulness_scores_every_method_and_marks_the_best(window, qtbot, image_folder, tmp_path):
    window.settings_panel.apply_overrides(methods="shap,lime,ig", ig_steps=8, faithfulness=True,
                                          faithfulness_steps=4)
    try:
        (entry,) = window.add_paths([image_folder / "region.png"])
        job = window.explain(entry)
        # The plan counts the extra evaluations: (2K + 2)(S + 1) per method.
        assert job.faithfulness_steps == 4
        assert job.total == 120 + 120 + 8 * 2 + 3 * (2 * 2 + 2) * 5
        wait_until_done(qtbot, window, [entry])
        assert entry.status == "done"
        assert set(entry.results) == {"shap", "lime", "ig"}
        assert set(entry.metrics) == {"shap", "lime", "ig"}
        for method, scores in entry.metrics.items():
            assert scores["steps"] == 4 and scores["classes"] == list(entry.results[method].classes)
            assert scores["deletion_curves"].shape == (2, 5)

        tabs = window.results_view.current_tabs()
        assert [tabs.tabText(i) for i in range(tabs.count())] == REGION_LABELS
        for index in range(tabs.count()):
            canvas = tabs.widget(index)
            texts = _score_texts(canvas)
            titles = [ax.get_title() for ax in canvas.figure.axes]
            assert "Integrated Gradients" in titles
            scores = class_scores(entry.metrics, canvas.class_index)
            assert len(texts) == 3, texts
            # SHAP and IG rank this linear model's pixels alike: equal scores are fine.
            assert sorted(texts) == sorted(score_text(s) + (f"\n{BEST_MARK}" if m == best_method(scores) else "")
                                           for m, s in scores.items())
            assert all("deletion AUC" in t and "insertion AUC" in t and "random" in t for t in texts)
            marked = [t for t in texts if BEST_MARK in t]
            best = best_method(scores)
            assert len(marked) == 1 and score_text(scores[best]) in marked[0]
            gain = {m: s["insertion"] - s["deletion"] for m, s in scores.items()}
            assert gain[best] == max(gain.values())
            # Each scored panel has its small plot of the very curves the engine measured.
            plots = {child.get_gid(): child for ax in canvas.figure.axes for child in ax.child_axes
                     if (child.get_gid() or "").startswith("curves:")}
            assert set(plots) == {"curves:shap", "curves:lime", "curves:ig"}
            k = entry.metrics["lime"]["classes"].index(canvas.class_index)
            (line,) = [ln for ln in plots["curves:lime"].lines if ln.get_gid() == "method:deletion"]
            np.testing.assert_allclose(line.get_ydata(), entry.metrics["lime"]["deletion_curves"][k])
        # The known-answer model's decisive square: every map beats a random order there.
        first = class_scores(entry.metrics, tabs.widget(0).class_index)
        assert all(s["deletion"] < s["random_deletion"] for s in first.values())

        written = window.export_maps(tmp_path)
        assert written
        summary = read_json(tmp_path / "region.shap.json")
        assert summary["metrics"]["deletion_auc"] == entry.metrics["shap"]["deletion_auc"]
        with np.load(tmp_path / "region.lime.npz") as arrays:
            assert arrays["metrics_insertion_curves"].shape == (2, 5)
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
