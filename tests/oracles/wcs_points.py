#!/usr/bin/env python3
"""astropy oracle for the Rust WCS tests (hips-core/tests/wcs_*.rs).

Usage:
    wcs_points.py --fits FILE [--hdu N]  < request.json
    wcs_points.py --header HEADER.txt    < request.json   (one FITS card per line)
    wcs_points.py --frames               < request.json
    wcs_points.py --batch                < jobs.json

Request (JSON on stdin): {"pix": [[x, y], ...], "world": [[lon, lat], ...]} with 0-based pixels and degrees;
world coordinates are always (lon, lat), whatever the order of the header axes.
Reply (JSON on stdout):  {"pix2world": [[lon, lat] | null, ...], "world2pix": [[x, y] | null, ...]}
computed with astropy.wcs.WCS.all_pix2world(origin=0) and all_world2pix(origin=0, tolerance=1e-12) on the primary WCS
(first two axes). null marks points astropy reports as invalid (NaN).

With "roundtrip": true in the request the reply also has "world2pix_of_pix2world": all_world2pix applied to
astropy's own pix2world results (null where those were null).

--batch: a JSON list of jobs, each a request plus either "fits" (path) and optional "hdu", or "header" (card text,
one card per line), and optionally "drop_prefixes": keys starting with any of these are removed before astropy
sees the header (e.g. a DSS plate solution, which astropy would otherwise use instead of the header's own
CTYPE/CD WCS); the reply is the list of replies, in order (one Python start-up for many headers).

--frames: request {"icrs": [[ra, dec], ...], "galactic": [[l, b], ...]}; reply {"icrs_to_galactic": [...],
"galactic_to_icrs": [...]} via SkyCoord.
"""
import argparse
import json
import sys
import warnings

import numpy as np


def pairs_or_null(arr):
    out = []
    for a, b in arr:
        if np.isfinite(a) and np.isfinite(b):
            out.append([float(a), float(b)])
        else:
            out.append(None)
    return out


def frames(req):
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    reply = {}
    icrs = np.array(req.get("icrs", []), dtype=float).reshape(-1, 2)
    if len(icrs):
        g = SkyCoord(icrs[:, 0] * u.deg, icrs[:, 1] * u.deg, frame="icrs").galactic
        reply["icrs_to_galactic"] = pairs_or_null(np.column_stack([g.l.deg, g.b.deg]))
    gal = np.array(req.get("galactic", []), dtype=float).reshape(-1, 2)
    if len(gal):
        c = SkyCoord(gal[:, 0] * u.deg, gal[:, 1] * u.deg, frame="galactic").icrs
        reply["galactic_to_icrs"] = pairs_or_null(np.column_stack([c.ra.deg, c.dec.deg]))
    return reply


def load_header(fits_path=None, hdu=0, header_file=None, header_text=None):
    from astropy.io import fits

    if fits_path:
        with fits.open(fits_path) as hdul:
            return hdul[hdu].header.copy()
    if header_file:
        with open(header_file) as f:
            header_text = f.read()
    return fits.Header.fromstring(header_text, sep="\n")


def world2pix(w, world):
    if w.sip is not None:
        return w.all_world2pix(
            world, 0, tolerance=1e-12, maxiter=200, adaptive=True, detect_divergence=True, quiet=True
        )
    return w.all_world2pix(world, 0)


def run(header, req):
    from astropy.wcs import WCS

    w = WCS(header, naxis=2)
    # World coordinates are exchanged as (lon, lat) whatever the header's axis order.
    lng, lat = w.wcs.lng, w.wcs.lat
    if (lng, lat) not in ((0, 1), (1, 0)):
        raise ValueError(f"no celestial axis pair (lng={lng}, lat={lat})")
    order = [lng, lat]

    def to_axes(lonlat):
        out = np.empty_like(lonlat)
        out[:, lng] = lonlat[:, 0]
        out[:, lat] = lonlat[:, 1]
        return out

    reply = {}
    pix = np.array(req.get("pix", []), dtype=float).reshape(-1, 2)
    if len(pix):
        p2w = w.all_pix2world(pix, 0)
        p2w_lonlat = p2w[:, order]
        reply["pix2world"] = pairs_or_null(p2w_lonlat)
        if req.get("roundtrip"):
            ok = np.all(np.isfinite(p2w), axis=1)
            back = np.full_like(p2w, np.nan)
            if ok.any():
                back[ok] = world2pix(w, p2w[ok])
            reply["world2pix_of_pix2world"] = pairs_or_null(back)
    world = np.array(req.get("world", []), dtype=float).reshape(-1, 2)
    if len(world):
        reply["world2pix"] = pairs_or_null(world2pix(w, to_axes(world)))
    return reply


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fits")
    ap.add_argument("--hdu", type=int, default=0)
    ap.add_argument("--header")
    ap.add_argument("--frames", action="store_true")
    ap.add_argument("--batch", action="store_true")
    args = ap.parse_args()
    req = json.load(sys.stdin)
    warnings.simplefilter("ignore")

    if args.frames:
        reply = frames(req)
    elif args.batch:
        reply = []
        for job in req:
            h = load_header(job.get("fits"), job.get("hdu", 0), None, job.get("header"))
            prefixes = tuple(job.get("drop_prefixes", []))
            if prefixes:
                for key in [k for k in h.keys() if k.startswith(prefixes)]:
                    h.remove(key, remove_all=True)
            reply.append(run(h, job))
    elif args.fits or args.header:
        reply = run(load_header(args.fits, args.hdu, args.header), req)
    else:
        ap.error("one of --fits, --header, --frames, --batch is required")
    json.dump(reply, sys.stdout)


if __name__ == "__main__":
    main()
