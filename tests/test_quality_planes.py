"""Quality and noise planes as archives ship them, against numpy: each input is built with astropy, and a control
input is made from it with numpy alone (the pixels its planes say are bad set to NaN, its noise turned into a plain
VARIANCE plane); the tiles of both must be the same bytes.

- HST-style SCI/ERR/DQ: any DQ bit blanks a pixel by default, `--bad-bits` chooses the bits; ERR is a standard
  deviation (its square weights overlapping images).
- Inverse-variance weight maps: a WEIGHT (or WHT) HDU, or a sibling `x.weight.fits` as SWarp and DES write them (not an
  input of its own); zero weight is blank.
- LSST MASK: `--mask-planes` blanks planes by name through the MASK header's MP_* keys; an unknown name is a clear
  error naming the file, the HDU and the plane.
"""

import subprocess
import urllib.error
import urllib.request
from io import BytesIO

import numpy as np
import pytest
from astropy.io import fits

from browser_util import hipsserve
from hips_oracle import hips_tree


def tiles(hipsgen_bin, inp, out, *extra, order=9, progenitors=False):
    r = subprocess.run([str(hipsgen_bin), "tiles", "--input", str(inp), "--out", str(out), "--tile-width", "64",
                        "--order", str(order), *([] if progenitors else ["--no-progenitors"]), *extra],
                       capture_output=True, text=True, timeout=600)
    return r


def tile_data(d):
    got = {k: v for k, v in hips_tree(d).items() if k.startswith("Norder") and k.endswith(".fits")}
    assert len(got) > 20, sorted(got)[:5]
    return got


def assert_same_tiles(a, b, what):
    ta, tb = tile_data(a), tile_data(b)
    assert set(ta) == set(tb), f"{what}: tile sets differ: {sorted(set(ta) ^ set(tb))[:10]}"
    differ = [k for k in ta if ta[k] != tb[k]]
    assert not differ, f"{what}: {len(differ)} of {len(ta)} tiles differ, e.g. {differ[:5]}"


@pytest.fixture(scope="module")
def sky(shared_data):
    """HorseHead's pixels and header, and a second image of the same sky shifted by 150 pixels (overlapping)."""
    with fits.open(shared_data / "single_band" / "HorseHead.fits") as hl:
        data = np.array(hl[0].data, dtype=np.float32)
        header = hl[0].header.copy()
    for k in [k for k in header if k.startswith(("PLT", "AMD", "PPO", "CNPIX", "XPIXELSZ", "YPIXELSZ"))]:
        del header[k]
    shifted = header.copy()
    shifted["CRPIX1"] = header["CRPIX1"] - 150
    rng = np.random.default_rng(7)
    return [(data, header), (data[::-1, :] * 0.5 + rng.normal(0, 30, data.shape).astype(np.float32), shifted)]


