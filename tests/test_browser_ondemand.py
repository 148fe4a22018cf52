"""Issue #17: Aladin Lite in headless Chromium zoomed two orders past the stored order of a PNG HiPS draws the same
picture as on the fully generated HiPS, with no 404.

The same synthetic coadds are made into a PNG HiPS twice: fully (orders 0..K) and with `hipsgen tiles --stored-order
K-2`. Both are served by one hipsserve with the coadd root (so the second's orders K-1 and K are rendered on demand);
Aladin Lite is shown each at a field of view where it asks for order-K tiles. The two screenshots must agree (rank
correlation over the covered area), the stored-order HiPS's order-K tiles must have been requested, and none of its
requests may fail.
"""

import subprocess

import numpy as np
import pytest

from browser_util import hipsserve, load_grey, rank_correlation, read_properties, render_hips
from hips_oracle import synth_hips

pytestmark = pytest.mark.browser

WIDTH = 256


@pytest.fixture(scope="module")
def served(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-ondemand")
    _, syn = synth_hips(hipsgen_bin, base / "ref", 4, WIDTH)
    root = base / "root"
    common = ["--input", str(syn / "g" / "*.fits"), "--band", "g", "--tile-width", str(WIDTH), "--formats", "fits,png"]
    r = subprocess.run([str(hipsgen_bin), "tiles", "--out", str(root / "full"), *common], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    k = int(read_properties(root / "full")["hips_order"])
    r = subprocess.run([str(hipsgen_bin), "tiles", "--out", str(root / "stored"), "--order", str(k), "--stored-order",
                        str(k - 2), *common], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    cfg = base / "serve.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["{syn}"]\n')
    with hipsserve(hipsserve_bin, "--root", str(root), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        yield url, root, k


def test_zoomed_past_the_stored_order_draws_the_full_hips(served, tmp_path):
    url, root, k = served
    p = read_properties(root / "full")
    ra, dec = float(p["hips_initial_ra"]), float(p["hips_initial_dec"])
    w = h = 320
    # Two screen pixels per order-K pixel: Aladin Lite asks for order-K tiles.
    fov = 0.5 * w * float(p["hips_pixel_scale"])
    shots, reports = {}, {}
    for name in ("full", "stored"):
        out = tmp_path / f"{name}.png"
        reports[name] = render_hips(f"{url}/{name}", ra, dec, fov, w, h, out, img_format="png")
        shots[name] = load_grey(out)
    requests = [r for r in reports["stored"]["requests"] if "/stored/" in r["url"]]
    assert any(f"/Norder{k}/" in r["url"] for r in requests), [r["url"] for r in requests]
    bad = [(r["url"], r["status"]) for r in requests if r["status"] != 200]
    assert not bad, bad
    covered = shots["full"] > 0
    assert covered.mean() > 0.2, "the view must show data"
    rho = rank_correlation(shots["stored"], shots["full"], covered)
    assert rho > 0.98, f"Spearman {rho:.3f}"
    assert np.abs(shots["stored"].astype(float) - shots["full"].astype(float))[covered].mean() < 2
