//! End-to-end tests of the real `hipsserve` binary serving HiPS from a local directory.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{client, suite_config, Fixture, Server, RESTRICTED};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_directory_passes_the_behaviour_suite() {
    let fx = Fixture::new();
    let srv = Server::start(fx.tmp.path(), &suite_config(""), &[fx.root.to_str().unwrap()], &[]);
    common::suite::run(&srv, &fx, "local").await;
    // Every request was logged with its request id.
    let log = srv.log();
    assert!(log.contains("request_id="), "access log lines carry a request id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spool_directory_passes_the_behaviour_suite() {
    // Cached bodies sent from unlinked files in a spool directory instead of memfds: same answers, no names left.
    let fx = Fixture::new();
    let spool = fx.tmp.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let srv = Server::start(
        fx.tmp.path(),
        &suite_config(""),
        &[fx.root.to_str().unwrap()],
        &[("HIPSSERVE_SPOOL_DIR", spool.to_str().unwrap())],
    );
    common::suite::run(&srv, &fx, "spool").await;
    // The server holds its copies open as files of the spool directory (unlinked: "(deleted)" in their links).
    let spooled = std::fs::read_dir(format!("/proc/{}/fd", srv.child.id()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|l| l.starts_with(&spool))
        .count();
    assert!(spooled > 0, "cached bodies were copied into the spool");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "spooled copies have no names");
    assert!(!srv.log().contains("spool copy failed"), "every copy was spooled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_bodies_are_bounded_by_max_uncached_bytes() {
    let fx = Fixture::new();
    let srv = Server::start(fx.tmp.path(), &common::budget_config(), &[fx.root.to_str().unwrap()], &[]);
    common::check_uncached_budget(&srv, &fx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_ingress_identity_headers() {
    let fx = Fixture::new();
    let cfg = suite_config("").replace("[auth.groups]", "[auth]\ntrusted_ingress = true\n[auth.groups]");
    let srv = Server::start(fx.tmp.path(), &cfg, &[fx.root.to_str().unwrap()], &[]);
    let c = client();
    let url = srv.url(&format!("/{RESTRICTED}/properties"));
    let get = |hdrs: Vec<(&'static str, &'static str)>| {
        let mut rb = c.get(&url);
        for (k, v) in hdrs {
            rb = rb.header(k, v);
        }
        async move { rb.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(vec![]).await, 401);
    assert_eq!(get(vec![("x-auth-request-user", "alice")]).await, 200, "owner");
    assert_eq!(get(vec![("x-auth-request-user", "erin")]).await, 403, "not listed");
    assert_eq!(get(vec![("x-auth-request-user", "erin"), ("x-auth-request-groups", "x, rubin")]).await, 200, "group");
    assert_eq!(get(vec![("x-auth-request-user", "bob")]).await, 200, "group from config");
    assert_eq!(c.get(srv.url("/CFHT/properties")).send().await.unwrap().status().as_u16(), 200);
}

/// A client that sends nothing, or dribbles its headers, cannot keep a connection; connections are bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_connection_bound() {
    let fx = Fixture::new();
    let cfg = suite_config("").replace(
        "[limits]",
        "[limits]\nmax_connections = 4\nheader_read_timeout_ms = 1500\nidle_timeout_ms = 3000\nwrite_timeout_ms = 3000",
    );
    let srv = Server::start(fx.tmp.path(), &cfg, &[fx.root.to_str().unwrap()], &[]);
    // Four slowloris connections: a partial request head, then nothing.
    let sockets = || common::open_sockets(srv.child.id());
    let before = sockets();
    let mut hogs: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            s.write_all(b"GET /CFHT/properties HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // Once the server has accepted the four (each worker accepts from its own SO_REUSEPORT queue, so arrival order
    // says nothing), all permits are held: a fifth client is not served yet.
    let t0 = Instant::now();
    while sockets() < before + 4 {
        assert!(t0.elapsed() < Duration::from_secs(5), "the server did not accept the four connections");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    assert!(c.get(srv.url("/health")).send().await.is_err(), "connection bound not enforced");
    // The header timeout frees them: each hog is closed by the server.
    let t0 = Instant::now();
    for s in &mut hogs {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf);
        assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "unexpected answer to a slow client: {text}");
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "slow clients held for {:?}", t0.elapsed());
    let c = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    assert_eq!(c.get(srv.url("/health")).send().await.unwrap().status().as_u16(), 200);
    // An idle keep-alive connection is closed after idle_timeout.
    let mut idle = TcpStream::connect(srv.addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let mut buf = Vec::new();
    let _ = idle.read_to_end(&mut buf);
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    assert!(t0.elapsed() < Duration::from_secs(8), "idle connection kept {:?}", t0.elapsed());
}

#[test]
fn sigterm_exits_cleanly() {
    let fx = Fixture::new();
    let mut srv = Server::start(fx.tmp.path(), &suite_config(""), &[fx.root.to_str().unwrap()], &[]);
    let (status, _, _) = common::raw(srv.addr, "GET /health HTTP/1.1");
    assert_eq!(status, 200);
    srv.terminate();
    let t0 = Instant::now();
    loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            assert!(st.success(), "exit status after SIGTERM: {st:?}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn startup_errors_are_reported() {
    let fx = Fixture::new();
    let bin = env!("CARGO_BIN_EXE_hipsserve");
    let out = std::process::Command::new(bin)
        .args(["--root", "/nonexistent/hips/root", "--listen", "127.0.0.1:0"])
        .env_remove("HIPSSERVE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/hips/root"));
    let bad = fx.tmp.path().join("bad.toml");
    std::fs::write(&bad, "[hips.CFHT]\nacces = \"restricted\"\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["--root", fx.root.to_str().unwrap(), "--listen", "127.0.0.1:0", "--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a misspelt access key must not start a server");
    assert!(String::from_utf8_lossy(&out.stderr).contains("acces"));
    let missing = fx.tmp.path().join("no-such-spool");
    let out = std::process::Command::new(bin)
        .args([
            "--root",
            fx.root.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--spool-dir",
            missing.to_str().unwrap(),
        ])
        .env_remove("HIPSSERVE_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a spool directory that cannot be used must not start a server");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cache.spool_dir") && err.contains("no-such-spool"), "{err}");
}

#[test]
fn documented_example_config_is_accepted_by_the_binary() {
    let fx = Fixture::new();
    let example = common::workspace_root().join("config/hipsserve.toml");
    // As shipped, unmodified: nothing in it needs a file that is not there.
    let text = std::fs::read_to_string(example).unwrap();
    // --root and --listen on the command line win over the file.
    let srv = Server::start(fx.tmp.path(), &text, &[fx.root.to_str().unwrap()], &[]);
    let (status, _, body) = common::raw(srv.addr, "GET /hipslist HTTP/1.1");
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    // public_url is unset: the service URLs are where the request was sent.
    let host = "http://test"; // the Host header common::raw sends
    assert!(body.contains(&format!("hips_service_url     = {host}/CFHT\n")), "{body}");
    // The example restricts private/JWST_MIRI, which does not exist here; private/CFHT is public under it and listed.
    assert!(body.contains(&format!("{host}/private/CFHT")));
    assert!(srv.log().contains("neither public_url nor trusted_proxies is set"), "a warning at start");
}
