#!/usr/bin/env bash
# SODA cutout latency, after Rubin's DMS-REQ-0377 (a CCD-sized coadd cutout with mask and variance within 15 s, 20
# requests at once): one synthetic LSST-like patch of SIZE x SIZE pixels (IMAGE/MASK/VARIANCE, `hipsgen synth`) behind
# a HiPS (`hipsgen tiles`), served by hipsserve with coadd_roots; N requests at once (curl, xargs -P) for a circle whose
# box is about BOX x BOX pixels at the patch centre. Prints the median and maximum latency, the time to the first byte
# (the cutout is built before it is sent) and in all for requests one at a time, then the same cutout made by astropy (memory-mapped open, three planes sliced and written)
# on the same file, as a reference.
#
# Usage: benches/soda_cutouts.sh [SIZE] [BOX] [N]   (defaults 4096 4000 20; needs target/release/{hipsgen,hipsserve},
#        SKIP_BUILD=1 skips the build; PY (default .venv/bin/python) runs the astropy reference)
set -euo pipefail
SIZE=${1:-4096}; BOX=${2:-4000}; N=${3:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
W=$(mktemp -d /tmp/soda.XXXXXX)
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p hipsgen -p hipsserve >&2)
HG=$ROOT/target/release/hipsgen
HS=$ROOT/target/release/hipsserve
"$HG" synth --out "$W/syn" --bands g --patches 1 --patch-size "$SIZE" >/dev/null 2>&1
"$HG" tiles --input "$W/syn/g/*.fits" --out "$W/srv/hips" --band g --formats fits >/dev/null 2>&1
COADD=$(ls "$W"/syn/g/*.fits | head -1)
printf '[on_demand]\ncoadd_roots = ["%s"]\nmax_cutout_pixels = %d\n' "$W/syn" $((BOX * BOX * 2)) > "$W/hs.toml"
RUST_LOG=warn "$HS" --root "$W/srv" --listen 127.0.0.1:0 --no-access-log --config "$W/hs.toml" >"$W/hs.out" 2>"$W/hs.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$W/hs.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/.*http:\/\///p' "$W/hs.out")
read -r RA DEC R <<<"$("$PY" - "$COADD" "$BOX" <<'EOF'
import sys, warnings
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter("ignore")
with fits.open(sys.argv[1]) as f:
    h = f["IMAGE"].header
    w = WCS(h)
    ra, dec = w.all_pix2world([[h["NAXIS1"] / 2, h["NAXIS2"] / 2]], 0)[0]
    scale = abs(w.pixel_scale_matrix[1, 1])
print(ra, dec, scale * (int(sys.argv[2]) / 2 - 1))
EOF
)"
URL="http://$ADDR/hips/soda/sync?ID=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$COADD")&POS=CIRCLE%20$RA%20$DEC%20$R"
curl -s -o "$W/one.fits" -w "warm-up: %{http_code}, %{size_download} bytes, %{time_total} s\n" "$URL"
seq "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -w "%{http_code} %{time_total}\n" "$URL" > "$W/lat"
awk '$1 == 200 {print $2}' "$W/lat" | sort -n | awk -v n="$N" '{a[NR]=$1} END {printf "%d of %d at once answered 200: median %.2f s, max %.2f s\n", NR, n, a[int((NR+1)/2)], a[NR]}'
for i in 1 2 3 4 5; do curl -s -o /dev/null -w "%{time_starttransfer} %{time_total}\n" "$URL"; done > "$W/one"
echo "one at a time: median $(cut -d' ' -f1 "$W/one" | sort -n | sed -n 3p) s to the first byte (cutout made), $(cut -d' ' -f2 "$W/one" | sort -n | sed -n 3p) s in all (body received)"
"$PY" - "$COADD" "$W/one.fits" "$W/astropy.fits" <<'EOF'
import sys, time, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter("ignore")
with fits.open(sys.argv[2]) as got:
    ref = WCS(got["IMAGE"].header)
    h, w = got["IMAGE"].data.shape
times = []
for _ in range(5):
    t = time.perf_counter()
    with fits.open(sys.argv[1], memmap=True, do_not_scale_image_data=True) as f:
        x0, y0 = (int(round(v)) for v in WCS(f["IMAGE"].header).all_world2pix(ref.all_pix2world([[0, 0]], 0), 0)[0])
        out = [fits.PrimaryHDU(header=f[0].header)]
        for name in ("IMAGE", "MASK", "VARIANCE"):
            hd = f[name].header.copy()
            hd["CRPIX1"] -= x0
            hd["CRPIX2"] -= y0
            out.append(fits.ImageHDU(np.array(f[name].data[y0:y0 + h, x0:x0 + w]), header=hd, name=name))
        fits.HDUList(out).writeto(sys.argv[3], overwrite=True)
    times.append(time.perf_counter() - t)
print(f"astropy, same box ({w} x {h}, 3 planes), one at a time: median {sorted(times)[2]:.3f} s")
EOF
echo "work dir: $W" >&2