def regions(shape):
    """Blocks of the image: (rows, cols) slices."""
    h, w = shape
    return (slice(h // 5, h // 5 + 120), slice(w // 4, w // 4 + 200)), (slice(h // 2, h // 2 + 90), slice(w // 2, w - 40))


def sigma_map(shape, seed):
    """Standard deviations in {0.5, 1, 2} (exact squares and reciprocals in float32)."""
    return np.random.default_rng(seed).choice(np.array([0.5, 1.0, 2.0], dtype=np.float32), size=shape)


def write(path, hdus):
    fits.HDUList([fits.PrimaryHDU()] + hdus).writeto(path, overwrite=True)


def test_hst_sci_err_dq_against_numpy(hipsgen_bin, sky, tmp_path):
    (hst, ctl_any, ctl_16) = (tmp_path / d for d in ("hst", "ctl_any", "ctl_16"))
    for d in (hst, ctl_any, ctl_16):
        d.mkdir()
    for i, (data, header) in enumerate(sky):
        err = sigma_map(data.shape, i)
        dq = np.zeros(data.shape, dtype=np.int16)
        a, b = regions(data.shape)
        dq[a] |= 4
        dq[b] |= 16
        dq[10:20, :] |= 4 | 16
        write(hst / f"im{i}.fits", [fits.ImageHDU(data, header, name="SCI"), fits.ImageHDU(err, name="ERR"),
                                    fits.ImageHDU(dq, name="DQ")])
        # The control: numpy blanks the flagged pixels; the variance is ERR squared.
        for ctl, bits in ((ctl_any, -1), (ctl_16, 16)):
            img = data.copy()
            img[(dq.astype(np.int64) & bits) != 0] = np.nan
            write(ctl / f"im{i}.fits", [fits.ImageHDU(img, header, name="IMAGE"),
                                        fits.ImageHDU(err * err, name="VARIANCE")])
    for name, extra in (("any", []), ("16", ["--bad-bits", "0x10"])):
        r = tiles(hipsgen_bin, hst, tmp_path / f"out_hst_{name}", *extra)
        assert r.returncode == 0, r.stderr
        r = tiles(hipsgen_bin, tmp_path / f"ctl_{name}", tmp_path / f"out_ctl_{name}")
        assert r.returncode == 0, r.stderr
        assert_same_tiles(tmp_path / f"out_hst_{name}", tmp_path / f"out_ctl_{name}", f"SCI/ERR/DQ, bad bits {name}")
    # The options are recorded for tiles rendered later from the same coadds (hipsserve on demand).
    props = (tmp_path / "out_hst_16" / "properties").read_text()
    assert "hipsgen_bad_bits" in props and "0x10" in props, props
    assert "hipsgen_bad_bits" not in (tmp_path / "out_hst_any" / "properties").read_text()
    # Negative control: the DQ bits matter (the two runs differ).
    any_, only16 = tile_data(tmp_path / "out_hst_any"), tile_data(tmp_path / "out_hst_16")
    assert any(any_[k] != only16.get(k) for k in any_), "--bad-bits changed nothing"


def test_weight_hdu_and_sibling_weight_map_against_numpy(hipsgen_bin, sky, tmp_path):
    wht, sib, ctl = (tmp_path / d for d in ("wht", "sib", "ctl"))
    for d in (wht, sib, ctl):
        d.mkdir()
    for i, (data, header) in enumerate(sky):
        sigma = sigma_map(data.shape, 10 + i)
        weight = (1.0 / (sigma * sigma)).astype(np.float32)
        a, _ = regions(data.shape)
        weight[a] = 0.0
        name = "WEIGHT" if i == 0 else "WHT"
        write(wht / f"im{i}.fits", [fits.ImageHDU(data, header, name="SCI"), fits.ImageHDU(weight, name=name)])
        fits.PrimaryHDU(data, header).writeto(sib / f"im{i}.fits")
        fits.PrimaryHDU(weight).writeto(sib / f"im{i}.weight.fits")
        img = data.copy()
        img[weight == 0] = np.nan
        write(ctl / f"im{i}.fits", [fits.ImageHDU(img, header, name="IMAGE"),
                                    fits.ImageHDU(sigma * sigma, name="VARIANCE")])
    r = tiles(hipsgen_bin, ctl, tmp_path / "out_ctl")
    assert r.returncode == 0, r.stderr
    r = tiles(hipsgen_bin, wht, tmp_path / "out_wht")
    assert r.returncode == 0, r.stderr
    assert_same_tiles(tmp_path / "out_wht", tmp_path / "out_ctl", "WEIGHT/WHT HDUs")
    # The directory holds im0.fits, im0.weight.fits, ...: the weight maps are noise planes, not inputs.
    r = tiles(hipsgen_bin, sib, tmp_path / "out_sib")
    assert r.returncode == 0, r.stderr
    assert "2 input(s) used, 0 skipped" in r.stderr, r.stderr[-2000:]
    assert_same_tiles(tmp_path / "out_sib", tmp_path / "out_ctl", "sibling x.weight.fits")
    # Negative control: without the weight maps the zero-weight block is not blank.
    r = tiles(hipsgen_bin, sib, tmp_path / "out_noweight", "--no-sibling-weight")
    assert r.returncode == 0, r.stderr
    a, b = tile_data(tmp_path / "out_noweight"), tile_data(tmp_path / "out_ctl")
    assert any(a[k] != b.get(k) for k in a), "the weight maps changed nothing"


def test_lsst_mask_planes_by_name_against_numpy(hipsgen_bin, tmp_path):
    syn = tmp_path / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "2",
                    "--patch-size", "512"], check=True, capture_output=True, timeout=300)
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    n_flagged = 0
    for p in sorted((syn / "g").glob("*.fits")):
        with fits.open(p) as hl:
            img = next(h for h in hl if h.header.get("EXTTYPE", h.header.get("EXTNAME")) == "IMAGE")
            mask = next(h for h in hl if h.header.get("EXTTYPE", h.header.get("EXTNAME")) == "MASK")
            var = next(h for h in hl if h.header.get("EXTTYPE", h.header.get("EXTNAME")) == "VARIANCE")
            bits = (1 << int(mask.header["MP_NO_DATA"])) | (1 << int(mask.header["MP_DETECTED"])) | (
                1 << int(mask.header["MP_SAT"]))
            data = np.array(img.data, dtype=np.float32)
            flagged = (np.asarray(mask.data).astype(np.int64) & bits) != 0
            n_flagged += int(flagged.sum())
            data[flagged] = np.nan
            write(ctl / p.name, [fits.ImageHDU(data, img.header, name="IMAGE"),
                                 fits.ImageHDU(np.array(var.data, dtype=np.float32), name="VARIANCE")])
    assert n_flagged > 100, n_flagged
    r = tiles(hipsgen_bin, syn / "g", tmp_path / "out", "--mask-planes", "DETECTED,sat", order=13)
    assert r.returncode == 0, r.stderr
    r = tiles(hipsgen_bin, ctl, tmp_path / "out_ctl", order=13)
    assert r.returncode == 0, r.stderr
    assert_same_tiles(tmp_path / "out", tmp_path / "out_ctl", "--mask-planes DETECTED,SAT")
    assert "DETECTED,SAT" in (tmp_path / "out" / "properties").read_text()
    # Negative control: without --mask-planes only NO_DATA blanks, and the tiles differ.
    r = tiles(hipsgen_bin, syn / "g", tmp_path / "plain", order=13)
    assert r.returncode == 0, r.stderr
    a, b = tile_data(tmp_path / "plain"), tile_data(tmp_path / "out_ctl")
    assert any(a[k] != b.get(k) for k in a), "--mask-planes changed nothing"
    # An unknown plane: every coadd is skipped with the file, the HDU and the plane named; nothing is built.
    r = tiles(hipsgen_bin, syn / "g", tmp_path / "bad", "--mask-planes", "NOPE", order=13)
    assert r.returncode != 0
    line = next(ln for ln in r.stderr.splitlines() if "MP_NOPE" in ln)
    assert ".fits" in line and "MASK" in line and "DETECTED" in line, line


