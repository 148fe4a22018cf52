//! The behaviour suite every storage backend must pass, run against a live server serving a [`Fixture`].
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Read;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

use super::{client, metric, raw, Fixture, Server, PUBLIC_URL, RESTRICTED, SECRET};

fn h(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

fn expected_type(rel: &str) -> &'static str {
    if rel.ends_with("properties") {
        return "text/plain; charset=utf-8";
    }
    let ext = std::path::Path::new(rel).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "fits" => "application/fits",
        "png" => "image/png",
        "jpg" => "image/jpeg",
        "webp" => "image/webp",
        "html" => "text/html; charset=utf-8",
        _ => "?",
    }
}

/// Run every public-HTTP behaviour check. `tag` names the backend in messages.
pub(crate) async fn run(srv: &Server, fx: &Fixture, tag: &str) {
    let c = client();
    files_served_exactly(&c, srv, fx, tag).await;
    head_and_validators(&c, srv, tag).await;
    ranges(&c, srv, fx, tag).await;
    compression(&c, srv, fx, tag).await;
    cors(&c, srv, tag).await;
    coverage_and_malformed(&c, srv, fx, tag).await;
    traversal(srv, tag);
    hipslist(&c, srv, fx, tag).await;
    auth(&c, srv, fx, tag).await;
    operations(&c, srv, tag).await;
    coalescing(&c, srv, fx, tag).await;
}

/// Every layout file of every HiPS: 200, identical bytes, right Content-Type, strong ETag, Last-Modified.
async fn files_served_exactly(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    for (name, _) in fx.hips.iter().filter(|(n, _)| n != RESTRICTED) {
        let files = fx.servable(name);
        assert!(files.len() > 5, "{tag}: fixture {name} has too few files");
        for rel in files {
            let r = c.get(srv.url(&format!("/{name}/{rel}"))).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{tag}: /{name}/{rel}");
            let hd = r.headers().clone();
            assert_eq!(h(&hd, "content-type"), expected_type(&rel), "{tag}: type of {rel}");
            let etag = h(&hd, "etag");
            assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10, "{tag}: strong etag {etag:?}");
            assert!(httpdate::parse_http_date(&h(&hd, "last-modified")).is_ok(), "{tag}: last-modified on {rel}");
            assert!(!h(&hd, "x-request-id").is_empty());
            let body = r.bytes().await.unwrap();
            assert_eq!(body.as_ref(), fx.read(name, &rel).as_slice(), "{tag}: bytes of /{name}/{rel}");
        }
    }
    // index.html also answers at the HiPS URL with a trailing slash; without it, a redirect.
    let r = c.get(srv.url("/CFHT/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), fx.read("CFHT", "index.html").as_slice());
    let r = c.get(srv.url("/CFHT")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(h(r.headers(), "location"), "/CFHT/");
    // Cache-Control per HiPS.
    let r = c.get(srv.url("/CFHT/properties")).send().await.unwrap();
    assert_eq!(h(r.headers(), "cache-control"), "public, max-age=31536000, immutable");
    let r = c.get(srv.url("/JWST_MIRI/properties")).send().await.unwrap();
    assert_eq!(h(r.headers(), "cache-control"), "public, max-age=3600");
}

/// HEAD mirrors GET without a body; If-None-Match (strong, weak, lists, *) and If-Modified-Since give 304 with no
/// body and no Content-Length; a non-matching validator gives 200.
async fn head_and_validators(c: &reqwest::Client, srv: &Server, tag: &str) {
    let url = srv.url("/CFHT/Norder3/Allsky.png");
    let g = c.get(&url).send().await.unwrap();
    let gh = g.headers().clone();
    let len = g.bytes().await.unwrap().len();
    let hr = c.head(&url).send().await.unwrap();
    assert_eq!(hr.status(), StatusCode::OK);
    for k in ["etag", "content-type", "last-modified", "cache-control", "content-length"] {
        assert_eq!(h(hr.headers(), k), h(&gh, k), "{tag}: HEAD header {k}");
    }
    assert_eq!(h(hr.headers(), "content-length"), len.to_string());
    assert!(hr.bytes().await.unwrap().is_empty());
    let etag = h(&gh, "etag");
    let lm = h(&gh, "last-modified");
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {weak}");
    let cases: Vec<(&str, String)> = vec![
        ("if-none-match", etag.clone()),
        ("if-none-match", weak),
        ("if-none-match", list),
        ("if-none-match", "*".to_string()),
        ("if-modified-since", lm.clone()),
    ];
    for (k, v) in cases {
        for head in [false, true] {
            let rb = if head { c.head(&url) } else { c.get(&url) };
            let r = rb.header(k, &v).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{tag}: {k}: {v}");
            assert_eq!(h(r.headers(), "etag"), etag);
            assert!(r.headers().get("content-length").is_none(), "{tag}: 304 must not carry Content-Length");
            assert!(r.bytes().await.unwrap().is_empty());
        }
    }
    let r = c.get(&url).header("if-none-match", "\"other\"").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let old = httpdate::fmt_http_date(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86400));
    let r = c.get(&url).header("if-modified-since", old).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // If-None-Match wins over If-Modified-Since.
    let r = c.get(&url).header("if-none-match", "\"other\"").header("if-modified-since", lm).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Single ranges (206 with Content-Range), suffix ranges, unsatisfiable (416), If-Range mismatch (200).
async fn ranges(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    for (path, name, rel) in [
        ("/CFHT/Moc.fits", "CFHT", "Moc.fits"),
        ("/JWST_MIRI/Norder3/Allsky.png", "JWST_MIRI", "Norder3/Allsky.png"),
        ("/CFHT/properties", "CFHT", "properties"),
    ] {
        let full = fx.read(name, rel);
        let n = full.len();
        let url = srv.url(path);
        let r = c.get(&url).header("range", "bytes=10-109").header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{tag}: {path}");
        assert_eq!(h(r.headers(), "content-range"), format!("bytes 10-109/{n}"));
        assert_eq!(h(r.headers(), "content-length"), "100");
        assert!(r.headers().get("content-encoding").is_none(), "{tag}: ranges are served identity-coded");
        assert_eq!(r.bytes().await.unwrap().as_ref(), &full[10..110]);
        let r = c.get(&url).header("range", "bytes=-20").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes().await.unwrap().as_ref(), &full[n - 20..]);
        let r = c.get(&url).header("range", format!("bytes={}-", n - 5)).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), &full[n - 5..]);
        let r = c.get(&url).header("range", format!("bytes={n}-")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{tag}: {path}");
        assert_eq!(h(r.headers(), "content-range"), format!("bytes */{n}"));
        let r = c.get(&url).header("range", "bytes=0-9").header("if-range", "\"stale\"").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().len(), n);
        let etag = h(c.head(&url).send().await.unwrap().headers(), "etag");
        let r = c.get(&url).header("range", "bytes=0-9").header("if-range", etag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    }
}

