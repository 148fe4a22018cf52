//! End-to-end tests of the real `hipsserve` binary serving HiPS uploaded to an S3-compatible server (s3s-fs, which
//! must be on PATH), with a fault-injecting proxy in front for storage hangs and refusals.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    client, files_under, suite_config, FaultProxy, Fixture, S3Server, Server, DENY, HANG, PASS, S3_KEY, S3_SECRET,
};
use hips_core::storage::{AsyncStore, StoreSettings};

const BUCKET: &str = "hips";
const PREFIX: &str = "release1";

/// Upload the fixture through hips-core's storage seam, as hipsgen writes a HiPS to a bucket.
async fn upload(fx: &Fixture, endpoint: &str) {
    let settings = StoreSettings::from_vars([
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", S3_KEY),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false"),
    ]);
    let s3 = AsyncStore::open_with(&format!("s3://{BUCKET}/{PREFIX}"), &settings, false).unwrap();
    for rel in files_under(&fx.root) {
        let data = std::fs::read(fx.root.join(&rel)).unwrap();
        s3.put(&rel, data.into()).await.unwrap_or_else(|e| panic!("upload {rel}: {e}"));
    }
}

/// A GET of the private HiPS's `path` with alice's token.
async fn get_private(c: &reqwest::Client, srv: &Server, path: &str) -> reqwest::Response {
    c.get(srv.url(path)).bearer_auth("alice-secret-token").send().await.unwrap()
}

fn s3_env(proxy: &FaultProxy) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://{}", proxy.addr)),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", S3_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_bucket_passes_the_behaviour_suite_and_survives_storage_faults() {
    let fx = Fixture::new();
    let s3 = S3Server::start(BUCKET);
    upload(&fx, &format!("http://{}", s3.addr)).await;
    let proxy = FaultProxy::start(s3.addr).await;
    let env = s3_env(&proxy);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let root = format!("s3://{BUCKET}/{PREFIX}");
    let srv = Server::start(fx.tmp.path(), &suite_config(""), &[&root], &env);
    common::suite::run(&srv, &fx, "s3").await;
    // Bodies too large for the cache count against limits.max_uncached_bytes, read from S3 as from a directory.
    let budgeted = Server::start(fx.tmp.path(), &common::budget_config(), &[&root], &env);
    common::check_uncached_budget(&budgeted, &fx).await;
    drop(budgeted);

    let c = client();
    let errors0 = common::metric(&c, &srv, "hipsserve_storage_errors_total").await;
    // Storage hangs: an uncached object fails with 503 + Retry-After within the storage timeout (2 s), no hang.
    proxy.set(HANG);
    let t0 = Instant::now();
    let r = get_private(&c, &srv, "/private/CFHT/Norder5/Dir0/Npix3382.png").await;
    assert_eq!(r.status().as_u16(), 503, "hung storage");
    assert_eq!(r.headers()["retry-after"], "7");
    assert!(t0.elapsed() < Duration::from_secs(6), "took {:?}", t0.elapsed());
    // Cached objects are still served while storage is down.
    let r = c.get(srv.url("/CFHT/properties")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = c.get(srv.url("/ready")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503, "readiness reflects unreachable storage");
    // Storage refuses: 502 + Retry-After.
    proxy.set(DENY);
    let r = get_private(&c, &srv, "/private/CFHT/Norder5/Dir0/Npix3379.png").await;
    assert_eq!(r.status().as_u16(), 502, "refusing storage");
    assert_eq!(r.headers()["retry-after"], "7");
    let log = srv.log();
    assert!(
        log.lines().any(|l| l.contains("storage error") && l.contains("request_id=") && l.contains("Npix3379")),
        "storage errors are logged with the request id"
    );
    let errors1 = common::metric(&c, &srv, "hipsserve_storage_errors_total").await;
    assert!(errors1 >= errors0 + 2.0, "storage errors counted: {errors0} -> {errors1}");
    // Recovery: errors were not cached.
    proxy.set(PASS);
    let r = get_private(&c, &srv, "/private/CFHT/Norder5/Dir0/Npix3379.png").await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), fx.read("private/CFHT", "Norder5/Dir0/Npix3379.png").as_slice());

    // SIGTERM while a request is in flight (storage hung): the request still gets its answer, then exit 0.
    proxy.set(HANG);
    let url = srv.url("/private/CFHT/Norder5/Dir0/Npix3377.png");
    let inflight = tokio::spawn(async move {
        let r = client().get(url).bearer_auth("alice-secret-token").send().await.unwrap();
        r.status().as_u16()
    });
    // The request is in the server (the /metrics request that asks counts itself too).
    common::wait_metric(&c, &srv, "hipsserve_in_flight_requests", 2.0, Duration::from_secs(10)).await;
    srv.terminate();
    // New connections are refused once shutdown began.
    let t0 = Instant::now();
    while std::net::TcpStream::connect(srv.addr).is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(5), "still accepting 5 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(10), inflight).await.unwrap().unwrap();
    assert_eq!(status, 503, "in-flight request answered during drain");
    let mut srv = srv;
    let t0 = Instant::now();
    loop {
        if let Some(st) = srv.child.try_wait().unwrap() {
            assert!(st.success(), "exit after drain: {st:?}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no exit after drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set(PASS);
}
