//! Shared harness for the hipsserve end-to-end tests: HiPS fixtures copied into a temp dir, the real binary spawned on
//! port 0, an S3-compatible server (s3s-fs) with a fault-injecting TCP proxy in front, raw HTTP for requests a normal
//! client would refuse to send, and the behaviour suite every storage backend must pass.
#![allow(dead_code, clippy::unwrap_used)]

pub(crate) mod suite;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The HiPS served by the tests: (name under the root, folder). Add a HiPS with one line here.
pub(crate) fn hips_sources() -> Vec<(&'static str, PathBuf)> {
    let d = shared_data().join("reference_hips");
    vec![
        ("CFHT", d.join("CFHT")),
        ("JWST_MIRI", d.join("JWST_MIRI")),
        // ("hipsgen_horsehead", workspace_root().join("...")),  <- a hipsgen-made HiPS goes here
    ]
}

/// The restricted HiPS: a copy of this source served as `private/<name>`.
pub(crate) const RESTRICTED_SOURCE: &str = "CFHT";
/// Its served name.
pub(crate) const RESTRICTED: &str = "private/CFHT";
/// Token users: alice owns the restricted HiPS, bob is in an allowed group, mallory is authenticated but not allowed.
pub(crate) const TOKENS: &str = "alice:alice-secret-token,bob:bob-secret-token,mallory:mallory-secret-token";
/// Public URL given to the server.
pub(crate) const PUBLIC_URL: &str = "https://hips.example.org/node";
/// The origin the suite's configuration lists by name (credentialed reads of restricted HiPS).
pub(crate) const CORS_ORIGIN: &str = "https://aladin.example.net";
/// Content of the files planted to detect traversal.
pub(crate) const SECRET: &str = "TOP-SECRET-DO-NOT-SERVE";

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared read-only data folder.
pub(crate) fn shared_data() -> PathBuf {
    workspace_root().join("../shared/data")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Every file below `dir`, as relative paths with `/`.
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// A storage root laid out for the tests (in a temp dir), with traversal bait planted around the HiPS.
pub(crate) struct Fixture {
    /// Keeps the temp dir alive.
    pub tmp: tempfile::TempDir,
    /// The storage root.
    pub root: PathBuf,
    /// (served name, folder under root) of every HiPS, restricted one included.
    pub hips: Vec<(String, PathBuf)>,
}

impl Fixture {
    /// Copy the sources (never touching the originals) and plant secrets.
    pub(crate) fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let mut hips = Vec::new();
        for (name, src) in hips_sources() {
            assert!(src.join("properties").is_file(), "HiPS source {} missing", src.display());
            copy_dir(&src, &root.join(name));
            hips.push((name.to_string(), root.join(name)));
        }
        let src = hips_sources().into_iter().find(|(n, _)| *n == RESTRICTED_SOURCE).unwrap().1;
        copy_dir(&src, &root.join(RESTRICTED));
        hips.push((RESTRICTED.to_string(), root.join(RESTRICTED)));
        std::fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("CFHT/secret.txt"), SECRET).unwrap();
        std::fs::create_dir_all(root.join("CFHT/.git")).unwrap();
        std::fs::write(root.join("CFHT/.git/config"), SECRET).unwrap();
        Fixture { tmp, root, hips }
    }

    /// Files of a served HiPS that the server must serve (layout files), relative to the HiPS folder.
    pub(crate) fn servable(&self, name: &str) -> Vec<String> {
        let dir = &self.hips.iter().find(|(n, _)| n == name).unwrap().1;
        files_under(dir).into_iter().filter(|f| is_layout_file(f)).collect()
    }

    /// The bytes of a file of a HiPS.
    pub(crate) fn read(&self, name: &str, rel: &str) -> Vec<u8> {
        let dir = &self.hips.iter().find(|(n, _)| n == name).unwrap().1;
        std::fs::read(dir.join(rel)).unwrap()
    }
}

/// Whether a relative path is one of the HiPS layout files the server serves.
pub(crate) fn is_layout_file(f: &str) -> bool {
    let parts: Vec<&str> = f.split('/').collect();
    let norder =
        |s: &str| s.strip_prefix("Norder").is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    match parts.as_slice() {
        ["properties" | "Moc.fits" | "index.html" | "preview.jpg" | "preview.png"] => true,
        [o, a] => norder(o) && a.starts_with("Allsky."),
        [o, d, t] => norder(o) && d.starts_with("Dir") && t.starts_with("Npix") && t.contains('.'),
        _ => false,
    }
}

/// The configuration used by the suite (roots come from the command line).
pub(crate) fn suite_config(extra: &str) -> String {
    format!(
        r#"
public_url = "{PUBLIC_URL}"
[limits]
storage_timeout_ms = 2000
retry_after_secs = 7
shutdown_grace_ms = 10000
[cors]
allowed_origins = ["*", "{CORS_ORIGIN}"]
[auth.groups]
rubin = ["bob"]
[hips.CFHT]
cache_control = "public, max-age=31536000, immutable"
[hips."{RESTRICTED}"]
access = "restricted"
owner = "alice"
groups = ["rubin"]
{extra}
"#
    )
}

