"""hipsserve's SODA asynchronous cutouts (/vo/soda/async, UWS 1.1) driven by a UWS client nobody here wrote: pyvo's
UWS parsers (`pyvo.io.uws.parse_job` / `parse_job_list`) read every job document and list, and pyvo's generic UWS job
handling (`AsyncTAPJob`: run, wait with WAIT, abort, delete, destruction) drives the lifecycle.

Oracles: every FITS result equals the /vo/soda/sync answer of the same ID and region byte for byte, and its planes
equal astropy's reading of the source coadd at the box its LTV keys say; a region that misses gives a text/plain
result. Limits (jobs in total and per owner, execution duration, disk quota), destruction reaping, ownership (two
token users and anonymous callers) and restricted coadds are checked end to end on the real server.
"""

import functools
import sys
import threading
import time
import urllib.parse
import warnings
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
import xmlschema
from astropy.io import fits
from astropy.wcs import WCS

from pyvo.dal.tap import AsyncTAPJob
from pyvo.io.uws import parse_job, parse_job_list

from browser_util import hipsserve
from test_vo_pyvo import run, same_pixels

CAROL, DAVE = "async-carol-token", "async-dave-token"
UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
# The IVOA UWS 1.1 schema (REC-20161024) and the xlink schema it imports, unpacked from Debian's python3-gavo by
# .ci/install into the test venv.
SCHEMATA = Path(sys.prefix) / "share" / "ivoa-schemata"


@functools.cache
def uws_schema():
    xsd = SCHEMATA / "UWS.xsd"
    if not xsd.is_file():
        pytest.fail(f"{xsd} missing: run .ci/install")
    return xmlschema.XMLSchema(str(xsd), locations={"http://www.w3.org/1999/xlink": str(SCHEMATA / "xlink.xsd")},
                               allow="local")


def valid(body: bytes) -> bytes:
    """The document is valid against the UWS 1.1 schema (xmlschema raises, naming the element, when not)."""
    uws_schema().validate(ElementTree.fromstring(body))
    return body


def session(token: str | None = None) -> requests.Session:
    s = requests.Session()
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


