"""The Compare figure (one colour scale, agreement and faithfulness tables), the per-class
figure's layout (equal, aligned panels; a colour-bar row), and stability re-runs."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from engine.errors import Cancelled
from engine.jobs import CancelToken, Explanation
from engine.render import (
    BEST_MARK,
    agreement,
    best_method,
    class_scores,
    class_stability,
    draw_class,
    draw_comparison,
    new_figure,
    save_class_png,
)


def _explanation(method, maps, extras=None):
    rng = np.random.default_rng(0)
    return Explanation(method=method, image=rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                       classes=[4, 7], class_names=["four", "seven"], probabilities=[0.7, 0.2],
                       maps=np.asarray(maps, np.float32), params={}, timings={}, versions={},
                       model="test", extras=extras or {})


def _maps(seed=1):
    return np.random.default_rng(seed).normal(size=(2, 32, 32))


def _lime(maps):
    segments = (np.arange(32)[:, None] // 8) * 4 + np.arange(32)[None, :] // 8
    weights = np.random.default_rng(3).normal(size=(2, 16)).astype(np.float32)
    return _explanation("lime", weights[:, segments], {"segments": segments.astype(np.int32),
                                                       "segment_weights": weights})


def _scores(best, below_band=()):
    """Faithfulness results: ``best`` scores highest; methods in ``below_band`` score higher
    still but inside the random band, so they can never be the most faithful."""
    def result(m):
        srg = 0.8 if m == best else 0.95 if m in below_band else 0.3
        sd = 0.6 if m in below_band else 0.05
        return {"classes": [4, 7], "srg": [srg] * 2, "morf_auc": [0.1 if m == best else 0.4] * 2,
                "lerf_auc": [0.9 if m == best else 0.7] * 2, "random_srg_mean": [0.0] * 2,
                "random_srg_sd": [sd] * 2, "better_than_random": [srg > 2 * sd] * 2}
    return {m: result(m) for m in ("shap", "ig", "gradcam")}


def _drawn(draw, *args, width=12.0, height=6.0):
    figure = new_figure(width, height)
    FigureCanvasAgg(figure)
    draw(figure, *args)
    figure.canvas.draw()
    return figure


def _table_cells(figure, gid):
    (table,) = [t for ax in figure.axes for t in ax.tables if t.get_gid() == gid]
    rows = {}
    for (row, col), cell in table.get_celld().items():
        rows.setdefault(row, {})[col] = cell.get_text().get_text()
    return [[cells[c] for c in sorted(cells)] for _, cells in sorted(rows.items())]


def test_identical_maps_agree_fully_and_share_one_colour_scale():
    maps = _maps()
    shap = _explanation("shap", maps * 0.01)  # other units, same ordering
    ig = _explanation("ig", maps * 40.0)
    cam = _explanation("gradcam", -maps)  # the exact reverse
    figure = _drawn(draw_comparison, [shap, ig, cam], 7, _scores("ig"))

    rows = _table_cells(figure, "agreement")
    assert rows[0] == ["methods", "rank correlation", "top 10% overlap"]
    assert rows[1] == ["SHAP · IG", "1.00", "1.00"]
    assert rows[2][0] == "SHAP · Grad-CAM" and rows[2][1] == "-1.00"
    assert [r[:3] for r in agreement([shap, ig, cam], 7)] == [("shap", "ig", 1.0), ("shap", "gradcam", -1.0),
                                                              ("ig", "gradcam", -1.0)]

    panels = [ax for ax in figure.axes if (ax.get_gid() or "").startswith("compare:")]
    assert [ax.get_gid() for ax in panels] == ["compare:shap", "compare:ig", "compare:gradcam"]
    artists = [ax.images[-1] for ax in panels]
    norms = {id(a.norm) for a in artists}
    assert len(norms) == 1 and (artists[0].norm.vmin, artists[0].norm.vmax) == (-1.0, 1.0)
    # Scaled by their own size, maps in different units become the same picture.
    np.testing.assert_allclose(artists[0].get_array(), artists[1].get_array(), atol=1e-6)
    shared = [ax for ax in figure.axes if ax.get_gid() == "shared-scale"]
    assert len(shared) == 1

    # Scored: the best method is marked in its title and in the faithfulness table.
    titles = {ax.get_gid(): ax.get_title() for ax in panels}
    assert BEST_MARK in titles["compare:ig"] and BEST_MARK not in titles["compare:shap"]
    table = _table_cells(figure, "faithfulness")
    assert table[0][:4] == ["method", "SRG ↑", "random band", "MoRF ↓ / LeRF ↑"]
    assert table[2][:4] == ["IG ★", "0.80", "0.00 ± 0.05", "0.10 / 0.90"]
    assert table[1][:4] == ["SHAP", "0.30", "0.00 ± 0.05", "0.40 / 0.70"]
    notes = [t.get_text() for ax in figure.axes for t in ax.texts if t.get_gid() == "faithfulness-note"]
    assert len(notes) == 1 and "AUC(LeRF) − AUC(MoRF)" in notes[0]


def test_a_map_inside_the_random_band_is_never_the_most_faithful():
    maps = _maps()
    explanations = [_explanation(m, maps) for m in ("shap", "ig", "gradcam")]
    # Grad-CAM has the highest SRG, but its band is wide: not better than random.
    figure = _drawn(draw_comparison, explanations, 4, _scores("ig", below_band=("gradcam",)))
    titles = {ax.get_gid(): ax.get_title() for ax in figure.axes if (ax.get_gid() or "").startswith("compare:")}
    assert BEST_MARK in titles["compare:ig"] and BEST_MARK not in titles["compare:gradcam"]
    table = _table_cells(figure, "faithfulness")
    assert table[3][:3] == ["Grad-CAM", "0.95 ✗", "0.00 ± 0.60"]
    # Nobody above the band: nobody marked.
    nobody = {m: dict(r, better_than_random=[False, False]) for m, r in _scores("ig").items()}
    assert best_method(class_scores(nobody, 4)) is None
    class_figure = _drawn(draw_class, explanations, 4, None, class_scores(nobody, 4))
    texts = [t.get_text() for ax in class_figure.axes for t in ax.texts if t.get_gid() == "faithfulness"]
    assert len(texts) == 3 and all("not better than random" in t and BEST_MARK not in t for t in texts)


def test_comparison_draws_lime_as_its_segment_weights_and_says_when_unscored():
    lime = _lime(None)
    shap = _explanation("shap", _maps())
    figure = _drawn(draw_comparison, [shap, lime], 4, None)
    (panel,) = [ax for ax in figure.axes if ax.get_gid() == "compare:lime"]
    shown = panel.images[-1].get_array()
    weights = lime.maps[0] / np.percentile(np.abs(lime.maps[0]), 99.0)
    np.testing.assert_allclose(shown, np.clip(weights, -1, 1), atol=1e-5)
    texts = " ".join(t.get_text() for ax in figure.axes for t in ax.texts)
    assert "Score faithfulness" in texts
    assert not [t for ax in figure.axes for t in ax.tables if t.get_gid() == "faithfulness"]


def test_class_figure_panels_are_equal_aligned_and_tickless(tmp_path):
    shap, ig, cam, lime = (_explanation("shap", _maps(1)), _explanation("ig", _maps(2)),
                           _explanation("gradcam", np.abs(_maps(3))), _lime(None))
    spread = {"lime": {"classes": [4, 7], "runs": 3, "score": [0.8, 0.6],
                       "spread": np.abs(_maps(5)).astype(np.float32)}}
    figure = _drawn(draw_class, [shap, lime, ig, cam], 4, None, class_scores(_scores("shap"), 4),
                    class_stability(spread, 4), width=16.0, height=5.0)
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 6  # input, four methods, LIME's spread
    boxes = [ax.get_window_extent() for ax in panels]
    for box in boxes[1:]:
        assert box.height == pytest.approx(boxes[0].height, abs=1.0)
        assert box.width == pytest.approx(boxes[0].width, abs=1.0)
        assert box.y0 == pytest.approx(boxes[0].y0, abs=1.0)
    titles = [ax.get_title() for ax in panels]
    assert "LIME\nstability 0.80" in titles and "LIME spread\n(3 runs)" in titles
    # Image panels and the colour-bar row's spare slots draw no ticks (faster, on screen and in PNGs).
    assert all(not ax.xaxis.get_visible() and not ax.yaxis.get_visible() for ax in figure.axes if not ax.axison)
    scores = [t.get_text() for ax in figure.axes for t in ax.texts if t.get_gid() == "faithfulness"]
    assert len(scores) == 3 and sum(BEST_MARK in t for t in scores) == 1  # LIME is unscored here

    save_class_png(tmp_path / "class.png", [shap, lime, ig, cam], 7)
    assert (tmp_path / "class.png").read_bytes().startswith(b"\x89PNG")


def test_stability_reruns_of_a_deterministic_method_give_zero_spread(region_classifier, region_image):
    from engine import explain
    from engine.explain.integrated_gradients import IntegratedGradientsParams
    from engine.stability import rerun_stability, varies_with_seed

    params = IntegratedGradientsParams(steps=4, baseline="black")
    first = explain.run("ig", region_image, region_classifier, [0, 1], params)
    calls = []
    result = rerun_stability(first, region_classifier, params, 2, progress=lambda *a: calls.append(a))
    assert result["runs"] == 3 and result["seeds"] == [0, 1, 2]
    assert result["spread"].shape == (2, 64, 64) and float(np.abs(result["spread"]).max()) == 0.0
    assert result["score"] == [1.0, 1.0]
    assert calls and result["model_evaluations"] == 2 * 4 * 2
    assert not varies_with_seed("ig", {"baseline": "black"}) and varies_with_seed("ig", {"baseline": "noise"})
    assert not varies_with_seed("shap") and not varies_with_seed("gradcam") and varies_with_seed("lime")


def test_lime_reruns_spread_and_cancel(region_classifier, region_image):
    from engine import explain
    from engine.explain.lime_image import LimeParams
    from engine.stability import rerun_stability

    params = LimeParams(num_samples=40, batch_size=20, segmentation="slic")
    first = explain.run("lime", region_image, region_classifier, [0], params)
    result = rerun_stability(first, region_classifier, params, 2)
    assert float(result["spread"].max()) > 0 and 0.0 <= result["score"][0] < 1.0

    token = CancelToken()
    seen = []

    def cancel_on_second_run(done, total, stage):
        seen.append(stage)
        if "re-run 2" in stage:
            token.cancel()

    with pytest.raises(Cancelled):
        rerun_stability(first, region_classifier, params, 3, progress=cancel_on_second_run, cancel=token)
    assert "Stability re-run 1 of 3" in seen and not any("re-run 3" in s for s in seen)
