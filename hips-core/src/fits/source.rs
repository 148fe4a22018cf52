//! Random-access byte sources: FITS is read by byte range, so a cutout or a header scan never fetches a whole file,
//! whether the file is local (`pread`), on object storage (ranged GET) or already in memory.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::FitsError;
use crate::storage::{is_url, Store};

/// A random-access, read-only byte source.
pub trait ByteSource: Send + Sync + std::fmt::Debug {
    /// Path or URL, used in error messages.
    fn name(&self) -> &str;

    /// Total length in bytes.
    ///
    /// # Errors
    /// When the length cannot be obtained (missing object, I/O error).
    fn len(&self) -> Result<u64, FitsError>;

    /// Whether the source has no bytes.
    ///
    /// # Errors
    /// As [`ByteSource::len`].
    fn is_empty(&self) -> Result<bool, FitsError> {
        Ok(self.len()? == 0)
    }

    /// Exactly `len` bytes starting at `offset`, or an error ([`FitsError::Truncated`] past the end).
    ///
    /// # Errors
    /// When the range is past the end of the source or the read fails.
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FitsError>;

    /// The largest number of unwanted bytes worth reading to save a separate [`ByteSource::read_at`]: large for
    /// remote sources where each read is a request with its own latency (the default), small for local files.
    fn coalesce_gap(&self) -> usize {
        1 << 20
    }
}

/// Check `offset..offset+len` against the source length before allocating anything.
fn check_range(name: &str, offset: u64, len: usize, total: u64) -> Result<(), FitsError> {
    let end = offset.checked_add(len as u64);
    match end {
        Some(end) if end <= total => Ok(()),
        _ => Err(FitsError::Truncated {
            name: name.to_string(),
            what: "read".into(),
            offset,
            end: end.unwrap_or(u64::MAX),
            len: total,
        }),
    }
}

/// A local file read with positional reads (`pread`), opened once and shareable between threads.
#[derive(Debug)]
pub struct FileSource {
    name: String,
    file: File,
    len: u64,
}

impl FileSource {
    /// Open a local regular file. It is opened non-blocking, so a FIFO or device at `path` is refused at once
    /// instead of blocking the caller until a writer appears.
    ///
    /// # Errors
    /// When the file cannot be opened, is not a regular file, or its size cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<FileSource, FitsError> {
        use std::os::unix::fs::OpenOptionsExt;
        let name = path.as_ref().display().to_string();
        let io = |source| FitsError::Io { name: name.clone(), source };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path.as_ref())
            .map_err(io)?;
        FileSource::regular(name, file)
    }

    /// Open `rel` (a relative path) beneath the directory `root` without following any symbolic link and without
    /// leaving `root` (Linux `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`; elsewhere every component is
    /// checked with `lstat` first), non-blocking and only if it is a regular file. For servers that must read only
    /// what lies under a configured root, whatever links a writer planted there.
    ///
    /// # Errors
    /// When the file cannot be opened (a link or `..` on the way: `ELOOP`/`EXDEV`), is not a regular file, or its
    /// size cannot be read.
    pub fn open_beneath(root: impl AsRef<Path>, rel: impl AsRef<Path>) -> Result<FileSource, FitsError> {
        let name = root.as_ref().join(rel.as_ref()).display().to_string();
        let io = |source: std::io::Error| FitsError::Io { name: name.clone(), source };
        let file = open_beneath(root.as_ref(), rel.as_ref()).map_err(io)?;
        FileSource::regular(name, file)
    }

    fn regular(name: String, file: File) -> Result<FileSource, FitsError> {
        let meta = file.metadata().map_err(|source| FitsError::Io { name: name.clone(), source })?;
        if !meta.is_file() {
            let what = if meta.is_dir() { "is a directory" } else { "is not a regular file" };
            return Err(FitsError::Io { name, source: std::io::Error::other(what) });
        }
        Ok(FileSource { name, len: meta.len(), file })
    }

    /// A source over an open file (e.g. an unnamed spool), called `name` in errors.
    ///
    /// # Errors
    /// When the file's size cannot be read.
    pub fn from_file(name: impl Into<String>, file: File) -> Result<FileSource, FitsError> {
        let name = name.into();
        let len = file.metadata().map_err(|source| FitsError::Io { name: name.clone(), source })?.len();
        Ok(FileSource { name, file, len })
    }
}

