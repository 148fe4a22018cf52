"""Oracle for hipsgen's PNG/JPEG previews: the PNG equals the FITS tile flipped and passed through the cut.

Independent of the Rust code: FITS read with astropy.io.fits, images decoded with Pillow, the curves are
astropy.visualization's (LinearStretch, LogStretch(a=1000), SqrtStretch, AsinhStretch(a=0.1), SquaredStretch).

Used two ways:
- ``python tests/test_preview_png.py --check HIPS_DIR LO HI STRETCH``: check every tile and the Allsky of a HiPS
  (run by hipsgen/tests/preview_step.rs on HiPS it wrote);
- pytest: build a FITS HiPS with astropy, run ``hipsgen previews`` on it, check it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.visualization import AsinhStretch, LinearStretch, LogStretch, SqrtStretch, SquaredStretch
from PIL import Image


STRETCHES = {
    "linear": LinearStretch(),
    "log": LogStretch(a=1000),
    "sqrt": SqrtStretch(),
    "asinh": AsinhStretch(a=0.1),
    "pow2": SquaredStretch(),
}


def expected_levels(data: np.ndarray, lo: float, hi: float, stretch: str) -> np.ndarray:
    """Display levels (rows top to bottom) of a FITS-order array: round(255 * f(clip((v - lo) / (hi - lo))))."""
    t = np.clip((data.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    t = np.where(np.isnan(t), 0.0, t)
    y = STRETCHES[stretch](t, clip=True)
    return np.flipud(np.floor(y * 255.0 + 0.5).astype(np.int32))


def check_image(fits_path: Path, lo: float, hi: float, stretch: str) -> int:
    """Check the .png and .jpg next to ``fits_path``; returns how many images were checked."""
    data = fits.getdata(fits_path).astype(np.float32)
    blank = np.flipud(np.isnan(data))
    want = expected_levels(data, lo, hi, stretch)
    n = 0
    png = fits_path.with_suffix(".png")
    if png.exists():
        im = Image.open(png)
        assert im.mode == "LA", f"{png}: mode {im.mode}, expected LA (grey + alpha)"
        arr = np.asarray(im).astype(np.int32)
        assert arr.shape[:2] == data.shape, f"{png}: {arr.shape} vs FITS {data.shape}"
        grey, alpha = arr[..., 0], arr[..., 1]
        assert np.array_equal(alpha == 0, blank), f"{png}: alpha 0 must be exactly the NaN pixels"
        assert np.all(alpha[~blank] == 255), f"{png}: non-blank pixels must be opaque"
        diff = np.abs(grey - want)[~blank]
        assert diff.size == 0 or diff.max() <= 1, f"{png}: max level difference {diff.max()} (> 1)"
        n += 1
    jpg = fits_path.with_suffix(".jpg")
    if jpg.exists():
        arr = np.asarray(Image.open(jpg).convert("L")).astype(np.float64)
        assert arr.shape == data.shape, f"{jpg}: {arr.shape} vs FITS {data.shape}"
        ref = np.where(blank, 0, want)
        err = np.abs(arr - ref).mean()
        assert err < 4.0, f"{jpg}: mean error {err:.2f} levels (blank must be black)"
        n += 1
    return n


def check_hips(hips: Path, lo: float, hi: float, stretch: str) -> int:
    """Check every FITS tile's previews and the Allsky's; returns the number of images checked."""
    n = 0
    for f in sorted(hips.glob("Norder*/**/*.fits")):
        n += check_image(f, lo, hi, stretch)
    return n


# ---------------------------------------------------------------------------------------------- pytest (via the CLI)


def write_fits_hips(root: Path, width: int = 64) -> None:
    """A small FITS HiPS (orders 0-1, a few tiles, NaN corners, one bright pixel) plus Allsky.fits and properties."""
    rng = np.random.default_rng(7)
    tiles = {0: [0, 4], 1: [0, 2, 17, 18]}
    for order, npixs in tiles.items():
        for n in npixs:
            d = rng.normal(20.0, 8.0, (width, width)).astype(np.float32)
            d += np.linspace(0, 50, width, dtype=np.float32)[:, None]
            d[: width // 5, : width // 3] = np.nan
            d[width // 2, width // 3] = 1e6
            p = root / f"Norder{order}" / "Dir0" / f"Npix{n}.fits"
            p.parent.mkdir(parents=True, exist_ok=True)
            fits.PrimaryHDU(d).writeto(p)
    b = width // 8
    allsky = rng.uniform(0, 90, (29 * b, 27 * b)).astype(np.float32)
    allsky[:, : 5 * b] = np.nan
    (root / "Norder3").mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(allsky).writeto(root / "Norder3" / "Allsky.fits")
    (root / "properties").write_text(
        "creator_did = ivo://test/P/pytest\nobs_title = pytest\ndataproduct_type = image\nhips_version = 1.4\n"
        "hips_release_date = 2026-11-23T00:00Z\nhips_status = public master clonableOnce\nhips_tile_format = fits\n"
        f"hips_order = 1\nhips_order_min = 0\nhips_tile_width = {width}\nhips_frame = equatorial\n"
        "hips_pixel_cut = 2.5 70\nhips_initial_ra = 0\nhips_initial_dec = 0\nhips_initial_fov = 60\n"
    )


def props(root: Path) -> dict:
    out = {}
    for line in (root / "properties").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def test_previews_cli_cut_from_properties(tmp_path, hipsgen_bin):
    write_fits_hips(tmp_path)
    subprocess.run([str(hipsgen_bin), "previews", str(tmp_path)], check=True)
    assert check_hips(tmp_path, 2.5, 70.0, "linear") == 14
    p = props(tmp_path)
    assert p["hips_tile_format"] == "png jpeg fits"
    assert (tmp_path / "index.html").exists()


def test_previews_cli_explicit_cut_and_stretch(tmp_path, hipsgen_bin):
    write_fits_hips(tmp_path)
    cmd = [str(hipsgen_bin), "previews", str(tmp_path), "--cut", "-5", "60", "--stretch", "asinh", "--formats", "png"]
    subprocess.run(cmd, check=True)
    assert check_hips(tmp_path, -5.0, 60.0, "asinh") == 7
    p = props(tmp_path)
    assert p["hips_tile_format"] == "png fits"
    assert p["hips_pixel_cut"].split() == ["-5", "60"]


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--check":
        count = check_hips(Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
        print(f"checked {count} images")
    else:
        sys.exit("usage: test_preview_png.py --check HIPS_DIR LO HI STRETCH")
