"""Issue #17: `hipsgen tiles --stored-order M` and hipsserve's on-demand FITS, PNG and JPEG tiles.

The same four synthetic coadds are made into a HiPS twice with FITS, PNG and JPEG tiles: fully (orders 0..K) and with
`--stored-order K-2` (orders 0..K-2 only, properties still `hips_order = K`). hipsserve, given the coadd root, serves
the second; every tile of orders K-1 and K that the full run wrote (a random sample) must come back rendered on demand
equal to it: FITS data bit-identical, PNG and JPEG within one grey level (decoded with Pillow). A tile deleted from
storage at the stored order (a lost object) is rendered again, equal to the full run's. Without a coadd root the server
cannot render, so it advertises hips_order K-2 and answers 404 above it.
"""

import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from astropy.io import fits
from PIL import Image

from conftest import http_get as get
from browser_util import hipsserve, read_properties
from hips_oracle import synth_hips

WIDTH = 256


def tiles(syn: Path, out: Path, *extra: str, hipsgen_bin) -> None:
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / "g" / "*.fits"), "--out", str(out),
                        "--band", "g", "--tile-width", str(WIDTH), "--formats", "fits,png,jpeg", *extra],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def built(hipsgen_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("stored")
    _, syn = synth_hips(hipsgen_bin, base / "ref", 4, WIDTH)
    full = base / "full"
    tiles(syn, full, hipsgen_bin=hipsgen_bin)
    k = int(read_properties(full)["hips_order"])
    srv = base / "srv"
    tiles(syn, srv / "hips", "--order", str(k), "--stored-order", str(k - 2), hipsgen_bin=hipsgen_bin)
    return base, syn, full, srv, k


def tile_path(order: int, n: int, ext: str) -> str:
    return f"Norder{order}/Dir{n // 10000 * 10000}/Npix{n}.{ext}"


def config(base: Path, coadd_root: Path | None) -> Path:
    p = base / f"serve-{'none' if coadd_root is None else coadd_root.name}.toml"
    p.write_text("" if coadd_root is None else f'[on_demand]\ncoadd_roots = ["{coadd_root}"]\n')
    return p


def served_order(url: str) -> str:
    status, props = get(f"{url}/hips/properties")
    assert status == 200, props
    return {l.split("=")[0].strip(): l.split("=", 1)[1].strip() for l in props.decode().splitlines() if "=" in l}[
        "hips_order"]


def assert_same_tile(body: bytes, want: Path, ext: str, where: str) -> None:
    if ext == "fits":
        with fits.open(BytesIO(body)) as got, fits.open(want) as ref:
            a, b = got[0].data, ref[0].data
            assert a.shape == b.shape and a.tobytes() == b.tobytes(), f"{where}: FITS data not bit-identical"
        return
    a = np.asarray(Image.open(BytesIO(body))).astype(int)
    b = np.asarray(Image.open(want)).astype(int)
    assert a.shape == b.shape, where
    assert np.abs(a - b).max() <= 1, f"{where}: {int(np.abs(a - b).max())} grey levels apart"


def test_stored_order_writes_only_the_stored_orders(built):
    base, syn, full, srv, k = built
    props = read_properties(srv / "hips")
    assert props["hips_order"] == str(k) and props["hipsgen_stored_order"] == str(k - 2)
    assert props["hips_pixel_func"] == "linear" and props["hips_pixel_cut"] == read_properties(full)["hips_pixel_cut"]
    assert props["hipsgen_jpeg_quality"] == "90"
    assert list((srv / "hips").glob(f"Norder{k - 2}/Dir*/Npix*.png"))
    assert not list((srv / "hips").glob(f"Norder{k - 1}/Dir*/Npix*")) and not (srv / "hips" / f"Norder{k}").exists()
    assert list((srv / "hips" / "HpxFinder").glob(f"Norder{k}/Dir*/Npix*")), "progenitor index at the tile order"
    stored = sum(f.stat().st_size for f in (srv / "hips").rglob("*") if f.is_file())
    whole = sum(f.stat().st_size for f in full.rglob("*") if f.is_file())
    assert stored < whole / 4, (stored, whole)


def test_orders_above_the_stored_order_render_equal_to_hipsgen(hipsserve_bin, built):
    base, syn, full, srv, k = built
    rng = np.random.default_rng(17)
    with hipsserve(hipsserve_bin, "--root", str(srv), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, syn))) as url:
        assert served_order(url) == str(k)
        for order in (k - 1, k):
            written = sorted(int(p.stem[4:]) for p in (full / f"Norder{order}").glob("Dir*/Npix*.fits"))
            assert len(written) > 4
            for n in sorted(rng.choice(written, size=min(6, len(written)), replace=False)):
                for ext in ("fits", "png", "jpg"):
                    status, body = get(f"{url}/hips/{tile_path(order, n, ext)}")
                    assert status == 200, (order, n, ext, body[:200])
                    assert_same_tile(body, full / tile_path(order, n, ext), ext, f"{order}/{n}.{ext}")
            parents = {m >> 2 for m in written}
            blank = [c for p in parents for c in range(4 * p, 4 * p + 4) if c not in set(written)]
            for n in blank[:2]:
                assert get(f"{url}/hips/{tile_path(order, n, 'png')}")[0] == 404, (order, n)
        assert get(f"{url}/hips/{tile_path(k + 1, 4 * written[0], 'png')}")[0] == 404


