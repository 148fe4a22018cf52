//! The one response value of hipsserve and its one HTTP/1.1 head encoder.
//!
//! Every request, on either connection path, is answered with a [`Reply`]: a status, headers and a body, built by the
//! services. A reply is either the full 200 identity answer of a cached object ([`Reply::object`]: its head
//! pre-encoded once per object, its body the object's bytes, sent with `sendfile` from the object's sealed copy), or
//! any other answer (status, header map, body bytes, and the sealed copy of the object the bytes are a slice of, when
//! there is one). The HTTP/1.1 connection loop writes replies itself ([`Reply::push_head`]); the hyper adapter turns
//! them into `http::Response`s ([`Reply::into_response`]), and both send body bytes from the sealed copy when there is
//! one.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::store::zerocopy::{SealedCopy, ZeroCopy};
use crate::store::{Object, OkHeaders};

/// The `http::Response` the hyper adapter sends.
pub type Resp = Response<Full<Bytes>>;

/// One answer to one request.
#[derive(Debug)]
pub struct Reply {
    /// A cached object whose full 200 identity answer this is, with its prebuilt head ([`OkHeaders`]); the fields
    /// below are then unused.
    ready: Option<Arc<Object>>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The object `body` is (a slice of), with its sealed copy.
    zero_copy: Option<ZeroCopy>,
}

/// The body of a reply as the connection loop sends it: bytes, and the sealed copy holding the same bytes at
/// `offset` when there is one.
#[derive(Debug)]
pub struct Payload<'r> {
    /// The bytes.
    pub bytes: &'r [u8],
    /// Their sealed copy and the offset of the bytes in it.
    pub file: Option<(&'r SealedCopy, usize)>,
}

fn zero_copy_of(obj: &Object) -> Option<ZeroCopy> {
    obj.sealed.as_ref().map(|file| ZeroCopy { body: obj.body.clone(), file: file.clone() })
}

impl Reply {
    /// An answer of `status` with `body` and no headers yet.
    #[must_use]
    pub fn new(status: StatusCode, body: Bytes) -> Reply {
        Reply { ready: None, status, headers: HeaderMap::new(), body, zero_copy: None }
    }

    /// An answer of `status` with `headers` and `body`.
    #[must_use]
    pub fn with_headers(status: StatusCode, headers: HeaderMap, body: Bytes) -> Reply {
        Reply { ready: None, status, headers, body, zero_copy: None }
    }

    /// A `text/plain` answer (not to be stored by caches): `msg` and a newline.
    #[must_use]
    pub fn text(status: StatusCode, msg: &str) -> Reply {
        let mut r = Reply::new(status, Bytes::from(format!("{msg}\n")));
        r.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        r.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }

    /// The full 200 identity answer of `obj`: with its prebuilt head when `prebuilt` (its [`OkHeaders`] were built
    /// for this answer's content type and cache control), else with the `headers` built now.
    #[must_use]
    pub fn object(obj: Arc<Object>, prebuilt: bool, headers: impl FnOnce() -> HeaderMap) -> Reply {
        if prebuilt && obj.ok_headers.get().is_some() {
            return Reply { ready: Some(obj), ..Reply::new(StatusCode::OK, Bytes::new()) };
        }
        Reply::part_of(&obj, StatusCode::OK, headers(), obj.body.clone())
    }

    /// An answer made of `body`, a slice of `obj`'s bytes (sent from its sealed copy), with `status` and `headers`.
    #[must_use]
    pub fn part_of(obj: &Object, status: StatusCode, headers: HeaderMap, body: Bytes) -> Reply {
        Reply { ready: None, status, headers, body, zero_copy: zero_copy_of(obj) }
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        if self.ready.is_some() {
            StatusCode::OK
        } else {
            self.status
        }
    }

    /// The pre-encoded head of a whole-object answer made with [`Reply::object`] (`None` for other answers).
    #[must_use]
    pub fn ready_head(&self) -> Option<&OkHeaders> {
        self.ready.as_ref().and_then(|obj| obj.ok_headers.get())
    }

