//! The network side: start-up (open roots, discover HiPS; binding is `super::listen`), the accept loop with a connection limit, each
//! connection's HTTP/1.1 fast path (`super::conn`) or hyper with read-idle and write-stall timeouts, and graceful
//! shutdown that drains in-flight requests and ends the process (status 1) when blocking storage calls are still
//! running after the grace.

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
use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

use bytes::Bytes;

use super::conn::{Driver, Input, Next};
use super::handler::handle;
use crate::catalog;
use crate::catalog::auth::Auth;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::State;
use crate::store::blocking;
use crate::store::zerocopy::{self, Hint};
use crate::store::Root;

pub use super::error::ServerError;
pub use super::listen::{bind, bind_workers, ensure_port_free, LISTEN_BACKLOG};

/// Open the roots, discover the HiPS and build the shared state.
///
/// # Errors
/// When a root cannot be opened or listed, tokens cannot be loaded, or no HiPS is found.
pub async fn build_state(cfg: Config) -> Result<Arc<State>, ServerError> {
    let roots = cfg.roots.iter().map(|r| Root::open(r)).collect::<Result<Vec<_>, _>>()?;
    let timeout = Duration::from_millis(cfg.limits.storage_timeout_ms);
    if crate::releases::is_release_root(&cfg, &roots, timeout).await? {
        return Ok(crate::releases::build_state(cfg, roots, Arc::new(Metrics::default())).await?);
    }
    let hips = catalog::discover(&cfg, &roots, timeout).await?;
    if hips.is_empty() {
        return Err(ServerError::NoHips(cfg.roots.join(", ")));
    }
    let auth = Auth::new(&cfg.auth, |k| std::env::var(k).ok())?;
    if cfg.public_url.is_none() && cfg.trusted_proxies.is_empty() {
        tracing::warn!(
            "neither public_url nor trusted_proxies is set: /hipslist gives hips_service_url from each request's \
             Host header; behind a reverse proxy set --public-url (or trusted_proxies to believe its X-Forwarded-* \
             headers)"
        );
    }
    tracing::info!(hips = hips.len(), tokens = auth.token_count(), "catalogue ready");
    let state = Arc::new(State::new(cfg, roots, hips, auth, Arc::new(Metrics::default())));
    state.attach();
    state.uws.remove_stale();
    Ok(state)
}

/// A connection accepted by one worker for another: the socket (out of the accepting runtime's reactor), the peer and
/// its connection permit.
type Passed = (std::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit);

/// Keeps the single-threaded workers' connection counts even. `SO_REUSEPORT` spreads connections by a hash of their
/// addresses, so with tens of keep-alive connections one worker often holds a third more than the other and its
/// clients wait longer (the tail latency). A worker that accepts a connection while holding more than one above the
/// least busy worker passes it to that worker: one cross-thread wake-up per connection moved, none per request.
#[derive(Debug)]
pub struct Balance {
    live: Vec<std::sync::atomic::AtomicUsize>,
    inbox: Vec<tokio::sync::mpsc::UnboundedSender<Passed>>,
}

/// One worker's place in a [`Balance`]: its index and the connections passed to it.
#[derive(Debug)]
pub struct Seat {
    idx: usize,
    balance: Arc<Balance>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Passed>,
}

impl Balance {
    /// The seats of `n` workers sharing one balance.
    #[must_use]
    pub fn seats(n: usize) -> Vec<Seat> {
        let (inbox, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| tokio::sync::mpsc::unbounded_channel()).unzip();
        let live = (0..n).map(|_| std::sync::atomic::AtomicUsize::new(0)).collect();
        let balance = Arc::new(Balance { live, inbox });
        rxs.into_iter().enumerate().map(|(idx, rx)| Seat { idx, balance: balance.clone(), rx }).collect()
    }

    /// The worker that should serve a connection accepted by worker `me`; its count is incremented.
    fn place(&self, me: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let (least, n) =
            self.live.iter().enumerate().map(|(i, c)| (i, c.load(Relaxed))).min_by_key(|(_, c)| *c).unwrap_or((me, 0));
        let to = if self.live[me].load(Relaxed) > n + 1 { least } else { me };
        self.live[to].fetch_add(1, Relaxed);
        to
    }

    /// A connection counted for worker `i` has ended (or never reached it).
    fn release(&self, i: usize) {
        self.live[i].fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Hand an accepted connection to worker `to` (already counted there by [`Balance::place`]).
    fn pass(&self, to: usize, stream: TcpStream, peer: SocketAddr, permit: tokio::sync::OwnedSemaphorePermit) {
        let sent = stream.into_std().map(|std| self.inbox[to].send((std, peer, permit)).is_ok());
        if !matches!(sent, Ok(true)) {
            self.release(to);
        }
    }
}

/// Serve connections until `shutdown` resolves, then stop accepting and let in-flight requests finish (at most
/// `limits.shutdown_grace_ms`). A blocking storage call still running after the grace (it cannot be cancelled, and
/// dropping the runtime would wait for it) ends the process with status 1.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    serve_seated(listener, state, shutdown, None).await;
}