@pytest.fixture(scope="module")
def data(hipsgen_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("uws")
    syn, syn2, srv = base / "syn", base / "syn2", base / "srv"
    run(hipsgen_bin, "synth", "--out", syn, "--bands", "g", "--patches", 4, "--patch-size", 512)
    run(hipsgen_bin, "synth", "--out", syn2, "--bands", "i", "--patches", 2, "--patch-size", 512, "--ra", 150.2,
        "--dec", 2.1, "--seed", 7)
    for name, src, band in [("g", syn / "g", "g"), ("sec", syn2 / "i", "i")]:
        run(hipsgen_bin, "tiles", "--input", f"{src}/*.fits", "--out", srv / name, "--band", band,
            "--tile-width", 256)
    (base / "tokens").write_text(f"carol:{CAROL}\ndave:{DAVE}\n")
    coadds = {}  # identifier -> (file, hips, (ra, dec) of its centre)
    for name, src, top in [("g", syn / "g", syn), ("sec", syn2 / "i", syn2)]:
        did = next(ln.split("=", 1)[1].strip() for ln in (srv / name / "properties").read_text().splitlines()
                   if ln.startswith("creator_did"))
        for f in sorted(src.glob("*.fits")):
            with fits.open(f) as h:
                centre = tuple(float(x) for x in WCS(h[1].header).calc_footprint().mean(axis=0))
            coadds[f"{did}?{f.relative_to(top).as_posix()}"] = (f, name, centre)
    roots = sorted({str(p) for r in (syn, syn2) for p in (r, r.resolve())})
    return base, srv, roots, coadds


def config(base: Path, srv: Path, roots, name: str, jobs: str) -> Path:
    cfg = base / f"{name}.toml"
    cfg.write_text(f"""listen = "127.0.0.1:0"
roots = ["{srv}"]

[on_demand]
coadd_roots = [{", ".join(f'"{r}"' for r in roots)}]

[auth]
tokens_file = "{base / 'tokens'}"

[hips.sec]
access = "restricted"
users = ["carol"]

[async_jobs]
jobs_dir = "{base / name}"
{jobs}
""")
    return cfg


@pytest.fixture(scope="module")
def site(data, hipsserve_bin):
    base, srv, roots, coadds = data
    cfg = config(base, srv, roots, "jobs", "max_execution_secs = 60\nmax_wait_secs = 30\n")
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, coadds, base / "jobs"


def create(url, params, token=None):
    """POST a job; its URL (from the 303)."""
    r = session(token).post(url + "/vo/soda/async", data=params, allow_redirects=False)
    assert r.status_code == 303, r.text
    loc = r.headers["Location"]
    assert loc.startswith(url + "/vo/soda/async/")
    return loc


def job_doc(job_url, token=None, **query):
    r = session(token).get(job_url, params=query)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml"), r.text
    return parse_job(BytesIO(valid(r.content)), pedantic=True)


def g_ids(coadds):
    return [i for i, (_, h, _) in coadds.items() if h == "g"]


def test_capabilities_advertise_async(site):
    url, _, _ = site
    body = requests.get(url + "/vo/capabilities").text
    assert 'standardID="ivo://ivoa.net/std/SODA#async-1.0"' in body
    assert f"<accessURL use=\"base\">{url}/vo/soda/async</accessURL>" in body


def test_lifecycle_with_pyvo_results_equal_sync_and_astropy(site):
    url, coadds, jobs_dir = site
    ids = g_ids(coadds)[:2]
    (ra, dec) = coadds[ids[0]][2]
    hit, miss = f"{ra} {dec} 0.002", f"{ra + 30} {dec} 0.002"
    poly = f"{ra - 0.002} {dec - 0.002} {ra + 0.002} {dec - 0.002} {ra + 0.002} {dec + 0.002}"
    params = [("ID", ids[0]), ("ID", ids[1]), ("CIRCLE", hit), ("POLYGON", poly), ("CIRCLE", miss),
              ("RUNID", "lifecycle")]
    job_url = create(url, params, CAROL)
    j = job_doc(job_url, CAROL)
    assert j.phase == "PENDING" and j.runid == "lifecycle" and j.jobid == job_url.rsplit("/", 1)[1]
    assert len(j.jobid) == 32 and int(j.jobid, 16) >= 0
    assert [(p.id_, p.content) for p in j.parameters] == [(k, v) for k, v in params if k != "RUNID"]
    job = AsyncTAPJob(job_url, session=session(CAROL), delete=False)
    assert job.uws_version == "1.1" and job.phase == "PENDING"
    job.run()
    job.wait(timeout=60)
    assert job.phase == "COMPLETED", job.job.errorsummary
    j = job_doc(job_url, CAROL)
    assert j.starttime is not None and j.endtime is not None and j.creationtime is not None
    results = list(j.results)
    assert [r.id_ for r in results] == [str(n) for n in range(6)]
    s, fits_seen = session(CAROL), set()
    for n, (i, (k, v)) in enumerate((i, kv) for i in ids for kv in [("CIRCLE", hit), ("POLYGON", poly),
                                                                     ("CIRCLE", miss)]):
        got = s.get(results[n].href)
        assert got.status_code == 200
        assert int(results[n].size) == len(got.content)
        sync = s.get(url + "/vo/soda/sync?" + urllib.parse.urlencode({"ID": i, k: v}))
        if v == miss or sync.status_code == 204:
            assert sync.status_code == 204
            assert results[n].mimetype == "text/plain" and got.headers["content-type"].startswith("text/plain")
            assert got.text.startswith("NoOverlap:") and i in got.text
        else:
            fits_seen.add(n)
            assert sync.status_code == 200 and results[n].mimetype == "application/fits"
            assert got.content == sync.content, f"result {n} differs from the sync cutout"
            same_pixels(got.content, coadds[i][0], 3)
    assert {0, 1} <= fits_seen, "the first ID's circle and polygon are cut"
    # job.result_uris lists them too; the sub-resources answer plain text.
    assert len(job.result_uris) == 6
    assert s.get(job_url + "/phase").text.strip() == "COMPLETED"
    assert s.get(job_url + "/owner").text.strip() == "carol", "the owner is the user the token names"
    assert s.get(job_url + "/executionduration").text.strip() == "60"
    assert s.get(job_url + "/error").status_code == 404
    for sub in ["parameters", "results"]:
        root = ElementTree.fromstring(valid(s.get(f"{job_url}/{sub}").content))
        assert root.tag == f"{UWS}{sub}"
    # Results on disk under the jobs directory; DELETE answers 303 to the list and removes job and files.
    assert len(list((jobs_dir / j.jobid).iterdir())) == 6
    r = s.delete(job_url, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == url + "/vo/soda/async"
    assert s.get(job_url).status_code == 404
    assert not (jobs_dir / j.jobid).exists()


def test_image_only_and_whole_coadd(site):
    url, coadds, _ = site
    i = g_ids(coadds)[0]
    ra, dec = coadds[i][2]
    job_url = create(url, [("ID", i), ("CIRCLE", f"{ra} {dec} 0.002"), ("CUTOUTDETAIL", "Image"), ("PHASE", "RUN")])
    j = job_doc(job_url, WAIT=30)
    j = job_doc(job_url, WAIT=30) if j.phase != "COMPLETED" else j
    assert j.phase == "COMPLETED"
    body = requests.get(list(j.results)[0].href).content
    same_pixels(body, coadds[i][0], 1)
    # No region: the whole coadd, as /vo/soda/sync gives it.
    job_url = create(url, [("ID", i), ("PHASE", "RUN")])
    j = job_doc(job_url, WAIT=30)
    assert j.phase == "COMPLETED"
    assert requests.get(list(j.results)[0].href).content == coadds[i][0].read_bytes()
    requests.post(job_url, data={"ACTION": "DELETE"})
    assert requests.get(job_url).status_code == 404
    # An ID nobody serves: the job completes with a text/plain NotFoundError result.
    job_url = create(url, [("ID", "ivo://nowhere/x?y.fits"), ("CIRCLE", f"{ra} {dec} 0.002"), ("PHASE", "RUN")])
    j = job_doc(job_url, WAIT=30)
    assert j.phase == "COMPLETED" and list(j.results)[0].mimetype == "text/plain"
    assert requests.get(list(j.results)[0].href).text.startswith("NotFoundError:")
    requests.delete(job_url)


def test_wait_blocks_until_the_phase_changes(site):
    url, coadds, _ = site
    i = g_ids(coadds)[0]
    ra, dec = coadds[i][2]
    job_url = create(url, [("ID", i), ("CIRCLE", f"{ra} {dec} 0.002")])
    # PENDING: WAIT=1 returns after about a second, still PENDING.
    t0 = time.monotonic()
    assert job_doc(job_url, WAIT=1).phase == "PENDING"
    assert 0.9 <= time.monotonic() - t0 < 10
    # A WAIT=30 is woken by the phase change a second client makes.
    out = {}

    def waiter():
        t = time.monotonic()
        out["phase"] = job_doc(job_url, WAIT=30).phase
        out["took"] = time.monotonic() - t

    th = threading.Thread(target=waiter)
    th.start()
    # Once the server counts the waiter in flight (this /metrics request is the other one), the job is run.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = requests.get(url + "/metrics").text
        if "hipsserve_in_flight_requests 2\n" in m:
            break
    t_run = time.monotonic()
    requests.post(job_url + "/phase", data={"PHASE": "RUN"})
    th.join(40)
    assert out["phase"] in ("QUEUED", "EXECUTING", "COMPLETED") and out["took"] < 20
    assert time.monotonic() - t_run < 10
    # WAIT on a finished job returns at once; a PHASE that is not the current one returns at once too.
    job_doc(job_url, WAIT=30)
    t0 = time.monotonic()
    assert job_doc(job_url, WAIT=30).phase == "COMPLETED"
    assert time.monotonic() - t0 < 5
    requests.delete(job_url)


def message(j) -> str:
    """The errorSummary message pyvo read."""
    m = j.errorsummary.message
    return str(getattr(m, "content", m))


def many_regions(coadds, n):
    i = g_ids(coadds)
    ra, dec = coadds[i[0]][2]
    regions = [("CIRCLE", f"{ra + k * 1e-5} {dec} 0.001") for k in range(n)]
    return [("ID", x) for x in i] + regions


def test_abort_and_execution_duration(site):
    url, coadds, jobs_dir = site
    # ABORT through pyvo while it runs: ABORTED, with fewer results than asked.
    job = AsyncTAPJob(create(url, many_regions(coadds, 500)), session=session(), delete=False)
    job.run()
    job.abort()
    assert job.phase == "ABORTED"
    n = len(list(job.job.results))
    assert n < 4 * 500
    # The abort is synchronous: no result is added after it.
    assert len(list(job_doc(job.url).results)) == n
    abort_url = job.url
    job.delete()
    assert requests.get(abort_url).status_code == 404
    # A job that cannot finish within its execution duration (1 s for 4 x 1500 cutouts) goes ERROR.
    job_url = create(url, many_regions(coadds, 1500) + [("EXECUTIONDURATION", "1"), ("PHASE", "RUN")])
    deadline = time.monotonic() + 60
    while (j := job_doc(job_url, WAIT=20)).phase in ("QUEUED", "EXECUTING") and time.monotonic() < deadline:
        pass
    assert j.phase == "ERROR", j.phase
    assert j.executionduration.value == 1
    assert "execution duration" in message(j)
    assert "execution duration" in requests.get(job_url + "/error").text
    assert len(list(j.results)) < 4 * 1500
    requests.delete(job_url)
    assert not (jobs_dir / j.jobid).exists()


def test_destruction_reaps_job_and_files(site):
    url, coadds, jobs_dir = site
    i = g_ids(coadds)[0]
    ra, dec = coadds[i][2]
    job_url = create(url, [("ID", i), ("CIRCLE", f"{ra} {dec} 0.002"), ("PHASE", "RUN")], CAROL)
    job = AsyncTAPJob(job_url, session=session(CAROL), delete=False)
    job.wait(timeout=30)
    jid = job_url.rsplit("/", 1)[1]
    assert (jobs_dir / jid / "0").exists()
    from datetime import datetime, timedelta, timezone
    job.destruction = datetime.now(timezone.utc) + timedelta(seconds=2)
    assert abs(job.destruction.unix - (time.time() + 2)) < 3
    deadline = time.monotonic() + 30
    while session(CAROL).get(job_url).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session(CAROL).get(job_url).status_code == 404
    assert not (jobs_dir / jid).exists()
    listed = parse_job_list(BytesIO(valid(session(CAROL).get(url + "/vo/soda/async").content)), pedantic=True)
    assert jid not in [x.jobid for x in listed]


def test_ownership_and_list_filters(site):
    url, coadds, _ = site
    i = g_ids(coadds)[0]
    ra, dec = coadds[i][2]
    p = [("ID", i), ("CIRCLE", f"{ra} {dec} 0.002")]
    for tok in [CAROL, DAVE]:  # jobs other tests left
        for x in parse_job_list(BytesIO(session(tok).get(url + "/vo/soda/async").content)):
            session(tok).delete(f"{url}/vo/soda/async/{x.jobid}")
    a1 = create(url, p + [("PHASE", "RUN")], CAROL)
    job_doc(a1, CAROL, WAIT=30)
    t_mid = requests.get(url + "/vo/soda/async/" + "0" * 32)  # a job nobody has
    assert t_mid.status_code == 404
    a2 = create(url, p, CAROL)
    d1 = create(url, p, DAVE)
    anon = create(url, p)
    lst = lambda tok, **q: parse_job_list(
        BytesIO(valid(session(tok).get(url + "/vo/soda/async", params=q).content)), pedantic=True)
    ids = lambda jobs: [x.jobid for x in jobs]
    jid = lambda u: u.rsplit("/", 1)[1]
    carol = lst(CAROL)
    assert set(ids(carol)) == {jid(a1), jid(a2)}
    assert ids(carol) == [jid(a2), jid(a1)], "most recent first"
    assert ids(lst(DAVE)) == [jid(d1)]
    assert ids(lst(None)) == [], "anonymous callers never see each other's jobs"
    assert ids(lst(CAROL, PHASE="COMPLETED")) == [jid(a1)]
    assert ids(lst(CAROL, PHASE="PENDING")) == [jid(a2)]
    assert ids(lst(CAROL, LAST=1)) == [jid(a2)]
    created = job_doc(a1, CAROL).creationtime
    assert ids(lst(CAROL, AFTER=created.isot + "Z")) == [jid(a2)]
    assert session(CAROL).get(url + "/vo/soda/async", params={"PHASE": "NOPE"}).status_code == 400
    # Someone else's job is not there, whatever the sub-resource or method.
    for tok in [DAVE, None]:
        for sub in ["", "/phase", "/results", "/results/0", "/parameters", "/owner"]:
            assert session(tok).get(a1 + sub).status_code == 404
        assert session(tok).post(a1 + "/phase", data={"PHASE": "ABORT"}).status_code == 404
        assert session(tok).delete(a1).status_code == 404
    assert session(CAROL).get(anon).status_code == 404
    assert session(None).get(anon).status_code == 200, "an anonymous job is reached by its URL"
    assert session("not-a-token").get(a1).status_code == 401
    assert job_doc(a1, CAROL).phase == "COMPLETED"
    for u, tok in [(a1, CAROL), (a2, CAROL), (d1, DAVE), (anon, None)]:
        assert session(tok).delete(u, allow_redirects=False).status_code == 303


def test_restricted_coadds_never_leak(site):
    url, coadds, _ = site
    sec = next(i for i, (_, h, _) in coadds.items() if h == "sec")
    ra, dec = coadds[sec][2]
    p = {"ID": sec, "CIRCLE": f"{ra} {dec} 0.002", "PHASE": "RUN"}
    for tok, code in [(None, 401), (DAVE, 403)]:
        r = session(tok).post(url + "/vo/soda/async", data=p, allow_redirects=False)
        assert r.status_code == code and sec in r.text and b"SIMPLE" not in r.content
        assert "/" + str(coadds[sec][0].parent) not in r.text
    # An ID the caller may read next to one it may not: the whole job is refused.
    g = g_ids(coadds)[0]
    r = session(DAVE).post(url + "/vo/soda/async", data=[("ID", g), ("ID", sec), ("CIRCLE", p["CIRCLE"])],
                           allow_redirects=False)
    assert r.status_code == 403
    job_url = create(url, p, CAROL)
    j = job_doc(job_url, CAROL, WAIT=30)
    assert j.phase == "COMPLETED"
    body = session(CAROL).get(list(j.results)[0].href).content
    sync = session(CAROL).get(url + "/vo/soda/sync", params={"ID": sec, "CIRCLE": p["CIRCLE"]}).content
    assert body == sync
    same_pixels(body, coadds[sec][0], 3)
    # No answer names a server path.
    for sub in ["", "/parameters", "/results"]:
        assert str(coadds[sec][0].parent) not in session(CAROL).get(job_url + sub).text
    session(CAROL).delete(job_url)


def test_bad_requests(site):
    url, coadds, _ = site
    i = g_ids(coadds)[0]
    post = lambda data: requests.post(url + "/vo/soda/async", data=data, allow_redirects=False)
    for data, word in [([("CIRCLE", "1 2 0.1")], "ID"), ([("ID", i), ("CIRCLE", "1 2")], "CIRCLE"),
                       ([("ID", i), ("FOO", "1")], "FOO"), ([("ID", i), ("CUTOUTDETAIL", "Mask")], "CUTOUTDETAIL"),
                       ([("ID", i), ("DESTRUCTION", "soon")], "DESTRUCTION")]:
        r = post(data)
        assert r.status_code == 400 and word in r.text and r.text.split(":")[0] in ("UsageError",), r.text
    job_url = create(url, [("ID", i)])
    assert requests.post(job_url + "/phase", data={"PHASE": "SUSPEND"}).status_code == 400
    assert requests.get(job_url, params={"WAIT": "x"}).status_code == 400
    requests.delete(job_url)
    # DELETE is taken under /vo/soda/async/ only.
    assert requests.delete(url + "/g/properties").status_code == 405
    assert requests.delete(url + "/vo/soda/async").status_code == 405


@pytest.fixture(scope="module")
def tight(data, hipsserve_bin):
    base, srv, roots, coadds = data
    stale = base / "tight" / ("ab" * 16)
    stale.mkdir(parents=True)
    (stale / "0").write_bytes(b"left by an earlier process")
    keep = base / "tight" / "not-a-job"
    keep.mkdir()
    cfg = config(base, srv, roots, "tight", "max_jobs = 3\nmax_jobs_per_owner = 2\nmax_disk_bytes = 150000\n")
    with hipsserve(hipsserve_bin, "--config", str(cfg), "--no-access-log") as url:
        yield url, coadds, base / "tight"


def test_limits_jobs_and_disk(tight):
    url, coadds, jobs_dir = tight
    assert not (jobs_dir / ("ab" * 16)).exists(), "job folders of an earlier process are removed at start"
    assert (jobs_dir / "not-a-job").exists(), "only job folders are removed"
    i = g_ids(coadds)[0]
    ra, dec = coadds[i][2]
    p = [("ID", i), ("CIRCLE", f"{ra} {dec} 0.002")]
    c1, c2 = create(url, p, CAROL), create(url, p, CAROL)
    r = session(CAROL).post(url + "/vo/soda/async", data=p, allow_redirects=False)
    assert r.status_code == 429 and "max_jobs_per_owner" in r.text
    d1 = create(url, p, DAVE)
    r = session(DAVE).post(url + "/vo/soda/async", data=p, allow_redirects=False)
    assert r.status_code == 503 and "max_jobs" in r.text and "retry-after" in r.headers
    for u, tok in [(c1, CAROL), (c2, CAROL), (d1, DAVE)]:
        session(tok).delete(u)
    # Disk: 4 regions of one coadd, about 70 kB each do not fit in 150000 bytes.
    circles = [("CIRCLE", f"{ra + k * 0.003} {dec} 0.002") for k in (-1, 0, 1, 2)]
    job_url = create(url, [("ID", i)] + circles + [("PHASE", "RUN")])
    j = job_doc(job_url, WAIT=30)
    j = job_doc(job_url, WAIT=30) if j.phase == "EXECUTING" else j
    assert j.phase == "ERROR" and "disk quota" in message(j), j.phase
    kept = list(j.results)
    assert 0 < len(kept) < 4 and sum(int(r.size) for r in kept) <= 150000
    for r in kept:
        assert int(r.size) == len(requests.get(r.href).content)
    requests.delete(job_url)
    # Deleting gives the quota back: a one-result job fits again.
    j = job_doc(create(url, p + [("PHASE", "RUN")]), WAIT=30)
    assert j.phase == "COMPLETED"


def test_browsers_may_delete_jobs_cross_origin(site):
    """A CORS preflight for DELETE on a job is granted (a browser page can remove its job); the VO services take
    POSTed forms; HiPS files stay read-only."""
    url, _, _ = site
    pre = {"Origin": "https://portal.example.org", "Access-Control-Request-Method": "DELETE"}
    r = requests.options(f"{url}/vo/soda/async/0123456789abcdef", headers=pre, timeout=30)
    assert r.status_code == 204 and "DELETE" in r.headers["access-control-allow-methods"], r.headers
    r = requests.options(f"{url}/vo/sia/query", headers={**pre, "Access-Control-Request-Method": "POST"}, timeout=30)
    assert "POST" in r.headers["access-control-allow-methods"] and "DELETE" not in r.headers["allow"]
    r = requests.options(f"{url}/g/properties", headers=pre, timeout=30)
    assert r.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
