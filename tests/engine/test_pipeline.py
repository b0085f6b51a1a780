"""The one explain pipeline: plan, order of stages, hooks, cancel, against direct explainer calls."""

import numpy as np
import pytest

from engine import explain
from engine.errors import Cancelled
from engine.explain.integrated_gradients import IntegratedGradientsParams
from engine.explain.lime_image import LimeParams
from engine.explain.shap_partition import ShapParams
from engine.jobs import CancelToken
from engine.pipeline import ExplainRequest, Hooks, plan, run

SMALL = {"shap": ShapParams(max_evals=60, batch_size=30),
         "lime": LimeParams(num_samples=40, batch_size=20),
         "ig": IntegratedGradientsParams(steps=4)}


class CountingClassifier:
    """The real classifier; counts every image row the model is asked for."""

    def __init__(self, classifier):
        self._classifier = classifier
        self.rows = 0

    def __getattr__(self, name):
        return getattr(self._classifier, name)

    def predict(self, images):
        self.rows += len(images)
        return self._classifier.predict(images)


def test_plan_takes_the_explainers_own_defaults():
    request = ExplainRequest(methods=("shap", "lime", "ig"), image_path="x.png", classes=2)
    evaluations = {s.method: s.evaluations for s in plan(request)}
    assert evaluations == {"shap": ShapParams().max_evals, "lime": LimeParams().num_samples,
                           "ig": IntegratedGradientsParams().steps * 2}


def test_plan_adds_scoring_and_stability_only_where_they_apply():
    request = ExplainRequest(methods=("shap", "lime"), image_path="x.png", classes=1, scoring=True,
                             scoring_steps=4, stability=2, params=SMALL)
    assert [s.name for s in plan(request)] == ["shap", "score:shap", "lime", "score:lime", "stability:lime"]
    stages = {s.name: s.evaluations for s in plan(request)}
    # The first scored map pays for the random band (10 random orders, both directions, of
    # 3 inner steps each), later maps only for their own two curves; both add the two ends.
    assert stages["score:shap"] == 2 + 2 * 3 + 10 * 2 * 3 + 2 * 1 * (8 + 1)
    assert stages["score:lime"] == 2 + 2 * 3 + 2 * 1 * (8 + 1)
    assert stages["stability:lime"] == 2 * 40


def test_run_gives_the_same_maps_as_the_explainers_called_directly(region_classifier, region_image):
    request = ExplainRequest(methods=("shap", "ig"), image=region_image, classes=1, params=SMALL)
    result = run(request, region_classifier)
    top = int(np.argmax(region_classifier.predict(region_image[None])[0]))
    assert result.targets == [top]
    for method in ("shap", "ig"):
        direct = explain.run(method, region_image, region_classifier, [top], SMALL[method])
        np.testing.assert_array_equal(result.explanations[method].maps, direct.maps)
    assert result.predictions[0].index == top


def test_the_plan_matches_the_model_evaluations_made(region_classifier, region_image):
    counting = CountingClassifier(region_classifier)
    # LIME and the scores call the model's forward pass (IG and Grad-CAM take gradients instead).
    request = ExplainRequest(methods=("lime",), image=region_image, classes=1, params=SMALL,
                             scoring=True, scoring_steps=4, stability=1)
    result = run(request, counting)
    planned = sum(s.evaluations for s in plan(request))
    # Beyond the plan: one prediction of the image, and each explanation's own probabilities
    # (the stability re-run's too).
    assert counting.rows == planned + 1 + len(result.explanations) + 1


def test_progress_counts_up_to_the_plan_and_hooks_come_in_stage_order(region_classifier, region_image):
    seen, reports = [], []
    hooks = Hooks(finished=lambda kind, method, value: seen.append((kind, method)),
                  shown=lambda: seen.append("shown"))
    request = ExplainRequest(methods=("shap", "lime"), image=region_image, classes=1, params=SMALL,
                             scoring=True, scoring_steps=3, stability=1)
    result = run(request, region_classifier, progress=lambda d, t, s: reports.append((d, t)), hooks=hooks)
    assert seen == [("explain", "shap"), "shown", ("score", "shap"), "shown", ("explain", "lime"), "shown",
                    ("score", "lime"), "shown", ("stability", "lime"), "shown"]
    done = [d for d, _ in reports]
    assert done == sorted(done) and reports[-1][0] == reports[-1][1] == sum(s.evaluations for s in plan(request))
    assert set(result.scores) == {"shap", "lime"} and set(result.stability) == {"lime"}


