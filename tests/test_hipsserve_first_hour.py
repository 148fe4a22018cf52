"""hipsserve as a new user meets it in the first hour (issue "The first hour", #14), against the real binaries:

- a second server on a port another process holds exits non-zero naming the port (whatever its worker layout);
- `hipsserve --root hips-demo --coadd-root hips-demo/coadds` (relative paths) serves the demo with progenitors and a
  SODA cutout whose ID is taken from the progenitors answer; a missing coadd root stops the start;
- no public answer (properties, HpxFinder objects, progenitors, SODA errors, hipslist, 404 texts) names a server path;
- /hipslist carries hips_service_url without --public-url, from the request (forwarded headers only from a trusted
  proxy);
- the shipped config/hipsserve.toml starts as it is.
"""

import json
import os
import re
import subprocess
import urllib.parse
from io import BytesIO
from pathlib import Path

import pytest

import procs
from conftest import http_get as get
from browser_util import hipsserve


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("HIPSSERVE_")}


@pytest.mark.parametrize("workers", ["2", "1", "0"])
def test_a_second_server_on_a_busy_port_exits_naming_the_port(hipsserve_bin, shared_data, workers):
    root = str(shared_data / "reference_hips")
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--workers", "2",
                   "--no-access-log") as url:
        port = url.rsplit(":", 1)[1]
        r = subprocess.run([str(hipsserve_bin), "--root", root, "--listen", f"127.0.0.1:{port}", "--workers", workers],
                           capture_output=True, text=True, timeout=60, env=clean_env())
        assert r.returncode != 0, "a second server must not share the port"
        assert f"port {port}" in r.stderr and "in use" in r.stderr, r.stderr
        assert "listening" not in r.stdout
        # The first server still answers every request.
        for _ in range(20):
            assert get(f"{url}/CFHT/properties")[0] == 200


def service_urls(body: bytes) -> list[str]:
    return re.findall(r"^hips_service_url\s*=\s*(\S+)$", body.decode(), re.M)


def test_hipslist_service_urls_without_public_url(hipsserve_bin, shared_data, tmp_path):
    root = str(shared_data / "reference_hips")
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--no-access-log") as url:
        status, body = get(f"{url}/hipslist")
        assert status == 200
        urls = service_urls(body)
        assert urls and f"{url}/CFHT" in urls, body.decode()
        assert all(u.startswith(url + "/") for u in urls)
        # The tiles are where the list says.
        assert get(f"{url}/CFHT/properties")[0] == 200
        # Another Host, another base; forwarded headers are not believed by default.
        status, body = get(f"{url}/hipslist", {"Host": "hips.example.net:8443", "X-Forwarded-Host": "evil.example",
                                               "X-Forwarded-Proto": "https"})
        assert "http://hips.example.net:8443/CFHT" in service_urls(body), body.decode()
        assert b"evil.example" not in body
    # Behind a trusted proxy (here the test itself, from 127.0.0.1) the forwarded headers give the base.
    cfg = tmp_path / "proxy.toml"
    cfg.write_text('trusted_proxies = ["127.0.0.1"]\n')
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--config", str(cfg)) as url:
        status, body = get(f"{url}/hipslist", {"X-Forwarded-Host": "hips.example.org", "X-Forwarded-Proto": "https"})
        assert "https://hips.example.org/CFHT" in service_urls(body), body.decode()
    # --public-url still wins.
    with hipsserve(hipsserve_bin, "--root", root, "--listen", "127.0.0.1:0", "--public-url", "https://a.example/h/",
                   "--no-access-log") as url:
        assert "https://a.example/h/CFHT" in service_urls(get(f"{url}/hipslist")[1])


