"""The result store: keys, atomic writes, a crash between file and row, LRU eviction."""

import sqlite3

import numpy as np
import pytest

from engine.explain.lime_image import LimeParams
from engine.jobs import Explanation
from engine.store import ResultKey, ResultStore, image_hash, model_fingerprint, params_key


def explanation(seed: int = 0, size: int = 16) -> Explanation:
    rng = np.random.default_rng(seed)
    return Explanation(method="lime", image=rng.integers(0, 255, (size, size, 3), dtype=np.uint8),
                       classes=[3, 1], class_names=["c", "a"], probabilities=[0.6, 0.3],
                       maps=rng.normal(size=(2, size, size)).astype(np.float32),
                       params={"num_samples": 40}, timings={"explain_s": 0.5}, versions={"numpy": "x"},
                       model="m", extras={"segments": rng.integers(0, 9, (size, size))})


def key(image: str = "img", method: str = "lime", params=None) -> ResultKey:
    return ResultKey.make("model", image, method, params or LimeParams(num_samples=40), [3, 1], 4, 0, seed=0)


def test_a_stored_result_comes_back_with_its_arrays_and_scores(tmp_path):
    original = explanation()
    scores = {"deletion_auc": [0.1, 0.2], "deletion_curves": np.ones((2, 5), np.float32)}
    with ResultStore(tmp_path) as store:
        store.put(key(), original, scores=scores)
    with ResultStore(tmp_path) as store:  # a new launch
        back = store.get(key())
    np.testing.assert_array_equal(back.explanation.maps, original.maps)
    np.testing.assert_array_equal(back.explanation.extras["segments"], original.extras["segments"])
    assert back.explanation.classes == [3, 1] and back.explanation.probabilities == [0.6, 0.3]
    assert back.scores["deletion_auc"] == [0.1, 0.2]
    np.testing.assert_array_equal(back.scores["deletion_curves"], scores["deletion_curves"])
    assert back.stability is None and back.created > 0


def test_settings_that_change_the_numbers_change_the_key_and_batch_sizes_do_not(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(key(), explanation())
        assert store.get(key(params=LimeParams(num_samples=40, batch_size=7))) is not None
        assert store.get(key(params=LimeParams(num_samples=41))) is None
        assert store.get(key(image="other")) is None
        assert store.get(ResultKey.make("model", "img", "lime", LimeParams(num_samples=40), [3], 4, 0, 0)) is None
    assert "batch_size" not in params_key(LimeParams())


def test_a_crash_between_file_and_row_leaves_no_row_and_the_orphan_is_swept(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.put(key("kept"), explanation())

    class Crash(Exception):
        pass

    def crash(_db):
        raise Crash()

    monkeypatch.setattr("engine.store._Transaction.__enter__", crash)
    with pytest.raises(Crash):
        store.put(key("lost"), explanation(1))
    monkeypatch.undo()
    files = sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file())
    assert len(files) == 4  # two results' files on disk, one of them without a row
    assert store.get(key("lost")) is None
    assert store.sweep(min_age_s=0) == 2
    assert store.get(key("kept")) is not None and len(store) == 1
    store.close()


def test_a_row_whose_files_went_missing_is_dropped_on_read(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(key(), explanation())
        for path in (tmp_path / "objects").rglob("*.npz"):
            path.unlink()
        assert store.get(key()) is None
        assert len(store) == 0


def test_least_recently_used_results_are_evicted_beyond_the_limit(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(key("a"), explanation(0, 64))
        one = store.total_bytes()
    with ResultStore(tmp_path, limit_bytes=int(2.5 * one)) as store:
        store.put(key("b"), explanation(1, 64))
        assert store.get(key("a")) is not None  # a is now more recent than b
        store.put(key("c"), explanation(2, 64))
        assert store.get(key("b")) is None
        assert store.get(key("a")) is not None and store.get(key("c")) is not None
        assert store.total_bytes() <= store.limit_bytes


def test_clear_removes_rows_and_files(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(key("a"), explanation())
        store.put(key("a"), explanation(1))  # replaced: the old files go
        assert len(list((tmp_path / "objects").rglob("*.npz"))) == 1
        store.clear()
        assert len(store) == 0 and not list((tmp_path / "objects").rglob("*.*"))


def test_an_index_of_another_schema_version_starts_afresh(tmp_path):
    with ResultStore(tmp_path) as store:
        store.put(key(), explanation())
    db = sqlite3.connect(tmp_path / "store.sqlite")
    db.execute("UPDATE meta SET value='0' WHERE key='schema'")
    db.commit()
    db.close()
    with ResultStore(tmp_path) as store:
        assert store.get(key()) is None


def test_fingerprints_follow_the_weights_and_the_preprocessing(region_classifier):
    from engine.models import Classifier

    first = model_fingerprint(region_classifier)
    assert model_fingerprint(region_classifier) == first
    other = Classifier(region_classifier.keras_model, "region", region_classifier.class_names, "unit")
    assert model_fingerprint(other) != first
    weights = region_classifier.keras_model.get_weights()
    changed = [w.copy() for w in weights]
    changed[0][0, 0] += 1.0
    region_classifier.keras_model.set_weights(changed)
    try:
        assert model_fingerprint(region_classifier) != first
    finally:
        region_classifier.keras_model.set_weights(weights)
    image = np.zeros((4, 4, 3), np.uint8)
    assert image_hash(image) != image_hash(np.zeros((4, 4, 3), np.uint8) + 1)
    assert image_hash(image) != image_hash(np.zeros((2, 8, 3), np.uint8))


def test_the_pipeline_reuses_a_stored_result_with_its_scores_and_computes_nothing(
        region_classifier, region_image, tmp_path):
    from test_pipeline import SMALL, CountingClassifier

    from engine.pipeline import ExplainRequest
    from engine.stored_run import StoredPipeline

    request = ExplainRequest(methods=("lime",), image=region_image, classes=1, params=SMALL, scoring=True,
                             scoring_steps=3, stability=1)
    with ResultStore(tmp_path) as store:
        first = StoredPipeline(store, region_classifier).run(request)
        counting = CountingClassifier(region_classifier)
        again = StoredPipeline(store, counting).run(request)
        assert counting.rows == 1  # the prediction that finds the classes; nothing else
        assert again.reused == ("lime",) and again.stored_at["lime"] > 0
        np.testing.assert_array_equal(again.explanations["lime"].maps, first.explanations["lime"].maps)
        assert again.scores["lime"]["srg"] == first.scores["lime"]["srg"]
        assert again.scores["lime"]["better_than_random"] == first.scores["lime"]["better_than_random"]
        np.testing.assert_array_equal(again.stability["lime"]["spread"], first.stability["lime"]["spread"])
        other = StoredPipeline(store, counting).run(ExplainRequest(
            methods=("lime",), image=region_image, classes=1, params=SMALL, scoring=True, scoring_steps=4,
            stability=1))
        assert other.reused == () and counting.rows > 1
        recomputed = StoredPipeline(store, region_classifier).run(request, recompute=True)
        assert recomputed.reused == ()
