//! The network side: start-up (open roots, discover HiPS, bind), the accept loop with a connection limit, per-connection
//! read-idle and write-stall timeouts, and graceful shutdown that drains in-flight requests.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::auth::{Auth, AuthError};
use crate::catalog;
use crate::config::Config;
use crate::handler::{handle, State};
use crate::metrics::Metrics;
use crate::store::{Root, StoreError};

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A storage root could not be opened or listed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Tokens could not be loaded.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// No HiPS was found.
    #[error("no HiPS (folder holding a `properties` file) found under {0}")]
    NoHips(String),
}

/// Open the roots, discover the HiPS and build the shared state.
///
/// # Errors
/// When a root cannot be opened or listed, tokens cannot be loaded, or no HiPS is found.
pub async fn build_state(cfg: Config) -> Result<Arc<State>, ServerError> {
    let roots = cfg.roots.iter().map(|r| Root::open(r)).collect::<Result<Vec<_>, _>>()?;
    let timeout = Duration::from_millis(cfg.limits.storage_timeout_ms);
    let hips = catalog::discover(&cfg, &roots, timeout).await?;
    if hips.is_empty() {
        return Err(ServerError::NoHips(cfg.roots.join(", ")));
    }
    let auth = Auth::new(&cfg.auth, |k| std::env::var(k).ok())?;
    tracing::info!(hips = hips.len(), tokens = auth.token_count(), "catalogue ready");
    Ok(Arc::new(State::new(cfg, roots, hips, auth, Arc::new(Metrics::default()))))
}

/// Bind the configured address.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })
}

/// Serve connections until `shutdown` resolves, then stop accepting and let in-flight requests finish (at most
/// `limits.shutdown_grace_ms`).
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let limits = state.cfg.limits.clone();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(128);
    let builder = Arc::new(builder);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(TimedIo::new(
            stream,
            Duration::from_millis(limits.idle_timeout_ms),
            Duration::from_millis(limits.write_timeout_ms),
        ));
        let st = state.clone();
        let svc = service_fn(move |req| {
            let st = st.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(st, req).await) }
        });
        let conn = builder.serve_connection(io, svc).into_owned();
        let fut = graceful.watch(conn);
        let metrics = state.metrics.clone();
        tokio::spawn(async move {
            metrics.connections(1);
            if let Err(e) = fut.await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
            metrics.connections(-1);
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let grace = Duration::from_millis(limits.shutdown_grace_ms);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("grace period over with connections still open");
    }
}

/// A TCP stream that fails reads after `idle` without incoming bytes and writes stalled for `write` (a client that
/// stops reading), so no client can hold a connection (and its permit) forever.
struct TimedIo {
    inner: TcpStream,
    idle: Duration,
    write: Duration,
    read_timer: Pin<Box<Sleep>>,
    read_armed: bool,
    write_timer: Pin<Box<Sleep>>,
    write_armed: bool,
}

impl TimedIo {
    fn new(inner: TcpStream, idle: Duration, write: Duration) -> Self {
        let now = Instant::now();
        TimedIo {
            inner,
            idle,
            write,
            read_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            read_armed: false,
            write_timer: Box::pin(tokio::time::sleep_until(now + write)),
            write_armed: false,
        }
    }

    fn poll_write_timer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if !self.write_armed {
            self.write_armed = true;
            self.write_timer.as_mut().reset(Instant::now() + self.write);
        }
        match self.write_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !this.read_armed {
                    this.read_armed = true;
                    this.read_timer.as_mut().reset(Instant::now() + this.idle);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_timer(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_timer(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
