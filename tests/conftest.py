"""Shared pytest fixtures for tests/: repo paths, the venv python, free ports and the built binaries.

Kept generic on purpose: every tests/test_*.py may use these. Browser helpers live in browser_util.py.
"""

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HIPS_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# Make tests/ importable (browser_util and any other helper module next to the tests).
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The workspace root (the directory holding Cargo.toml)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real test images (env HIPS_SHARED_DATA, default <repo>/../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA} (set HIPS_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def venv_python() -> Path:
    """The project's Python (env HIPS_PYTHON, default <repo>/.venv/bin/python)."""
    p = Path(os.environ.get("HIPS_PYTHON", REPO_ROOT / ".venv" / "bin" / "python"))
    if not p.exists():
        pytest.fail(f"project python not found at {p} (set HIPS_PYTHON)")
    return p


def http_get(url: str, headers: dict | None = None, timeout: float = 120) -> tuple[int, bytes]:
    """GET ``url`` with ``headers``: (status, body), for error statuses too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def free_port_number(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago: only for servers that cannot bind port 0 and say which port
    they got (SeaweedFS's master, volume, filer and S3 ports, each with a gRPC port at +10000); every other server in
    the tests binds port 0 and reports its address."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _binary(name: str) -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    return target / "debug" / name


@pytest.fixture(scope="session")
def target_debug() -> Path:
    """target/debug (honours CARGO_TARGET_DIR)."""
    return _binary("")


def _built(name: str) -> Path:
    """target/debug/<name>; fails the test if it was not built (`cargo build -p <name>`)."""
    p = _binary(name)
    if not p.is_file():
        pytest.fail(f"{p} not found: run `cargo build -p {name}` first")
    return p


@pytest.fixture(scope="session")
def hipsgen_bin() -> Path:
    """target/debug/hipsgen."""
    return _built("hipsgen")


@pytest.fixture(scope="session")
def hipsserve_bin() -> Path:
    """target/debug/hipsserve."""
    return _built("hipsserve")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: renders in headless chromium through tests/browser (needs npm ci)")
