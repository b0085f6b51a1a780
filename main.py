"""Image Explainer: the window by default, headless sub-commands for scripts.

    python main.py                      the app
    python main.py gui [IMAGE...]       the app, images preloaded
    python main.py predict IMAGE...     top classes
    python main.py explain IMAGE...     SHAP / LIME explanations (--grid: images × classes)
    python main.py evaluate FOLDER      accuracy + confusion matrix on class sub-folders
    python main.py batch FOLDER --out DIR   every image of a folder tree, resumable, with a report
    python main.py self-test            headless check of a built app
"""

from __future__ import annotations

import sys

from engine.runtime import prepare_environment

HEADLESS = {"predict", "explain", "evaluate", "batch", "self-test"}


def main(argv: list[str] | None = None) -> int:
    prepare_environment()
    from engine.library_warnings import one_line_warnings

    one_line_warnings()  # the window too: a library's warning is one line, never a raw dump
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HEADLESS:
        if argv[0] == "self-test":
            from engine.selftest import run_self_test

            return run_self_test(argv[1:])
        from engine.cli import main as cli_main

        return cli_main(argv)
    if argv and argv[0] in ("-V", "--version"):  # at once: no Qt, no Keras
        from engine.about import version_line

        print(version_line())
        return 0
    if argv and argv[0] in ("-h", "--help"):
        from engine.cli import build_parser

        build_parser().print_help()
        return 0
    if not argv or argv[0] != "gui":
        argv = ["gui", *argv]
    from engine.cli import build_parser

    args = build_parser().parse_args(argv)
    from gui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
