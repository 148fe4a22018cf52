"""Helpers for the browser tests: render a HiPS in Aladin Lite (headless chromium) and build independent expected views.

Public API (import from tests: ``from browser_util import ...``):

- ``render_hips(hips_url, ra, dec, fov, width, height, out_png, ...)``: screenshot of Aladin Lite showing the HiPS.
- ``expected_view(hips_dir, ra, dec, fov, width, height, ...)``: the same view computed from the HiPS's own tiles
  with astropy-healpix (no Aladin code involved).
- ``expected_view_from_fits(fits_path, ra, dec, fov, width, height, ...)``: the view computed from an input image
  reprojected with astropy/reproject (the oracle for a HiPS made from that image).
- ``hipsserve(binary, *args)``: run hipsserve on a free port, yield its base URL (``hipsserve_process``: and the
  process).
- ``view_wcs(...)``, ``load_grey(png)``, ``rank_correlation(a, b, mask)``, ``best_shift(...)``,
  ``static_server(root, ...)``.

Screen convention: row 0 is the top of the screenshot; North is up and East is left (Aladin Lite's default),
the view centre is (ra, dec), and ``fov`` degrees span the width.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

import procs

REPO_ROOT = Path(__file__).resolve().parent.parent
BROWSER_DIR = REPO_ROOT / "tests" / "browser"
RENDER_SCRIPT = BROWSER_DIR / "render.mjs"


class RenderError(AssertionError):
    """Aladin Lite could not be driven to a screenshot; carries the render script's JSON report."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message + ("\nreport: " + json.dumps(report, indent=1)[:6000] if report else ""))
        self.report = report


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise RenderError("node is not on PATH (Debian package nodejs)")
    if not (BROWSER_DIR / "node_modules" / "aladin-lite" / "dist" / "aladin.js").is_file():
        raise RenderError(f"aladin-lite is not installed: run `npm ci` in {BROWSER_DIR}")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        raise RenderError(f"playwright-core is not installed: run `npm ci` in {BROWSER_DIR}")
    return node


def render_hips(
    hips_url,
    ra: float,
    dec: float,
    fov: float,
    width: int,
    height: int,
    out_png,
    page_origin: str | None = None,
    with_credentials: bool = False,
    img_format: str | None = None,
    projection: str = "SIN",
    cookies: list[str] | None = None,
    http_credentials: str | None = None,
    timeout_s: float = 25.0,
    allow_timeout: bool = False,
) -> dict:
    """Render ``hips_url`` in Aladin Lite and save a ``width`` x ``height`` PNG screenshot to ``out_png``.

    ``hips_url``: an http(s) URL of a HiPS (its server must send CORS headers unless it is the page origin), or a
    local HiPS directory (a ``Path`` or an existing directory path), which is then served on the page's own origin.
    ``page_origin``: origin the test page is served from, e.g. ``"http://localhost"`` or ``"http://127.0.0.1:8123"``
    (a missing port means a free one); default ``http://127.0.0.1:<free port>``.
    ``with_credentials``: Aladin Lite's ``requestCredentials: "include"`` (cookies/auth sent cross-origin).
    ``img_format``: Aladin Lite's ``imgFormat`` (``fits``, ``png``, ``jpeg``, ``webp``); default: its own choice.
    ``cookies``: ``NAME=VALUE@URL`` strings set in the browser before loading; ``http_credentials``: ``USER:PASS``
    answered to HTTP auth challenges.
    Returns the render script's JSON report (``requests`` lists every HiPS request with its HTTP status).
    Raises ``RenderError`` if no screenshot was made, or if the wait for tiles timed out and not ``allow_timeout``.
    """
    node = _node()
    out_png = Path(out_png)
    args = [
        node, str(RENDER_SCRIPT),
        "--ra", repr(float(ra)), "--dec", repr(float(dec)), "--fov", repr(float(fov)),
        "--width", str(int(width)), "--height", str(int(height)), "--out", str(out_png),
        "--projection", projection, "--timeout-ms", str(int(timeout_s * 1000)),
    ]
    local = isinstance(hips_url, Path) or (
        isinstance(hips_url, str) and "://" not in hips_url and Path(hips_url).is_dir()
    )
    if local:
        args += ["--mount", str(Path(hips_url).resolve()), "--hips", "/hips"]
    else:
        args += ["--hips", str(hips_url)]
    if page_origin is not None:
        parts = urlsplit(page_origin)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"page_origin must look like http://HOST[:PORT], got {page_origin!r}")
        host = parts.hostname
        listen_host = "127.0.0.1" if host == "localhost" else host
        args += ["--page-listen", f"{listen_host}:{parts.port or 0}", "--page-host", host]
    if with_credentials:
        args.append("--with-credentials")
    if img_format:
        args += ["--img-format", img_format]
    for c in cookies or []:
        args += ["--cookie", c]
    if http_credentials:
        args += ["--http-credentials", http_credentials]
    proc = subprocess.run(args, cwd=BROWSER_DIR, capture_output=True, text=True, timeout=timeout_s + 40)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    report = json.loads(lines[-1]) if lines else None
    if report is None or not report.get("ok"):
        raise RenderError(
            f"render.mjs failed (exit {proc.returncode}); stderr:\n{proc.stderr[-3000:]}", report
        )
    if report.get("timedOut") and not allow_timeout:
        raise RenderError(f"Aladin Lite still had HiPS requests pending after {timeout_s} s", report)
    return report


