"""CDS Hipsgen LINT (IVOA HiPS 1.0 checker, /usr/share/java/aladin.jar) accepts the HiPS made by `hipsgen tiles`, and
`hipsgen lint` agrees with it, on good HiPS and on deliberately broken copies.

Cases: (a) HorseHead.fits, (b) synthetic LSST-like coadds (`hipsgen synth`), (c) a galactic HiPS from
gc_bolocam_gps.fits. Broken copies of (b): a mandatory properties key removed, the order-0 tile deleted, Moc.fits
corrupted.

Known LINT behaviour (checked also on CDS's own reference HiPS): LINT only runs its tile-hierarchy test when it
cannot use Moc.fits; with a readable Moc.fits it does not look at tiles at all (deleting every deepest tile still
passes). So for the deleted-tile case LINT is run on the broken copy with Moc.fits removed, where it does test the
hierarchy, and must report the missing order-0 tile.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ALADIN_JAR = Path("/usr/share/java/aladin.jar")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cds_lint(hips: Path) -> tuple[str, list[str]]:
    if not ALADIN_JAR.is_file():
        pytest.fail(f"{ALADIN_JAR} missing: apt-get install aladin")
    r = subprocess.run(["java", "-cp", str(ALADIN_JAR), "cds.allsky.HipsGen", f"out={hips}", "LINT"],
                       capture_output=True, text=True, timeout=300)
    out = ANSI.sub("", r.stdout + r.stderr)
    errors = [ln for ln in out.splitlines() if ln.startswith("*ERROR")]
    return out, errors


def hipsgen_lint(bin_: Path, hips: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_), "lint", str(hips)], capture_output=True, text=True, timeout=300)


def run_tiles(bin_: Path, args: list[str]) -> None:
    r = subprocess.run([str(bin_), "tiles", *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"hipsgen tiles {args} exited {r.returncode}:\n{r.stderr}"


@pytest.fixture(scope="module")
def hips_set(tmp_path_factory, hipsgen_bin, shared_data):
    base = tmp_path_factory.mktemp("lint_cds")
    out = {}
    out["horsehead"] = base / "horsehead"
    run_tiles(hipsgen_bin, ["--input", str(shared_data / "single_band/HorseHead.fits"), "--out", str(out["horsehead"]),
                            "--tile-width", "256"])
    syn = base / "syn"
    subprocess.run([str(hipsgen_bin), "synth", "--out", str(syn), "--bands", "g", "--patches", "4",
                    "--patch-size", "1024"], check=True, capture_output=True, timeout=300)
    out["synth"] = base / "synth"
    run_tiles(hipsgen_bin, ["--input", str(syn / "g" / "*.fits"), "--out", str(out["synth"]), "--band", "g",
                            "--tile-width", "256"])
    out["galactic"] = base / "galactic"
    run_tiles(hipsgen_bin, ["--input", str(shared_data / "single_band/gc_bolocam_gps.fits"), "--out",
                            str(out["galactic"]), "--frame", "galactic", "--tile-width", "256"])
    return out


@pytest.mark.parametrize("name", ["horsehead", "synth", "galactic"])
def test_cds_lint_accepts_and_hipsgen_lint_agrees(name, hips_set, hipsgen_bin):
    hips = hips_set[name]
    out, errors = cds_lint(hips)
    assert "IVOA HiPS 1.0 compatible" in out and "not IVOA HiPS 1.0 compatible" not in out, out
    assert not errors, out
    r = hipsgen_lint(hipsgen_bin, hips)
    assert r.returncode == 0, f"hipsgen lint exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    if name == "galactic":
        assert re.search(r"^hips_frame\s*=\s*galactic\s*$", (hips / "properties").read_text(), re.M)


@pytest.mark.parametrize("name", ["CFHT", "JWST_MIRI"])
def test_cds_reference_hips_accepted_by_both(name, shared_data, hipsgen_bin):
    """CDS's own HiPS give a moc_sky_fraction from a finer coverage than their Moc.fits: legitimate, LINT accepts them
    and so must we (at most warnings, exit 0)."""
    hips = shared_data / "reference_hips" / name
    out, errors = cds_lint(hips)
    assert "IVOA HiPS 1.0 compatible" in out and "not IVOA HiPS 1.0 compatible" not in out, out
    assert not errors, out
    r = hipsgen_lint(hipsgen_bin, hips)
    assert r.returncode == 0, f"hipsgen lint exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    assert "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_mandatory_key_both_report(hips_set, hipsgen_bin, tmp_path):
    for key in ("hips_frame", "creator_did"):
        broken = _copy(hips_set["synth"], tmp_path / f"no_{key}")
        props = broken / "properties"
        lines = [ln for ln in props.read_text().splitlines() if not re.match(rf"^{key}\s*=", ln)]
        props.write_text("\n".join(lines) + "\n")
        out, errors = cds_lint(broken)
        assert "not IVOA HiPS 1.0 compatible" in out, out
        assert any(key in e for e in errors), f"LINT did not name {key}:\n{out}"
        r = hipsgen_lint(hipsgen_bin, broken)
        assert r.returncode == 3, f"hipsgen lint exit {r.returncode} for missing {key}:\n{r.stdout}\n{r.stderr}"
        assert key in r.stdout + r.stderr


def test_deleted_order0_tile_both_report(hips_set, hipsgen_bin, tmp_path):
    """Both linters on the same tree: LINT tests the tile hierarchy only without Moc.fits (module docstring), so
    Moc.fits is removed before either runs."""
    broken = _copy(hips_set["synth"], tmp_path / "no_order0")
    tiles = sorted((broken / "Norder0").glob("Dir*/Npix*.fits"))
    assert len(tiles) == 1, tiles
    npix = tiles[0].stem[4:]
    tiles[0].unlink()
    (broken / "Moc.fits").unlink()
    out, errors = cds_lint(broken)
    assert any(f"tile missing [0/{npix} " in e for e in errors), f"LINT did not report tile 0/{npix}:\n{out}"
    assert "not IVOA HiPS 1.0 compatible" in out
    r = hipsgen_lint(hipsgen_bin, broken)
    assert r.returncode == 3, f"hipsgen lint exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    assert "Norder0" in r.stdout + r.stderr


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _set_key(props: Path, key: str, value: str) -> None:
    lines = [f"{key:<20} = {value}" if re.match(rf"^{key}\s*=", ln) else ln for ln in props.read_text().splitlines()]
    props.write_text("\n".join(lines) + "\n")


# (defect, how to make it, does CDS's LINT call the HiPS not compatible (its verdict on the same tree), a word our
# report must contain). LINT is lenient where it trusts Moc.fits: it neither opens tiles nor Allsky, nor compares
# hips_order with the tiles; hipsgen lint reports each of those as an error.
DEFECTS = [
    ("tile width not a power of two", lambda d: _set_key(d / "properties", "hips_tile_width", "300"), True,
     "hips_tile_width"),
    ("truncated deepest tile", lambda d: _truncate(sorted(d.glob("Norder*/Dir*/Npix*.fits"))[-1], 1000), False,
     "only 1000 bytes"),
    ("truncated Allsky", lambda d: _truncate(d / "Norder3" / "Allsky.fits", 3000), False, "Allsky.fits"),
    ("hips_order above the tiles", lambda d: _set_key(d / "properties", "hips_order", "13"), False, "Norder13"),
    ("unknown hips_frame", lambda d: _set_key(d / "properties", "hips_frame", "foo"), False, "hips_frame"),
    ("tile format without tiles", lambda d: _set_key(d / "properties", "hips_tile_format", "png"), False, ".png"),
]


@pytest.mark.parametrize("name,make,cds_rejects,word", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_more_defects_on_the_same_tree(name, make, cds_rejects, word, hips_set, hipsgen_bin, tmp_path):
    broken = _copy(hips_set["synth"], tmp_path / "broken")
    make(broken)
    out, errors = cds_lint(broken)
    assert ("not IVOA HiPS 1.0 compatible" in out) == cds_rejects, f"LINT's verdict on {name} changed:\n{out}"
    if cds_rejects:
        assert errors, out
    r = hipsgen_lint(hipsgen_bin, broken)
    assert r.returncode == 3, f"hipsgen lint missed {name} (exit {r.returncode}):\n{r.stdout}\n{r.stderr}"
    errs = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("ERROR")]
    assert any(word in e for e in errs), f"{name}: no error naming {word!r}:\n{r.stdout}"
    for e in errs:  # one cause per line: the object is not named twice
        key = e.split()[1].rstrip(":")
        assert e.count(key) == 1 or not key.startswith("Norder"), e


def test_corrupted_moc_both_report(hips_set, hipsgen_bin, tmp_path):
    broken = _copy(hips_set["synth"], tmp_path / "bad_moc")
    moc = broken / "Moc.fits"
    data = bytearray(moc.read_bytes())
    assert len(data) >= 2 * 2880
    data[2880:2880 + 200] = b"garbage!" * 25  # the binary table header
    moc.write_bytes(bytes(data))
    out, errors = cds_lint(broken)
    assert any("Moc.fits" in e for e in errors), out
    assert "not IVOA HiPS 1.0 compatible" in out
    r = hipsgen_lint(hipsgen_bin, broken)
    assert r.returncode == 3, f"hipsgen lint exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    assert "Moc.fits" in r.stdout + r.stderr
