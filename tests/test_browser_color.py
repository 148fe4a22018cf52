"""Aladin Lite shows a hipsgen colour HiPS (2MASS Ks, H, J as red, green, blue) in place and in the right channels.

hipsgen builds one FITS HiPS per band (`hipsgen tiles`), then `hipsgen color` the RGB PNG HiPS. Oracles: the colour
HiPS's own tiles placed with astropy-healpix (pixel values and channels, as Aladin Lite should draw them), and the
Ks input image reprojected with astropy (placement of the picture on the sky). The colour mapping itself (Lupton asinh)
is hipsgen's own test subject, not this file's.
"""

import subprocess

import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from browser_util import (
    expected_view,
    expected_view_from_fits,
    load_rgb,
    rank_correlation,
    read_properties,
    render_hips,
    to_grey,
)

pytestmark = pytest.mark.browser

RA, DEC = 266.4000, -28.9333  # centre of the 2MASS Galactic Centre images (data/README.md)


def _run(cmd):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="module")
def color_hips(hipsgen_bin, shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("color")
    bands = {}
    for band in ("j", "h", "k"):
        src = shared_data / "multiband_2mass_gc" / f"gc_2mass_{band}.fits"
        bands[band] = tmp / band
        _run([hipsgen_bin, "tiles", "--input", src, "--out", bands[band], "--band", band])
    out = tmp / "color"
    _run([hipsgen_bin, "color", "--red", bands["k"], "--green", bands["h"], "--blue", bands["j"], "--out", out,
          "--format", "png"])
    return out


def test_color_hips_shown_in_place(color_hips, shared_data, tmp_path):
    props = read_properties(color_hips)
    assert props.get("dataproduct_subtype") == "color", props
    assert "png" in props.get("hips_tile_format", "").split(), props
    fov, w, h = 1.2, 320, 320
    out = tmp_path / "color.png"
    report = render_hips(color_hips, RA, DEC, fov, w, h, out, img_format="png")
    tiles = [r for r in report["requests"] if "/Norder" in r["url"] and r["url"].endswith(".png")]
    assert any(r["status"] == 200 for r in tiles), report["requests"]
    shot = load_rgb(out)

    # 1. The colour tiles' own pixels, channel by channel, at the order Aladin Lite fetched. The screen pixel
    # (13.5") is close to the HEALPix pixel (12.9" at order 5) on a noisy star field, so neighbour choices at pixel
    # borders cap the correlation near 0.95 (measured 0.946 / 0.96 / 0.946, median difference 0).
    order = max(int(r["url"].split("/Norder")[1].split("/")[0]) for r in tiles if r["status"] == 200)
    exp = expected_view(color_hips, RA, DEC, fov, w, h, fmt="png", order=order)
    covered = binary_erosion(np.isfinite(exp[..., 0]), iterations=2)
    assert covered.mean() > 0.3
    for c, name in enumerate("RGB"):
        good = rank_correlation(shot[..., c], exp[..., c], covered)
        assert good > 0.9, f"channel {name} vs order-{order} tiles: Spearman {good:.3f}"
    # Swapped channels: the red screen channel must follow the red tiles far better than the blue ones (with the
    # sky at black, both share many zero pixels, so the blue correlation alone is not near 0: measured 0.54 vs 0.95).
    swapped = rank_correlation(shot[..., 0], exp[..., 2], covered)
    assert rank_correlation(shot[..., 0], exp[..., 0], covered) - swapped > 0.3, f"red and blue swapped? {swapped:.3f}"
    assert np.median(np.abs(shot - exp)[covered]) <= 2
    grey, exp_grey = to_grey(shot), to_grey(exp)
    good = rank_correlation(grey, exp_grey, covered)
    for name, wrong in {"E-W mirror": exp_grey[:, ::-1], "N-S mirror": exp_grey[::-1, :]}.items():
        bad = rank_correlation(grey, wrong, covered & np.isfinite(wrong))
        assert good - bad > 0.3, f"{name}: Spearman {bad:.3f} vs correct {good:.3f}"

    # 2. On the sky: red follows the Ks image, blue the J image, each clearly better than the other band
    # (measured: red 0.74 vs Ks, 0.37 vs J; blue 0.73 vs J, 0.36 vs Ks; red vs mirrored Ks 0.12).
    data = shared_data / "multiband_2mass_gc"
    k = expected_view_from_fits(data / "gc_2mass_k.fits", RA, DEC, fov, w, h)
    j = expected_view_from_fits(data / "gc_2mass_j.fits", RA, DEC, fov, w, h)
    inside = binary_erosion(np.isfinite(k) & np.isfinite(j), iterations=3) & covered
    red_k, red_j = rank_correlation(shot[..., 0], k, inside), rank_correlation(shot[..., 0], j, inside)
    blue_j, blue_k = rank_correlation(shot[..., 2], j, inside), rank_correlation(shot[..., 2], k, inside)
    assert red_k > 0.6 and red_k - red_j > 0.2, (red_k, red_j)
    assert blue_j > 0.6 and blue_j - blue_k > 0.2, (blue_j, blue_k)
    mirrored = rank_correlation(shot[..., 0], k[:, ::-1], inside & np.isfinite(k[:, ::-1]))
    assert red_k - mirrored > 0.3, (red_k, mirrored)
