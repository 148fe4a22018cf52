//! Zero-copy sending of cached object bodies: a read-only file holds a copy of each large cached body, and the
//! connection's writer sends body bytes with `sendfile(2)` from it instead of copying them from user space into the
//! socket (what nginx does from the page cache).
//!
//! The copy is a sealed in-memory file (Linux `memfd`), or, with a spool directory ([`set_spool_dir`]), an unlinked
//! file there (`O_TMPFILE`) of which only a read-only descriptor is kept. The spool is faster on filesystems that
//! cache files in large folios (ext4 on Linux 6.16 and later, xfs): the kernel then copies each socket read out of
//! one large page instead of several 4 KiB shmem pages (less work on both ends of the socket). Measured on this
//! project's VM (ext4, Linux 6.18) in four same-run A/Bs: 3-12% more hot-tile requests per second, 0.3-1.0 us less
//! server CPU per request (BENCHMARKS.md, session 11).
//! Neither kind of copy has a name in any directory (only processes allowed to inspect this one, through `/proc`, can
//! reach them), and neither can be changed once written.
//!
//! The HTTP/1.1 connection loop knows where a reply's body lies in its sealed copy and sends it from there. For hyper,
//! how the bytes are matched, and why it is safe: a reply carries a [`ZeroCopy`] (a clone of the body `Bytes` plus its
//! sealed copy), which the connection's service keeps in its [`Hint`]. When hyper asks the connection to write an
//! `IoSlice` that lies inside the hinted body's memory (the hint keeps that memory alive, so an address inside it can
//! only be those bytes), the writer sends the same range of the sealed file instead. The
//! file is sealed against writes, shrinking and growing (or, spooled, has no writable descriptor left), so its
//! content is the body's content for its whole life. Anything that does not match (headers, small or uncached
//! bodies, compressed variants) is written normally.
//!
//! Every sealed copy holds one file descriptor; a process-wide budget (derived from `RLIMIT_NOFILE` and the
//! connection limit) bounds them, and bodies beyond it are simply served by copying.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;

/// Bodies smaller than this are copied (one `writev`), larger ones are sent from their sealed copy (4 KiB was
/// ahead of 16 KiB in 4 of 6 same-run hot-tile cells of `benches/serve_ab.sh`: copying 4-16 KiB costs more than the
/// splice).
pub const MIN_BYTES: usize = 4 * 1024;

static BUDGET: AtomicUsize = AtomicUsize::new(0);

/// Set how many sealed copies (file descriptors) may exist at once (0 disables zero-copy sending).
pub fn set_budget(n: usize) {
    BUDGET.store(n, Ordering::Relaxed);
}

static SPOOL: OnceLock<PathBuf> = OnceLock::new();
static SPOOL_FAILED: AtomicBool = AtomicBool::new(false);

/// Keep the copies of cached bodies in unlinked files in `dir` (`cache.spool_dir`) instead of memfds. Set once, at
/// startup; a copy that cannot be made there (disk full) is made as a memfd instead, with one warning.
///
/// # Errors
/// When `dir` cannot hold an unlinked file (missing, not writable, or a filesystem without `O_TMPFILE`): one is
/// made and dropped here so a bad directory stops the server at startup rather than slowing it down silently.
pub fn set_spool_dir(dir: &Path) -> io::Result<()> {
    drop(imp::spooled(dir, b"hipsserve spool probe")?);
    let _ = SPOOL.set(dir.to_path_buf());
    Ok(())
}

/// A budget of sealed copies that leaves room for `max_connections` sockets and other descriptors, after raising the
/// soft `RLIMIT_NOFILE` to the hard limit.
#[must_use]
pub fn budget_for(max_connections: usize) -> usize {
    let soft = imp::raise_nofile();
    soft.saturating_sub(max_connections.saturating_add(1024)).min(1 << 20)
}

/// A read-only, sealed in-memory copy of one object body.
#[derive(Debug)]
pub struct SealedCopy {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fd: std::os::fd::OwnedFd,
    len: usize,
}

impl SealedCopy {
    /// Copy `data` into a new sealed in-memory file. `None` when the budget is used up, the body is small, or the
    /// platform has no memfd (the body is then written by copying, which is always correct).
    #[must_use]
    pub fn new(data: &[u8]) -> Option<Arc<SealedCopy>> {
        Self::new_in(data, SPOOL.get().map(PathBuf::as_path))
    }

    /// [`SealedCopy::new`] with an explicit spool directory (`None`: a memfd).
    fn new_in(data: &[u8], spool: Option<&Path>) -> Option<Arc<SealedCopy>> {
        if data.len() < MIN_BYTES {
            return None;
        }
        // Reserve one unit of the budget first; give it back on failure.
        BUDGET.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1)).ok()?;
        let made = match spool {
            Some(dir) => imp::spooled(dir, data).or_else(|e| {
                if !SPOOL_FAILED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(dir = %dir.display(), error = %e, "spool copy failed; using memory copies when needed");
                }
                imp::sealed_memfd(data)
            }),
            None => imp::sealed_memfd(data),
        };
        match made {
            Ok(fd) => Some(Arc::new(SealedCopy { fd, len: data.len() })),
            Err(e) => {
                BUDGET.fetch_add(1, Ordering::AcqRel);
                tracing::debug!(error = %e, "no sealed copy; body will be copied");
                None
            }
        }
    }

    /// Size in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never: small bodies get no copy).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for SealedCopy {
    fn drop(&mut self) {
        BUDGET.fetch_add(1, Ordering::AcqRel);
    }
}

