"""Oracle for hipsgen's color HiPS: tiles equal astropy's make_lupton_rgb (or make_rgb for the linear method) applied
to the three band FITS tiles, within 1 level per channel.

Blank rule checked too: a pixel blank in every band is transparent (PNG alpha 0); a band blank where others are not
takes the mean of the present bands' (minimum-subtracted, scaled) values before the astropy mapping.

- ``python tests/test_color_lupton.py --check COLOR R G B METHOD Q STRETCH MIN_R MIN_G MIN_B P_R P_G P_B``
  (P = scale for lupton, maximum for linear): check every PNG tile and the Allsky of COLOR against the band HiPS
  R, G, B (run by hipsgen/tests/color_build.rs);
- pytest: build three band HiPS with astropy, run ``hipsgen color``, check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.visualization import ManualInterval, make_lupton_rgb, make_rgb
from PIL import Image



def load(band: Path, rel: Path, shape) -> np.ndarray:
    p = band / rel
    if p.exists():
        return fits.getdata(p).astype(np.float64)
    return np.full(shape, np.nan)


def expected_rgb(r, g, b, method, q, stretch, minimum, param):
    """astropy's mapping of three FITS-order arrays (blank-filled by the mean rule); rows top to bottom."""
    minimum = np.asarray(minimum, dtype=np.float64)
    param = np.asarray(param, dtype=np.float64)
    bands = np.stack([r, g, b])
    if method == "lupton":
        x = (bands - minimum[:, None, None]) * param[:, None, None]
    else:
        x = np.clip((bands - minimum[:, None, None]) / (param - minimum)[:, None, None], 0.0, 1.0)
    present = ~np.isnan(x)
    n = present.sum(axis=0)
    mean = np.where(n > 0, np.nansum(np.where(present, x, 0.0), axis=0) / np.maximum(n, 1), 0.0)
    x = np.where(present, x, mean[None])
    if method == "lupton":
        rgb = make_lupton_rgb(x[0], x[1], x[2], minimum=0.0, stretch=stretch, Q=q)
    else:
        iv = ManualInterval(vmin=0.0, vmax=1.0)
        rgb = make_rgb(x[0], x[1], x[2], interval=[iv, iv, iv])
    return np.flipud(rgb.astype(np.int32)), np.flipud(n == 0)


def check_color(color: Path, bands: list[Path], method, q, stretch, minimum, param) -> int:
    n_checked = 0
    for png in sorted(color.glob("Norder*/**/*.png")):
        rel = png.relative_to(color).with_suffix(".fits")
        im = Image.open(png)
        assert im.mode == "RGBA", f"{png}: mode {im.mode}"
        got = np.asarray(im).astype(np.int32)
        shape = got.shape[:2]
        r, g, b = (load(bd, rel, shape) for bd in bands)
        want, blank = expected_rgb(r, g, b, method, q, stretch, minimum, param)
        alpha = got[..., 3]
        assert np.array_equal(alpha == 0, blank), f"{png}: alpha 0 must be exactly the pixels blank in all bands"
        diff = np.abs(got[..., :3] - want)[~blank]
        assert diff.size == 0 or diff.max() <= 1, f"{png}: max channel difference {diff.max()} (> 1)"
        n_checked += 1
    return n_checked


# ---------------------------------------------------------------------------------------------- pytest (via the CLI)


def write_band(root: Path, seed: int, tiles: dict, width: int = 32, cut=(0.0, 200.0)) -> None:
    rng = np.random.default_rng(seed)
    for order, npixs in tiles.items():
        for n in npixs:
            d = rng.gamma(2.0, 20.0 + seed, (width, width)).astype(np.float32)
            d[rng.integers(0, width, 5), rng.integers(0, width, 5)] = 5e4 * (seed + 1)
            d[: seed + 2, :] = np.nan
            p = root / f"Norder{order}" / "Dir0" / f"Npix{n}.fits"
            p.parent.mkdir(parents=True, exist_ok=True)
            fits.PrimaryHDU(d).writeto(p)
    (root / "properties").write_text(
        f"creator_did = ivo://test/P/band{seed}\nobs_title = band {seed}\ndataproduct_type = image\n"
        "hips_version = 1.4\nhips_release_date = 2026-11-23T00:00Z\nhips_status = public master clonableOnce\n"
        f"hips_tile_format = fits\nhips_order = 1\nhips_order_min = 0\nhips_tile_width = {width}\n"
        f"hips_frame = equatorial\nhips_pixel_cut = {cut[0]} {cut[1]}\nhips_initial_ra = 0\nhips_initial_dec = 0\n"
        "hips_initial_fov = 60\n"
    )


def test_color_cli_lupton_matches_astropy(tmp_path, hipsgen_bin):
    tiles = [{0: [0], 1: [0, 1, 2]}, {0: [0], 1: [1, 2, 3]}, {0: [0, 1], 1: [2, 5]}]
    bands = []
    for i, t in enumerate(tiles):
        bands.append(tmp_path / f"b{i}")
        write_band(bands[-1], i, t)
    out = tmp_path / "color"
    cmd = [str(hipsgen_bin), "color", "--red", str(bands[0]), "--green", str(bands[1]), "--blue", str(bands[2]),
           "--out", str(out), "--q", "9", "--stretch", "40", "--minimum", "1", "2", "3", "--scale", "1", "0.5", "2",
           "--format", "png,jpeg"]
    subprocess.run(cmd, check=True)
    assert check_color(out, bands, "lupton", 9.0, 40.0, [1, 2, 3], [1, 0.5, 2]) == 7  # order 0: 0, 1; order 1: 0, 1, 2, 3, 5 (no Allsky)
    assert (out / "Norder1" / "Dir0" / "Npix5.jpg").exists()
    text = (out / "properties").read_text()
    assert "dataproduct_subtype" in text and "color" in text and "prov_progenitor" in text
    assert (out / "Moc.fits").exists() and (out / "index.html").exists()


def test_color_cli_rejects_incompatible_bands(tmp_path, hipsgen_bin):
    write_band(tmp_path / "a", 0, {0: [0]})
    write_band(tmp_path / "b", 1, {0: [0]})
    write_band(tmp_path / "c", 2, {0: [0]}, width=64)
    cmd = [str(hipsgen_bin), "color", "--red", str(tmp_path / "a"), "--green", str(tmp_path / "b"),
           "--blue", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode != 0
    assert "hips_tile_width differs" in res.stderr


if __name__ == "__main__":
    a = sys.argv
    if len(a) == 15 and a[1] == "--check":
        color, bands = Path(a[2]), [Path(a[3]), Path(a[4]), Path(a[5])]
        method, q, stretch = a[6], float(a[7]), float(a[8])
        minimum = [float(v) for v in a[9:12]]
        param = [float(v) for v in a[12:15]]
        print(f"checked {check_color(color, bands, method, q, stretch, minimum, param)} images")
    else:
        sys.exit(__doc__)
