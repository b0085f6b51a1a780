"""The pipeline with a result store in front: stored results are reused, new ones are kept.

A method's stored result is used when the key matches exactly (model fingerprint, the exact
model input, method, parameters, classes, scoring and stability settings); ``recompute``
ignores what is stored and replaces it.
"""

from __future__ import annotations

from dataclasses import replace

from engine import pipeline
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.store import ResultKey, ResultStore, image_hash, model_fingerprint


class StoredPipeline:
    def __init__(self, store: ResultStore, classifier):
        self.store = store
        self.classifier = classifier
        self.fingerprint = model_fingerprint(classifier)

    def key(self, request: pipeline.ExplainRequest, method: str, image, targets) -> ResultKey:
        params = request.method_params(method)
        stability = request.stability if pipeline.has_randomness(method, params) else 0
        return ResultKey.make(self.fingerprint, image_hash(image), method, params, targets,
                              request.scoring_steps if request.scoring else 0, stability, request.seed)

    def run(self, request: pipeline.ExplainRequest, recompute: bool = False,
            progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
            hooks: pipeline.Hooks | None = None) -> pipeline.ResultSet:
        hooks = hooks or pipeline.Hooks()
        earlier = hooks.reuse

        def reuse(method, image, targets):
            found = None if recompute else self.store.get(self.key(request, method, image, targets))
            if found is None and earlier is not None:
                return earlier(method, image, targets)
            return found

        result = pipeline.run(request, self.classifier, progress, cancel, replace(hooks, reuse=reuse))
        for method, explanation in result.explanations.items():
            if method not in result.reused:
                self.store.put(self.key(request, method, result.image, result.targets), explanation,
                               result.scores.get(method), result.stability.get(method))
        return result


def default_store() -> ResultStore:
    """The store of this user's results, in the app's cache folder."""
    from engine.runtime import user_cache_dir

    return ResultStore(user_cache_dir() / "results")

