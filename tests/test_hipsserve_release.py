"""hipsserve on a release root made by the real `hipsgen release`: `/<hips>/...` serves the current release and
switches within seconds of `hipsgen release publish` / `rollback` (polled, no fixed sleep), `/<id>/<hips>/...` serves
each finalized release with immutable Cache-Control, ETags are the manifest's XXH3 (304 on If-None-Match), `/hipslist`
is the published one, and astropy reads the tiles; the same on SeaweedFS (`--root s3://...`).

One request sees one release: while a publish switches `current`, a client fetches a tile whose content differs between
the two releases over and over; every answer's body must be one release's file and its ETag that same release's
manifest digest (a request that mixed snapshots would pair one release's ETag with the other's body), and once the new
release is seen the old one never comes back (the snapshot is swapped once, for every worker).
"""

import io
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from conftest import http_get
from procs import Tail, stop
from test_release_s3 import weed  # noqa: F401 (the SeaweedFS fixture)

CONFIG = """
[release]
id = "{id}"
out = "{out}"
authority = "ivo://example.org/P/test"
public_url = "https://hips.example.org"
title = "T"
shards = 2
[hips.g]
input = ["{coadds}/g"]
band = "g"
order = 5
tile_width = 64
"""


def manifest(out: Path, rid: str) -> dict[str, tuple[int, str]]:
    m = json.loads((out / rid / "manifest.json").read_text())
    return {e["key"]: (e["size"], e["xxh3"]) for e in m["objects"]}