def test_start_warns_without_public_url_and_trusted_proxies(hipsserve_bin, shared_data):
    p = subprocess.Popen([str(hipsserve_bin), "--root", str(shared_data / "reference_hips"), "--listen",
                          "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert "listening" in p.stdout.readline()
    finally:
        p.terminate()
        _, err = p.communicate(timeout=20)
    assert "neither public_url nor trusted_proxies is set" in err, err[-2000:]
    assert "max_order=3" in err or re.search(r"max_order=\d+ ", err), err[-2000:]
    assert "Some(" not in err and "access=public" in err, err[-2000:]


def test_a_missing_coadd_root_stops_the_start(hipsserve_bin, shared_data, tmp_path):
    r = subprocess.run([str(hipsserve_bin), "--root", str(shared_data / "reference_hips"), "--listen", "127.0.0.1:0",
                        "--coadd-root", "no-such-coadds"], capture_output=True, text=True, timeout=60,
                       env=clean_env(), cwd=tmp_path)
    assert r.returncode != 0
    assert "no-such-coadds" in r.stderr and "coadd root" in r.stderr, r.stderr


def test_the_shipped_config_starts_as_it_is(hipsserve_bin, repo_root, shared_data):
    with hipsserve(hipsserve_bin, "--config", str(repo_root / "config" / "hipsserve.toml"), "--root",
                   str(shared_data / "reference_hips"), "--listen", "127.0.0.1:0") as url:
        assert get(f"{url}/CFHT/properties")[0] == 200


@pytest.fixture(scope="module")
def demo(hipsgen_bin, tmp_path_factory):
    """`hipsgen demo` in a fresh working directory, as the README has a new user run it."""
    work = tmp_path_factory.mktemp("first-hour")
    r = subprocess.run([str(hipsgen_bin), "demo", "--out", "hips-demo", "--patches", "2", "--patch-size", "512"],
                       capture_output=True, text=True, timeout=600, cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    m = re.search(r"Serve it with: (hipsserve .*)$", r.stderr, re.M)
    assert m, r.stderr[-2000:]
    assert m.group(1).split() == ["hipsserve", "--root", "hips-demo", "--coadd-root", "hips-demo/coadds"], m.group(1)
    return work


@pytest.fixture(scope="module")
def demo_server(hipsserve_bin, demo):
    """The command hipsgen demo printed, run where the user ran hipsgen (relative paths)."""
    proc = subprocess.Popen([str(hipsserve_bin), "--root", "hips-demo", "--coadd-root", "hips-demo/coadds",
                             "--listen", "127.0.0.1:0", "--no-access-log"], cwd=demo, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = procs.Tail(proc.stderr)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://(\S+)", line)
        assert m, err.text()[-3000:]
        procs.Tail(proc.stdout)
        yield "http://" + m.group(1), demo
    finally:
        procs.stop(proc, 20)


def demo_centre(demo: Path) -> tuple[float, float]:
    props = {k.strip(): v.strip() for k, v in (ln.split("=", 1) for ln in
             (demo / "hips-demo" / "g" / "properties").read_text().splitlines() if "=" in ln and ln[0] != "#")}
    return float(props["hips_initial_ra"]), float(props["hips_initial_dec"])


def test_demo_progenitors_then_a_soda_cutout(demo_server):
    from astropy.io import fits

    url, demo = demo_server
    ra, dec = demo_centre(demo)
    status, body = get(f"{url}/g/progenitors?ra={ra}&dec={dec}")
    assert status == 200, body
    doc = json.loads(body)
    recs = doc["progenitors"]
    assert recs, doc
    for r in recs:
        assert "path" not in r, r
        assert r["id"].startswith("ivo://hipsgen.local/P/demo/g?g/patch_g_"), r
        assert isinstance(r["ra"], float) and isinstance(r["dec"], float), r
    coadd_id = recs[0]["id"]
    q = urllib.parse.urlencode({"ID": coadd_id, "POS": f"CIRCLE {ra} {dec} {10 / 3600}"})
    status, body = get(f"{url}/g/soda/sync?{q}")
    assert status == 200, body[:500]
    with fits.open(BytesIO(body)) as f:
        assert [h.name for h in f] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        assert 90 <= f["IMAGE"].data.shape[0] <= 110, f["IMAGE"].data.shape  # 20" at 0.2"/px
    # The name relative to the coadd root is accepted as ID too.
    rel = coadd_id.split("?", 1)[1]
    q = urllib.parse.urlencode({"ID": rel, "POS": f"CIRCLE {ra} {dec} {10 / 3600}"})
    assert get(f"{url}/g/soda/sync?{q}")[0] == 200


def test_no_public_answer_names_a_server_path(demo_server):
    url, demo = demo_server
    secret = [str(demo), str(demo.resolve()), str(demo.parent), str(demo.resolve().parent)]
    ra, dec = demo_centre(demo)
    paths = ["/", "/hipslist", "/no-such-hips/properties", "/g/Norder99/Dir0/Npix0.fits", "/g/nothing.txt",
             f"/g/progenitors?ra={ra}&dec={dec}", "/g/progenitors?order=3&ipix=0", "/g/progenitors?ra=x&dec=1",
             f"/g/soda/sync?ID=/etc/passwd&POS=CIRCLE+{ra}+{dec}+0.001",
             f"/g/soda/sync?ID=ivo://x?y&POS=CIRCLE+{ra + 30}+{dec}+0.001", "/g/soda/sync?POS=CIRCLE+1+2+3",
             "/g/HpxFinder/properties", "/g/HpxFinder/Norder11/Dir0/Npix0"]
    for hips in ("g", "r", "i", "color"):
        paths += [f"/{hips}/properties", f"/{hips}/", f"/{hips}/index.html"]
    finder = sorted((demo / "hips-demo" / "g" / "HpxFinder").glob("Norder*/Dir*/Npix*"))
    assert finder and any(str(demo) in f.read_text() for f in finder), "hipsgen writes server paths on disk"
    paths += ["/g/" + str(f.relative_to(demo / "hips-demo" / "g")) for f in finder]
    for p in paths:
        status, body = get(url + p)
        text = body.decode("utf-8", "replace")
        for s in secret:
            assert s not in text, (p, status, text[:800])
    # The HpxFinder records keep their format, with the coadd's identifier as path.
    rec = json.loads(get(url + "/g/" + str(finder[0].relative_to(demo / "hips-demo" / "g")))[1].splitlines()[0])
    assert rec["path"].startswith("ivo://hipsgen.local/P/demo/g?g/") and {"name", "ra", "dec", "stc"} <= set(rec)
    # The colour HiPS's properties still name its bands (by IVOID and folder, relative).
    props = get(url + "/color/properties")[1].decode()
    assert re.search(r"^hips_rgb_red\s*=\s*ivo://hipsgen.local/P/demo/i (hips-demo/)?i$", props, re.M), props
