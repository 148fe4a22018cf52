//! Issue #18, against the real binary on loopback: connections that send nothing, idle keep-alive connections at the
//! connection limit, credentialed CORS, symlinks and special files in served trees, and shutdown with a hung read.
//! Every wait polls (or reads with a deadline); none sleeps a fixed time.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{raw, suite_config, Fixture, Server, RESTRICTED};

/// Send one keep-alive GET on `s` and read its whole response (head and Content-Length body); returns the status.
fn keep_alive_get(s: &mut TcpStream, path: &str) -> u16 {
    try_keep_alive_get(s, path).expect("connection closed before the response head")
}

/// [`keep_alive_get`], `None` when the server had closed the connection.
fn try_keep_alive_get(s: &mut TcpStream, path: &str) -> Option<u16> {
    if s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).is_err() {
        return None;
    }
    let mut buf = Vec::new();
    let mut b = [0u8; 8192];
    let head_end = loop {
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + len {
        let n = s.read(&mut b).unwrap();
        assert!(n > 0, "connection closed in the body");
        buf.extend_from_slice(&b[..n]);
    }
    head.split_whitespace().nth(1)?.parse().ok()
}

/// Wait (up to `within`) for the server to close `s`; returns how long that took.
fn closed_within(s: &mut TcpStream, within: Duration) -> Duration {
    let t0 = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => t0.elapsed(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => t0.elapsed(),
        other => panic!("connection not closed within {within:?}: {other:?}"),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn limited(max_connections: usize, extra_limits: &str) -> String {
    suite_config("").replace("[limits]", &format!("[limits]\nmax_connections = {max_connections}\n{extra_limits}"))
}

#[test]
fn silent_connections_are_closed_at_the_header_timeout_from_accept() {
    let fx = Fixture::new();
    let srv =
        Server::start(fx.tmp.path(), &limited(4, "header_read_timeout_ms = 600"), &[fx.root.to_str().unwrap()], &[]);
    // Four sockets that never send a byte take every connection permit.
    let mut silent: Vec<TcpStream> = (0..4).map(|_| connect(srv.addr)).collect();
    // A fresh client is served once they are closed (not after the 75 s idle timeout).
    let t0 = Instant::now();
    let mut fresh = connect(srv.addr);
    assert_eq!(keep_alive_get(&mut fresh, "/CFHT/properties"), 200);
    assert!(t0.elapsed() < Duration::from_secs(5), "fresh client waited {:?}", t0.elapsed());
    for s in &mut silent {
        closed_within(s, Duration::from_secs(5));
    }
    // The timeout counts from accept, not from a first byte: a socket that sends nothing goes at the timeout.
    let mut late = connect(srv.addr);
    let took = closed_within(&mut late, Duration::from_secs(5));
    assert!(took >= Duration::from_millis(400), "closed before the header timeout: {took:?}");
}

#[test]
fn idle_keep_alive_connections_give_way_to_new_clients_at_the_limit() {
    let fx = Fixture::new();
    let srv = Server::start(fx.tmp.path(), &limited(4, ""), &[fx.root.to_str().unwrap()], &[]);
    // Four clients make one request each and keep their connections open (idle keep-alive, 75 s idle timeout).
    let mut kept: Vec<TcpStream> = (0..4).map(|_| connect(srv.addr)).collect();
    for s in &mut kept {
        assert_eq!(keep_alive_get(s, "/CFHT/properties"), 200);
    }
    // New clients (which keep their connections too) are served at once: one idle connection is closed for each
    // (the longest idle; which one exactly depends on when each worker thread marked it).
    let mut fresh_ones = Vec::new();
    for i in 0..3 {
        let t0 = Instant::now();
        let mut fresh = connect(srv.addr);
        assert_eq!(keep_alive_get(&mut fresh, "/CFHT/Moc.fits"), 200);
        assert!(t0.elapsed() < Duration::from_secs(5), "new client {i} waited {:?}", t0.elapsed());
        fresh_ones.push(fresh);
    }
    // Three of the four kept connections were closed; the last one still serves (the newest idle is now a fresh one).
    let answered: Vec<Option<u16>> = kept.iter_mut().map(|s| try_keep_alive_get(s, "/CFHT/properties")).collect();
    assert_eq!(answered.iter().filter(|a| a.is_none()).count(), 3, "{answered:?}");
    assert_eq!(answered.iter().flatten().collect::<Vec<_>>(), [&200], "{answered:?}");
}

/// (status, lower-case head) of a GET or preflight with extra header lines.
fn cors_get(srv: &Server, method: &str, path: &str, headers: &str) -> (u16, String) {
    let (st, head, _) = raw(srv.addr, &format!("{method} {path} HTTP/1.1{headers}"));
    (st, head.to_ascii_lowercase())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

#[test]
fn credentialed_cors_needs_an_origin_listed_by_name_and_never_null() {
    let fx = Fixture::new();
    let root = fx.root.to_str().unwrap();
    let listed = "https://portal.example";
    let restricted = format!("/{RESTRICTED}/properties");
    let token = "\r\nAuthorization: Bearer alice-secret-token";
    let preflight = "\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization";
    // Under the default ["*"]: public data to anyone, credentials to nobody (200, 401 and preflight alike).
    let star = Server::start(
        fx.tmp.path(),
        &suite_config("").replace(&format!(", \"{}\"", common::CORS_ORIGIN), ""),
        &[root],
        &[],
    );
    for origin in [listed, "https://evil.example", "null"] {
        let o = format!("\r\nOrigin: {origin}");
        let (st, h) = cors_get(&star, "GET", "/CFHT/properties", &o);
        assert_eq!((st, header(&h, "access-control-allow-origin")), (200, Some("*")), "{origin}");
        for (method, extra, want) in [("GET", token, 200), ("GET", "", 401), ("OPTIONS", preflight, 204)] {
            let (st, h) = cors_get(&star, method, &restricted, &format!("{o}{extra}"));
            assert_eq!(st, want, "{origin} {method} {extra:?}");
            assert_eq!(header(&h, "access-control-allow-credentials"), None, "{origin} {method} {st}: {h}");
            assert_ne!(header(&h, "access-control-allow-origin"), Some(origin), "{origin} {method} {st}: {h}");
        }
    }
    drop(star);
    // An explicit list: listed origins get credentials for restricted HiPS, their own origin for public ones; `null`
    // never matches, even listed.
    let cfg = suite_config("").replace(
        &format!("allowed_origins = [\"*\", \"{}\"]", common::CORS_ORIGIN),
        &format!("allowed_origins = [\"{listed}\", \"null\"]"),
    );
    let list = Server::start(fx.tmp.path(), &cfg, &[root], &[]);
    let o = format!("\r\nOrigin: {listed}");
    let (_, h) = cors_get(&list, "GET", "/CFHT/properties", &o);
    assert_eq!(header(&h, "access-control-allow-origin"), Some(listed));
    assert_eq!(header(&h, "access-control-allow-credentials"), None, "public: no credentials");
    for (method, extra, want) in [("GET", token, 200), ("GET", "", 401), ("OPTIONS", preflight, 204)] {
        let (st, h) = cors_get(&list, method, &restricted, &format!("{o}{extra}"));
        assert_eq!(st, want, "{method} {extra:?}");
        assert_eq!(header(&h, "access-control-allow-origin"), Some(listed), "{method} {st}");
        assert_eq!(header(&h, "access-control-allow-credentials"), Some("true"), "{method} {st}");
        assert!(header(&h, "vary").is_some_and(|v| v.contains("origin")), "{method} {st}");
    }
    for origin in ["null", "https://evil.example"] {
        let o = format!("\r\nOrigin: {origin}");
        for (method, path, extra) in
            [("GET", "/CFHT/properties", ""), ("GET", &*restricted, token), ("OPTIONS", &*restricted, preflight)]
        {
            let (_, h) = cors_get(&list, method, path, &format!("{o}{extra}"));
            assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin} {method} {path}: {h}");
            assert_eq!(header(&h, "access-control-allow-credentials"), None, "{origin} {method} {path}");
        }
    }
}

#[test]
fn symlinks_and_fifos_in_the_served_tree_are_refused() {
    use std::os::unix::fs::symlink;
    let fx = Fixture::new();
    let all: Vec<String> = fx.servable("CFHT").into_iter().filter(|f| f.contains("/Npix")).collect();
    let dir_of = |f: &str| std::path::Path::new(f).parent().unwrap().to_path_buf();
    // The last tile's DirN folder becomes a link to the restricted HiPS's; the other cases use tiles elsewhere.
    let via_dir = all.last().unwrap().clone();
    let tiles: Vec<String> = all.iter().filter(|f| dir_of(f) != dir_of(&via_dir)).cloned().collect();
    let (a, b) = (&tiles[0], &tiles[1]);
    let cfht = fx.root.join("CFHT");
    // A tile linked out of the root, a public tile linked to the restricted HiPS's copy, a DirN folder linked.
    let outside = fx.tmp.path().join("secret.txt");
    std::fs::remove_file(cfht.join(a)).unwrap();
    symlink(&outside, cfht.join(a)).unwrap();
    std::fs::remove_file(cfht.join(b)).unwrap();
    symlink(fx.root.join(RESTRICTED).join(b), cfht.join(b)).unwrap();
    std::fs::remove_dir_all(cfht.join(dir_of(&via_dir))).unwrap();
    symlink(fx.root.join(RESTRICTED).join(dir_of(&via_dir)), cfht.join(dir_of(&via_dir))).unwrap();
    // A FIFO where a tile should be (no writer: a blocking open would hang).
    let fifo = tiles[2].clone();
    std::fs::remove_file(cfht.join(&fifo)).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, cfht.join(&fifo), rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
    let srv = Server::start(fx.tmp.path(), &suite_config(""), &[fx.root.to_str().unwrap()], &[]);
    for path in [a.as_str(), b.as_str(), via_dir.as_str(), fifo.as_str()] {
        let t0 = Instant::now();
        let (st, _, body) = raw(srv.addr, &format!("GET /CFHT/{path} HTTP/1.1"));
        assert!(matches!(st, 403 | 404), "{path}: {st}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{path} answered after {:?}", t0.elapsed());
        assert!(!String::from_utf8_lossy(&body).contains(common::SECRET), "{path}");
        assert_ne!(body, fx.read(RESTRICTED, path), "{path}");
        let (st, _, _) = raw(srv.addr, "GET /health HTTP/1.1");
        assert_eq!(st, 200);
    }
    // Everything else is still served.
    let (st, _, body) = raw(srv.addr, &format!("GET /CFHT/{} HTTP/1.1", tiles[3]));
    assert_eq!((st, body), (200, fx.read("CFHT", &tiles[3])));
}

#[test]
fn bearer_scheme_is_case_insensitive_and_failed_preconditions_are_412() {
    let fx = Fixture::new();
    let srv = Server::start(fx.tmp.path(), &suite_config(""), &[fx.root.to_str().unwrap()], &[]);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (st, _, _) = raw(
            srv.addr,
            &format!("GET /{RESTRICTED}/properties HTTP/1.1\r\nAuthorization: {scheme} alice-secret-token"),
        );
        assert_eq!(st, 200, "{scheme}");
    }
    for path in ["/CFHT/properties", "/CFHT/Moc.fits"] {
        let (st, head, _) = raw(srv.addr, &format!("GET {path} HTTP/1.1"));
        assert_eq!(st, 200);
        let etag = header(&head.to_ascii_lowercase(), "etag").unwrap().to_string();
        for (cond, want) in [
            ("If-Match: \"nope\"".to_string(), 412),
            (format!("If-Match: {etag}"), 200),
            ("If-Match: *".to_string(), 200),
            ("If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT".to_string(), 412),
            ("If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT".to_string(), 200),
        ] {
            let (st, _, _) = raw(srv.addr, &format!("GET {path} HTTP/1.1\r\n{cond}"));
            assert_eq!(st, want, "{path} {cond}");
        }
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with two, is a 400 (hot tiles included).
    let tile = fx.servable("CFHT").into_iter().find(|f| f.contains("/Npix")).unwrap();
    for path in ["/CFHT/properties".to_string(), format!("/CFHT/{tile}")] {
        for hosts in ["", "Host: a\r\nHost: b\r\n"] {
            let mut s = connect(srv.addr);
            s.write_all(format!("GET {path} HTTP/1.1\r\n{hosts}Connection: close\r\n\r\n").as_bytes()).unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).unwrap();
            assert!(buf.starts_with(b"HTTP/1.1 400"), "{path} {hosts:?}: {}", String::from_utf8_lossy(&buf[..40]));
        }
        assert_eq!(raw(srv.addr, &format!("GET {path} HTTP/1.1")).0, 200, "{path}");
    }
}

#[test]
fn the_header_count_limit_is_configured() {
    let fx = Fixture::new();
    let many: String = (0..120).flat_map(|i| ["\r\nX-H".to_string(), i.to_string(), ": v".to_string()]).collect();
    for (limit, want) in [("", 431), ("max_headers = 150", 200)] {
        let srv = Server::start(fx.tmp.path(), &limited(64, limit), &[fx.root.to_str().unwrap()], &[]);
        assert_eq!(raw(srv.addr, &format!("GET /CFHT/properties HTTP/1.1{many}")).0, want, "{limit:?}");
    }
}