def hipsgen(bin_: Path, *args: str) -> str:
    r = subprocess.run([str(bin_), *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def poll(what: str, cond, timeout_s: float = 15.0):
    """Call ``cond`` until it returns something true (returned), failing after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def releases(tmp_path_factory, hipsgen_bin):
    """Two finalized, unpublished releases dr1 and dr2 of one band (different synthetic skies) under one root."""
    d = tmp_path_factory.mktemp("release_serve")
    out = d / "out"
    cfgs = {}
    for rid, seed in (("dr1", "1"), ("dr2", "2")):
        coadds = d / f"coadds_{rid}"
        hipsgen(hipsgen_bin, "synth", "-o", str(coadds), "--patches", "3", "--patch-size", "200",
                "--pixel-scale", "60", "--overlap", "10", "--seed", seed)
        cfg = d / f"{rid}.toml"
        cfg.write_text(CONFIG.format(id=rid, out=out, coadds=coadds))
        hipsgen(hipsgen_bin, "release", "run", "--no-publish", "--config", str(cfg))
        cfgs[rid] = cfg
    return out, cfgs


def test_release_root_serves_current_and_versioned(releases, hipsgen_bin, hipsserve_bin, tmp_path):
    out, cfgs = releases
    m1, m2 = manifest(out, "dr1"), manifest(out, "dr2")
    # Tiles in both releases whose content differs.
    changed = sorted(k for k in m1 if k.startswith("g/Norder") and k.endswith(".fits") and k in m2
                     and m1[k][1] != m2[k][1] and "/Dir" in k)
    assert changed, "the two releases share no changed tile"
    tile = changed[0]
    srv_cfg = tmp_path / "hipsserve.toml"
    srv_cfg.write_text("[release]\npoll_ms = 200\n")
    p = subprocess.Popen([str(hipsserve_bin), "--root", str(out), "--listen", "127.0.0.1:0", "--config", str(srv_cfg)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = Tail(p.stderr)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", line)
        assert m, (line, log.text())
        base = f"http://{m.group(1)}"

        # Nothing published yet: a clear log line, no current HiPS, the finalized releases at their own paths.
        poll("the nothing-published log line", lambda: "nothing published yet" in log.text())
        assert get(f"{base}/{tile}")[0] == 404
        st, h, body = get(f"{base}/dr2/{tile}")
        assert st == 200 and body == (out / "dr2" / tile).read_bytes()

        hipsgen(hipsgen_bin, "release", "publish", "--config", str(cfgs["dr1"]))
        poll("dr1 current", lambda: get(f"{base}/{tile}")[2] == (out / "dr1" / tile).read_bytes())
        for k in changed[:5] + ["g/properties", "g/Moc.fits"]:
            st, h, body = get(f"{base}/{k}")
            assert st == 200, k
            if k != "g/properties":  # properties are served without server paths (compared below)
                assert body == (out / "dr1" / k).read_bytes(), k
        st, h, body = get(f"{base}/{tile}")
        assert "immutable" not in h["cache-control"] and "max-age=5" in h["cache-control"]
        assert h["etag"] == f'"{m1[tile][1]}"'
        # Versioned paths: immutable, the manifest's ETag, 304 on If-None-Match.
        st, h, body = get(f"{base}/dr1/{tile}")
        assert st == 200 and body == (out / "dr1" / tile).read_bytes()
        assert h["cache-control"] == "public, max-age=31536000, immutable"
        assert h["etag"] == f'"{m1[tile][1]}"'
        st, h304, body = get(f"{base}/dr1/{tile}", {"If-None-Match": h["etag"]})
        assert st == 304 and body == b""
        assert get(f"{base}/dr2/{tile}")[1]["etag"] == f'"{m2[tile][1]}"'
        # A tile never read: the manifest's digest alone answers 304 (and a stale one gets the body).
        other = changed[-1]
        st, h, body = get(f"{base}/dr2/{other}", {"If-None-Match": f'"{m2[other][1]}"'})
        assert st == 304 and h["etag"] == f'"{m2[other][1]}"' and "immutable" in h["cache-control"]
        st, h, body = get(f"{base}/{other}", {"If-None-Match": f'"{m2[other][1]}"'})
        assert st == 200 and body == (out / "dr1" / other).read_bytes()
        # The published list, as published; properties of the current release; no server path anywhere.
        st, _, lst = get(f"{base}/hipslist")
        assert st == 200 and lst == (out / "hipslist").read_bytes()
        assert b"hips_service_url     = https://hips.example.org/dr1/g" in lst
        st, _, props = get(f"{base}/g/properties")
        assert st == 200 and b"creator_did          = ivo://example.org/P/test/dr1/g" in props
        for b in (lst, props, get(f"{base}/g/")[2]):
            assert str(out).encode() not in b
        # astropy reads a served tile as the file.
        with fits.open(io.BytesIO(get(f"{base}/{tile}")[2])) as hd, fits.open(out / "dr1" / tile) as ref:
            assert hd[0].data.shape == (64, 64) and np.isfinite(hd[0].data).any()
            assert np.array_equal(hd[0].data, ref[0].data, equal_nan=True)
        # Traversal and unknown ids.
        for bad in ["/../dr1/g/properties", "/dr1/../current", "/%2e%2e/current"]:
            assert get(base + bad)[0] == 400, bad
        for missing in ["/current", "/dr1/manifest.json", "/dr3/g/properties", "/publish.lock"]:
            assert get(base + missing)[0] == 404, missing

        # Publish dr2 while a client fetches the changed tile: every answer is one release, whole.
        bodies = {(out / r / tile).read_bytes(): f'"{m[tile][1]}"' for r, m in (("dr1", m1), ("dr2", m2))}
        seen, stop_flag, errors = [], threading.Event(), []

        def hammer():
            while not stop_flag.is_set():
                st, h, body = get(f"{base}/{tile}")
                if st != 200 or bodies.get(body) != h.get("etag"):
                    errors.append((st, h.get("etag"), len(body)))
                seen.append(body == (out / "dr2" / tile).read_bytes())

        t = threading.Thread(target=hammer)
        t.start()
        t0 = time.monotonic()
        hipsgen(hipsgen_bin, "release", "publish", "--config", str(cfgs["dr2"]))
        poll("dr2 current", lambda: get(f"{base}/{tile}")[2] == (out / "dr2" / tile).read_bytes())
        switched = time.monotonic() - t0
        poll("a few answers after the switch", lambda: len(seen) > 5 and seen[-1])
        stop_flag.set()
        t.join()
        assert not errors, errors[:5]
        first_new = seen.index(True)
        assert first_new > 0, "no answer from the old release while the client ran"
        assert all(seen[first_new:]), "an old-release answer after the new release was served"
        assert switched < 10, switched
        st, h, body = get(f"{base}/dr1/{tile}")
        assert body == (out / "dr1" / tile).read_bytes() and "immutable" in h["cache-control"]
        assert get(f"{base}/hipslist")[2] == (out / "hipslist").read_bytes()
        assert b"/dr2/g" in (out / "hipslist").read_bytes()

        # A `current` naming a missing release keeps the previous one, and says so.
        (out / "current").write_text("dr9\n")
        poll("the missing-release log line", lambda: "names release dr9" in log.text())
        assert get(f"{base}/{tile}")[2] == (out / "dr2" / tile).read_bytes()

        # Rollback switches back.
        (out / "current").write_text("dr2\n")
        hipsgen(hipsgen_bin, "release", "rollback", "--to", "dr1", "--config", str(cfgs["dr2"]))
        poll("dr1 current again", lambda: get(f"{base}/{tile}")[2] == (out / "dr1" / tile).read_bytes())
        assert p.poll() is None, log.text()
    finally:
        stop(p)


def test_async_jobs_outlive_a_release_switch(releases, hipsgen_bin, hipsserve_bin, tmp_path):
    """A SODA async job made before a publish is still there after it (the job store is shared by every catalogue
    snapshot, not made again with each), runs, and its FITS result is the sync cutout of the same coadd."""
    import urllib.parse

    import requests

    out, cfgs = releases
    coadds = [out.parent / f"coadds_{rid}" for rid in ("dr1", "dr2")]
    srv_cfg = tmp_path / "hipsserve.toml"
    srv_cfg.write_text("[release]\npoll_ms = 200\n[on_demand]\ncoadd_roots = [%s]\n"
                       % ", ".join(f'"{c}"' for c in coadds))
    hipsgen(hipsgen_bin, "release", "publish", "--config", str(cfgs["dr1"]))
    p = subprocess.Popen([str(hipsserve_bin), "--root", str(out), "--listen", "127.0.0.1:0", "--config", str(srv_cfg)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = Tail(p.stderr)
    try:
        m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", p.stdout.readline())
        assert m, log.text()
        base = f"http://{m.group(1)}"
        props = poll("dr1 current", lambda: (lambda r: r[0] == 200 and r[2])(get(f"{base}/g/properties")))
        assert b"/dr1/g" in props
        st, _, body = get(f"{base}/g/progenitors?ra=150&dec=2")
        assert st == 200, body
        ident = json.loads(body)["progenitors"][0]["id"]
        region = "150 2 0.5"
        r = requests.post(f"{base}/vo/soda/async", data={"ID": ident, "CIRCLE": region}, allow_redirects=False,
                          timeout=30)
        assert r.status_code == 303, r.text
        job = urllib.parse.urljoin(base, r.headers["location"])
        assert "<uws:phase>PENDING</uws:phase>" in requests.get(job, timeout=30).text

        hipsgen(hipsgen_bin, "release", "publish", "--config", str(cfgs["dr2"]))
        poll("dr2 current", lambda: b"/dr2/g" in get(f"{base}/g/properties")[2])
        assert requests.get(job, timeout=30).status_code == 200, "the job survived the switch"
        assert requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=30).status_code == 303
        requests.get(job, params={"WAIT": "30", "PHASE": "EXECUTING"}, timeout=60)  # woken when it leaves EXECUTING
        doc = poll("the job done", lambda: (lambda t: "COMPLETED" in t and t)(requests.get(job, timeout=30).text))
        assert "<uws:phase>COMPLETED</uws:phase>" in doc, doc
        result = requests.get(f"{job}/results/0", timeout=30)
        sync = requests.get(f"{base}/vo/soda/sync", params={"ID": ident, "CIRCLE": region}, timeout=30)
        assert result.status_code == sync.status_code == 200
        assert result.content == sync.content
        assert p.poll() is None, log.text()
    finally:
        stop(p)


def test_s3_release_root_switches_on_publish(weed, hipsgen_bin, hipsserve_bin, tmp_path):
    """The same on SeaweedFS: `hipsserve --root s3://rel/hips` serves the current release and switches on publish."""
    from test_release_s3 import http as s3_http

    coadds = tmp_path / "coadds"
    hipsgen(hipsgen_bin, "synth", "-o", str(coadds), "--patches", "3", "--patch-size", "200", "--pixel-scale", "60",
            "--overlap", "10", "--seed", "3")
    cfg = tmp_path / "s3.toml"
    cfg.write_text(CONFIG.format(id="dr1", out="s3://rel/srv", coadds=coadds))
    env = {**os.environ, **weed["env"]}

    def run(*args, rid="dr1"):
        r = subprocess.run([str(hipsgen_bin), *args, "--config", str(cfg)], capture_output=True, text=True,
                           timeout=600, env={**env, "HIPSGEN_RELEASE_ID": rid})
        assert r.returncode == 0, r.stderr[-3000:]

    def stored(key: str) -> bytes:
        st, body = s3_http(f"{weed['filer']}/buckets/rel/srv/{key}")
        assert st == 200, key
        return body

    run("release", "run")
    hipsgen(hipsgen_bin, "synth", "-o", str(coadds), "--patches", "3", "--patch-size", "200", "--pixel-scale", "60",
            "--overlap", "10", "--seed", "4")
    run("release", "run", "--no-publish", rid="dr2")
    m1 = {e["key"]: e["xxh3"] for e in json.loads(stored("dr1/manifest.json"))["objects"]}
    m2 = {e["key"]: e["xxh3"] for e in json.loads(stored("dr2/manifest.json"))["objects"]}
    tile = sorted(k for k in m1 if "/Dir" in k and k.endswith(".fits") and m2.get(k, m1[k]) != m1[k])[0]
    srv_cfg = tmp_path / "hipsserve.toml"
    srv_cfg.write_text("[release]\npoll_ms = 200\n")
    p = subprocess.Popen([str(hipsserve_bin), "--root", "s3://rel/srv", "--listen", "127.0.0.1:0", "--config",
                          str(srv_cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = Tail(p.stderr)
    try:
        m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", p.stdout.readline())
        assert m, log.text()
        base = f"http://{m.group(1)}"
        one, two = stored(f"dr1/{tile}"), stored(f"dr2/{tile}")
        st, h, body = get(f"{base}/{tile}")
        assert st == 200 and body == one and h["etag"] == f'"{m1[tile]}"', (st, h, log.text())
        st, h, body = get(f"{base}/dr2/{tile}")
        assert body == two and h["cache-control"] == "public, max-age=31536000, immutable"
        assert get(f"{base}/hipslist")[2] == stored("hipslist")
        run("release", "publish", rid="dr2")
        poll("dr2 current on S3", lambda: get(f"{base}/{tile}")[2] == two)
        assert get(f"{base}/{tile}")[1]["etag"] == f'"{m2[tile]}"'
        assert get(f"{base}/dr1/{tile}")[2] == one
        assert p.poll() is None, log.text()
    finally:
        stop(p)
