//! One client connection: HTTP/1.1 requests are read, parsed and answered here, and the connection is handed, with
//! the bytes already read, to hyper for anything this loop does not take on.
//!
//! Three tiers, per request:
//! 1. Hot: a plain GET/HEAD of a cached file of a public HiPS ([`super::parse`]) is answered with the object's
//!    [`Reply`] straight from the cache, without building an `http::Request`.
//! 2. General: any other bodiless GET/HEAD/OPTIONS over HTTP/1.1 becomes an `http::Request` for the handler
//!    ([`super::handler::respond`]), which gets what the hot tier already found out (its route and checks) so that
//!    nothing is done twice.
//!
//!    Both tiers end alike: the request epilogue ([`super::handler::finish`]), then the reply is sent, its head
//!    pre-encoded or encoded with hyper's framing rules ([`Reply::push_head`]: Content-Length, no body for HEAD, 204
//!    and 304, `connection: close` when the connection ends), its body from the object's sealed copy with `sendfile`
//!    when it has one and is large.
//! 3. Anything else (HTTP/1.0, HTTP/2, a request body, Expect or Upgrade, a head too large or that does not parse)
//!    goes to hyper, for the rest of the connection, with the bytes already read replayed first.
//!
//! Limits are the same as hyper's side: a connection without incoming bytes for `idle_timeout_ms` is closed, the
//! first request head must arrive within `header_read_timeout_ms` of accept and later ones within that time of their
//! first byte, every head must fit in `max_header_bytes`, and a
//! client that does not take response bytes for `write_timeout_ms` is dropped. On shutdown an idle connection is
//! closed at once and a busy one after its current response (sent with `connection: close`).

use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::{HeaderMap, Method, Request};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::front::{self, Hot};
use super::handler::{self, Extras, RequestId, Routed, Seen};
use super::parse::{self as fastpath, Plain};
use super::routing::{self, Route};
use crate::config::Access;
use crate::idle::Idle;
use crate::reply::{self, Reply};
use crate::services::conditional as httputil;
use crate::services::tiles;
use crate::state::State;
use crate::store::zerocopy::{self, SealedCopy};

/// Most request headers parsed here; more go to hyper (which allows `limits.max_headers`).
const MAX_HEADERS: usize = 64;

/// How a connection left this loop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Closed (client done, timeout, shutdown, or an I/O error).
    Close,
    /// To be served by hyper, starting with the bytes in the buffer.
    HandOff,
}

enum Wait {
    Ready,
    TimedOut,
    Stopping,
}

/// What tier 1 and 2 need of a request besides the handler.
enum Answer {
    /// Sent; keep the connection unless `close`.
    Sent { close: bool },
    /// Leave this request (and the connection) to hyper.
    HandOff,
}

/// The state of one connection served by this loop.
pub(crate) struct Driver<'a> {
    stream: &'a TcpStream,
    state: &'a Arc<State>,
    /// One timer for every wait of this connection, moved only when it must fire earlier.
    timer: Pin<Box<Sleep>>,
    stop: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    stopping: bool,
    /// This connection's mark in the server's idle set, when it has one.
    idle: Option<&'a Idle>,
    out: Vec<u8>,
}

impl<'a> Driver<'a> {
    /// A driver for `stream`, just accepted; `stop` resolves when the server begins shutting down or wants the
    /// connection back (`idle` marked between requests, see [`crate::idle`]).
    pub(crate) fn new(
        stream: &'a TcpStream,
        state: &'a Arc<State>,
        stop: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
        idle: Option<&'a Idle>,
    ) -> Self {
        let idle_timeout = Duration::from_millis(state.cfg.limits.idle_timeout_ms);
        Driver {
            stream,
            state,
            timer: Box::pin(tokio::time::sleep(idle_timeout)),
            stop,
            stopping: false,
            idle,
            out: Vec::with_capacity(1024),
        }
    }