def on_demand_equals_generated(hipsgen_bin, hipsserve_bin, inp, coadd_root, tmp_path, order, *extra):
    """Build `inp` fully and with --stored-order order-1; hipsserve (given the coadd root) renders every order-`order`
    tile of the full run on demand, FITS data bit-identical to it (the recorded plane options applied)."""
    full, part = tmp_path / "full", tmp_path / "part" / "hips"
    for out, more in ((full, []), (part, ["--stored-order", str(order - 1)])):
        r = tiles(hipsgen_bin, inp, out, *extra, *more, order=order, progenitors=True)
        assert r.returncode == 0, r.stderr
    want = sorted(full.glob(f"Norder{order}/Dir*/Npix*.fits"))
    assert len(want) >= 4 and not list(part.glob(f"Norder{order}/Dir*/Npix*.fits"))
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'[on_demand]\ncoadd_roots = ["{coadd_root}"]\n')
    with hipsserve(hipsserve_bin, "--root", str(part.parent), "--listen", "127.0.0.1:0", "--no-access-log",
                   "--config", str(cfg)) as url:
        for w in want:
            rel = w.relative_to(full).as_posix()
            try:
                with urllib.request.urlopen(f"{url}/hips/{rel}", timeout=120) as r:
                    body = r.read()
            except urllib.error.HTTPError as e:
                pytest.fail(f"{rel}: {e.code} {e.read()[:300]!r}")
            with fits.open(BytesIO(body)) as got, fits.open(w) as ref:
                assert got[0].data.tobytes() == ref[0].data.tobytes(), f"{rel}: on-demand data differ"


def test_on_demand_tiles_use_the_recorded_mask_planes(hipsgen_bin, hipsserve_bin, tmp_path):
    syn = tmp_path / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "2",
                    "--patch-size", "512"], check=True, capture_output=True, timeout=300)
    on_demand_equals_generated(hipsgen_bin, hipsserve_bin, syn / "g", syn, tmp_path, 13,
                               "--mask-planes", "DETECTED,SAT", "--bad-bits", "0x80")


def test_on_demand_tiles_use_sibling_weight_maps(hipsgen_bin, hipsserve_bin, sky, tmp_path):
    sib = tmp_path / "sib"
    sib.mkdir()
    for i, (data, header) in enumerate(sky):
        sigma = sigma_map(data.shape, 20 + i)
        weight = (1.0 / (sigma * sigma)).astype(np.float32)
        weight[regions(data.shape)[1]] = 0.0
        fits.PrimaryHDU(data, header).writeto(sib / f"im{i}.fits")
        fits.PrimaryHDU(weight).writeto(sib / f"im{i}.weight.fits")
    on_demand_equals_generated(hipsgen_bin, hipsserve_bin, sib, sib, tmp_path, 9)
