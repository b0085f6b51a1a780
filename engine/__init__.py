"""Image Explainer engine: everything that computes. Imports no Qt, ever."""

# The app's version: the one place it is written (About, --version and result files read it).
__version__ = "0.1.0"