    /// Whether shutdown has begun (seen while waiting).
    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    /// Wait until the socket is ready for `interest` (`Ready`), `deadline` passes (`TimedOut`), or, when
    /// `watch_stop`, shutdown begins (`Stopping`).
    async fn wait(&mut self, interest: Interest, deadline: Instant, watch_stop: bool) -> io::Result<Wait> {
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        std::future::poll_fn(|cx| {
            let ready =
                if interest.is_readable() { self.stream.poll_read_ready(cx) } else { self.stream.poll_write_ready(cx) };
            if let Poll::Ready(r) = ready {
                return Poll::Ready(r.map(|()| Wait::Ready));
            }
            if watch_stop && !self.stopping && self.stop.as_mut().poll(cx).is_ready() {
                self.stopping = true;
                return Poll::Ready(Ok(Wait::Stopping));
            }
            // The timer fires at or before the deadline; when early, it is moved to the deadline.
            while self.timer.as_mut().poll(cx).is_ready() {
                if Instant::now() >= deadline {
                    return Poll::Ready(Ok(Wait::TimedOut));
                }
                self.timer.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await
    }

    /// Serve requests from the socket until the connection closes or must go to hyper (then `input` holds the bytes
    /// read and not answered).
    ///
    /// # Errors
    /// Socket errors (the connection is then dropped).
    pub(crate) async fn run(&mut self, input: &mut Input) -> io::Result<Next> {
        let limits = &self.state.cfg.limits;
        let idle = Duration::from_millis(limits.idle_timeout_ms);
        let header_timeout = Duration::from_millis(limits.header_read_timeout_ms);
        let max_head = limits.max_header_bytes.max(8192);
        // The first request head is due `header_timeout` after accept, sent or not (a silent client must not hold a
        // connection for the idle timeout); later ones from their first byte.
        let mut head_started: Option<Instant> = Some(Instant::now());
        let mut idle_deadline: Option<Instant> = None;
        let mut marked = false;
        loop {
            if !input.pending().is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(input.pending()) {
                    Ok(httparse::Status::Complete(n)) => {
                        let answer = match fastpath::classify(&req) {
                            Some(plain) => self.answer(&req, &plain).await?,
                            None => Answer::HandOff,
                        };
                        match answer {
                            Answer::HandOff => return Ok(Next::HandOff),
                            Answer::Sent { close: true } => return Ok(Next::Close),
                            Answer::Sent { close: false } => {
                                input.consume(n);
                                head_started = None;
                                continue;
                            }
                        }
                    }
                    Ok(httparse::Status::Partial) if input.pending().len() < max_head => {
                        head_started.get_or_insert_with(Instant::now);
                    }
                    // Too large, too many headers or malformed: hyper answers (431, 400) as it always did.
                    Ok(httparse::Status::Partial) | Err(_) => return Ok(Next::HandOff),
                }
            } else if self.stopping {
                return Ok(Next::Close);
            }
            match read_some(self.stream, input.spare(max_head)) {
                Ok(0) => return Ok(Next::Close),
                Ok(n) => {
                    input.filled(n);
                    idle_deadline = None;
                    if let (true, Some(i)) = (marked, self.idle) {
                        marked = false;
                        i.clear();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let idle_at = *idle_deadline.get_or_insert_with(|| {
                        let now = Instant::now();
                        // Waiting for the next request of a kept-alive connection: it may be reclaimed.
                        if let (Some(i), None, true) = (self.idle, head_started, input.pending().is_empty()) {
                            i.mark(now.into_std());
                            marked = true;
                        }
                        now + idle
                    });
                    let deadline = head_started.map_or(idle_at, |t| idle_at.min(t + header_timeout));
                    match self.wait(Interest::READABLE, deadline, input.pending().is_empty()).await? {
                        Wait::Ready | Wait::Stopping => {}
                        Wait::TimedOut => return Ok(Next::Close),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Answer one complete request head (tier 1 or 2), or decline.
    async fn answer(&mut self, req: &httparse::Request<'_, '_>, p: &Plain<'_>) -> io::Result<Answer> {
        // A release root answers each request from one catalogue snapshot.
        let snapshot = self.state.snapshot();
        let state = snapshot.as_ref().unwrap_or(self.state);
        let start = std::time::Instant::now();
        let id = RequestId::new(state, p.request_id);
        let (reply, label, restricted) = match hot_reply(state, p, start).await {
            Ok((reply, label)) => (reply, label, false),
            Err(routed) => {
                let Some(mut request) = to_request(req) else { return Ok(Answer::HandOff) };
                if !state.cfg.trusted_proxies.is_empty() {
                    if let Ok(peer) = self.stream.peer_addr() {
                        request.extensions_mut().insert(handler::Peer(peer));
                    }
                }
                handler::respond(state, &request, &id, routed).await
            }
        };
        let close = p.close || self.stopping;
        let seen = Seen { start, method: req.method.unwrap_or(""), path: p.path, origin: p.origin, id };
        let extras = handler::finish(state, seen, reply.status(), label, restricted);
        self.send(reply, &extras, p.head, close).await?;
        Ok(Answer::Sent { close })
    }

    /// Send `reply` with its per-request headers: from its pre-encoded head when it has one and nothing needs
    /// merging into it, else encoded from its header map.
    async fn send(&mut self, mut reply: Reply, extras: &Extras<'_>, head_only: bool, close: bool) -> io::Result<()> {
        let mut head = std::mem::take(&mut self.out);
        let ready = reply.ready_head().filter(|_| extras.appendable()).map(|pre| {
            reply::push_ready_head(&mut head, &pre.wire, |out| extras.push_lines(out), close);
            !head_only
        });
        let body_follows = ready.unwrap_or_else(|| {
            extras.apply(reply.headers_mut());
            reply.push_head(&mut head, head_only, close)
        });
        let payload = reply.payload();
        let (body, file) = if body_follows { (payload.bytes, payload.file) } else { (&[][..], None) };
        let r = self.write(&head, body, file).await;
        self.out = head;
        r
    }

    /// Write `head` then `body` (from `file` at its offset with `sendfile` when given and large), waiting at most
    /// `write_timeout_ms` each time the client does not take bytes.
    async fn write(&mut self, head: &[u8], body: &[u8], file: Option<(&SealedCopy, usize)>) -> io::Result<()> {
        let total = head.len() + body.len();
        let file = file.filter(|_| body.len() >= zerocopy::MIN_BYTES);
        let mut sent = 0;
        let mut deadline: Option<Instant> = None;
        while sent < total {
            let r = if let Some((f, offset)) = file {
                let head_rest = &head[sent.min(head.len())..];
                let done = sent.saturating_sub(head.len());
                let bufs = [IoSlice::new(head_rest)];
                let at = usize::from(!head_rest.is_empty());
                self.stream.try_io(Interest::WRITABLE, || {
                    zerocopy::send_with_file(
                        self.stream.as_fd(),
                        &bufs[..at],
                        at,
                        f,
                        (offset + done) as u64,
                        body.len() - done,
                    )
                })
            } else if sent < head.len() {
                self.stream.try_write_vectored(&[IoSlice::new(&head[sent..]), IoSlice::new(body)])
            } else {
                self.stream.try_write(&body[sent - head.len()..])
            };
            match r {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    sent += n;
                    deadline = None;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let write_timeout = Duration::from_millis(self.state.cfg.limits.write_timeout_ms);
                    let at = *deadline.get_or_insert_with(|| Instant::now() + write_timeout);
                    match self.wait(Interest::WRITABLE, at, false).await? {
                        Wait::Ready | Wait::Stopping => {}
                        Wait::TimedOut => {
                            return Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The bytes read from a connection: `data[start..end]` is input not answered yet. It starts at 4 KiB and grows (up
/// to the head limit) only for larger request heads.
#[derive(Debug, Default)]
pub(crate) struct Input {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    /// Input read and not answered yet.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// `n` bytes were answered.
    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    /// Room to read into (the pending bytes moved to the front first when at the end; empty when `max` bytes are
    /// pending).
    fn spare(&mut self, max: usize) -> &mut [u8] {
        if self.end == self.data.len() && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.data.len() && self.data.len() < max {
            let grown = (self.data.len() * 2).clamp(4096, max);
            self.data.resize(grown, 0);
        }
        &mut self.data[self.end..]
    }

    /// `n` bytes were read into [`Input::spare`].
    fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.data.len());
    }
}

/// Read what the socket has into `spare`: `Ok(0)` at end of input, `WouldBlock` when nothing is there. A read that
/// does not fill `spare` drained the socket, so its readiness is cleared at once (as nginx does), and the next read
/// waits for the poller instead of making a system call that would only say "nothing yet". The readiness seen
/// before the read is the one cleared, so data arriving meanwhile is never missed. (`spare` is never empty: a full
/// buffer is handed to hyper first.)
#[cfg(target_os = "linux")]
fn read_some(stream: &TcpStream, spare: &mut [u8]) -> io::Result<usize> {
    let space = spare.len();
    let mut got = 0;
    let r = stream.try_io(Interest::READABLE, || {
        let n = rustix::io::read(stream.as_fd(), &mut *spare)?;
        got = n;
        if n > 0 && n < space {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        r => r,
    }
}

#[cfg(not(target_os = "linux"))]
fn read_some(stream: &TcpStream, spare: &mut [u8]) -> io::Result<usize> {
    stream.try_read(spare)
}

/// The answer of a hot request from the object cache (with its metrics label), when every check of the handler
/// passes without storage (a routed file of a public HiPS, not refused by order, format or coverage) and the object
/// is cached; otherwise how far the request got ([`Routed`]), so that the handler does not route or check it again.
async fn hot_reply(state: &State, p: &Plain<'_>, now: std::time::Instant) -> Result<(Reply, &'static str), Routed> {
    if !p.hot {
        return Err(Routed::No);
    }
    let (hot, checked) = if let Some(h) = front::get(state.id(), p.path.as_bytes(), now) {
        state.metrics.cache_hit(h.obj.body.len());
        (h, None)
    } else {
        let (name, file) = match routing::route(p.path, state.cfg.limits.max_path_bytes, |n| state.hips.contains_key(n))
        {
            Ok(Route::Hips { name, file }) => (name, file),
            other => return Err(Routed::Route(other)),
        };
        let Some(h) = state.hips.get(&name).filter(|h| h.settings.access == Access::Public) else {
            return Err(Routed::Route(Ok(Route::Hips { name, file })));
        };
        let refusal = tiles::refusal(h, &file);
        let key = file.key_in(&h.dir);
        let cached = match refusal {
            None => state.cache.cached(h.root_idx, tiles::served_key(h, &file)).await,
            Some(_) => None,
        };
        let Some(obj) = cached else { return Err(Routed::Checked { hips: h.clone(), file, refusal }) };
        let hot = Hot { obj, hips: h.clone(), ct: httputil::content_type(&key), label: file.kind() };
        front::put(state.id(), p.path.as_bytes(), &hot, now);
        (hot, Some((h.clone(), file)))
    };
    // Compressible types are negotiated by the handler when the client accepts a coding.
    if !(p.accepts_encoding && httputil::compressible(hot.ct))
        && tiles::ok_headers(&hot.obj, hot.ct, &hot.hips.settings.cache_control).is_some()
    {
        return Ok((Reply::object(hot.obj, true, HeaderMap::new), hot.label));
    }
    Err(match checked {
        Some((hips, file)) => Routed::Checked { hips, file, refusal: None },
        None => Routed::No,
    })
}

/// The `http::Request` of a parsed bodiless request; `None` when hyper would refuse or treat it differently (a
/// target or header `http` does not accept).
fn to_request(req: &httparse::Request<'_, '_>) -> Option<Request<()>> {
    let method = match req.method? {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        "OPTIONS" => Method::OPTIONS,
        _ => return None,
    };
    let uri = http::Uri::try_from(req.path?).ok()?;
    let mut b = Request::builder().method(method).uri(uri).version(http::Version::HTTP_11);
    let headers = b.headers_mut()?;
    headers.reserve(req.headers.len());
    for h in req.headers.iter() {
        let name = http::HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        headers.append(name, http::HeaderValue::from_bytes(h.value).ok()?);
    }
    b.body(()).ok()
}