    /// The headers, to change them (a whole-object answer becomes an ordinary one with a copy of its headers).
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        if let Some(obj) = self.ready.take() {
            self.headers = obj.ok_headers.get().map(|pre| pre.headers.clone()).unwrap_or_default();
            self.body = obj.body.clone();
            self.zero_copy = zero_copy_of(&obj);
        }
        &mut self.headers
    }

    /// The body and the sealed copy it can be sent from.
    #[must_use]
    pub fn payload(&self) -> Payload<'_> {
        match &self.ready {
            Some(obj) => Payload { bytes: &obj.body, file: obj.sealed.as_deref().map(|f| (f, 0)) },
            None => Payload {
                bytes: &self.body,
                file: self.zero_copy.as_ref().and_then(|z| Some((&*z.file, z.offset_of(&self.body)?))),
            },
        }
    }

    /// The object and sealed copy the body can be sent from (for the hyper adapter's writer).
    #[must_use]
    pub fn zero_copy(&self) -> Option<ZeroCopy> {
        match &self.ready {
            Some(obj) => zero_copy_of(obj),
            None => self.zero_copy.clone(),
        }
    }

    /// The `http::Response` of this reply for hyper; for a HEAD request (`head_only`) the body is left out and the
    /// GET's Content-Length kept.
    #[must_use]
    pub fn into_response(mut self, head_only: bool) -> Resp {
        self.headers_mut();
        let len = self.headers.get(header::CONTENT_LENGTH).cloned();
        let mut r = Response::new(Full::new(if head_only { Bytes::new() } else { self.body }));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        if let (true, Some(l)) = (head_only, len) {
            r.headers_mut().insert(header::CONTENT_LENGTH, l);
        }
        r
    }

    /// Encode the head of this answer into `out` with hyper's HTTP/1.1 framing rules: no body for HEAD, 1xx, 204 and
    /// 304; Content-Length from the body (kept from the headers for HEAD); 1xx, 204 and 304 without Content-Length; a
    /// Date; `connection: close` when the connection ends after it. Returns whether the body follows.
    pub fn push_head(&self, out: &mut Vec<u8>, head_only: bool, close: bool) -> bool {
        let (status, headers, body_len) = match (&self.ready, self.ready_head()) {
            (Some(obj), Some(pre)) => (StatusCode::OK, &pre.headers, obj.body.len()),
            _ => (self.status, &self.headers, self.body.len()),
        };
        let no_body_status =
            status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        out.clear();
        push_status(out, status);
        let mut length_written = false;
        push_fields(out, headers, |k| {
            if k == header::CONTENT_LENGTH {
                // Only a HEAD answer keeps the GET's length; otherwise it is the body's, written below.
                let keep = head_only && !no_body_status && !length_written;
                length_written |= keep;
                keep
            } else {
                k != header::CONNECTION && k != header::DATE
            }
        });
        if !head_only && !no_body_status {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        push_date(out);
        out.extend_from_slice(b"\r\n");
        !(head_only || no_body_status)
    }
}

/// Encode the head of a whole-object answer from its pre-encoded `wire` form ([`OkHeaders::wire`]), then Date, the
/// per-request lines that `extra` writes, `connection: close` when the connection ends after it, and the blank line.
pub(crate) fn push_ready_head(out: &mut Vec<u8>, wire: &[u8], extra: impl FnOnce(&mut Vec<u8>), close: bool) {
    out.clear();
    out.extend_from_slice(wire);
    push_date(out);
    extra(out);
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Append the status line of `status`.
pub(crate) fn push_status(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append one `name: value` line per header that `keep` accepts.
pub(crate) fn push_fields(out: &mut Vec<u8>, headers: &HeaderMap, mut keep: impl FnMut(&HeaderName) -> bool) {
    for (k, v) in headers {
        if keep(k) {
            out.extend_from_slice(k.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The wire form of a full 200 head: status line and every header of `headers` but X-Request-Id, without the blank
/// line that ends the head (per-request headers follow).
#[must_use]
pub(crate) fn ok_wire(headers: &HeaderMap) -> Vec<u8> {
    let mut wire = Vec::with_capacity(256);
    push_status(&mut wire, StatusCode::OK);
    push_fields(&mut wire, headers, |k| k.as_str() != "x-request-id");
    wire
}

thread_local! {
    /// This thread's `Date` value and the second it was formatted for.
    static DATE: RefCell<(u64, [u8; 29])> = const { RefCell::new((u64::MAX, [0; 29])) };
}

/// Append the current `date: <IMF-fixdate>` line (formatted once per second per thread).
pub(crate) fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != secs {
            let s = httpdate::fmt_http_date(now);
            if s.len() == 29 {
                d.1.copy_from_slice(s.as_bytes());
                d.0 = secs;
            }
        }
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&d.1);
        out.extend_from_slice(b"\r\n");
    });
}

/// A header value from text (`invalid` when the text cannot be one).
#[must_use]
pub fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
