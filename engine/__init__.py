"""Image Explainer engine: everything that computes. Imports no Qt, ever."""
