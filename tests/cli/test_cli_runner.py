"""The in-process runner (tests/cli_runner.py) behaves like a new ``python main.py`` process
and leaves this one as it found it."""

import logging
import os
import signal
import sys
import warnings

import main
import pytest
from cli_runner import ROOT, run_main


def test_version_is_printed_with_exit_status_0():
    from engine.about import version_line

    result = run_main("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, version_line() + "\n", "")


def test_a_usage_error_leaves_signal_handlers_and_warnings_as_they_were():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    showwarning, filters = warnings.showwarning, list(warnings.filters)
    result = run_main("predict", "x.png", "--colour")  # main() installs its handlers, then refuses
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "--colour" in result.stderr
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert warnings.showwarning is showwarning and warnings.filters == filters


def test_the_call_sees_its_own_cwd_env_and_argv_and_they_are_put_back(monkeypatch, tmp_path):
    seen = {}

    def fake_main(argv):
        seen.update(argv=argv, sys_argv=sys.argv[1:], cwd=os.getcwd(), env=os.environ.get("RUNNER_PROBE"))
        os.environ["RUNNER_LEFTOVER"] = "1"
        print("out")
        print("err", file=sys.stderr)
        sys.exit(3)

    monkeypatch.setattr(main, "main", fake_main)
    monkeypatch.delenv("RUNNER_LEFTOVER", raising=False)
    cwd = os.getcwd()
    result = run_main("predict", tmp_path / "x.png", cwd=tmp_path, env={"RUNNER_PROBE": "yes"})
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert seen == {"argv": ["predict", str(tmp_path / "x.png")], "sys_argv": ["predict", str(tmp_path / "x.png")],
                    "cwd": str(tmp_path), "env": "yes"}
    assert os.getcwd() == cwd and "RUNNER_PROBE" not in os.environ and "RUNNER_LEFTOVER" not in os.environ
    assert run_main("x", cwd=ROOT).returncode == 3  # exit codes pass through every time


def test_an_escaping_exception_is_a_traceback_and_exit_status_1(monkeypatch):
    def crashing_main(argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(main, "main", crashing_main)
    result = run_main("predict")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback") and result.stderr.endswith("RuntimeError: boom\n")


def test_each_run_says_a_library_warning_again_like_a_new_process(monkeypatch):
    from engine.library_warnings import one_line_warnings

    def warning_main(argv):
        one_line_warnings()
        warnings.warn("the same message", UserWarning)
        return 0

    monkeypatch.setattr(main, "main", warning_main)
    assert [run_main().stderr for _ in range(2)] == ["warning: the same message\n"] * 2


def test_logging_and_signal_changes_are_undone(monkeypatch):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sigint = signal.getsignal(signal.SIGINT)

    def meddling_main(argv):
        root.addHandler(logging.StreamHandler(sys.stderr))
        root.setLevel(logging.DEBUG)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return 0

    tf_level = logging.getLogger("tensorflow").level
    monkeypatch.setattr(main, "main", meddling_main)
    assert run_main().returncode == 0
    assert root.handlers == handlers and root.level == level
    assert logging.getLogger("tensorflow").level == tf_level
    assert signal.getsignal(signal.SIGINT) is sigint


@pytest.mark.parametrize("code, status", [(None, 0), (0, 0), (5, 5)])
def test_exit_codes_are_those_of_sys_exit(monkeypatch, code, status):
    monkeypatch.setattr(main, "main", lambda argv: sys.exit(code))
    assert run_main().returncode == status
