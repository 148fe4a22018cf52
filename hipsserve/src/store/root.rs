//! Storage roots on `hips_core`'s storage seam ([`AsyncStore`]: one opener, URL parsing, settings and clients for every
//! tool). Local directories are read directly: from the page cache on the worker thread when the kernel can do it
//! without waiting, else in one blocking-pool task per object. Each read is bounded by a timeout and, for bodies outside
//! the cache, by the memory budget ([`super::budget`]).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hips_core::storage::{AsyncStore, StoreError, StoreSettings};

use super::budget::{self, ReadBudget};
use super::error::ServeError;

/// One storage root: a store of the core seam (a local directory or an object-store URL with its key prefix).
#[derive(Clone, Debug)]
pub struct Root {
    store: AsyncStore,
    /// A local root's directory, opened once: every file is opened beneath it ([`read_local`]).
    dir: Option<Arc<OwnedFd>>,
}

impl Root {
    /// Open an existing local directory, `file://` path or object-store URL (`s3://bucket/prefix`, `gs://`, `az://`,
    /// `http(s)://`, `memory://`), configured by the process's [`StoreSettings`] (the `AWS_*`, `GOOGLE_*`, `AZURE_*`
    /// environment).
    ///
    /// # Errors
    /// When the directory does not exist or the URL/backend configuration is invalid.
    pub fn open(location: &str) -> Result<Root, StoreError> {
        Root::open_with(location, StoreSettings::process())
    }

    /// [`Root::open`] with explicit settings.
    ///
    /// # Errors
    /// As [`Root::open`].
    pub fn open_with(location: &str, settings: &StoreSettings) -> Result<Root, StoreError> {
        let store = AsyncStore::open_with(location, settings, false)?;
        let dir = match store.local_dir() {
            Some(d) => Some(Arc::new(open_dir(d).map_err(|e| store.local_error("open", "", e))?)),
            None => None,
        };
        Ok(Root { store, dir })
    }

    /// The location (a local path without `file://`).
    #[must_use]
    pub fn location(&self) -> &str {
        self.store.location()
    }

    /// Sub-folders and whether a `properties` object exists directly in `dir` (a key relative to the root).
    ///
    /// # Errors
    /// When the listing fails.
    pub async fn list_dir(&self, dir: &str) -> Result<(Vec<String>, bool), StoreError> {
        let listing = self.store.list_dir(dir).await?;
        let has_props = listing.files.iter().any(|f| f == hips_core::layout::PROPERTIES);
        Ok((listing.dirs, has_props))
    }

    /// Sub-folders and file names directly in `dir` (a key relative to the root).
    ///
    /// # Errors
    /// When the listing fails.
    pub async fn list(&self, dir: &str) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let listing = self.store.list_dir(dir).await?;
        Ok((listing.dirs, listing.files))
    }

    /// Read a whole object outside any memory budget (for what the server keeps anyway: the catalogue's properties
    /// and MOCs); `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// On timeout or any backend error other than not-found.
    pub async fn read(&self, key: &str, timeout: Duration) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
        self.read_within(key, timeout, budget::none()).await
    }

    /// Read a whole object, its body reserving room in `budget` ([`crate::store::budget`]); `Ok(None)` when it does not
    /// exist.
    ///
    /// # Errors
    /// On timeout, an object larger than the budget, or any backend error other than not-found.
    pub async fn read_within(
        &self,
        key: &str,
        timeout: Duration,
        budget: &ReadBudget,
    ) -> Result<Option<(Bytes, Option<SystemTime>)>, ServeError> {
        if let Some(dir) = &self.dir {
            return read_local(&self.store, dir, key, timeout, budget).await;
        }
        let fut = async {
            let Some(r) = self.store.get_object(key).await? else { return Ok(None) };
            let modified: SystemTime = r.meta.last_modified.into();
            let room = budget.reserve(key, r.meta.size).await?;
            let bytes = r.bytes().await.map_err(|e| self.store.error("get", key, e))?;
            Ok(Some((room.hold(bytes), Some(modified))))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or_else(|_| Err(ServeError::Timeout { key: key.to_string(), timeout }))
    }

    /// Whether the storage answers (a HEAD of `key`; not-found counts as reachable).
    pub async fn reachable(&self, key: &str, timeout: Duration) -> bool {
        matches!(tokio::time::timeout(timeout, self.store.head(key)).await, Ok(Ok(_)))
    }
}