def test_a_reused_result_is_not_computed_again(region_classifier, region_image):
    earlier = run(ExplainRequest(methods=("ig",), image=region_image, classes=1, params=SMALL),
                  region_classifier).explanations["ig"]
    counting = CountingClassifier(region_classifier)
    result = run(ExplainRequest(methods=("ig",), image=region_image, classes=1, params=SMALL), counting,
                 hooks=Hooks(reuse=lambda method, image, targets: earlier))
    assert result.explanations["ig"] is earlier and result.reused == ("ig",)
    assert counting.rows == 1  # only the prediction


def test_gradcam_without_a_convolutional_layer_is_skipped_beside_other_methods(region_classifier, region_image):
    result = run(ExplainRequest(methods=("gradcam", "ig"), image=region_image, classes=1, params=SMALL),
                 region_classifier)
    assert "gradcam" in result.skipped and "ig" in result.explanations
    with pytest.raises(ValueError):
        run(ExplainRequest(methods=("gradcam",), image=region_image, classes=1), region_classifier)


def test_cancel_stops_within_one_batch(region_classifier, region_image):
    token = CancelToken()
    batches = []

    def progress(done, total, stage):
        batches.append(done)
        if stage == "LIME" and done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        run(ExplainRequest(methods=("lime", "ig"), image=region_image, classes=1, params=SMALL),
            region_classifier, progress=progress, cancel=token)


def test_explicit_classes_and_bad_requests(region_classifier, region_image):
    result = run(ExplainRequest(methods=("ig",), image=region_image, classes=(1,), params=SMALL),
                 region_classifier)
    assert result.targets == [1] and result.explanations["ig"].classes == [1]
    with pytest.raises(ValueError, match="out of range"):
        run(ExplainRequest(methods=("ig",), image=region_image, classes=(7,)), region_classifier)
    with pytest.raises(ValueError, match="unknown method"):
        ExplainRequest(methods=("nope",), image=region_image)


def test_supplied_maps_are_scored_first_and_never_computed_or_rerun(region_classifier, region_image):
    from engine.metrics import faithfulness

    top = int(np.argmax(region_classifier.predict(region_image[None])[0]))
    preview = explain.run("ig", region_image, region_classifier, [top], SMALL["ig"])
    request = ExplainRequest(methods=("lime",), image=region_image, classes=1, params=SMALL, scoring=True,
                             scoring_steps=3, stability=1, supplied=("ig",))
    assert [s.name for s in plan(request)] == ["ig", "score:ig", "lime", "score:lime", "stability:lime"]
    assert plan(request)[0].evaluations == 0  # the map is there: only its score costs
    seen, asked = [], []

    def reuse(method, image, targets):
        asked.append(method)
        return preview if method == "ig" else None

    counting = CountingClassifier(region_classifier)
    result = run(request, counting, hooks=Hooks(reuse=reuse, finished=lambda k, m, v: seen.append((k, m))))
    assert result.explanations["ig"] is preview and "ig" in result.reused
    assert seen[:2] == [("explain", "ig"), ("score", "ig")]
    assert set(result.stability) == {"lime"}  # the supplied map is not re-run
    expected = faithfulness(region_image, region_classifier, preview, steps=3, seed=0)
    assert result.scores["ig"]["srg"] == expected["srg"]
    # Beside the same run with nothing supplied, it costs exactly the supplied map's score.
    alone = CountingClassifier(region_classifier)
    run(ExplainRequest(methods=("lime",), image=region_image, classes=1, params=SMALL, scoring=True,
                       scoring_steps=3, stability=1), alone)
    assert counting.rows - alone.rows == expected["model_evaluations"]
    # Without a map to score, the supplied method is passed over, not an error.
    none = run(request, region_classifier, hooks=Hooks(reuse=lambda m, i, t: None))
    assert "ig" not in none.explanations and set(none.scores) == {"lime"} and not none.skipped


def test_stored_scores_reach_the_finished_hook_as_computed_ones_do(region_classifier, region_image, tmp_path):
    from engine.store import ResultStore
    from engine.stored_run import StoredPipeline

    request = ExplainRequest(methods=("lime",), image=region_image, classes=1, params=SMALL, scoring=True,
                             scoring_steps=3)
    with ResultStore(tmp_path) as store:
        StoredPipeline(store, region_classifier).run(request)
        seen = []
        again = StoredPipeline(store, region_classifier).run(
            request, hooks=Hooks(finished=lambda kind, method, value: seen.append((kind, method, value))))
    assert [(k, m) for k, m, _ in seen] == [("explain", "lime"), ("score", "lime")]
    assert seen[1][2] is again.scores["lime"]
    assert again.explanations["lime"].timings["stored_at"] == again.stored_at["lime"]