def view_wcs(ra: float, dec: float, fov: float, width: int, height: int, projection: str = "SIN"):
    """The astropy WCS of the screen as Aladin Lite draws it (FITS row 1 = bottom screen row, East left).

    ``fov`` degrees across ``width`` pixels, centred on (ra, dec) at the centre of the pixel grid.
    """
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = [f"RA---{projection}", f"DEC--{projection}"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [width / 2 + 0.5, height / 2 + 0.5]
    scale = fov / width
    w.wcs.cdelt = [-scale, scale]
    w.wcs.radesys = "ICRS"
    return w


def _screen_sky(ra, dec, fov, width, height, projection):
    """(ra, dec) in degrees of every screen pixel centre, arrays of shape (height, width), row 0 at the top."""
    w = view_wcs(ra, dec, fov, width, height, projection)
    x, y = np.meshgrid(np.arange(width), np.arange(height)[::-1])
    lon, lat = w.wcs_pix2world(x, y, 0)
    return lon, lat


def _read_properties(hips_dir: Path) -> dict:
    props = {}
    for line in (hips_dir / "properties").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        props[k.strip()] = v.strip()
    return props


def read_properties(hips_dir) -> dict:
    """The ``key = value`` pairs of a HiPS ``properties`` file."""
    return _read_properties(Path(hips_dir))


def _deinterleave(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split an in-tile NESTED index into (ix, iy): ix from the even bits, iy from the odd bits."""
    ix = np.zeros_like(v)
    iy = np.zeros_like(v)
    for b in range(32):
        ix |= ((v >> (2 * b)) & 1) << b
        iy |= ((v >> (2 * b + 1)) & 1) << b
    return ix, iy


def _load_tile(path: Path, fmt: str) -> np.ndarray | None:
    """One tile as float array (W, W) or (W, W, 3) indexed [ix, iy]; NaN where blank. None if the file is absent."""
    if not path.is_file():
        return None
    if fmt == "fits":
        from astropy.io import fits

        with fits.open(path, do_not_scale_image_data=True) as hdul:
            hdu = hdul[0]
            raw = np.asarray(hdu.data)
            blank = hdu.header.get("BLANK") if raw.dtype.kind in "iu" else None
            data = raw.astype(float) * float(hdu.header.get("BSCALE", 1.0)) + float(hdu.header.get("BZERO", 0.0))
            if blank is not None:
                data[raw == int(blank)] = np.nan
        # data[r][c]: iy = c, ix = W-1-r  ->  index [ix, iy] is data flipped vertically.
        return data[::-1, :]
    from PIL import Image

    img = Image.open(path)
    has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
    arr = np.asarray(img.convert("RGBA"), dtype=float)
    rgb = arr[..., :3]
    if has_alpha:
        rgb = np.where(arr[..., 3:4] == 0, np.nan, rgb)
    # PNG/JPEG row p (from top), column c: ix = p, iy = c -> index [ix, iy] is the array as read.
    return rgb


def expected_view(
    hips_dir,
    ra: float,
    dec: float,
    fov: float,
    width: int,
    height: int,
    projection: str = "SIN",
    order: int | None = None,
    fmt: str | None = None,
) -> np.ndarray:
    """The view Aladin Lite should show, sampled (nearest HEALPix pixel) from the HiPS's own tiles.

    Uses astropy-healpix for the sky -> NESTED index mapping and the documented in-tile pixel order; reads tiles of
    ``order`` (default ``hips_order``) in ``fmt`` (default the first of ``hips_tile_format``).
    Returns float array (height, width) for a one-channel HiPS or (height, width, 3) for colour tiles, NaN where
    no tile covers the pixel (or the tile pixel is blank).
    """
    from astropy_healpix import HEALPix
    import astropy.units as u

    hips_dir = Path(hips_dir)
    props = _read_properties(hips_dir)
    if order is None:
        order = int(props["hips_order"])
    if fmt is None:
        fmt = props.get("hips_tile_format", "png").split()[0]
    fmt = {"jpeg": "jpg"}.get(fmt, fmt)
    tile_width = int(props.get("hips_tile_width", "512"))
    w = tile_width.bit_length() - 1
    if 1 << w != tile_width:
        raise ValueError(f"{hips_dir}/properties: hips_tile_width {tile_width} is not a power of two")
    frame = props.get("hips_frame", "equatorial")
    lon, lat = _screen_sky(ra, dec, fov, width, height, projection)
    valid = np.isfinite(lon) & np.isfinite(lat)
    if frame.startswith("gal"):
        from astropy.coordinates import SkyCoord

        c = SkyCoord(np.where(valid, lon, 0) * u.deg, np.where(valid, lat, 0) * u.deg, frame="icrs").galactic
        lon, lat = c.l.deg, c.b.deg
    hp = HEALPix(nside=1 << (order + w), order="nested")
    ipix = hp.lonlat_to_healpix(np.where(valid, lon, 0) * u.deg, np.where(valid, lat, 0) * u.deg).astype(np.int64)
    tile = ipix >> (2 * w)
    ix, iy = _deinterleave(ipix & ((1 << (2 * w)) - 1))
    out = None
    for n in np.unique(tile[valid]):
        path = hips_dir / f"Norder{order}" / f"Dir{(n // 10000) * 10000}" / f"Npix{n}.{fmt}"
        t = _load_tile(path, fmt)
        if t is None:
            continue
        if out is None:
            shape = (height, width) + t.shape[2:]
            out = np.full(shape, np.nan)
        sel = valid & (tile == n)
        out[sel] = t[ix[sel], iy[sel]]
    if out is None:
        raise ValueError(f"{hips_dir}: no order-{order} {fmt} tile covers the view at ({ra}, {dec}) fov {fov}")
    return out


def expected_view_from_fits(
    fits_path, ra: float, dec: float, fov: float, width: int, height: int, projection: str = "SIN", hdu: int = 0
) -> np.ndarray:
    """An input image reprojected (bilinear, astropy/reproject) to the screen; (height, width), NaN off the image."""
    from astropy.io import fits
    from reproject import reproject_interp

    with fits.open(fits_path) as hdul:
        data, _ = reproject_interp(
            hdul[hdu], view_wcs(ra, dec, fov, width, height, projection), shape_out=(height, width)
        )
    return data[::-1, :]


def to_grey(img: np.ndarray) -> np.ndarray:
    """Luminance of an (H, W, 3[+]) array, or the array itself if it has one channel."""
    img = np.asarray(img, dtype=float)
    if img.ndim == 3:
        return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114
    return img


def load_grey(png) -> np.ndarray:
    """A screenshot as float grey levels (height, width), row 0 at the top."""
    from PIL import Image

    return to_grey(np.asarray(Image.open(png).convert("RGB"), dtype=float))


def load_rgb(png) -> np.ndarray:
    """A screenshot as float RGB (height, width, 3)."""
    from PIL import Image

    return np.asarray(Image.open(png).convert("RGB"), dtype=float)


def rank_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Spearman rank correlation of two same-shape images over ``mask`` (default: where both are finite)."""
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    m = np.isfinite(a) & np.isfinite(b)
    if mask is not None:
        m &= mask
    if m.sum() < 100:
        raise ValueError(f"only {int(m.sum())} pixels to correlate")
    return float(spearmanr(a[m], b[m]).statistic)


def best_shift(shot: np.ndarray, expected_big: np.ndarray, margin: int, mask: np.ndarray | None = None, step: int = 2):
    """Where the screenshot best matches a larger expected view: ``(dx, dy, correlation)``.

    ``expected_big`` is the expected view of the same centre and pixel scale but ``2 * margin`` pixels wider and
    taller (e.g. ``expected_view_from_fits(..., fov * (w + 2 * margin) / w, w + 2 * margin, h + 2 * margin)``).
    Every window offset by (dx, dy) in [-margin, margin] is rank-correlated with ``shot`` (on every ``step``-th
    pixel) over ``mask`` (screen-sized); (0, 0) means the picture sits exactly where expected. dx > 0: the screenshot
    shows what is expected ``dx`` pixels further right.
    """
    h, w = shot.shape[:2]
    best = (0, 0, -2.0)
    sub = (slice(None, None, step), slice(None, None, step))
    m = None if mask is None else mask[sub]
    for dy in range(-margin, margin + 1):
        for dx in range(-margin, margin + 1):
            win = expected_big[margin + dy : margin + dy + h, margin + dx : margin + dx + w]
            c = rank_correlation(shot[sub], win[sub], m)
            if c > best[2]:
                best = (dx, dy, c)
    return best


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    cors_origin: str | None = None
    allow_credentials = False

    def end_headers(self):
        if self.cors_origin:
            self.send_header("Access-Control-Allow-Origin", self.cors_origin)
            if self.allow_credentials:
                self.send_header("Access-Control-Allow-Credentials", "true")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - silence the per-request log
        pass


@contextlib.contextmanager
def static_server(root, cors_origin: str | None = None, allow_credentials: bool = False, host: str = "127.0.0.1"):
    """Serve directory ``root`` over HTTP on a free port; yields the base URL (no trailing slash).

    ``cors_origin``: value of Access-Control-Allow-Origin to send (e.g. ``"*"``); None sends no CORS header.
    """
    handler = type(
        "Handler",
        (_QuietHandler,),
        {"cors_origin": cors_origin, "allow_credentials": allow_credentials},
    )
    httpd = http.server.ThreadingHTTPServer((host, 0), functools.partial(handler, directory=os.fspath(root)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def hipsserve(binary, *args: str, startup_s: float = 20.0):
    """Run ``binary`` (hipsserve) with ``args`` until the block ends; yields the ``http://IP:PORT`` it prints.

    Pass ``--listen 127.0.0.1:0`` (or a config with port 0) so it picks a free port. The process is terminated
    (SIGTERM, then SIGKILL after 10 s) on exit.
    """
    with hipsserve_process(binary, *args, startup_s=startup_s) as (url, _):
        yield url


@contextlib.contextmanager
def hipsserve_process(binary, *args: str, startup_s: float = 20.0):
    """[`hipsserve`] yielding ``(url, process)``, for callers that watch the process (its CPU time, its signals)."""
    proc = subprocess.Popen(
        [os.fspath(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # Its log is read from the start (a full stderr pipe would block the server), its stdout once it said where it
    # listens.
    err = procs.Tail(proc.stderr)
    try:
        deadline = time.monotonic() + startup_s
        url = None
        while url is None:
            if proc.poll() is not None:
                proc.wait()
                raise RuntimeError(f"hipsserve exited {proc.returncode}: {err.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"hipsserve did not print its bound address within {startup_s} s")
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                m = re.search(r"http://(\d+\.\d+\.\d+\.\d+:\d+)", proc.stdout.readline())
                if m:
                    url = "http://" + m.group(1)
        procs.Tail(proc.stdout)
        yield url, proc
    finally:
        procs.stop(proc)