def test_lost_tile_is_rendered_again(hipsserve_bin, built):
    base, syn, full, srv, k = built
    lost = base / "lost"
    shutil.copytree(srv, lost)
    m = k - 2
    n = sorted(int(p.stem[4:]) for p in (full / f"Norder{m}").glob("Dir*/Npix*.fits"))[0]
    for ext in ("fits", "png", "jpg"):
        (lost / "hips" / tile_path(m, n, ext)).unlink()
    with hipsserve(hipsserve_bin, "--root", str(lost), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, syn))) as url:
        for ext in ("png", "fits", "jpg"):
            status, body = get(f"{url}/hips/{tile_path(m, n, ext)}")
            assert status == 200, (ext, body[:200])
            assert_same_tile(body, full / tile_path(m, n, ext), ext, f"lost {m}/{n}.{ext}")


def test_without_coadds_the_stored_order_is_advertised(hipsserve_bin, built):
    base, syn, full, srv, k = built
    with hipsserve(hipsserve_bin, "--root", str(srv), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(config(base, None))) as url:
        assert served_order(url) == str(k - 2)
        n = sorted(int(p.stem[4:]) for p in (full / f"Norder{k - 1}").glob("Dir*/Npix*.fits"))[0]
        assert get(f"{url}/hips/{tile_path(k - 1, n, 'png')}")[0] == 404


@pytest.fixture(scope="module")
def color_built(hipsgen_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("color")
    syn = base / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g,r,i", "--patches", "4",
                    "--patch-size", "1024"], check=True, capture_output=True, timeout=300)
    srv, deep = base / "srv", base / "deep"

    def band(out: Path, b: str, *extra: str) -> None:
        r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / b / "*.fits"), "--out", str(out / b),
                            "--band", b, "--tile-width", str(WIDTH), *extra], capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, r.stderr

    def color(root: Path, *extra: str) -> None:
        r = subprocess.run([str(hipsgen_bin), "color", "--red", str(root / "i"), "--green", str(root / "r"), "--blue",
                            str(root / "g"), "--out", str(root / "color"), "--format", "png,jpeg", *extra],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr

    for b in "gri":
        band(srv, b)
    color(srv)
    k = int(read_properties(srv / "color")["hips_order"])
    p = read_properties(srv / "color")
    for b in "gri":
        band(deep, b, "--order", str(k + 1))
    # The oracle: hipsgen's color job on the bands made one order deeper, with the parameters the served color HiPS
    # recorded (by default they are measured on the deepest tiles, which differ between the two runs).
    color(deep, "--method", p["hipsgen_color_method"], "--q", p["hipsgen_color_q"], "--stretch",
          p["hipsgen_color_stretch"], "--minimum", *p["hipsgen_color_minimum"].split(), "--maximum",
          *p["hipsgen_color_maximum"].split(), "--scale", *p["hipsgen_color_scale"].split())
    return base, syn, srv, deep, k


def test_color_tiles_one_order_deeper_equal_hipsgen(hipsserve_bin, color_built):
    base, syn, srv, deep, k = color_built
    cfg = base / "color.toml"
    cfg.write_text(f'[defaults]\non_demand_orders = 1\n[on_demand]\ncoadd_roots = ["{syn}"]\n')
    rng = np.random.default_rng(3)
    with hipsserve(hipsserve_bin, "--root", str(srv), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        status, props = get(f"{url}/color/properties")
        served = {l.split("=")[0].strip(): l.split("=", 1)[1].strip() for l in props.decode().splitlines() if "=" in l}
        assert status == 200 and served["hips_order"] == str(k + 1), props.decode()
        written = sorted(int(p.stem[4:]) for p in (deep / "color" / f"Norder{k + 1}").glob("Dir*/Npix*.png"))
        assert len(written) > 4
        for n in sorted(rng.choice(written, size=min(8, len(written)), replace=False)):
            for ext in ("png", "jpg"):
                status, body = get(f"{url}/color/{tile_path(k + 1, n, ext)}")
                assert status == 200, (n, ext, body[:200])
                assert_same_tile(body, deep / "color" / tile_path(k + 1, n, ext), ext, f"color {k + 1}/{n}.{ext}")
        # A stored color tile lost from storage is drawn again from the bands.
        n = sorted(int(p.stem[4:]) for p in (srv / "color" / f"Norder{k}").glob("Dir*/Npix*.png"))[0]
    lost = srv / "color" / tile_path(k, n, "png")
    kept = lost.read_bytes()
    lost.unlink()
    try:
        with hipsserve(hipsserve_bin, "--root", str(srv), "--listen", "127.0.0.1:0", "--no-access-log",
                       "--config", str(cfg)) as url:
            status, body = get(f"{url}/color/{tile_path(k, n, 'png')}")
            assert status == 200, body[:200]
            a = np.asarray(Image.open(BytesIO(body))).astype(int)
            b = np.asarray(Image.open(BytesIO(kept))).astype(int)
            assert a.shape == b.shape and np.abs(a - b).max() <= 1
    finally:
        lost.write_bytes(kept)


def test_stored_order_must_be_just_below_the_tile_order(hipsgen_bin, built):
    base, syn, full, srv, k = built
    for extra, words in ([str(k), "below the tile order"], [str(k - 4), "by 1 to 3"]):
        out = base / f"bad-{extra}"
        r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / "g" / "*.fits"), "--out", str(out),
                            "--order", str(k), "--stored-order", extra], capture_output=True, text=True, timeout=600)
        assert r.returncode != 0 and "--stored-order" in r.stderr and words in r.stderr, r.stderr
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(syn / "g" / "*.fits"), "--out", str(base / "np"),
                        "--stored-order", "5", "--no-progenitors"], capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "progenitor index" in r.stderr, r.stderr