/// gzip and brotli for text and FITS when accepted (decoding back to the original), never for PNG/JPEG.
async fn compression(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    for (path, name, rel) in [
        ("/CFHT/properties", "CFHT", "properties"),
        ("/CFHT/Moc.fits", "CFHT", "Moc.fits"),
        ("/CFHT/index.html", "CFHT", "index.html"),
    ] {
        let orig = fx.read(name, rel);
        let plain = c.get(srv.url(path)).send().await.unwrap();
        let plain_etag = h(plain.headers(), "etag");
        assert!(h(plain.headers(), "vary").contains("Accept-Encoding"));
        for (ae, enc) in [("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br", "br"), ("br;q=0, gzip", "gzip")] {
            let r = c.get(srv.url(path)).header("accept-encoding", ae).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let got_enc = h(r.headers(), "content-encoding");
            let etag = h(r.headers(), "etag");
            let body = r.bytes().await.unwrap();
            if got_enc.is_empty() {
                // Small objects that do not shrink are sent as is.
                assert_eq!(body.as_ref(), orig.as_slice());
                assert!(orig.len() < 2048, "{tag}: {path} ({} bytes) should have been compressed", orig.len());
                continue;
            }
            assert_eq!(got_enc, enc, "{tag}: {path} with {ae}");
            assert_ne!(etag, plain_etag, "{tag}: a coded representation needs its own ETag");
            let mut out = Vec::new();
            if enc == "gzip" {
                flate2::read::GzDecoder::new(body.as_ref()).read_to_end(&mut out).unwrap();
            } else {
                brotli::Decompressor::new(body.as_ref(), 4096).read_to_end(&mut out).unwrap();
            }
            assert_eq!(out, orig, "{tag}: decoded {enc} of {path}");
            // The coded ETag revalidates too.
            let r =
                c.get(srv.url(path)).header("accept-encoding", ae).header("if-none-match", &etag).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        }
    }
    let r = c.get(srv.url("/CFHT/Norder3/Allsky.png")).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none(), "{tag}: PNG must never be compressed");
    let r = c.get(srv.url("/JWST_MIRI/preview.jpg")).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none(), "{tag}: JPEG must never be compressed");
}

