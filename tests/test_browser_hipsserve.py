"""Aladin Lite, on a page of another origin, shows HiPS served by hipsserve: public ones through CORS, restricted ones
only with the user's token cookie and credentials mode on, from a page origin listed in cors.allowed_origins.

hipsserve serves the two CDS-built reference HiPS (CFHT public, JWST_MIRI restricted to user carol). Oracle: the
view recomputed from the HiPS's own tiles (browser_util.expected_view), compared by rank correlation.
"""

import socket
from urllib.parse import urlsplit

import numpy as np
import pytest

from browser_util import expected_view, hipsserve, load_grey, rank_correlation, read_properties, render_hips, to_grey

pytestmark = pytest.mark.browser

TOKEN = "carol-browser-test-token-0123456789"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The page origin of the restricted-HiPS tests, listed by name: "*" never grants credentialed reads.
PAGE_ORIGIN = f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="module")
def reference_root(shared_data):
    d = shared_data / "reference_hips"
    assert (d / "CFHT" / "properties").is_file() and (d / "JWST_MIRI" / "properties").is_file(), d
    return d


@pytest.fixture(scope="module")
def hipsserve_url(hipsserve_bin, reference_root, tmp_path_factory):
    """A running hipsserve on 127.0.0.1 (free port) over reference_hips/; yields its base URL."""
    tmp = tmp_path_factory.mktemp("hipsserve")
    tokens = tmp / "tokens"
    tokens.write_text(f"carol:{TOKEN}\n", encoding="utf-8")
    config = tmp / "hipsserve.toml"
    config.write_text(
        f"""listen = "127.0.0.1:0"
roots = ["{reference_root}"]

[cors]
allowed_origins = ["*", "{PAGE_ORIGIN}"]

[auth]
tokens_file = "{tokens}"
token_cookie = "hips_token"

[hips.JWST_MIRI]
access = "restricted"
users = ["carol"]
listed = false
""",
        encoding="utf-8",
    )
    with hipsserve(hipsserve_bin, "--config", str(config), "--no-access-log") as url:
        yield url


def _initial(hips_dir):
    p = read_properties(hips_dir)
    return tuple(float(p[k]) for k in ("hips_initial_ra", "hips_initial_dec", "hips_initial_fov"))


def _statuses(report, name):
    return [r["status"] for r in report["requests"] if f"/{name}/" in r["url"]]


def test_public_hips_cross_origin(hipsserve_url, reference_root, tmp_path):
    """CFHT from hipsserve, page on another origin: drawn exactly as its tiles say."""
    ra, dec, fov = _initial(reference_root / "CFHT")
    w = h = 320
    out = tmp_path / "cfht.png"
    report = render_hips(f"{hipsserve_url}/CFHT", ra, dec, fov, w, h, out)
    assert urlsplit(report["pageOrigin"]).port != urlsplit(hipsserve_url).port, "must be cross-origin"
    statuses = _statuses(report, "CFHT")
    assert statuses and all(s == 200 for s in statuses), report["requests"]
    shot = load_grey(out)
    exp = to_grey(expected_view(reference_root / "CFHT", ra, dec, fov, w, h))
    good = rank_correlation(shot, exp)
    assert good > 0.95, f"Spearman {good:.3f}"
    assert rank_correlation(shot, exp[:, ::-1]) < 0.5


def test_restricted_hips_with_token_cookie(hipsserve_url, reference_root, tmp_path):
    """JWST_MIRI (restricted to carol): shown when the page sends carol's cookie with credentials mode on."""
    ra, dec, fov = _initial(reference_root / "JWST_MIRI")
    w = h = 240
    exp = to_grey(expected_view(reference_root / "JWST_MIRI", ra, dec, fov, w, h))
    out = tmp_path / "jwst_ok.png"
    report = render_hips(
        f"{hipsserve_url}/JWST_MIRI", ra, dec, fov, w, h, out,
        with_credentials=True, cookies=[f"hips_token={TOKEN}@{hipsserve_url}"], page_origin=PAGE_ORIGIN,
    )
    statuses = _statuses(report, "JWST_MIRI")
    assert statuses and all(s == 200 for s in statuses), report["requests"]
    good = rank_correlation(load_grey(out), exp)
    assert good > 0.95, f"Spearman {good:.3f}"


@pytest.mark.parametrize(
    "case", ["no cookie", "cookie without credentials mode", "wrong token"],
)
def test_restricted_hips_refused(hipsserve_url, reference_root, tmp_path, case):
    """Without a valid token actually sent, hipsserve answers 401 and nothing of JWST_MIRI is drawn."""
    ra, dec, fov = _initial(reference_root / "JWST_MIRI")
    cookies = {
        "no cookie": [],
        "cookie without credentials mode": [f"hips_token={TOKEN}@{hipsserve_url}"],
        "wrong token": [f"hips_token=not-{TOKEN}@{hipsserve_url}"],
    }[case]
    out = tmp_path / "jwst_refused.png"
    report = render_hips(
        f"{hipsserve_url}/JWST_MIRI", ra, dec, fov, 200, 200, out,
        with_credentials=case != "cookie without credentials mode", cookies=cookies, page_origin=PAGE_ORIGIN,
        timeout_s=12, allow_timeout=True,
    )
    statuses = [s for s in _statuses(report, "JWST_MIRI") if s is not None]
    assert statuses and all(s == 401 for s in statuses), report["requests"]
    assert load_grey(out).max() < 10, "a refused HiPS must not be drawn"
    assert np.all(np.isfinite(load_grey(out)))
