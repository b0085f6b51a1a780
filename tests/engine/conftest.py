"""Engine fixtures: known-answer classifiers built once per session."""

import pytest


@pytest.fixture(scope="session")
def region_classifier():
    from known_models import build_region_model

    from engine.models import Classifier

    return Classifier(build_region_model(), "region", ["bright region", "dark region"], "none")


@pytest.fixture(scope="session")
def region_image():
    from known_models import region_image

    return region_image()


@pytest.fixture(scope="session")
def untrained_resnet():
    from engine.models import ModelSpec, load_classifier

    return load_classifier(ModelSpec(weights="none"))