/// CORS: simple requests, preflight, and credentialed access to a restricted HiPS from another origin.
async fn cors(c: &reqwest::Client, srv: &Server, tag: &str) {
    let origin = super::CORS_ORIGIN;
    let r = c.get(srv.url("/CFHT/properties")).header("origin", origin).send().await.unwrap();
    assert_eq!(h(r.headers(), "access-control-allow-origin"), "*", "{tag}");
    assert!(h(r.headers(), "access-control-expose-headers").contains("ETag"));
    let r = c
        .request(reqwest::Method::OPTIONS, srv.url("/CFHT/Norder3/Allsky.png"))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range, if-none-match")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "{tag}: preflight");
    assert!(h(r.headers(), "access-control-allow-methods").contains("GET"));
    assert_eq!(h(r.headers(), "access-control-allow-headers"), "range, if-none-match");
    assert!(!h(r.headers(), "access-control-max-age").is_empty());
    // Restricted: the preflight (sent without credentials) succeeds and allows credentials for the listed origin.
    let r = c
        .request(reqwest::Method::OPTIONS, srv.url(&format!("/{RESTRICTED}/properties")))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(h(r.headers(), "access-control-allow-origin"), origin);
    assert_eq!(h(r.headers(), "access-control-allow-credentials"), "true");
    assert_eq!(h(r.headers(), "access-control-allow-headers"), "authorization");
    let r = c
        .get(srv.url(&format!("/{RESTRICTED}/properties")))
        .header("origin", origin)
        .header("cookie", "hips_token=alice-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{tag}: cookie credential (browser)");
    assert_eq!(h(r.headers(), "access-control-allow-origin"), origin);
    assert_eq!(h(r.headers(), "access-control-allow-credentials"), "true");
    assert!(h(r.headers(), "vary").contains("Origin"));
    // A 401 is readable by the page too (so the client can react).
    let r = c.get(srv.url(&format!("/{RESTRICTED}/properties"))).header("origin", origin).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h(r.headers(), "access-control-allow-origin"), origin);
}

