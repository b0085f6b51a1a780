"""Run ``main.main(argv)`` in this process, as ``python main.py ARGS`` would run in a new one.

A new Python process costs seconds before the command does anything (Python, TensorFlow and
Keras imports); the command-line tests run dozens of commands, so most of them run here.
Real subprocesses (``run_process``) stay where a process of its own is the point: one
end-to-end run each of predict, explain, evaluate and batch, signals, kill -9, and state a
process keeps once set (each such test says why).

What a separate process would give for free is done by hand: its own stdout/stderr, cwd,
environment, argv, signal handlers, warning filters and logging set-up, all put back after
the call; an exception that escapes ``main()`` is a traceback on stderr and exit status 1,
as the interpreter would make it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A new interpreter's warning filters (python -W and PYTHONWARNINGS aside): pytest's own
# filters ("always" for deprecations, pytest.ini's ignores) are not what a user's run has.
_PYTHON_DEFAULT_FILTERS = [
    ("default", None, DeprecationWarning, "__main__", 0),
    ("ignore", None, DeprecationWarning, None, 0),
    ("ignore", None, PendingDeprecationWarning, None, 0),
    ("ignore", None, ImportWarning, None, 0),
    ("ignore", None, ResourceWarning, None, 0),
]
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Filters the product installs once per process (at import, or guarded by a module flag):
# in a real process they stay for its whole life, but pytest undoes them after the test that
# first imported the module. Kept here and put back for every later run.
_product_filters: list[tuple] = []


def run_process(*args, cwd=ROOT, env: dict | None = None, timeout=300) -> subprocess.CompletedProcess:
    """``python main.py *args`` as a real subprocess: for the one smoke test per command, and
    for what needs a process of its own (signals, a fresh interpreter's one-time state)."""
    merged = {**os.environ, **{k: str(v) for k, v in (env or {}).items() if v is not None}}
    for name in [k for k, v in (env or {}).items() if v is None]:
        merged.pop(name, None)
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=merged, timeout=timeout)


def run_main(*args, cwd=ROOT, env: dict | None = None, timeout=None) -> subprocess.CompletedProcess:
    """``python main.py *args`` in this process: a ``CompletedProcess`` with returncode,
    stdout and stderr (text). ``env`` entries are set for the call only (``None`` unsets one);
    ``timeout`` is accepted for the same call shape as ``subprocess.run`` and not enforced
    (pytest's faulthandler_timeout reports a hang)."""
    argv = [str(a) for a in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    with _separate_process_state(cwd, env, argv):
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returncode = _call_main(argv)
            _flush(sys.stdout, sys.stderr)
    return subprocess.CompletedProcess([sys.executable, str(ROOT / "main.py"), *argv], returncode,
                                       stdout.getvalue(), stderr.getvalue())


def _call_main(argv: list[str]) -> int:
    if str(ROOT) not in sys.path:  # main.py sits at the top of the repository, beside engine/
        sys.path.insert(0, str(ROOT))
    import main

    try:
        status = main.main(argv)
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc(file=sys.stderr)
        return 1
    return _exit_status(status)


def _exit_status(code) -> int:
    """``sys.exit(code)``'s status: None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _flush(*streams) -> None:
    for stream in streams:
        with contextlib.suppress(Exception):
            stream.flush()


@contextlib.contextmanager
def _separate_process_state(cwd, env: dict | None, argv: list[str]):
    from engine import library_warnings

    saved_cwd = os.getcwd()
    saved_env = dict(os.environ)
    saved_argv = sys.argv
    saved_signals = {s: signal.getsignal(s) for s in _SIGNALS}
    saved_logging = _logging_state()
    # main() says each library warning once per process: a new process has said none yet.
    saved_said = set(library_warnings._said)
    library_warnings._said.clear()
    with warnings.catch_warnings():  # restores showwarning and the filters on the way out
        warnings.resetwarnings()  # also forgets which warnings were shown once already
        warnings.filters[:] = [*_product_filters, *_PYTHON_DEFAULT_FILTERS]
        before = list(warnings.filters)
        try:
            for name, value in (env or {}).items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = str(value)
            os.chdir(cwd)
            sys.argv = [str(ROOT / "main.py"), *argv]
            yield
        finally:
            _product_filters[:0] = [f for f in warnings.filters if f not in before and f not in _product_filters]
            os.chdir(saved_cwd)
            sys.argv = saved_argv
            _restore_environment(saved_env)
            for signum, handler in saved_signals.items():
                signal.signal(signum, handler)
            _restore_logging(saved_logging)
            library_warnings._said.clear()
            library_warnings._said.update(saved_said)


def _restore_environment(saved: dict) -> None:
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _logging_state() -> dict:
    """Level, handlers and propagation of the root logger and every named logger."""
    loggers = {"": logging.getLogger()}
    loggers.update((name, logger) for name, logger in logging.Logger.manager.loggerDict.items()
                   if isinstance(logger, logging.Logger))
    return {name: (logger, logger.level, list(logger.handlers), logger.propagate, logger.disabled)
            for name, logger in loggers.items()}


def _restore_logging(saved: dict) -> None:
    for logger, level, handlers, propagate, disabled in saved.values():
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate, logger.disabled = propagate, disabled
