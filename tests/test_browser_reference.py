"""Aladin Lite (headless chromium) shows the CDS-built reference HiPS where it belongs on the sky.

Oracle: the view recomputed in Python from the HiPS's own PNG tiles with astropy-healpix (browser_util.expected_view),
compared with the screenshot by rank correlation; deliberately wrong expectations (mirrored, shifted, rescaled,
channels swapped) must correlate clearly worse, so the tests check placement, orientation and scale.
"""

from pathlib import Path

import numpy as np
import pytest

from browser_util import (
    expected_view,
    load_grey,
    load_rgb,
    rank_correlation,
    read_properties,
    render_hips,
    static_server,
    to_grey,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def cfht(shared_data) -> Path:
    d = shared_data / "reference_hips" / "CFHT"
    assert (d / "properties").is_file(), f"missing reference HiPS {d}"
    return d


def _hips_requests(report, suffix):
    return [r for r in report["requests"] if r["url"].endswith(suffix)]


def test_initial_view_matches_tiles(cfht, tmp_path):
    """The HiPS's initial view (SIN, 1.17 deg) shows the tile pixels at their HEALPix positions, exactly."""
    props = read_properties(cfht)
    ra, dec, fov = (float(props[k]) for k in ("hips_initial_ra", "hips_initial_dec", "hips_initial_fov"))
    w = h = 400
    out = tmp_path / "cfht_initial.png"
    report = render_hips(cfht, ra, dec, fov, w, h, out)

    # Aladin Lite went through properties and the order-5 tiles, all served.
    assert [r["status"] for r in _hips_requests(report, "/properties")] == [200]
    tiles5 = [r for r in report["requests"] if "/Norder5/" in r["url"]]
    assert tiles5 and all(r["status"] == 200 for r in tiles5), report["requests"]

    shot_rgb = load_rgb(out)
    exp_rgb = expected_view(cfht, ra, dec, fov, w, h)
    shot, exp = to_grey(shot_rgb), to_grey(exp_rgb)
    covered = np.isfinite(exp)
    assert 0.5 < covered.mean() < 1.0, "the view should show both the HiPS coverage and its edge"

    good = rank_correlation(shot, exp)
    assert good > 0.95, f"screenshot vs expected view: Spearman {good:.3f}"
    # Same pixel values, not just same structure (measured: median 0, mean about 1 grey level).
    diff = np.abs(shot_rgb - exp_rgb)[covered]
    assert np.median(diff) <= 2 and diff.mean() < 6, (np.median(diff), diff.mean())
    # Outside the coverage Aladin Lite draws the black background.
    assert shot[~covered].mean() < 10

    # Wrong expectations must lose: mirrored East-West, mirrored North-South, shifted by 5 screen pixels.
    scale = fov / w
    shifted = to_grey(expected_view(cfht, ra + 5 * scale / np.cos(np.radians(dec)), dec, fov, w, h))
    for name, wrong in {"E-W mirror": exp[:, ::-1], "N-S mirror": exp[::-1, :], "5 px shift": shifted}.items():
        bad = rank_correlation(shot, wrong)
        assert bad < 0.7 and good - bad > 0.3, f"{name}: Spearman {bad:.3f} vs correct {good:.3f}"

    # Colours land in the right channels: each channel matches its own, swapping red and blue loses.
    for c in range(3):
        assert rank_correlation(shot_rgb[..., c], exp_rgb[..., c]) > 0.95
    assert rank_correlation(shot_rgb[..., 0], exp_rgb[..., 2]) < 0.85


def test_zoomed_tan_view_off_centre(cfht, tmp_path):
    """A non-square TAN view zoomed past the tile resolution on NGC 7331 keeps scale and orientation."""
    ra, dec, fov = 339.2667, 34.4156, 0.25
    w, h = 360, 240
    out = tmp_path / "cfht_zoom.png"
    render_hips(cfht, ra, dec, fov, w, h, out, projection="TAN")
    shot = load_grey(out)
    exp = to_grey(expected_view(cfht, ra, dec, fov, w, h, projection="TAN"))
    assert np.isfinite(exp).all(), "the zoomed view lies inside the coverage"
    good = rank_correlation(shot, exp)
    assert good > 0.97, f"Spearman {good:.3f}"
    hpx = 12.9 / 3600  # one order-14 HEALPix pixel, the tile resolution here
    wrongs = {
        "E-W mirror": exp[:, ::-1],
        "N-S mirror": exp[::-1, :],
        "2 HEALPix px shift": to_grey(
            expected_view(cfht, ra + 2 * hpx / np.cos(np.radians(dec)), dec, fov, w, h, projection="TAN")
        ),
        "fov 5% wider": to_grey(expected_view(cfht, ra, dec, fov * 1.05, w, h, projection="TAN")),
    }
    for name, wrong in wrongs.items():
        bad = rank_correlation(shot, wrong)
        assert good - bad > 0.05 and bad < 0.93, f"{name}: Spearman {bad:.3f} vs correct {good:.3f}"


def test_cross_origin_needs_cors(cfht, tmp_path):
    """From another origin the HiPS shows only when its server sends CORS headers (a harness self-check)."""
    props = read_properties(cfht)
    ra, dec, fov = (float(props[k]) for k in ("hips_initial_ra", "hips_initial_dec", "hips_initial_fov"))
    w = h = 240
    exp = to_grey(expected_view(cfht, ra, dec, fov, w, h))

    with static_server(cfht, cors_origin="*") as url:
        out = tmp_path / "cors.png"
        report = render_hips(url, ra, dec, fov, w, h, out)
        assert not report["pageOrigin"].endswith(url.rsplit(":", 1)[1]), "page and HiPS must be different origins"
        assert rank_correlation(load_grey(out), exp) > 0.95

    with static_server(cfht, cors_origin=None) as url:
        out = tmp_path / "nocors.png"
        render_hips(url, ra, dec, fov, w, h, out, timeout_s=12, allow_timeout=True)
        # The browser refuses the cross-origin response: nothing is drawn.
        assert load_grey(out).max() < 10