/// Tiles outside the MOC: fast 404 with no storage read; above hips_order: 404; malformed: 400.
async fn coverage_and_malformed(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    let misses0 = metric(c, srv, "hipsserve_cache_misses_total").await;
    // CFHT covers a few order-5 cells around 3380 (hipsgen_params_1): tile 0 at every order is far away.
    let tiles: Vec<String> = fx.servable("CFHT").into_iter().filter(|f| f.contains("/Npix")).collect();
    for order in 0..=5u32 {
        for ipix in [0u64, 1, (12u64 << (2 * order)) - 1] {
            let p = format!("Norder{order}/Dir{}/Npix{ipix}.png", ipix / 10000 * 10000);
            if tiles.contains(&p) {
                continue;
            }
            let r = c.get(srv.url(&format!("/CFHT/{p}"))).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{tag}: {p}");
            assert!(r.text().await.unwrap().contains("coverage"), "{tag}: {p} must be refused by the MOC");
        }
    }
    let misses1 = metric(c, srv, "hipsserve_cache_misses_total").await;
    assert_eq!(misses0, misses1, "{tag}: out-of-coverage tiles must not touch storage");
    let r = c.get(srv.url("/CFHT/Norder6/Dir10000/Npix13520.png")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("hips_order"), "{tag}: order above hips_order");
    let r = c.get(srv.url("/CFHT/Norder5/Dir0/Npix3380.fits")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "{tag}: tile format not offered");
    for bad in [
        "/CFHT/Norder5/Dir10000/Npix3380.png",
        "/CFHT/Norder5/Dir0/Npix99999999.png",
        "/CFHT/Norder5/Dir0/Npix-1.png",
        "/CFHT/Norder40/Dir0/Npix1.png",
        "/CFHT/Norder5/Dir0/Npix03380.png",
    ] {
        let r = c.get(srv.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{tag}: {bad}");
        assert!(r.text().await.unwrap().len() < 200, "short text");
    }
    for nf in ["/CFHT/Norder5/", "/CFHT/Norder5/Dir0/", "/nosuchhips/properties", "/CFHT/properties.bak"] {
        let r = c.get(srv.url(nf)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{tag}: {nf} (no directory listings)");
    }
}

/// Nothing outside a HiPS's layout files can be reached, however the path is spelled.
fn traversal(srv: &Server, tag: &str) {
    let long = format!("GET /CFHT/{} HTTP/1.1", "a/".repeat(800));
    let attempts = [
        "GET /CFHT/../secret.txt HTTP/1.1",
        "GET /CFHT/../../secret.txt HTTP/1.1",
        "GET /../secret.txt HTTP/1.1",
        "GET /CFHT/%2e%2e/secret.txt HTTP/1.1",
        "GET /CFHT/%2E%2E/%2E%2E/secret.txt HTTP/1.1",
        "GET /CFHT/..%2fsecret.txt HTTP/1.1",
        "GET /CFHT/..%2F..%2Fsecret.txt HTTP/1.1",
        "GET /CFHT/..\\..\\secret.txt HTTP/1.1",
        "GET /CFHT/%5c..%5csecret.txt HTTP/1.1",
        "GET /CFHT/secret.txt HTTP/1.1",
        "GET /CFHT/.git/config HTTP/1.1",
        "GET /secret.txt HTTP/1.1",
        "GET //secret.txt HTTP/1.1",
        "GET /CFHT//secret.txt HTTP/1.1",
        "GET /CFHT/./secret.txt HTTP/1.1",
        "GET /CFHT/secret.txt%00.png HTTP/1.1",
        "GET /CFHT/Norder5/Dir0/Npix3380.png%00 HTTP/1.1",
        "GET /CFHT/%c0%ae%c0%ae/secret.txt HTTP/1.1",
        "GET /etc/passwd HTTP/1.1",
        "GET http://test/CFHT/../secret.txt HTTP/1.1",
        "GET /CFHT/Norder5/../../secret.txt HTTP/1.1",
        "GET /private/CFHT/../../secret.txt HTTP/1.1",
        long.as_str(),
    ];
    for a in attempts {
        let (status, head, body) = raw(srv.addr, a);
        assert!(matches!(status, 400 | 404 | 414), "{tag}: {a} -> {status}\n{head}");
        assert!(!String::from_utf8_lossy(&body).contains(SECRET), "{tag}: {a} leaked the secret");
    }
    let (status, _, _) = raw(srv.addr, &long);
    assert_eq!(status, 414, "{tag}: overlong path");
}

/// /hipslist: one record per public HiPS, blank-line separated, registry keys present, no restricted HiPS; ETag/304.
async fn hipslist(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    let r = c.get(srv.url("/hipslist")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(h(r.headers(), "content-type").starts_with("text/plain"));
    let etag = h(r.headers(), "etag");
    assert!(etag.starts_with('"'));
    let text = r.text().await.unwrap();
    let records: Vec<&str> = text.split("\n\n").map(str::trim).filter(|r| !r.is_empty()).collect();
    let public: Vec<&String> = fx.hips.iter().map(|(n, _)| n).filter(|n| *n != RESTRICTED).collect();
    assert_eq!(records.len(), public.len(), "{tag}: one record per public HiPS:\n{text}");
    for name in public {
        let rec = records
            .iter()
            .find(|r| {
                r.lines().any(|l| {
                    l.split_once('=').is_some_and(|(k, v)| {
                        k.trim() == "hips_service_url" && v.trim() == format!("{PUBLIC_URL}/{name}")
                    })
                })
            })
            .unwrap_or_else(|| panic!("{tag}: no record with hips_service_url for {name}:\n{text}"));
        for key in ["creator_did", "hips_release_date", "hips_status", "hips_order", "hips_tile_format"] {
            assert!(rec.lines().any(|l| l.split('=').next().unwrap().trim() == key), "{tag}: {name} lacks {key}");
        }
        assert_eq!(rec.lines().filter(|l| l.starts_with("hips_service_url")).count(), 1);
        // Mirror etiquette: release date unchanged from the HiPS's own properties.
        let props = String::from_utf8(fx.read(name, "properties")).unwrap();
        let date =
            props.lines().find(|l| l.starts_with("hips_release_date")).unwrap().split('=').nth(1).unwrap().trim();
        assert!(rec.contains(date), "{tag}: {name} hips_release_date changed");
    }
    assert!(!text.contains("private"), "{tag}: restricted HiPS must be invisible in /hipslist");
    let r = c.get(srv.url("/hipslist")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

/// Restricted HiPS: 401 with challenge, 403 for the wrong user, 200 for owner and group member; refusals identical
/// whether or not the object exists.
async fn auth(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    let props = format!("/{RESTRICTED}/properties");
    let exists = format!("/{RESTRICTED}/Norder5/Dir0/Npix3380.png");
    let missing_in_moc = format!("/{RESTRICTED}/Norder5/Dir0/Npix3381.png");
    let outside_moc = format!("/{RESTRICTED}/Norder5/Dir0/Npix0.png");
    let above_order = format!("/{RESTRICTED}/Norder9/Dir0/Npix0.png");
    let nofile = format!("/{RESTRICTED}/Norder3/Allsky.jpg");
    let all = [&props, &exists, &missing_in_moc, &outside_moc, &above_order, &nofile];
    let bearer = |t: &str| {
        let mut m = HeaderMap::new();
        m.insert("authorization", HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
        m
    };
    for (creds, status) in [
        (HeaderMap::new(), StatusCode::UNAUTHORIZED),
        (bearer("not-a-token"), StatusCode::UNAUTHORIZED),
        (bearer("mallory-secret-token"), StatusCode::FORBIDDEN),
    ] {
        let mut bodies = Vec::new();
        for p in all {
            let r = c.get(srv.url(p)).headers(creds.clone()).send().await.unwrap();
            assert_eq!(r.status(), status, "{tag}: {p}");
            if status == StatusCode::UNAUTHORIZED {
                assert!(h(r.headers(), "www-authenticate").starts_with("Bearer realm="), "{tag}: challenge");
            }
            bodies.push(r.text().await.unwrap());
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{tag}: refusals must not reveal what exists: {bodies:?}");
    }
    // Identity headers are ignored unless an ingress is declared.
    let r = c.get(srv.url(&props)).header("x-auth-request-user", "alice").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for tok in ["alice-secret-token", "bob-secret-token"] {
        let r = c.get(srv.url(&exists)).headers(bearer(tok)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{tag}: {tok}");
        assert!(h(r.headers(), "cache-control").starts_with("private"), "{tag}: restricted objects are private");
        assert_eq!(r.bytes().await.unwrap().as_ref(), fx.read(RESTRICTED, "Norder5/Dir0/Npix3380.png").as_slice());
        let r = c.get(srv.url(&missing_in_moc)).headers(bearer(tok)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

/// Health, readiness, metrics, methods, request bodies.
async fn operations(c: &reqwest::Client, srv: &Server, tag: &str) {
    assert_eq!(c.get(srv.url("/health")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(c.get(srv.url("/ready")).send().await.unwrap().status(), StatusCode::OK, "{tag}: ready");
    let m = c.get(srv.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "hipsserve_requests_total{route=\"tile\",status=\"200\"}",
        "hipsserve_requests_total{route=\"tile\",status=\"404\"}",
        "hipsserve_request_duration_seconds_bucket{route=\"tile\",le=\"+Inf\"}",
        "hipsserve_cache_hits_total",
        "hipsserve_cache_misses_total",
        "hipsserve_cache_bytes",
        "hipsserve_uncached_bytes",
        "hipsserve_storage_errors_total",
        "hipsserve_in_flight_requests",
    ] {
        assert!(m.contains(name), "{tag}: metrics lack {name}");
    }
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = c.request(method.parse().unwrap(), srv.url("/CFHT/properties")).body("x").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{tag}: {method}");
        assert!(h(r.headers(), "allow").contains("GET"));
    }
    let r = c.get(srv.url("/CFHT/properties")).body(vec![b'x'; 1000]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{tag}: GET with a body");
    let r = c.get(srv.url("/CFHT/properties")).header("x-request-id", "trace-abc_123").send().await.unwrap();
    assert_eq!(h(r.headers(), "x-request-id"), "trace-abc_123");
}

/// Concurrent requests for one uncached object cause one storage read.
async fn coalescing(c: &reqwest::Client, srv: &Server, fx: &Fixture, tag: &str) {
    let misses0 = metric(c, srv, "hipsserve_cache_misses_total").await;
    // The restricted copy's tiles have not been read by earlier checks, so this one is cold.
    let futs: Vec<_> = (0..32)
        .map(|_| {
            let c = c.clone();
            let u = srv.url(&format!("/{RESTRICTED}/Norder4/Dir0/Npix845.png"));
            async move {
                let r = c.get(u).bearer_auth("alice-secret-token").send().await.unwrap();
                (r.status(), r.bytes().await.unwrap())
            }
        })
        .collect();
    let res = futures::future::join_all(futs).await;
    let want845 = fx.read(RESTRICTED, "Norder4/Dir0/Npix845.png");
    for (s, b) in res {
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b.as_ref(), want845.as_slice());
    }
    let misses1 = metric(c, srv, "hipsserve_cache_misses_total").await;
    assert_eq!(misses1 - misses0, 1.0, "{tag}: 32 concurrent requests for one object must cause one storage read");
}