/// What a local read got without blocking the worker thread.
enum Nowait {
    /// The whole answer.
    Done(LocalRead),
    /// It would have blocked: the file opened so far (with what was read of it, its mtime and size), or nothing.
    Blocked(Option<Started>),
}

/// An open local file, the bytes read of it so far, its modification time and size.
type Started = (std::fs::File, Vec<u8>, Option<SystemTime>, u64);

/// A local object (with its modification time), or `None` when missing.
type LocalRead = Option<(Bytes, Option<SystemTime>)>;

/// Read `key` under the local directory `dir`: open, stat (anything but a regular file counts as missing: a directory,
/// as with object_store's LocalFileSystem, and a FIFO or device, which are opened non-blocking so that they never
/// hold a thread), read whole. Keys come from the router and the catalogue, whose segments are whitelisted (no `..`,
/// no absolute paths), and are opened beneath `dir` without following any symbolic link (Linux `openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): a link in a served tree, to outside the root, to a restricted HiPS or
/// a linked `DirN` folder, is never followed (404).
///
/// The worker first tries it without blocking (Linux): the path is resolved from the kernel's lookup cache only
/// (`RESOLVE_CACHED`) and the bytes are read from the page cache only (`preadv2` with `RWF_NOWAIT`).
/// That serves a file the kernel already holds with no hop to the blocking pool (two thread wake-ups and context
/// switches per object). Whatever would wait for a disk finishes in one blocking-pool task, as every read does on
/// other systems.
///
/// Bodies larger than the budget's exempt size reserve their room before they are read ([`budget`]), waiting for it
/// when there is none.
async fn read_local(
    store: &AsyncStore,
    dir: &Arc<OwnedFd>,
    key: &str,
    timeout: Duration,
    budget: &ReadBudget,
) -> Result<LocalRead, ServeError> {
    use std::io::{Read, Seek};
    let backend = |e: std::io::Error| ServeError::Store(store.local_error("get", key, e));
    let Some(path) = store.local_path(key) else { return Ok(None) };
    let rel: PathBuf = key.split('/').filter(|s| !s.is_empty()).collect();
    let fut = async {
        let (mut f, mut buf, modified, size) = match read_nowait(dir, &rel, budget).map_err(backend)? {
            Nowait::Done(r) => return Ok(r),
            Nowait::Blocked(Some(started)) => started,
            Nowait::Blocked(None) => {
                let dir = dir.clone();
                match joined(super::blocking::spawn(move || open_file(&dir, &rel, &path)).await) {
                    Ok(Some(opened)) => opened,
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(backend(e)),
                }
            }
        };
        let room = budget.reserve(key, size).await?;
        let body = super::blocking::spawn(move || -> std::io::Result<Vec<u8>> {
            buf.reserve(usize::try_from(size).unwrap_or(0).saturating_sub(buf.len()).saturating_add(1));
            f.seek(std::io::SeekFrom::Start(buf.len() as u64))?;
            f.read_to_end(&mut buf)?;
            Ok(buf)
        });
        let body = joined(body.await).map_err(backend)?;
        Ok(Some((room.hold(body), modified)))
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Err(ServeError::Timeout { key: key.to_string(), timeout }))
}

/// The result of a blocking-pool task, a panic counting as an I/O error.
fn joined<T>(r: Result<std::io::Result<T>, tokio::task::JoinError>) -> std::io::Result<T> {
    r.map_err(std::io::Error::other).and_then(|inner| inner)
}

