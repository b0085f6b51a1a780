"""Result files: complete sets or nothing, distinct names, strict JSON, one-line write failures."""

from __future__ import annotations

import errno
import json
import math
import os

import numpy as np
import pytest

from engine import strict_json
from engine.outputs import (
    OutputError,
    ResultSet,
    check_output_folder,
    class_png_name,
    distinct_stems,
    explanation_files,
    refuse_existing,
)
from engine.safe_files import require_regular_file


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_set_appears_only_when_every_part_is_written(tmp_path):
    with ResultSet(tmp_path) as files:
        files.add(tmp_path / "x.json", lambda f: f.write(b"{}"))
        files.add(tmp_path / "x.npz", lambda f: f.write(b"npz"))
        assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.npz").exists()
        # Only hidden temporaries so far: a reader of the folder sees no part of the set.
        assert len(listing(tmp_path)) == 2
        assert all(name.startswith(".") and name.endswith(".part") for name in listing(tmp_path))
        written = files.commit()
    assert [p.name for p in written] == ["x.json", "x.npz"]
    assert listing(tmp_path) == ["x.json", "x.npz"]
    assert (tmp_path / "x.npz").read_bytes() == b"npz"


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))])
def test_an_interrupt_or_a_full_disk_mid_set_leaves_the_folder_as_it_was(tmp_path, failure):
    (tmp_path / "keep.txt").write_text("the user's")

    def third_part(f):
        f.write(b"half")
        raise failure

    with pytest.raises((KeyboardInterrupt, OutputError)) as raised:
        with ResultSet(tmp_path) as files:
            files.add(tmp_path / "a.json", lambda f: f.write(b"{}"))
            files.add(tmp_path / "a.npz", lambda f: f.write(b"npz"))
            files.add(tmp_path / "a.0.png", third_part)
            files.commit()
    assert listing(tmp_path) == ["keep.txt"]  # no half set, no .part file
    if isinstance(failure, OSError):
        assert str(raised.value) == f"{tmp_path / 'a.0.png'}: cannot write (No space left on device)"


def test_out_folder_is_checked_before_anything_is_computed(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="--out .*file: exists and is not a folder"):
        check_output_folder(tmp_path / "file")
    made = check_output_folder(tmp_path / "new" / "deeper")
    assert made.is_dir() and listing(made) == []  # the write probe leaves nothing behind


@pytest.mark.parametrize("name, expected", [
    ("espresso", "coffee.shap.967-espresso.png"),
    ("Egyptian cat", "coffee.shap.967-Egyptian_cat.png"),
    ("Chihuahua/Mexican hairless", "coffee.shap.967-Chihuahua_Mexican_hairless.png"),
    ("three-toed sloth", "coffee.shap.967-three-toed_sloth.png"),
    ("café crème", "coffee.shap.967-cafe_creme.png"),
    ("../../etc/passwd", "coffee.shap.967-etc_passwd.png"),
    ("  ", "coffee.shap.967.png"),
    ("猫", "coffee.shap.967.png"),
    ("x" * 300, "coffee.shap.967-" + "x" * 40 + ".png"),
])
def test_class_png_names_carry_index_and_a_safe_class_name(name, expected):
    assert class_png_name("coffee", "shap", 967, name) == expected


def test_write_explanation_names_pngs_by_class_and_keeps_json_npz_names(tmp_path):
    from engine.export import write_explanation
    from engine.jobs import Explanation

    maps = np.random.default_rng(0).normal(size=(2, 8, 8)).astype(np.float32)
    explanation = Explanation(method="gradcam", classes=[3, 7], class_names=["tabby cat", "a/b"],
                              probabilities=[0.6, 0.3], maps=maps, image=np.zeros((8, 8, 3), np.uint8),
                              params={}, timings={}, versions={}, model="test")
    written = write_explanation(tmp_path, "cat", explanation, "cat.png", [])
    assert sorted(p.name for p in written) == ["cat.gradcam.3-tabby_cat.png", "cat.gradcam.7-a_b.png",
                                               "cat.gradcam.json", "cat.gradcam.npz"]
    # An existing set, new names or old, is found before anything is overwritten.
    (tmp_path / "cat.gradcam.4.png").write_text("mine")
    assert sorted(p.name for p in explanation_files(tmp_path, "cat", "gradcam")) == [
        "cat.gradcam.3-tabby_cat.png", "cat.gradcam.4.png", "cat.gradcam.7-a_b.png", "cat.gradcam.json",
        "cat.gradcam.npz"]


def test_existing_result_files_are_named_and_kept(tmp_path):
    (tmp_path / "cat.lime.3.png").write_text("mine")
    found = explanation_files(tmp_path, "cat", "lime")
    assert found == [tmp_path / "cat.lime.3.png"]
    assert explanation_files(tmp_path, "cat", "shap") == []
    with pytest.raises(OutputError, match=r"cat\.lime\.3\.png: exists already.*--overwrite"):
        refuse_existing(found, overwrite=False)
    refuse_existing(found, overwrite=True)
    assert (tmp_path / "cat.lime.3.png").read_text() == "mine"


def test_inputs_with_the_same_stem_get_distinct_names(tmp_path):
    for sub in ("a", "b", "c/d"):
        (tmp_path / sub).mkdir(parents=True)
    paths = [tmp_path / "a" / "cat.png", tmp_path / "b" / "cat.png", tmp_path / "c" / "d" / "cat.jpg",
             tmp_path / "dog.png", tmp_path / "a" / "cat.jpg"]
    names = distinct_stems(paths)
    assert names == ["a-cat-png", "b-cat", "c-d-cat", "dog", "a-cat-jpg"]
    assert len(set(names)) == len(names)
    assert distinct_stems(["x/cat.png", "x/cat.png"]) == ["cat", "cat-2"]  # the same file twice
    assert distinct_stems(["one.png", "two.png"]) == ["one", "two"]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_json_never_holds_nan_or_infinity(bad):
    with pytest.raises(strict_json.NonFiniteValueError, match=r"at metrics\.scores\[1\]"):
        strict_json.dumps({"metrics": {"scores": [0.5, bad]}})
    with pytest.raises(strict_json.NonFiniteValueError, match="maps"):
        strict_json.dumps({"maps": np.array([1.0, bad])})


def test_strict_json_keeps_numpy_values_and_missing_values_as_null():
    text = strict_json.dumps({"p": np.float32(0.25), "n": np.int64(3), "a": np.arange(2), "missing": None})
    assert json.loads(text) == {"p": 0.25, "n": 3, "a": [0, 1], "missing": None}


def test_only_regular_files_are_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(Exception, match=r"pipe: not a regular file \(a named pipe \(FIFO\)\)"):
        require_regular_file(tmp_path / "pipe", "image")
    with pytest.raises(Exception, match="character device"):
        require_regular_file("/dev/null", "image")
    (tmp_path / "ok.png").write_bytes(b"x")
    assert require_regular_file(tmp_path / "ok.png") == tmp_path / "ok.png"
