"""The cacheable stand-ins for shap's compiled Partition helpers give shap's numbers exactly,
and a fresh process loads them from numba's cache instead of compiling."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.explain import shap_compiled

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def originals():
    shap_compiled.install()
    return shap_compiled.ORIGINALS


def image_tree(shape):
    import shap

    return shap.maskers.Image("inpaint_telea", shape).clustering


def linkage_tree(n):
    from scipy.cluster.hierarchy import linkage

    return linkage(np.random.default_rng(n).normal(size=(n, 3)), method="average")


TREES = {"image 224x224x3": lambda: image_tree((224, 224, 3)), "image 13x7x3": lambda: image_tree((13, 7, 3)),
         "image 6x5x1": lambda: image_tree((6, 5, 1)), "scipy linkage": lambda: linkage_tree(40)}


@pytest.mark.parametrize("tree", TREES)
def test_make_masks_builds_shaps_matrix(originals, tree):
    clustering = TREES[tree]()
    ours, theirs = shap_compiled.make_masks(clustering), originals["make_masks"](clustering)
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)


def test_make_masks_hands_parent_before_child_trees_to_shap(originals):
    # Node 3 (row 0) has node 4 (row 1) as a child: not children-first, so shap's own code runs.
    clustering = np.array([[4, 0, 1.0, 3], [1, 2, 0.5, 2]], dtype=float)
    assert not shap_compiled._children_first(clustering, 3)
    ours, theirs = shap_compiled.make_masks(clustering), originals["make_masks"](clustering)
    assert np.array_equal(ours.indices, theirs.indices) and np.array_equal(ours.indptr, theirs.indptr)


@pytest.mark.parametrize("tree", ["image 13x7x3", "scipy linkage"])
@pytest.mark.parametrize("outputs", [None, 4])
def test_lower_credit_gives_shaps_values_bit_for_bit(originals, tree, outputs):
    clustering = TREES[tree]()
    M = len(clustering) + 1
    shape = (2 * M - 1,) if outputs is None else (2 * M - 1, outputs)
    values = np.random.default_rng(3).normal(size=shape)
    ours, theirs = values.copy(), values.copy()
    shap_compiled.lower_credit(len(values) - 1, 0, M, ours, clustering)
    originals["lower_credit"](len(values) - 1, 0, M, theirs, clustering)
    assert ours.tobytes() == theirs.tobytes()


def fixed_output_case(seed, samples=3, masks=40, classes=5):
    """Inputs as shap's masked model builds them: some masks repeat the previous one (no new
    rows), the others re-evaluate some or all of the masker's samples."""
    rng = np.random.default_rng(seed)
    varying = rng.random((masks, samples)) < 0.5
    varying[rng.random(masks) < 0.3] = True
    repeated = rng.random(masks) < 0.2
    repeated[0] = False
    num_varying = np.where(repeated, 0, varying.sum(axis=1))
    batch_positions = np.concatenate([[0], np.cumsum(num_varying)])
    outputs = rng.random((batch_positions[-1], classes)).astype(np.float32)
    return (np.zeros((masks, classes)), np.zeros((samples, classes)), outputs, batch_positions,
            varying, num_varying)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("link", ["identity", "logit"])
def test_build_fixed_output_gives_shaps_outputs_bit_for_bit(originals, seed, link):
    import shap

    link_function = getattr(shap.links, link)
    averaged, last, outputs, positions, varying, num_varying = fixed_output_case(seed)
    ours_avg, ours_last = averaged.copy(), last.copy()
    shap_compiled.build_fixed_output(ours_avg, ours_last, outputs, positions, varying, num_varying,
                                     link_function, None)
    originals["build_fixed_output"](averaged, last, outputs, positions, varying, num_varying,
                                    link_function, None)
    assert ours_avg.tobytes() == averaged.tobytes()
    assert ours_last.tobytes() == last.tobytes()


def test_shap_explanation_is_unchanged_by_the_stand_ins(originals, region_classifier, region_image,
                                                       monkeypatch):
    import shap.explainers._partition as partition
    import shap.utils._masked_model as masked_model

    from engine import explain
    from engine.explain.shap_partition import ShapParams

    params = ShapParams(masker="blur(8,8)", max_evals=150, batch_size=25)
    ours = explain.run("shap", region_image, region_classifier, [0, 1], params)
    monkeypatch.setattr(masked_model, "_build_fixed_output", originals["build_fixed_output"])
    monkeypatch.setattr(partition, "lower_credit", originals["lower_credit"])
    monkeypatch.setattr(partition, "make_masks", originals["make_masks"])
    theirs = explain.run("shap", region_image, region_classifier, [0, 1], params)
    assert ours.extras["values"].tobytes() == theirs.extras["values"].tobytes()
    assert ours.extras["base_values"].tobytes() == theirs.extras["base_values"].tobytes()


# A fresh process: which shap / stand-in functions numba compiles for one SHAP explanation,
# and a digest of the values (compared across processes).
_PROBE = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from numba.core import event

compiled = []

class Listener(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        function = ev.data["dispatcher"].py_func
        if function.__module__.startswith(("shap.", "engine.explain.shap_compiled")):
            compiled.append(function.__module__ + "." + function.__qualname__)

event.register("numba:compile", Listener())

from known_models import build_region_model, region_image
from engine import explain
from engine.explain.shap_partition import ShapParams
from engine.models import Classifier

classifier = Classifier(build_region_model(), "region", ["bright", "dark"], "none")
result = explain.run("shap", region_image(), classifier, [0, 1], ShapParams(masker="blur(4,4)", max_evals=40))
print(json.dumps({"compiled": compiled, "values": hashlib.sha256(result.extras["values"].tobytes()).hexdigest()}))
"""


def test_a_second_process_loads_everything_from_the_cache(tmp_path):
    import os

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def probe():
        done = subprocess.run([sys.executable, "-c", _PROBE, str(ROOT / "tests")], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first, second = probe(), probe()
    assert "engine.explain.shap_compiled.lower_credit" in first["compiled"]
    assert "shap.maskers._image._jit_build_partition_tree" in first["compiled"]
    assert second["compiled"] == []
    assert second["values"] == first["values"]