/// [`serve`] for one worker of several, which pass each other connections to keep their counts even ([`Balance`]).
pub async fn serve_seated(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
    mut seat: Option<Seat>,
) {
    let limits = state.cfg.limits.clone();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers.max(1));
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(128);
    let builder = Arc::new(builder);
    // `stop` tells connections to finish; every connection task holds a `live` sender, so `recv` returns `None`
    // once all have ended.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (live_tx, mut live_rx) = tokio::sync::mpsc::channel::<()>(1);
    let permits = state.connection_permits.clone();
    tokio::pin!(shutdown);
    loop {
        let passed = async {
            match seat.as_mut() {
                Some(s) => s.rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let (stream, peer, permit) = tokio::select! {
            () = &mut shutdown => break,
            Some((std, peer, permit)) = passed => match TcpStream::from_std(std) {
                Ok(s) => (s, peer, permit),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot take over a connection from another worker");
                    if let Some(s) = &seat {
                        s.balance.release(s.idx);
                    }
                    continue;
                }
            },
            a = listener.accept() => {
                let (stream, peer) = match a {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // The limit is shared by all workers; a worker holds at most one accepted connection while it waits.
                let permit = if let Ok(p) = permits.clone().try_acquire_owned() {
                    p
                } else {
                    tokio::select! {
                        () = &mut shutdown => break,
                        p = permit_at_limit(&state, &permits) => match p { Some(p) => p, None => break },
                    }
                };
                if let Some(s) = &seat {
                    let to = s.balance.place(s.idx);
                    if to != s.idx {
                        s.balance.pass(to, stream, peer, permit);
                        continue;
                    }
                }
                (stream, peer, permit)
            }
        };
        let _ = stream.set_nodelay(true);
        let (st, builder, stop, live) = (state.clone(), builder.clone(), stop_rx.clone(), live_tx.clone());
        let counted = seat.as_ref().map(|s| (s.balance.clone(), s.idx));
        tokio::spawn(async move {
            st.metrics.connections(1);
            connection(stream, peer, &st, &builder, stop).await;
            st.metrics.connections(-1);
            if let Some((b, i)) = counted {
                b.release(i);
            }
            drop((permit, live));
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(true);
    drop(live_tx);
    let grace = Duration::from_millis(limits.shutdown_grace_ms);
    let deadline = Instant::now() + grace;
    if tokio::time::timeout(grace, live_rx.recv()).await.is_err() {
        tracing::warn!("grace period over with connections still open");
    }
    // Blocking storage calls cannot be cancelled and the runtime waits for them when dropped: give them what is
    // left of the grace, then end the process rather than never finish.
    while blocking::in_flight() > 0 {
        if Instant::now() >= deadline {
            tracing::error!(
                tasks = blocking::in_flight(),
                "blocking storage calls still running after the grace: exiting"
            );
            std::process::exit(1);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection permit when none is free: the connection idle the longest between requests is told to close
/// ([`crate::idle`]); while none was idle, the set is looked at again every 50 ms (`None`: the semaphore was closed).
async fn permit_at_limit(
    state: &State,
    permits: &Arc<tokio::sync::Semaphore>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let mut reclaimed = false;
    loop {
        // One connection per waiting accept: the one told to close frees its permit promptly.
        if !reclaimed {
            reclaimed = state.idle.reclaim();
        }
        tokio::select! {
            p = permits.clone().acquire_owned() => return p.ok(),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Serve one connection: HTTP/1.1 requests in [`Driver`] (unless `http1_fast_path` is off), then, if it hands the
/// connection over, hyper (HTTP/1 or HTTP/2) from the bytes already read. `stop` turns true on shutdown.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: &Arc<State>,
    builder: &Builder<TokioExecutor>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut input = Input::default();
    let mut stopping = false;
    if state.cfg.http1_fast_path {
        let mut s = stop.clone();
        let reg = state.idle.register();
        let idle = &*reg.idle;
        let stop_or_reclaim = async move {
            tokio::select! {
                _ = s.wait_for(|v| *v) => {}
                () = idle.reclaimed() => {}
            }
        };
        let mut d = Driver::new(&stream, state, Box::pin(stop_or_reclaim), Some(idle));
        match d.run(&mut input).await {
            Ok(Next::HandOff) => stopping = d.stopping(),
            Ok(Next::Close) => return,
            Err(e) => {
                tracing::debug!(%peer, error = %e, "connection ended with error");
                return;
            }
        }
    }
    let limits = &state.cfg.limits;
    let hint = Hint::default();
    let io = TokioIo::new(TimedIo::new(
        stream,
        Bytes::copy_from_slice(input.pending()),
        Duration::from_millis(limits.idle_timeout_ms),
        Duration::from_millis(limits.write_timeout_ms),
        hint.clone(),
    ));
    let st = state.clone();
    let svc = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let st = st.clone();
        if !st.cfg.trusted_proxies.is_empty() {
            req.extensions_mut().insert(super::handler::Peer(peer));
        }
        let hint = hint.clone();
        async move {
            let head_only = req.method() == http::Method::HEAD;
            // A form POSTed to /vo/ is read (bounded) before handling; other bodies are refused unread.
            let (parts, body) = req.into_parts();
            let mut req = http::Request::from_parts(parts, ());
            if req.method() == http::Method::POST && req.uri().path().starts_with("/vo/") {
                use http_body_util::BodyExt;
                let limited = http_body_util::Limited::new(body, super::handler::MAX_FORM_BYTES);
                if let Ok(collected) = limited.collect().await {
                    req.extensions_mut().insert(super::handler::FormBody(collected.to_bytes()));
                }
            }
            // A release root answers each request from one catalogue snapshot.
            let snapshot = st.snapshot();
            let (reply, extras) = handle(snapshot.as_ref().unwrap_or(&st), &req).await;
            // The writer sends the body from the reply's sealed copy, when it has one.
            hint.set(reply.zero_copy());
            let mut resp = reply.into_response(head_only);
            extras.apply(resp.headers_mut());
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let r = if stopping || *stop.borrow() {
        conn.as_mut().graceful_shutdown();
        conn.await
    } else {
        tokio::select! {
            r = conn.as_mut() => r,
            () = async { drop(stop.wait_for(|v| *v).await) } => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    };
    if let Err(e) = r {
        tracing::debug!(%peer, error = %e, "connection ended with error");
    }
}

/// A TCP stream that fails reads after `idle` without incoming bytes and writes stalled for `write` (a client that
/// stops reading), so no client can hold a connection (and its permit) forever. Reads first return `prefix` (bytes
/// the fast path read before handing the connection over). Body bytes of the hinted response are sent from their
/// sealed copy ([`crate::store::zerocopy`]).
struct TimedIo {
    inner: TcpStream,
    prefix: Bytes,
    hint: Hint,
    idle: Duration,
    write: Duration,
    read_timer: Pin<Box<Sleep>>,
    read_armed: bool,
    read_deadline: Instant,
    write_timer: Pin<Box<Sleep>>,
    write_armed: bool,
}

impl TimedIo {
    fn new(inner: TcpStream, prefix: Bytes, idle: Duration, write: Duration, hint: Hint) -> Self {
        let now = Instant::now();
        TimedIo {
            inner,
            prefix,
            hint,
            idle,
            write,
            read_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            read_armed: false,
            read_deadline: now + idle,
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
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !this.read_armed {
                    this.read_armed = true;
                    this.read_deadline = Instant::now() + this.idle;
                }
                // The timer is only moved when it fires before the deadline, not once per request.
                loop {
                    match this.read_timer.as_mut().poll(cx) {
                        Poll::Ready(()) if Instant::now() >= this.read_deadline => {
                            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection")));
                        }
                        Poll::Ready(()) => {
                            let d = this.read_deadline;
                            this.read_timer.as_mut().reset(d);
                        }
                        Poll::Pending => return Poll::Pending,
                    }
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
        if let Some((at, offset, file)) = this.hint.find(bufs) {
            let len = bufs[at].len();
            loop {
                match this.inner.poll_write_ready(cx) {
                    Poll::Pending => return this.poll_write_timer(cx),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                let sock = &this.inner;
                match sock
                    .try_io(Interest::WRITABLE, || zerocopy::send_with_file(sock.as_fd(), bufs, at, &file, offset, len))
                {
                    Ok(n) => {
                        this.write_armed = false;
                        return Poll::Ready(Ok(n));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn connections_go_to_the_least_busy_worker_once_one_is_two_ahead() {
        let seats = Balance::seats(3);
        let b = seats[0].balance.clone();
        let counts = || b.live.iter().map(|c| c.load(Relaxed)).collect::<Vec<_>>();
        // Worker 0 accepts everything: it keeps connections until it is two ahead, then passes them on.
        let placed: Vec<usize> = (0..9).map(|_| b.place(0)).collect();
        assert_eq!(counts().iter().sum::<usize>(), 9);
        assert!(counts().iter().max().unwrap() - counts().iter().min().unwrap() <= 2, "{:?}", counts());
        assert_eq!(placed[..2], [0, 0]);
        assert_ne!(placed[2], 0);
        // A worker at or near the least busy one keeps what it accepts.
        b.live[1].store(0, Relaxed);
        assert_eq!(b.place(1), 1);
    }
}