#[cfg(target_os = "linux")]
fn open_beneath(root: &Path, rel: &Path) -> std::io::Result<File> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let dir = rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    Ok(File::from(rustix::fs::openat2(&dir, rel, flags, Mode::empty(), resolve)?))
}

#[cfg(not(target_os = "linux"))]
fn open_beneath(root: &Path, rel: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut at = root.to_path_buf();
    for c in rel.components() {
        if !matches!(c, std::path::Component::Normal(_)) {
            return Err(std::io::Error::other("path leaves its root"));
        }
        at.push(c);
        if std::fs::symlink_metadata(&at)?.file_type().is_symlink() {
            return Err(std::io::Error::other("symbolic link"));
        }
    }
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW;
    std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(at)
}

impl ByteSource for FileSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// A local `pread` costs about a microsecond: skip at most a page rather than issue another call.
    fn coalesce_gap(&self) -> usize {
        4096
    }

    fn len(&self) -> Result<u64, FitsError> {
        Ok(self.len)
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FitsError> {
        check_range(&self.name, offset, len, self.len)?;
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                FitsError::Truncated {
                    name: self.name.clone(),
                    what: "read (file shrank)".into(),
                    offset,
                    end: offset + len as u64,
                    len: self.len,
                }
            } else {
                FitsError::Io { name: self.name.clone(), source: e }
            }
        })?;
        Ok(buf)
    }
}

/// An object in a [`Store`], read with ranged GETs; its size is fetched once (HEAD) on first use.
#[derive(Debug)]
pub struct StoreSource {
    store: Store,
    key: String,
    name: String,
    len: OnceLock<u64>,
}

impl StoreSource {
    /// A source for `key` in `store`; `name` is what errors show (usually the full URL).
    #[must_use]
    pub fn new(store: Store, key: impl Into<String>, name: impl Into<String>) -> StoreSource {
        StoreSource { store, key: key.into(), name: name.into(), len: OnceLock::new() }
    }
}

impl ByteSource for StoreSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> Result<u64, FitsError> {
        if let Some(l) = self.len.get() {
            return Ok(*l);
        }
        let size = self
            .store
            .size(&self.key)
            .map_err(|source| FitsError::Store { name: self.name.clone(), source: Box::new(source) })?;
        let Some(size) = size else {
            return Err(FitsError::Io {
                name: self.name.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "object not found"),
            });
        };
        Ok(*self.len.get_or_init(|| size))
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FitsError> {
        let total = self.len()?;
        check_range(&self.name, offset, len, total)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self
            .store
            .get_range(&self.key, offset..offset + len as u64)
            .map_err(|source| FitsError::Store { name: self.name.clone(), source: Box::new(source) })?;
        if bytes.len() != len {
            return Err(FitsError::Truncated {
                name: self.name.clone(),
                what: "ranged read (short response)".into(),
                offset,
                end: offset + len as u64,
                len: offset + bytes.len() as u64,
            });
        }
        Ok(bytes.to_vec())
    }
}

/// Bytes already in memory (a tile fetched whole, a test fixture).
#[derive(Debug, Clone)]
pub struct MemSource {
    name: String,
    data: Bytes,
}

impl MemSource {
    /// Wrap bytes; `name` is what errors show.
    #[must_use]
    pub fn new(name: impl Into<String>, data: impl Into<Bytes>) -> MemSource {
        MemSource { name: name.into(), data: data.into() }
    }

    /// The bytes.
    #[must_use]
    pub fn bytes(&self) -> &Bytes {
        &self.data
    }
}

impl ByteSource for MemSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn len(&self) -> Result<u64, FitsError> {
        Ok(self.data.len() as u64)
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FitsError> {
        check_range(&self.name, offset, len, self.data.len() as u64)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(self.data.slice(start..start + len).to_vec())
    }
}

