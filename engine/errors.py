"""Errors the engine raises for problems a user can fix; each message is one clear line."""


def first_line(exc: BaseException) -> str:
    """An exception's first line, or its type's name when it has no message: library errors
    quoted inside the engine's own one-line messages."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class EngineError(Exception):
    """A problem with the user's input or setup (not a bug). ``str(err)`` is shown as-is."""


class ImageError(EngineError):
    """An image file that cannot be used: missing, corrupt, truncated, too large, odd format."""


class ModelError(EngineError):
    """A model file or label file that cannot be used, or a model that failed to run."""


class UntrustedModelError(ModelError):
    """A model refused because loading or running it would execute code from the file
    (Lambda layers, custom objects, SavedModel graphs); it loads once the person trusts it."""


class WeightsMissingError(ModelError):
    """Pretrained weights are not available locally and could not (or may not) be downloaded.

    ``filename`` is the file needed and ``folder`` where to put it, so a window can offer to
    choose or download it.
    """

    def __init__(self, message: str, filename: str, folder: str):
        super().__init__(message)
        self.filename = filename
        self.folder = folder


class WrongWeightsError(ModelError):
    """A weights file that does not fit the network. ``str(err)`` says so in plain words;
    ``detail`` keeps the library's own text for whoever wants it (a tooltip, a log)."""

    def __init__(self, message: str, filename: str, reason: str, detail: str = ""):
        super().__init__(message)
        self.filename = filename
        self.reason = reason  # "its layers do not match" or "it is not a Keras weights file"
        self.detail = detail


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set; not an error."""
