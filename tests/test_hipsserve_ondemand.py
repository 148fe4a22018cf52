"""hipsserve's on-demand tiles: a HiPS made by `hipsgen tiles` from four synthetic coadds is served with
`on_demand_orders = 2`, so FITS tiles one and two orders deeper than stored are rendered from the coadds its progenitor
index names. The oracle is hipsgen itself run at those orders on the same coadds (`--order K+1`, `--order K+2`): every
tile it wrote must come back from hipsserve with bit-identical data (the same bytes, NaN where it has NaN), and the WCS
must place them identically. Tiles hipsgen did not write (blank; the list is checked non-empty) and tiles three orders
deeper are 404; the served properties and /hipslist advertise hips_order K+2; a server whose `coadd_roots` does not
hold the coadds refuses to open them (502).
"""

import subprocess
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from astropy.io import fits
from astropy.wcs import WCS

from conftest import http_get as get
from browser_util import hipsserve, read_properties
from hips_oracle import synth_hips

WIDTH = 256


@pytest.fixture(scope="module")
def built(hipsgen_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("ondemand")
    hips, syn = synth_hips(hipsgen_bin, base / "srv", 4, WIDTH)
    k = int(read_properties(hips)["hips_order"])
    deep = {}
    for extra in (1, 2):
        deep[extra] = base / f"deep{extra}"
        r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / "g" / "*.fits"), "--out",
                            str(deep[extra]), "--band", "g", "--tile-width", str(WIDTH), "--order", str(k + extra)],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    return base, hips, syn, deep, k


def config(tmp: Path, coadd_root: Path) -> Path:
    p = tmp / f"ondemand-{coadd_root.name}.toml"
    p.write_text(f'[defaults]\non_demand_orders = 2\n[on_demand]\ncoadd_roots = ["{coadd_root}"]\n')
    return p


def tile_url(url: str, order: int, n: int, ext: str = "fits") -> str:
    return f"{url}/hips/Norder{order}/Dir{n // 10000 * 10000}/Npix{n}.{ext}"


def test_on_demand_tiles_equal_hipsgen_one_and_two_orders_deeper(hipsserve_bin, built):
    base, hips, syn, deep, k = built
    rng = np.random.default_rng(7)
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, syn))) as url:
        for extra in (1, 2):
            order = k + extra
            written = {int(p.stem[4:]): p for p in (deep[extra] / f"Norder{order}").glob("Dir*/Npix*.fits")}
            assert len(written) > 8
            sample = sorted(rng.choice(sorted(written), size=min(24, len(written)), replace=False))
            for n in sample:
                status, body = get(tile_url(url, order, n))
                assert status == 200, body[:300]
                with fits.open(BytesIO(body)) as got, fits.open(written[n]) as want, warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    a, b = got[0].data, want[0].data
                    assert a.dtype == b.dtype and a.shape == b.shape, f"tile {order}/{n}"
                    assert a.tobytes() == b.tobytes(), (
                        f"tile {order}/{n}: data not bit-identical "
                        f"({int(np.sum(a.view(np.uint32) != b.view(np.uint32)))} pixels differ)")
                    wa, wb = WCS(got[0].header), WCS(want[0].header)
                    ij = np.array([[0, 0], [WIDTH - 1, 0], [0, WIDTH - 1], [WIDTH / 2, WIDTH / 3]])
                    np.testing.assert_allclose(wa.all_pix2world(ij, 0), wb.all_pix2world(ij, 0), atol=1e-9)
                    assert got[0].header["ORDER"] == order and got[0].header["NPIX"] == n
            # Blank (not written by hipsgen) next to written ones: 404.
            parents = {m >> 2 for m in written}
            blank = [c for p in parents for c in range(4 * p, 4 * p + 4) if c not in written]
            assert blank, f"order {order}: no blank tile next to written ones to check"
            for n in blank[:4]:
                status, _ = get(tile_url(url, order, n))
                assert status == 404, (order, n)
        # Again: now a cache hit (same bytes).
        n = min(int(p.stem[4:]) for p in (deep[1] / f"Norder{k + 1}").glob("Dir*/Npix*.fits"))
        first = get(tile_url(url, k + 1, n))
        assert first[0] == 200 and first == get(tile_url(url, k + 1, n))
        # Three orders deeper, and a preview format on demand: 404.
        assert get(tile_url(url, k + 3, n * 16))[0] == 404
        assert get(tile_url(url, k + 1, n, "png"))[0] == 404

        def advertised(text: bytes) -> bool:
            return any(l.split("=")[0].strip() == "hips_order" and l.split("=", 1)[1].strip() == str(k + 2)
                       for l in text.decode().splitlines() if "=" in l)

        status, props = get(f"{url}/hips/properties")
        assert status == 200 and advertised(props), props.decode()
        status, listing = get(f"{url}/hipslist")
        assert status == 200 and advertised(listing), listing.decode()