/// A byte source that counts the reads and bytes asked of another, with the coalescing gap of choice (0: a local
/// file's, large: an object store's): for tests and benchmarks that check what a read fetches.
#[derive(Debug)]
pub struct CountingSource<S> {
    inner: S,
    /// `read_at` calls so far.
    pub reads: std::sync::atomic::AtomicUsize,
    /// Bytes those calls returned.
    pub bytes: std::sync::atomic::AtomicUsize,
    gap: usize,
}

impl<S: ByteSource> CountingSource<S> {
    /// Count the reads of `inner`, which merges ranges closer than `gap` bytes.
    pub fn new(inner: S, gap: usize) -> Self {
        CountingSource { inner, reads: 0.into(), bytes: 0.into(), gap }
    }
}

impl<S: ByteSource> ByteSource for CountingSource<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn len(&self) -> Result<u64, FitsError> {
        self.inner.len()
    }
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, FitsError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.bytes.fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        self.inner.read_at(offset, len)
    }
    fn coalesce_gap(&self) -> usize {
        self.gap
    }
}

/// Open a local path (or `file://` URL) as a [`FileSource`], or an object-store URL (`s3://bucket/key`, `gs://`, `az://`,
/// `memory://`, `http(s)://`) as a [`StoreSource`] on the parent location. A gzip-compressed source is decompressed
/// into a spool file first ([`super::gzip`]).
///
/// # Errors
/// When the file cannot be opened, or the URL has no object key or its store cannot be configured, or a gzip stream
/// is broken or too large.
pub fn open_source(path_or_url: &str) -> Result<Arc<dyn ByteSource>, FitsError> {
    let src = open_raw(path_or_url)?;
    super::gzip::gunzip_if_needed(src, super::gzip::max_spool_bytes())
}

/// [`open_source`] without the gzip check.
fn open_raw(path_or_url: &str) -> Result<Arc<dyn ByteSource>, FitsError> {
    if !is_url(path_or_url) {
        let path = path_or_url.strip_prefix("file://").unwrap_or(path_or_url);
        return Ok(Arc::new(FileSource::open(path)?));
    }
    let not_found = |why: &str| FitsError::Io {
        name: path_or_url.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()),
    };
    let scheme_end = path_or_url.find("://").map_or(0, |i| i + 3);
    let Some(slash) = path_or_url[scheme_end..].rfind('/').map(|i| i + scheme_end) else {
        return Err(not_found("URL has no object key after the bucket/host"));
    };
    let (parent, key) = (&path_or_url[..slash], &path_or_url[slash + 1..]);
    if key.is_empty() {
        return Err(not_found("URL ends with '/': no object key"));
    }
    let store = Store::open(parent)
        .map_err(|source| FitsError::Store { name: path_or_url.to_string(), source: Box::new(source) })?;
    Ok(Arc::new(StoreSource::new(store, key, path_or_url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO is refused at once (no writer needed), and `open_beneath` follows no link, in the path or at its end,
    /// whether it points out of the root or stays inside it.
    #[test]
    fn special_files_and_links_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("g")).expect("mkdir");
        std::fs::write(root.join("g/a.fits"), b"SIMPLE").expect("write");
        std::fs::write(tmp.path().join("outside.fits"), b"SECRET").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("outside.fits"), root.join("g/out.fits")).expect("link");
        std::os::unix::fs::symlink(root.join("g/a.fits"), root.join("g/in.fits")).expect("link");
        std::os::unix::fs::symlink(root.join("g"), root.join("h")).expect("link");
        rustix::fs::mknodat(rustix::fs::CWD, root.join("g/fifo.fits"), rustix::fs::FileType::Fifo, 0o644.into(), 0)
            .expect("mkfifo");
        assert_eq!(FileSource::open_beneath(&root, "g/a.fits").expect("regular").len().expect("len"), 6);
        for rel in ["g/out.fits", "g/in.fits", "h/a.fits", "g/fifo.fits", "../outside.fits", "g"] {
            assert!(FileSource::open_beneath(&root, rel).is_err(), "{rel}");
        }
        assert!(FileSource::open(root.join("g/fifo.fits")).is_err(), "a FIFO is not a regular file");
        assert!(FileSource::open(root.join("g/in.fits")).is_ok(), "open follows links, as before");
    }
}