/// Open a local root's directory (a handle for opening files beneath it).
#[cfg(target_os = "linux")]
fn open_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    Ok(rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

#[cfg(not(target_os = "linux"))]
fn open_dir(dir: &Path) -> std::io::Result<OwnedFd> {
    Ok(std::fs::File::open(dir)?.into())
}

/// Flags of every local open: read-only, and non-blocking so that a FIFO or device opens at once (then refused).
#[cfg(target_os = "linux")]
fn open_flags() -> rustix::fs::OFlags {
    use rustix::fs::OFlags;
    OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK
}

/// How local paths are resolved: beneath the root, through no symbolic link.
#[cfg(target_os = "linux")]
fn beneath() -> rustix::fs::ResolveFlags {
    use rustix::fs::ResolveFlags;
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// A file opened on the blocking path (`None`: missing, reached through a link, or not a regular file), as
/// [`Nowait::Blocked`] holds it. Kernels without `openat2` (before 5.6) open `path` with `O_NOFOLLOW`, which refuses
/// a link only as its last component.
#[cfg(target_os = "linux")]
fn open_file(dir: &OwnedFd, rel: &Path, path: &Path) -> std::io::Result<Option<Started>> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let f = match rustix::fs::openat2(dir, rel, open_flags(), Mode::empty(), beneath()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::XDEV) => return Ok(None),
        Err(Errno::NOSYS) => match rustix::fs::open(path, open_flags() | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => std::fs::File::from(fd),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    regular(f)
}

#[cfg(not(target_os = "linux"))]
fn open_file(_dir: &OwnedFd, _rel: &Path, path: &Path) -> std::io::Result<Option<Started>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    regular(std::fs::File::open(path)?)
}

/// An opened file as [`Started`] when it is a regular file.
fn regular(f: std::fs::File) -> std::io::Result<Option<Started>> {
    let md = f.metadata()?;
    if !md.is_file() {
        return Ok(None);
    }
    Ok(Some((f, Vec::new(), md.modified().ok(), md.len())))
}

/// Open and read `path` only as far as the kernel can without waiting for a disk (see [`read_local`]).
#[cfg(target_os = "linux")]
fn read_nowait(dir: &OwnedFd, rel: &Path, budget: &ReadBudget) -> std::io::Result<Nowait> {
    use rustix::fs::{Mode, ResolveFlags};
    use rustix::io::{Errno, ReadWriteFlags};
    let fd = match rustix::fs::openat2(dir, rel, open_flags(), Mode::empty(), beneath() | ResolveFlags::CACHED) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::XDEV) => return Ok(Nowait::Done(None)),
        // Not in the lookup cache, or a kernel without openat2 / RESOLVE_CACHED (before 5.12): the blocking path.
        Err(Errno::AGAIN | Errno::NOSYS | Errno::INVAL | Errno::PERM) => return Ok(Nowait::Blocked(None)),
        Err(e) => return Err(e.into()),
    };
    let f = std::fs::File::from(fd);
    let md = f.metadata()?;
    if !md.is_file() {
        return Ok(Nowait::Done(None));
    }
    let modified = md.modified().ok();
    let Some(room) = budget.try_reserve(md.len()) else {
        // No room in the budget now: wait for it (asynchronously) before reading a byte.
        return Ok(Nowait::Blocked(Some((f, Vec::new(), modified, md.len()))));
    };
    let len = usize::try_from(md.len()).unwrap_or(usize::MAX);
    // preadv2 takes initialised memory (unsafe code is forbidden here): the zeroing costs a memset, 3% of an
    // uncached request's CPU in the cold benchmark's profile.
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let mut slice = [std::io::IoSliceMut::new(&mut buf[filled..])];
        match rustix::io::preadv2(&f, &mut slice, filled as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => {}
            // Part of the file is not in memory, or the filesystem cannot tell (EOPNOTSUPP): finish blocking.
            Err(Errno::AGAIN | Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => {
                buf.truncate(filled);
                return Ok(Nowait::Blocked(Some((f, buf, modified, md.len()))));
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The object is the file as long as fstat said it was (files are replaced by rename, never grown in place).
    buf.truncate(filled);
    Ok(Nowait::Done(Some((room.hold(buf), modified))))
}

/// Elsewhere every local read takes the blocking path.
#[cfg(not(target_os = "linux"))]
fn read_nowait(_dir: &OwnedFd, _rel: &Path, _budget: &ReadBudget) -> std::io::Result<Nowait> {
    Ok(Nowait::Blocked(None))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn local_store(dir: &tempfile::TempDir) -> Root {
        Root::open_with(dir.path().to_str().expect("utf8"), &StoreSettings::default()).expect("open")
    }

    /// A file whose second half is not in the page cache is read half on the worker (without waiting) and finished
    /// by the blocking path; a missing file or a directory is `None` on either path.
    #[tokio::test]
    async fn local_reads_finish_what_the_page_cache_cannot_give() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let path = dir.path().join("Npix1.fits");
        std::fs::write(&path, &body).expect("write");
        let f = std::fs::File::open(&path).expect("open");
        f.sync_all().expect("fsync");
        // Drop the second half from the page cache (clean pages: no privilege needed; tmpfs ignores it). On ext4
        // the worker then reads exactly the first half.
        let half = body.len() as u64 / 2;
        rustix::fs::fadvise(&f, half, None, rustix::fs::Advice::DontNeed).expect("fadvise");
        let root_dir = open_dir(dir.path()).expect("dir");
        match read_nowait(&root_dir, Path::new("Npix1.fits"), budget::none()).expect("nowait") {
            Nowait::Blocked(Some((_, got, _, _))) => assert_eq!(got, body[..got.len()], "the cached part, in order"),
            Nowait::Blocked(None) => {}
            Nowait::Done(r) => assert_eq!(r.expect("present").0, body, "all of it was cached after all"),
        }
        let root = local_store(&dir);
        let budget = ReadBudget::new(1 << 30, u64::MAX);
        rustix::fs::fadvise(&f, half, None, rustix::fs::Advice::DontNeed).expect("fadvise");
        let (got, modified) =
            root.read_within("Npix1.fits", Duration::from_secs(10), &budget).await.expect("read").expect("present");
        assert_eq!(got, body);
        assert_eq!(modified, std::fs::metadata(&path).expect("stat").modified().ok());
        std::fs::create_dir(dir.path().join("Norder3")).expect("mkdir");
        for missing in ["nope.fits", "Norder3", "nope/Npix1.fits"] {
            assert!(
                root.read_within(missing, Duration::from_secs(10), &budget).await.expect("read").is_none(),
                "{missing}"
            );
        }
    }

    /// Bodies beyond the exempt size wait for room in the budget (and time out), and keep it while any copy of them
    /// lives; one larger than the whole budget is refused with its size.
    #[tokio::test]
    async fn large_local_bodies_are_bounded_by_the_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big.fits"), &big).expect("write");
        std::fs::write(dir.path().join("huge.fits"), vec![0u8; 700_000]).expect("write");
        std::fs::write(dir.path().join("small.fits"), b"tiny").expect("write");
        let root = local_store(&dir);
        let budget = ReadBudget::new(512 * 1024, 1024);
        let read = |key: &'static str, ms: u64| root.read_within(key, Duration::from_millis(ms), &budget);
        let (held, _) = read("big.fits", 10_000).await.expect("read").expect("present");
        assert_eq!(held, big);
        assert!(budget.available_bytes() < 300_000, "the body holds its room");
        match read("big.fits", 200).await {
            Err(ServeError::Timeout { .. }) => {}
            other => panic!("a second body must wait for room: {other:?}"),
        }
        assert_eq!(read("small.fits", 200).await.expect("read").expect("present").0, &b"tiny"[..], "exempt");
        drop(held);
        assert_eq!(read("big.fits", 10_000).await.expect("read").expect("present").0, big, "room again");
        match read("huge.fits", 10_000).await {
            Err(e @ ServeError::TooLarge { .. }) => assert!(e.to_string().contains("700000"), "{e}"),
            other => panic!("larger than the budget: {other:?}"),
        }
    }
}
