//! `hipsserve` binary entry point: parse flags, layer configuration, bind, print the address, serve until a signal.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use hipsserve::config::{env_overrides, Config, Overrides};

/// mimalloc reuses freed object-sized blocks per thread; glibc's allocator maps and unmaps each buffer of 128 KiB and
/// more (a tile read from storage), page-faulting and zeroing it again on every uncached request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serve every HiPS found under the storage roots over HTTP.
#[derive(Debug, Parser)]
#[command(name = "hipsserve", version, about)]
struct Args {
    /// Storage root: a directory or object-store URL (s3://bucket/prefix, ...). Repeatable; comma-separated in the
    /// environment variable.
    #[arg(long, env = "HIPSSERVE_ROOT", value_delimiter = ',')]
    root: Vec<String>,
    /// Directory or object-store URL prefix holding the source coadds named in the HiPS's progenitor indexes
    /// (HpxFinder/): enables SODA cutouts, coadd identifiers in /progenitors, and on-demand tiles (with
    /// on_demand_orders). Relative paths are resolved at start; a missing directory stops the start. Repeatable;
    /// comma-separated in the environment variable; replaces on_demand.coadd_roots.
    #[arg(long = "coadd-root", env = "HIPSSERVE_COADD_ROOT", value_delimiter = ',')]
    coadd_root: Vec<String>,
    /// Address to listen on (port 0: any free port; the bound address is printed).
    #[arg(long, env = "HIPSSERVE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Configuration file (TOML, see config/hipsserve.toml).
    #[arg(long, env = "HIPSSERVE_CONFIG")]
    config: Option<PathBuf>,
    /// Public base URL of this server, used for hips_service_url in /hipslist.
    #[arg(long, env = "HIPSSERVE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Bytes of the in-memory object cache (0 disables it).
    #[arg(long)]
    cache_bytes: Option<u64>,
    /// Directory for the copies that cached bodies are sent from with sendfile (cache.spool_dir): faster than the
    /// default in-memory copies on ext4 (Linux 6.16+) or xfs; uses up to --cache-bytes of that disk.
    #[arg(long, env = "HIPSSERVE_SPOOL_DIR")]
    spool_dir: Option<PathBuf>,
    /// Do not log one line per request.
    #[arg(long)]
    no_access_log: bool,
    /// Worker threads, each a single-threaded runtime with its own SO_REUSEPORT listening socket (nginx's layout); a
    /// worker two connections ahead of the least busy one passes it the connections it accepts.
    /// Default: one per CPU. 0: one multi-threaded work-stealing runtime with a single listening socket instead.
    #[arg(long, env = "HIPSSERVE_WORKERS")]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(hips_core::term::stderr_colour())
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hipsserve: {}", hips_core::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    let mut o: Overrides = env_overrides(|k| std::env::var(k).ok())?;
    o.listen = args.listen;
    o.roots = args.root;
    o.coadd_roots = args.coadd_root;
    o.public_url = args.public_url;
    if args.cache_bytes.is_some() {
        o.cache_bytes = args.cache_bytes;
    }
    o.spool_dir = args.spool_dir;
    if args.no_access_log {
        o.access_log = Some(false);
    }
    let cfg = file.apply(o)?;
    hipsserve::store::zerocopy::set_budget(hipsserve::store::zerocopy::budget_for(cfg.limits.max_connections));
    if let Some(dir) = &cfg.cache.spool_dir {
        hipsserve::store::zerocopy::set_spool_dir(dir)
            .with_context(|| format!("cache.spool_dir {}: cannot hold an unlinked file", dir.display()))?;
    }
    let workers =
        args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    if workers == 0 {
        return run_work_stealing(cfg);
    }
    // The main thread opens the roots, prints the address and waits for the signal; the workers serve.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let listen = cfg.listen;
        let state = hipsserve::build_state(cfg).await?;
        let listeners = hipsserve::http::server::bind_workers(listen, workers)?;
        let addr = listeners.first().map_or(Ok(listen), std::net::TcpListener::local_addr)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut threads = Vec::with_capacity(listeners.len());
        // A worker whose connections are drained keeps its runtime running until all are: storage clients pool
        // connections whose tasks live on the runtime that opened them, and other workers may still use them.
        let drained = Arc::new(tokio::sync::Barrier::new(listeners.len()));
        let seats = hipsserve::http::server::Balance::seats(listeners.len());
        for ((i, l), seat) in listeners.into_iter().enumerate().zip(seats) {
            let state = state.clone();
            let drained = drained.clone();
            let mut stop = stop_rx.clone();
            let t =
                std::thread::Builder::new().name(format!("hipsserve-w{i}")).spawn(move || -> std::io::Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    rt.block_on(async move {
                        let listener = tokio::net::TcpListener::from_std(l)?;
                        let stopped = async move {
                            let _ = stop.wait_for(|s| *s).await;
                        };
                        hipsserve::http::server::serve_seated(listener, state, stopped, Some(seat)).await;
                        drained.wait().await;
                        Ok(())
                    })
                })?;
            threads.push(t);
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "hipsserve listening on http://{addr}")?;
            out.flush()?;
        }
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        let joined = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|_| Err(std::io::Error::other("worker panicked"))))
                .collect::<Vec<_>>()
        })
        .await?;
        for r in joined {
            r?;
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// The single-runtime layout (`--workers 0`): one work-stealing runtime with one thread per CPU and one socket.
fn run_work_stealing(cfg: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listen = cfg.listen;
        let state = hipsserve::build_state(cfg).await?;
        let listener = hipsserve::bind(listen).await?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "hipsserve listening on http://{addr}")?;
            out.flush()?;
        }
        hipsserve::serve(listener, state, shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// SIGINT, SIGTERM or SIGHUP: all three drain in-flight requests within `shutdown_grace_ms` and stop (SIGHUP does not
/// reload: a supervisor restarts the server with the new catalogue, as it would after SIGTERM).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
            (Ok(mut t), Ok(mut h)) => {
                tokio::select! {
                    _ = t.recv() => {},
                    _ = h.recv() => {},
                }
            }
            (Ok(mut t), Err(_)) => {
                t.recv().await;
            }
            _ => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
