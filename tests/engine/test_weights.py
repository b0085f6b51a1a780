"""Finding and downloading the ResNet-50 weights, against a local HTTP server (no internet)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import struct
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import engine.weights as weights
from engine.errors import EngineError, WeightsMissingError
from engine.jobs import CancelToken, Cancelled
from engine.weights import (
    ENV_WEIGHTS_MD5,
    ENV_WEIGHTS_PATH,
    ENV_WEIGHTS_URL,
    RESNET50_FILENAME,
    RESNET50_MD5,
    RESNET50_URL,
    TextProgressBar,
    download_file,
    download_resnet50_weights,
    find_resnet50_weights,
    format_bytes,
    keras_cache_dir,
    missing_weights_error,
)

PAYLOAD = os.urandom(3 * 1024 * 1024 + 12345)  # a few MB, not a multiple of the chunk size
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
CHUNK = 256 * 1024


class _Handler(BaseHTTPRequestHandler):
    """Handcrafted responses: good, truncated, reset, no length, 404."""

    def log_message(self, format, *args):  # keep test output clean
        pass

    def _send(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (cancel): fine

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        if self.path == "/ok":
            self._headers(len(PAYLOAD))
            self._send(PAYLOAD)
        elif self.path == "/nolength":
            self._headers(None)
            self._send(PAYLOAD)
            self.close_connection = True
        elif self.path == "/short":
            # Announce everything, send a bit more than half, then close cleanly.
            self._headers(len(PAYLOAD))
            self._send(PAYLOAD[: len(PAYLOAD) // 2 + 7])
            self.close_connection = True
        elif self.path == "/reset":
            # Announce everything, send some, then abort the connection (TCP RST).
            self._headers(len(PAYLOAD))
            self._send(PAYLOAD[:CHUNK + 5])
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (ENV_WEIGHTS_PATH, ENV_WEIGHTS_URL, ENV_WEIGHTS_MD5, "KERAS_HOME"):
        monkeypatch.delenv(name, raising=False)


def _leftovers(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir())


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "\r" not in text
    assert text.strip() == text and text
    return text


# --------------------------------------------------------------------------- download_file


def test_download_success_writes_exact_bytes_and_reports_progress(server, tmp_path):
    dest = tmp_path / "sub" / "dir" / "weights.h5"  # folder created on demand
    calls = []
    result = download_file(
        server + "/ok",
        dest,
        PAYLOAD_MD5,
        progress=lambda d, t, s: calls.append((d, t, s)),
        chunk_size=CHUNK,
    )
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["weights.h5"]

    assert len(calls) >= len(PAYLOAD) // CHUNK  # after each chunk
    assert all(stage == "download" for _, _, stage in calls)
    assert all(total == len(PAYLOAD) for _, total, _ in calls)
    dones = [done for done, _, _ in calls]
    assert dones == sorted(dones)
    assert dones[-1] == len(PAYLOAD)


def test_download_md5_is_case_insensitive_and_optional(server, tmp_path):
    download_file(server + "/ok", tmp_path / "a.bin", PAYLOAD_MD5.upper(), chunk_size=CHUNK)
    download_file(server + "/ok", tmp_path / "b.bin", None, chunk_size=CHUNK)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    assert (tmp_path / "b.bin").read_bytes() == PAYLOAD


def test_download_without_content_length_reports_total_zero(server, tmp_path):
    dest = tmp_path / "w.h5"
    calls = []
    download_file(
        server + "/nolength",
        dest,
        PAYLOAD_MD5,
        progress=lambda d, t, s: calls.append((d, t)),
        chunk_size=CHUNK,
    )
    assert dest.read_bytes() == PAYLOAD
    assert all(total == 0 for _, total in calls)
    assert calls[-1][0] == len(PAYLOAD)


def test_wrong_hash_raises_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "w.h5"
    with pytest.raises(EngineError) as info:
        download_file(server + "/ok", dest, "0" * 32, chunk_size=CHUNK)
    text = _one_line(info.value)
    assert text.startswith("download failed:")
    assert "checksum" in text
    assert "w.h5" in text and "0" * 32 in text and PAYLOAD_MD5 in text
    assert not dest.exists()
    assert _leftovers(tmp_path) == []
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("path", ["/short", "/reset"])
def test_connection_dropped_midway_raises_and_leaves_nothing(server, tmp_path, path):
    dest = tmp_path / "w.h5"
    with pytest.raises(EngineError) as info:
        # md5=None: the truncation itself must be detected, not just a bad hash
        download_file(server + path, dest, None, chunk_size=CHUNK)
    text = _one_line(info.value)
    assert text.startswith("download failed:")
    assert "checksum" not in text
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_cancel_from_progress_raises_cancelled_and_leaves_nothing(server, tmp_path):
    dest = tmp_path / "w.h5"
    token = CancelToken()
    calls = []

    def progress(done, total, stage):
        calls.append(done)
        if done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        download_file(
            server + "/ok", dest, PAYLOAD_MD5, progress=progress, cancel=token, chunk_size=CHUNK
        )
    assert max(calls) == CHUNK  # stopped right after the first chunk
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_already_cancelled_token_does_nothing(server, tmp_path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        download_file(server + "/ok", tmp_path / "w.h5", PAYLOAD_MD5, cancel=token)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("path, md5", [("/ok", "f" * 32), ("/short", None), ("/missing", None)])
def test_existing_dest_untouched_when_download_fails(server, tmp_path, path, md5):
    dest = tmp_path / "w.h5"
    dest.write_bytes(b"previous good file")
    with pytest.raises(EngineError):
        download_file(server + path, dest, md5, chunk_size=CHUNK)
    assert dest.read_bytes() == b"previous good file"
    assert _leftovers(tmp_path) == ["w.h5"]


def test_existing_dest_replaced_on_success(server, tmp_path):
    dest = tmp_path / "w.h5"
    dest.write_bytes(b"old")
    download_file(server + "/ok", dest, PAYLOAD_MD5, chunk_size=CHUNK)
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["w.h5"]


def test_http_404_is_one_line_engine_error(server, tmp_path):
    dest = tmp_path / "w.h5"
    with pytest.raises(EngineError) as info:
        download_file(server + "/missing", dest, None)
    text = _one_line(info.value)
    assert text.startswith("download failed:")
    assert "404" in text
    assert _leftovers(tmp_path) == []


def test_connection_refused_is_engine_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the port is closed now: nothing listens there
    dest = tmp_path / "w.h5"
    with pytest.raises(EngineError) as info:
        download_file(f"http://127.0.0.1:{port}/w.h5", dest, None, timeout=5)
    text = _one_line(info.value)
    assert text.startswith("download failed")
    assert f"127.0.0.1:{port}" in text
    assert _leftovers(tmp_path) == []


def test_bad_url_is_engine_error(tmp_path):
    with pytest.raises(EngineError) as info:
        download_file("notaurl", tmp_path / "w.h5", None)
    assert _one_line(info.value).startswith("download failed:")
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- resnet50 download


def test_download_resnet50_weights_uses_env_overrides_and_keras_home(server, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(ENV_WEIGHTS_URL, server + "/ok")
    monkeypatch.setenv(ENV_WEIGHTS_MD5, PAYLOAD_MD5)
    calls = []
    path = download_resnet50_weights(progress=lambda d, t, s: calls.append(d))
    assert path == tmp_path / "models" / RESNET50_FILENAME
    assert path.read_bytes() == PAYLOAD
    assert calls[-1] == len(PAYLOAD)
    assert _leftovers(tmp_path / "models") == [RESNET50_FILENAME]
    # ... and now it is found in the cache
    monkeypatch.setattr(weights, "bundled_weights_path", lambda: tmp_path / "nope.h5")
    assert find_resnet50_weights() == path


def test_download_resnet50_weights_checks_official_hash_without_md5_override(
    server, tmp_path, monkeypatch
):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv(ENV_WEIGHTS_URL, server + "/ok")
    with pytest.raises(EngineError, match="checksum mismatch"):
        download_resnet50_weights()
    assert _leftovers(tmp_path / "models") == []


def test_url_and_md5_overrides(monkeypatch):
    assert weights.download_url() == RESNET50_URL
    assert weights.expected_md5() == RESNET50_MD5
    monkeypatch.setenv(ENV_WEIGHTS_MD5, "a" * 32)
    assert weights.expected_md5() == RESNET50_MD5  # ignored without a URL override
    monkeypatch.setenv(ENV_WEIGHTS_URL, "http://127.0.0.1:1/w.h5")
    assert weights.download_url() == "http://127.0.0.1:1/w.h5"
    assert weights.expected_md5() == "a" * 32


def test_constants():
    assert RESNET50_FILENAME == "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    assert RESNET50_URL.endswith("/" + RESNET50_FILENAME)
    assert RESNET50_URL.startswith("https://storage.googleapis.com/")
    assert RESNET50_MD5 == "2cb95161c43110f7111970584f804107"
    assert ENV_WEIGHTS_PATH == "IMAGE_EXPLAINER_WEIGHTS"
    assert ENV_WEIGHTS_URL == "IMAGE_EXPLAINER_WEIGHTS_URL"
    assert ENV_WEIGHTS_MD5 == "IMAGE_EXPLAINER_WEIGHTS_MD5"


# --------------------------------------------------------------------------- finding


def test_keras_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert keras_cache_dir() == tmp_path / "kh" / "models"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert keras_cache_dir() == tmp_path / ".keras" / "models"


def test_keras_cache_dir_falls_back_to_tmp_when_home_not_writable(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path) in (tmp_path, tmp_path / ".keras") and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(weights.os, "access", access)
    cache = keras_cache_dir()
    assert cache.parts[-2:] == (".keras", "models")
    assert cache.parent.parent != tmp_path


def test_bundled_weights_path_is_a_resource():
    path = weights.bundled_weights_path()
    assert path.name == RESNET50_FILENAME
    assert path.parent.name == "weights"
    assert path.parent.parent.name == "resources"


def _make(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"h5")
    return path


def test_find_order_explicit_env_bundled_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    bundled = tmp_path / "resources" / "weights" / RESNET50_FILENAME
    monkeypatch.setattr(weights, "bundled_weights_path", lambda: bundled)

    assert find_resnet50_weights() is None

    cached = _make(tmp_path / "kh" / "models" / RESNET50_FILENAME)
    assert find_resnet50_weights() == cached

    _make(bundled)
    assert find_resnet50_weights() == bundled

    from_env = _make(tmp_path / "env" / "w.h5")
    monkeypatch.setenv(ENV_WEIGHTS_PATH, str(from_env))
    assert find_resnet50_weights() == from_env

    explicit = _make(tmp_path / "explicit" / "w.h5")
    assert find_resnet50_weights(explicit) == explicit
    assert find_resnet50_weights(str(explicit)) == explicit


def test_find_explicit_missing_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "bundled_weights_path", lambda: tmp_path / "none.h5")
    missing = tmp_path / "nope.h5"
    with pytest.raises(EngineError) as info:
        find_resnet50_weights(missing)
    text = _one_line(info.value)
    assert text.startswith("weights file not found:")
    assert str(missing) in text
    # a folder is not a weights file
    with pytest.raises(EngineError):
        find_resnet50_weights(tmp_path)


def test_find_env_missing_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "bundled_weights_path", lambda: tmp_path / "none.h5")
    monkeypatch.setenv(ENV_WEIGHTS_PATH, str(tmp_path / "gone.h5"))
    with pytest.raises(EngineError, match="weights file not found"):
        find_resnet50_weights()


def test_missing_weights_error_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    err = missing_weights_error()
    assert isinstance(err, WeightsMissingError)
    assert isinstance(err, EngineError)
    text = _one_line(err)
    folder = str(tmp_path / "models")
    assert RESNET50_FILENAME in text and folder in text
    assert "--weights" in text
    assert err.filename == RESNET50_FILENAME
    assert err.folder == folder


# --------------------------------------------------------------------------- command line


def test_format_bytes():
    assert format_bytes(0) == "0 B"
    assert format_bytes(512) == "512 B"
    assert format_bytes(2048) == "2.0 KB"
    assert format_bytes(102_853_048) == "98.1 MB"
    assert format_bytes(3 * 1024**3) == "3.0 GB"


def test_text_progress_bar_with_no_stream_does_not_crash():
    bar = TextProgressBar(stream=None)
    bar(0, 100, "download")
    bar(50, 100, "download")
    bar(100, 100, "download")
    bar(10, 0, "download")
    bar.close()
    bar.close()


def test_text_progress_bar_writes_percent_and_sizes():
    now = [0.0]
    stream = io.StringIO()
    bar = TextProgressBar(stream=stream, clock=lambda: now[0])
    total = 10 * 1024 * 1024
    bar(0, total, "download")
    now[0] = 1.0
    bar(total // 2, total, "download")
    now[0] = 1.01  # too soon: throttled
    bar(total // 2 + 1, total, "download")
    now[0] = 2.0
    bar(total, total, "download")
    bar.close()
    text = stream.getvalue()
    assert "50%" in text and "100%" in text
    assert "10.0 MB" in text and "5.0 MB" in text
    assert "MB/s" in text
    assert text.count("\r") == 3  # the throttled update was skipped
    assert text.endswith("\n") and text.count("\n") == 1


def test_text_progress_bar_close_shows_last_throttled_update():
    now = [0.0]
    stream = io.StringIO()
    bar = TextProgressBar(stream=stream, clock=lambda: now[0])
    bar(0, 0, "download")
    now[0] = 0.01
    bar(3 * 1024 * 1024, 0, "download")  # throttled, unknown total
    bar.close()
    last = stream.getvalue().split("\r")[-1]
    assert "3.0 MB" in last and "%" not in last
    assert last.endswith("\n")


def test_text_progress_bar_survives_a_broken_stream():
    class Broken(io.StringIO):
        def write(self, s):
            raise OSError("gone")

    bar = TextProgressBar(stream=Broken())
    bar(1, 2, "download")
    bar(2, 2, "download")
    bar.close()


def test_text_progress_bar_defaults_to_stderr(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    bar = TextProgressBar()
    bar(1, 4, "download")
    bar.close()
    assert "25%" in fake.getvalue()


def test_module_imports_neither_keras_nor_qt():
    code = (
        "import sys, engine.weights\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'PySide6', 'PyQt5', 'PyQt6')]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=120)