def test_coadds_outside_coadd_roots_are_never_opened(hipsserve_bin, built):
    base, hips, syn, deep, k = built
    elsewhere = base / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    n = min(int(p.stem[4:]) for p in (deep[1] / f"Norder{k + 1}").glob("Dir*/Npix*.fits"))
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, elsewhere))) as url:
        status, body = get(f"{url}/hips/Norder{k + 1}/Dir{n // 10000 * 10000}/Npix{n}.fits")
        assert status == 502 and b"cannot render" in body, (status, body)


def test_linked_and_special_coadds_under_coadd_roots_are_refused(hipsserve_bin, built):
    """Issue #18: a coadd under coadd_roots that is a symbolic link (to a copy outside, or inside the root) or a FIFO
    is never opened: the render fails with 502 (never the linked file's pixels), within the render timeout, while
    /health stays fast. The coadds are restored afterwards."""
    import os
    import shutil
    import time

    base, hips, syn, deep, k = built
    n = min(int(p.stem[4:]) for p in (deep[1] / f"Norder{k + 1}").glob("Dir*/Npix*.fits"))
    coadds = sorted((syn / "g").glob("*.fits"))
    outside = base / "outside_coadds"
    outside.mkdir(exist_ok=True)
    saved = base / "saved_coadds"
    saved.mkdir(exist_ok=True)
    for c in coadds:
        shutil.copy(c, outside / c.name)
        os.replace(c, saved / c.name)
    inside = syn / "g" / "inside"
    inside.mkdir(exist_ok=True)
    cfg = base / "ondemand-hardened.toml"
    cfg.write_text(f'[defaults]\non_demand_orders = 2\n[on_demand]\ncoadd_roots = ["{syn}"]\ntimeout_ms = 3000\n')
    try:
        cases = {
            "link outside the root": lambda c: os.symlink(outside / c.name, c),
            "link inside the root": lambda c: (shutil.copy(saved / c.name, inside / c.name),
                                               os.symlink(inside / c.name, c)),
            "fifo": lambda c: os.mkfifo(c),
        }
        for case, plant in cases.items():
            for c in coadds:
                if c.exists() or c.is_symlink():
                    c.unlink()
                plant(c)
            with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                           "--config", str(cfg)) as url:
                t0 = time.monotonic()
                status, body = get(tile_url(url, k + 1, n))
                assert status == 502, (case, status, body[:200])
                assert time.monotonic() - t0 < 3.5, (case, time.monotonic() - t0)
                t0 = time.monotonic()
                assert get(f"{url}/health")[0] == 200
                assert time.monotonic() - t0 < 1.0, case
    finally:
        for c in coadds:
            if c.exists() or c.is_symlink():
                c.unlink()
            os.replace(saved / c.name, c)
        shutil.rmtree(inside, ignore_errors=True)
    with hipsserve(hipsserve_bin, "--root", str(base / "srv"), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, syn))) as url:
        assert get(tile_url(url, k + 1, n))[0] == 200, "restored coadds render again"
