"""SODA cutout bodies are bounded by `limits.max_uncached_bytes` (issue #18 item 1): clients that request a large
cutout and then stop reading hold at most that budget between them; further cutouts wait for room (at most
`on_demand.timeout_ms`, here 3 s) and then get 503 with Retry-After instead of another copy in memory, and the room
comes back when the stalled connections close.

Measured from outside: the server process's resident memory (/proc/<pid>/status VmRSS) and its /metrics gauge
`hipsserve_uncached_bytes`, with 12 stalled readers of a ~48 MB answer (unbounded, they would hold ~580 MB, as
measured with the budget lifted to 1 GiB: 596 MB).
"""

import io
import os
import re
import select
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from astropy.io import fits

BUDGET = 64 << 20
STALLED = 12


def rss_bytes(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) * 1024


def gauge(url: str) -> int:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        m = re.search(rb"^hipsserve_uncached_bytes (\d+)", r.read(), re.M)
    return int(m.group(1))


def wait_for(pred, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(hipsgen_bin, hipsserve_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("vomem")
    syn, srv = base / "syn", base / "srv"
    for args in (["synth", "--out", syn, "--bands", "g", "--patches", "1", "--patch-size", "2048"],
                 ["tiles", "--input", f"{syn}/g/*.fits", "--out", srv / "g", "--band", "g", "--tile-width", "512"]):
        r = subprocess.run([str(hipsgen_bin), *map(str, args)], capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr
    cfg = base / "hipsserve.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{srv}"]

[limits]
max_uncached_bytes = {BUDGET}
write_timeout_ms = 120000

[on_demand]
coadd_roots = ["{syn}", "{syn.resolve()}"]
max_concurrent = 2
timeout_ms = 3000
""")
    proc = subprocess.Popen([str(hipsserve_bin), "--config", str(cfg), "--no-access-log"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "hipsserve did not print its address"
            if select.select([proc.stdout], [], [], 0.5)[0]:
                m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", proc.stdout.readline())
                url = m and "http://" + m.group(1)
        did = next(ln.split("=", 1)[1].strip() for ln in (srv / "g" / "properties").read_text().splitlines()
                   if ln.startswith("creator_did"))
        coadd = next((syn / "g").glob("*.fits"))
        yield url, proc.pid, f"{did}?g/{coadd.name}", coadd
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def status_line(s: socket.socket) -> bytes:
    """Read only the status line (the body stays unread)."""
    got = b""
    while b"\r\n" not in got:
        chunk = s.recv(1)
        assert chunk, "connection closed before the status line"
        got += chunk
    return got.split(b"\r\n")[0]


@pytest.mark.parametrize("region", [None, "CIRCLE 150 2 1"], ids=["file", "cutout"])
def test_stalled_readers_hold_at_most_the_budget(server, region):
    """The coadd file (DataLink #this: no region) and a cutout holding the whole coadd alike."""
    url, pid, coadd_id, coadd = server
    size = coadd.stat().st_size
    assert size > BUDGET // 2, size  # one whole-coadd answer fits, two do not
    host, port = url.removeprefix("http://").split(":")
    path = "/vo/soda/sync?" + urllib.parse.urlencode({"ID": coadd_id, **({"POS": region} if region else {})})
    # Warm up (catalogue built, pools started), then the baseline.
    with urllib.request.urlopen(url + path, timeout=120) as r:
        assert r.status == 200 and len(r.read()) >= size * 0.9
    wait_for(lambda: gauge(url) == 0, "the warm-up body to be released")
    before = rss_bytes(pid)
    socks, lines = [], []
    try:
        for _ in range(STALLED):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(120)
            s.connect((host, int(port)))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            socks.append(s)
        lines = [status_line(s) for s in socks]
        ok = sum(b" 200 " in ln for ln in lines)
        busy = sum(b" 503 " in ln for ln in lines)
        assert ok + busy == STALLED, lines
        assert 1 <= ok <= BUDGET // size, lines
        held = gauge(url)
        assert held <= BUDGET, held
        grown = rss_bytes(pid) - before
        # The budget, the two cutouts that may be built at once, and allocator slack; unbounded would be
        # STALLED * size (~580 MB).
        assert grown < BUDGET + 2 * size + (64 << 20), (grown, lines)
        assert grown < STALLED * size // 2, grown
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: gauge(url) == 0, "the stalled bodies to be released when their connections close")
    with urllib.request.urlopen(url + path, timeout=120) as r:
        assert r.status == 200, "room again"
        with fits.open(io.BytesIO(r.read())) as h:
            assert len([x for x in h if x.is_image and x.header.get("NAXIS") == 2]) == 3
    assert os.path.exists(f"/proc/{pid}")