/// The suite's configuration with objects over 1 KiB left uncached and a 64 KiB budget for them
/// (`limits.max_uncached_bytes`).
pub(crate) fn budget_config() -> String {
    suite_config("")
        .replace("retry_after_secs = 7", "retry_after_secs = 7\nmax_uncached_bytes = 65536")
        .replace("[cors]", "[cache]\nmax_object_bytes = 1024\n[cors]")
}

/// Against a server started with [`budget_config`]: a body that fits the budget is served whole twice in a row (its
/// room came back), one larger than the budget is a 502 without Retry-After, and the log names the limit.
pub(crate) async fn check_uncached_budget(srv: &Server, fx: &Fixture) {
    let files = fx.servable("CFHT");
    let sized = |lo: usize, hi: usize| {
        files.iter().find(|f| (lo..hi).contains(&fx.read("CFHT", f).len())).expect("a file of that size").clone()
    };
    let (fits, too_big) = (sized(2048, 60_000), sized(70_000, usize::MAX));
    let c = client();
    for _ in 0..2 {
        let r = c.get(srv.url(&format!("/CFHT/{fits}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "{fits}");
        assert_eq!(r.bytes().await.unwrap(), fx.read("CFHT", &fits));
    }
    let r = c.get(srv.url(&format!("/CFHT/{too_big}"))).send().await.unwrap();
    assert_eq!(r.status(), 502, "{too_big}");
    assert!(r.headers().get("retry-after").is_none(), "retrying will not help");
    assert_eq!(r.text().await.unwrap().trim(), "object too large to serve");
    assert!(srv.log().contains("max_uncached_bytes"), "the log names the limit");
    // Every body gave its room back (the server drops a body just after its last write: allow it a moment).
    let t0 = std::time::Instant::now();
    while metric(&c, srv, "hipsserve_uncached_bytes").await != 0.0 {
        assert!(t0.elapsed() < Duration::from_secs(2), "uncached bytes still reserved after every response");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running hipsserve process (killed on drop).
pub(crate) struct Server {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base: String,
    /// Its log file.
    pub log: PathBuf,
}

impl Server {
    /// Start the binary with a config file and root, wait for the printed address.
    pub(crate) fn start(dir: &Path, config: &str, roots: &[&str], envs: &[(&str, &str)]) -> Server {
        let cfg = dir.join(format!("hipsserve-{}.toml", std::process::id()));
        std::fs::write(&cfg, config).unwrap();
        let log = dir.join(format!("server-{}.log", rand_suffix()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hipsserve"));
        cmd.arg("--config").arg(&cfg).args(["--listen", "127.0.0.1:0"]);
        for r in roots {
            cmd.args(["--root", r]);
        }
        for v in [
            "HIPSSERVE_ROOT",
            "HIPSSERVE_LISTEN",
            "HIPSSERVE_CONFIG",
            "HIPSSERVE_PUBLIC_URL",
            "HIPSSERVE_CACHE_BYTES",
            "HIPSSERVE_SPOOL_DIR",
        ] {
            cmd.env_remove(v);
        }
        cmd.env("HIPSSERVE_TOKENS", TOKENS).env("RUST_LOG", "info").envs(envs.iter().copied());
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawn hipsserve");
        let mut line = String::new();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut line).unwrap();
        let Some(a) = line.trim().strip_prefix("hipsserve listening on http://") else {
            let _ = child.wait();
            panic!("hipsserve did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        let addr: SocketAddr = a.parse().unwrap();
        drain(reader);
        Server { child, addr, base: format!("http://{addr}"), log }
    }

    /// URL of a path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Send SIGTERM.
    pub(crate) fn terminate(&self) {
        let st = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(st.success());
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 ^ u64::from(std::process::id())
}

/// A raw HTTP/1.1 exchange (for paths a normal client would normalise). Returns (status, head, body).
pub(crate) fn raw(addr: SocketAddr, request_line_and_headers: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("{request_line_and_headers}\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = buf.get(split + 4..).unwrap_or_default().to_vec();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, body)
}

/// An HTTP client that does not decompress, follow redirects, or pool across tests.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Read a counter from /metrics (sum over label sets of lines starting with `prefix`).
pub(crate) async fn metric(c: &reqwest::Client, srv: &Server, prefix: &str) -> f64 {
    let t = c.get(srv.url("/metrics")).send().await.unwrap().text().await.unwrap();
    t.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// Keep reading a child's output on a thread (discarding it) so the child never blocks on, or dies of, a full or
/// closed pipe.
fn drain(reader: impl std::io::Read + Send + 'static) {
    std::thread::spawn(move || {
        let mut reader = reader;
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
}

/// How many sockets the process `pid` has open (its listening sockets and accepted connections), from /proc.
pub(crate) fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| {
        d.flatten()
            .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")))
            .count()
    })
}

/// Poll a /metrics value (as [`metric`] sums it) until it reaches `at_least`; fails the test after `within`.
pub(crate) async fn wait_metric(c: &reqwest::Client, srv: &Server, prefix: &str, at_least: f64, within: Duration) {
    let t0 = std::time::Instant::now();
    loop {
        let v = metric(c, srv, prefix).await;
        if v >= at_least {
            return;
        }
        assert!(t0.elapsed() < within, "{prefix} stayed at {v} (< {at_least}) for {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Fault modes of [`FaultProxy`].
pub(crate) const PASS: u8 = 0;
/// Hold every byte (storage hangs).
pub(crate) const HANG: u8 = 1;
/// Answer every new request with 403 and close connections (storage refuses).
pub(crate) const DENY: u8 = 2;

/// A TCP proxy in front of the object store that can hang or refuse on demand (failures a real server won't produce).
pub(crate) struct FaultProxy {
    /// Listening address.
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
}

impl FaultProxy {
    /// Start forwarding to `upstream` (on the current tokio runtime).
    pub(crate) async fn start(upstream: SocketAddr) -> FaultProxy {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(PASS));
        let m = mode.clone();
        tokio::spawn(async move {
            loop {
                let Ok((c, _)) = l.accept().await else { return };
                let m = m.clone();
                tokio::spawn(async move { proxy_conn(c, upstream, m).await });
            }
        });
        FaultProxy { addr, mode }
    }

    /// Change the fault mode.
    pub(crate) fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

async fn proxy_conn(mut c: tokio::net::TcpStream, upstream: SocketAddr, mode: Arc<AtomicU8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if mode.load(Ordering::SeqCst) == DENY {
        let mut b = [0u8; 4096];
        let _ = c.read(&mut b).await;
        let body = "<Error><Code>AccessDenied</Code><Message>denied by test proxy</Message></Error>";
        let resp = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = c.write_all(resp.as_bytes()).await;
        return;
    }
    let Ok(u) = tokio::net::TcpStream::connect(upstream).await else { return };
    let (cr, cw) = c.into_split();
    let (ur, uw) = u.into_split();
    let pump = |mut r: tokio::net::tcp::OwnedReadHalf, mut w: tokio::net::tcp::OwnedWriteHalf, mode: Arc<AtomicU8>| async move {
        let mut b = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            loop {
                match mode.load(Ordering::SeqCst) {
                    HANG => tokio::time::sleep(Duration::from_millis(20)).await,
                    DENY => return,
                    _ => break,
                }
            }
            if w.write_all(&b[..n]).await.is_err() {
                return;
            }
        }
    };
    let a = tokio::spawn(pump(cr, uw, mode.clone()));
    let b = tokio::spawn(pump(ur, cw, mode));
    let _ = a.await;
    let _ = b.await;
}

/// An s3s-fs S3-compatible server on a temp folder (the binary must be on PATH: `cargo install s3s-fs --version 0.14.1
/// --features binary --locked`).
pub(crate) struct S3Server {
    child: Child,
    /// Endpoint address.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Test credentials.
pub(crate) const S3_KEY: &str = "hipsserve-test-key";
/// Test secret.
pub(crate) const S3_SECRET: &str = "hipsserve-test-secret";

impl S3Server {
    /// Start s3s-fs with one bucket; FAILS the test with instructions when the binary is missing.
    pub(crate) fn start(bucket: &str) -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(bucket)).unwrap();
        // On PATH, else where `cargo install` puts it.
        let on_path =
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("s3s-fs").is_file()));
        let cargo_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/s3s-fs"));
        let exe = match cargo_bin {
            Some(c) if !on_path && c.is_file() => c,
            _ => PathBuf::from("s3s-fs"),
        };
        // Port 0: the server binds a free port and logs it ("server is running at http://ADDR" at info level).
        let mut child = Command::new(exe)
            .args(["--host", "127.0.0.1", "--port", "0", "--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(dir.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run s3s-fs ({e}): the S3 end-to-end test needs it on PATH; install it with \
                     `cargo install s3s-fs --version 0.14.1 --features binary --locked`"
                )
            });
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let addr: SocketAddr = loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("s3s-fs exited before it said where it listens");
            }
            if let Some(at) = line.find("server is running at http://") {
                let rest = &line[at + "server is running at http://".len()..];
                let end =
                    rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == ':')).unwrap_or(rest.len());
                break rest[..end].parse().unwrap_or_else(|e| panic!("s3s-fs address in {line:?}: {e}"));
            }
        };
        drain(reader);
        S3Server { child, addr, _dir: dir }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
