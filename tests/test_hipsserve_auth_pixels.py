"""Access control on the paths that hand out coadd pixels: a restricted HiPS's progenitor answers, SODA cutouts and
on-demand tiles (and its stored tiles and HpxFinder index) answer 401 without credentials and with a wrong token,
403 to a user not allowed, and 200 with the right token (header or cookie). An unreadable tokens file stops the
server at start with a non-zero exit naming the file (fail closed).
"""

import json
import subprocess
import urllib.parse

import astropy.units as u
import pytest

from astropy_healpix import HEALPix

from conftest import http_get
from browser_util import hipsserve, read_properties
from hips_oracle import synth_hips

TOKEN = "s3cr3t-carol-token"
OTHER = "s3cr3t-dave-token"


def get(url: str, token: str | None = None, cookie: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["Cookie"] = f"hips_token={cookie}"
    return http_get(url, headers)


@pytest.fixture(scope="module")
def served(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("authpix")
    hips, syn = synth_hips(hipsgen_bin, base / "srv", 4, 256)
    k = int(read_properties(hips)["hips_order"])
    tokens = base / "tokens"
    tokens.write_text(f"carol:{TOKEN}\ndave:{OTHER}\n")
    cfg = base / "hipsserve.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{base / 'srv'}"]

[defaults]
on_demand_orders = 1

[on_demand]
coadd_roots = ["{syn}", "{syn.resolve()}"]

[auth]
tokens_file = "{tokens}"
token_cookie = "hips_token"

[hips.hips]
access = "restricted"
users = ["carol"]
""")
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, hips, k, base


def paths(url: str, hips, k: int) -> dict:
    """One URL per pixel-bearing path of the restricted HiPS (SODA's ID found with the right token)."""
    p = read_properties(hips)
    ra, dec = float(p["hips_initial_ra"]), float(p["hips_initial_dec"])
    status, body = get(f"{url}/hips/progenitors?ra={ra}&dec={dec}", TOKEN)
    assert status == 200, body
    rec = json.loads(body)["progenitors"][0]
    coadd_id = rec["id"]
    assert "path" not in rec and coadd_id.startswith(p["creator_did"] + "?g/"), rec
    stored = sorted(hips.glob(f"Norder{k}/Dir*/Npix*.fits"))[0]
    # the order-(k+1) tile under the initial position: inside the coverage
    n = int(HEALPix(nside=2 ** (k + 1), order="nested").lonlat_to_healpix(ra * u.deg, dec * u.deg))
    hpx = sorted((hips / "HpxFinder").glob(f"Norder{k}/Dir*/Npix*"))[0].relative_to(hips).as_posix()
    q = urllib.parse.urlencode({"ID": coadd_id, "POS": f"CIRCLE {ra} {dec} 0.002"})
    return {
        "progenitors": f"{url}/hips/progenitors?ra={ra}&dec={dec}",
        "soda": f"{url}/hips/soda/sync?{q}",
        "on-demand tile": f"{url}/hips/Norder{k + 1}/Dir{n // 10000 * 10000}/Npix{n}.fits",
        "stored tile": f"{url}/hips/{stored.relative_to(hips).as_posix()}",
        "HpxFinder": f"{url}/hips/{hpx}",
    }


def test_restricted_pixels_need_the_right_credentials(served):
    url, hips, k, _ = served
    for name, u in paths(url, hips, k).items():
        status, body = get(u)
        assert status == 401, (name, status, body[:200])
        status, body = get(u, "not-a-token")
        assert status == 401, (name, status, body[:200])
        status, body = get(u, OTHER)
        assert status == 403, (name, status, body[:200])
        status, body = get(u, TOKEN)
        assert status == 200, (name, status, body[:200])
        if name in ("soda", "on-demand tile", "stored tile"):
            assert body[:6] == b"SIMPLE", (name, body[:80])
        status, body2 = get(u, cookie=TOKEN)
        assert status == 200 and body2 == body, (name, status)
    # the restricted HiPS is not listed to anonymous harvesters
    status, listing = get(f"{url}/hipslist")
    assert status == 200 and b"/hips" not in listing.replace(b"/hipslist", b""), listing[:500]


def test_unreadable_tokens_file_stops_the_server(hipsserve_bin, tmp_path):
    hips = tmp_path / "srv"
    (hips / "x").mkdir(parents=True)
    (hips / "x" / "properties").write_text("creator_did = ivo://test/x\nhips_order = 3\nhips_tile_width = 64\n")
    missing = tmp_path / "no-such-tokens"
    for tokens in (missing, tmp_path):  # absent, and a directory (unreadable as a file, even for root)
        cfg = tmp_path / "bad.toml"
        cfg.write_text(f'listen = "127.0.0.1:0"\nroots = ["{hips}"]\n[auth]\ntokens_file = "{tokens}"\n')
        r = subprocess.run([str(hipsserve_bin), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, r.stdout + r.stderr
        assert str(tokens) in r.stderr, r.stderr