/// A response body and its sealed copy, as a reply carries them ([`crate::reply::Reply`]) to the connection that
/// sends it.
#[derive(Debug, Clone)]
pub struct ZeroCopy {
    /// The body as handed to hyper (or the whole object it is a slice of).
    pub body: Bytes,
    /// Its sealed copy (same bytes, same offsets).
    pub file: Arc<SealedCopy>,
}

impl ZeroCopy {
    /// The offset of `slice` inside the body when it lies entirely inside it.
    pub(crate) fn offset_of(&self, slice: &[u8]) -> Option<usize> {
        let base = self.body.as_ptr() as usize;
        let p = slice.as_ptr() as usize;
        let off = p.checked_sub(base)?;
        (off.checked_add(slice.len())? <= self.body.len() && self.body.len() == self.file.len).then_some(off)
    }
}

/// The body a connection is currently sending, shared by its service (which sets it) and its writer (which reads it).
#[derive(Debug, Default, Clone)]
pub struct Hint(Arc<Mutex<Option<ZeroCopy>>>);

impl Hint {
    /// Remember the body of the response about to be written (or forget it with `None`).
    pub fn set(&self, z: Option<ZeroCopy>) {
        if let Ok(mut g) = self.0.lock() {
            *g = z;
        }
    }

    /// The first slice (index, file offset, sealed copy) that lies inside the hinted body and is worth a sendfile.
    #[must_use]
    pub fn find(&self, bufs: &[io::IoSlice<'_>]) -> Option<(usize, u64, Arc<SealedCopy>)> {
        let g = self.0.lock().ok()?;
        let z = g.as_ref()?;
        bufs.iter().enumerate().find_map(|(i, b)| {
            if b.len() < 4096 {
                return None;
            }
            z.offset_of(b).map(|off| (i, off as u64, z.file.clone()))
        })
    }
}

/// Write `bufs[..at]` (with "more data follows", so they share a segment with the body) then `len` bytes of `file`
/// from `offset` to the socket `sock`, without blocking. Returns the bytes written, counting from `bufs[0]`.
///
/// # Errors
/// The socket's error when nothing at all was written (`WouldBlock` included).
pub fn send_with_file(
    sock: std::os::fd::BorrowedFd<'_>,
    bufs: &[io::IoSlice<'_>],
    at: usize,
    file: &SealedCopy,
    offset: u64,
    len: usize,
) -> io::Result<usize> {
    imp::send_with_file(sock, bufs, at, file, offset, len)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io::{self, Write};
    use std::os::fd::{BorrowedFd, OwnedFd};

    use std::os::fd::AsRawFd;
    use std::path::Path;

    use rustix::fs::{MemfdFlags, Mode, OFlags, SealFlags};
    use rustix::net::{SendAncillaryBuffer, SendFlags};

    pub(super) fn raise_nofile() -> usize {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let cur = getrlimit(Resource::Nofile);
        if cur.current < cur.maximum {
            let _ = setrlimit(Resource::Nofile, Rlimit { current: cur.maximum, maximum: cur.maximum });
        }
        let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        usize::try_from(now).unwrap_or(usize::MAX)
    }

    pub(super) fn sealed_memfd(data: &[u8]) -> io::Result<OwnedFd> {
        let fd = rustix::fs::memfd_create("hipsserve-object", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(data)?;
        let fd = OwnedFd::from(f);
        rustix::fs::fcntl_add_seals(&fd, SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        Ok(fd)
    }

    /// An unlinked file in `dir` holding `data`, reopened read-only through `/proc/self/fd` (the writable descriptor
    /// is closed before this returns).
    pub(super) fn spooled(dir: &Path, data: &[u8]) -> io::Result<OwnedFd> {
        let fd = rustix::fs::open(dir, OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC, Mode::RUSR | Mode::WUSR)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(data)?;
        let path = format!("/proc/self/fd/{}", f.as_raw_fd());
        Ok(rustix::fs::open(path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?)
    }

    pub(super) fn send_with_file(
        sock: BorrowedFd<'_>,
        bufs: &[io::IoSlice<'_>],
        at: usize,
        file: &super::SealedCopy,
        offset: u64,
        len: usize,
    ) -> io::Result<usize> {
        let head = &bufs[..at];
        let head_len: usize = head.iter().map(|b| b.len()).sum();
        let mut sent = 0;
        if head_len > 0 {
            let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
            sent = rustix::net::sendmsg(sock, head, &mut SendAncillaryBuffer::default(), flags)?;
            if sent < head_len {
                return Ok(sent);
            }
        }
        let mut off = offset;
        match rustix::fs::sendfile(sock, &file.fd, Some(&mut off), len) {
            Ok(n) => Ok(sent + n),
            // Report the head's progress; the error (or WouldBlock) shows up again on the next call.
            Err(_) if sent > 0 => Ok(sent),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::os::fd::{BorrowedFd, OwnedFd};

    pub(super) fn raise_nofile() -> usize {
        0
    }

    pub(super) fn sealed_memfd(_data: &[u8]) -> io::Result<OwnedFd> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no memfd on this platform"))
    }

    pub(super) fn spooled(_dir: &std::path::Path, _data: &[u8]) -> io::Result<OwnedFd> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no O_TMPFILE spool on this platform"))
    }

    pub(super) fn send_with_file(
        _sock: BorrowedFd<'_>,
        _bufs: &[io::IoSlice<'_>],
        _at: usize,
        _file: &super::SealedCopy,
        _offset: u64,
        _len: usize,
    ) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no sendfile on this platform"))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Read;

    fn body() -> Bytes {
        Bytes::from((0..(MIN_BYTES * 3).max(48 * 1024)).map(|i| (i % 251) as u8).collect::<Vec<_>>())
    }

    #[test]
    fn slices_match_only_inside_the_hinted_body() {
        set_budget(BUDGET.load(Ordering::Relaxed) + 4);
        let body = body();
        let file = SealedCopy::new(&body).expect("memfd works on Linux");
        let hint = Hint::default();
        let other = vec![0u8; MIN_BYTES];
        let head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        assert!(hint.find(&[io::IoSlice::new(&body)]).is_none(), "no hint yet");
        hint.set(Some(ZeroCopy { body: body.clone(), file }));
        let bufs = [io::IoSlice::new(&head), io::IoSlice::new(&body[100..])];
        let (i, off, _) = hint.find(&bufs).expect("body slice matched");
        assert_eq!((i, off), (1, 100));
        assert!(hint.find(&[io::IoSlice::new(&other)]).is_none(), "other memory never matches");
        let copy = body.to_vec();
        assert!(hint.find(&[io::IoSlice::new(&copy)]).is_none(), "equal bytes elsewhere do not match either");
        assert!(SealedCopy::new(&body[..MIN_BYTES - 1]).is_none(), "small bodies get no copy");
    }

    /// Send a head and a range of `body` from `file` over a real socket and check what arrives.
    fn head_and_range_arrive_in_order(body: &Bytes, file: &SealedCopy) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let (srv, _) = l.accept().expect("accept");
        let head = b"HTTP/1.1 206 Partial Content\r\n\r\n".to_vec();
        let (a, b) = (1000usize, 30_000usize);
        let bufs = [io::IoSlice::new(&head), io::IoSlice::new(&body[a..b])];
        let mut want = head.clone();
        want.extend_from_slice(&body[a..b]);
        let mut sent = 0;
        // Blocking socket: each call writes the head (first call) and as much of the range as fits.
        while sent < want.len() {
            let n = if sent < head.len() {
                send_with_file(std::os::fd::AsFd::as_fd(&srv), &bufs, 1, file, a as u64, b - a).expect("send")
            } else {
                let done = sent - head.len();
                send_with_file(std::os::fd::AsFd::as_fd(&srv), &[], 0, file, (a + done) as u64, b - a - done)
                    .expect("send")
            };
            sent += n;
        }
        drop(srv);
        let mut got = Vec::new();
        client.read_to_end(&mut got).expect("read");
        assert_eq!(got, want);
    }

    #[test]
    fn head_and_file_range_arrive_in_order_on_a_socket() {
        set_budget(BUDGET.load(Ordering::Relaxed) + 4);
        let body = body();
        let file = SealedCopy::new_in(&body, None).expect("memfd works on Linux");
        head_and_range_arrive_in_order(&body, &file);
    }

    #[test]
    fn spooled_copies_are_nameless_read_only_and_send_the_same_bytes() {
        set_budget(BUDGET.load(Ordering::Relaxed) + 4);
        let dir = tempfile::tempdir().expect("tempdir");
        let body = body();
        let file = SealedCopy::new_in(&body, Some(dir.path())).expect("O_TMPFILE works here");
        let mode = rustix::fs::fcntl_getfl(&file.fd).expect("getfl");
        assert_eq!(mode & rustix::fs::OFlags::RWMODE, rustix::fs::OFlags::RDONLY, "no writable descriptor is kept");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0, "the copy has no name");
        head_and_range_arrive_in_order(&body, &file);
        // A directory that cannot hold one is refused, naming nothing else.
        let missing = dir.path().join("missing");
        assert_eq!(set_spool_dir(&missing).expect_err("missing dir").kind(), io::ErrorKind::NotFound);
        // A copy that cannot be spooled falls back to memory.
        assert!(SealedCopy::new_in(&body, Some(&missing)).is_some(), "falls back to a memfd");
    }
}
