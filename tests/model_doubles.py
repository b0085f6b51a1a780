"""Stand-ins for a classifier that tests use to act at a precise moment of a job."""


class CancelDuringBatch:
    """The real classifier, with a user pressing Cancel while its ``batch_number``-th model
    batch runs. ``calls`` records the rows of every batch the model was asked for."""

    def __init__(self, classifier, token, batch_number: int):
        self._classifier = classifier
        self._token = token
        self._batch_number = batch_number
        self.calls: list[int] = []

    def __getattr__(self, name):
        return getattr(self._classifier, name)

    def predict(self, images):
        self.calls.append(len(images))
        if len(self.calls) == self._batch_number:
            self._token.cancel()
        return self._classifier.predict(images)
