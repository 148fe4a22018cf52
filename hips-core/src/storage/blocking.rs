//! The blocking adapter of the storage seam for rayon code (hipsgen, moc-tools, coadds read by byte range): each call
//! runs the [`AsyncStore`] operation on a small process-wide I/O runtime and waits for it.

use std::ops::Range;
use std::sync::OnceLock;

use bytes::Bytes;

use super::{AsyncStore, StoreError, StoreSettings};

/// The tokio runtime the blocking adapter waits on (shared by all stores in the process; two threads: the work is
/// network waits, the CPU belongs to rayon).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hips-store-io")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the storage I/O runtime: {e}"))
    })
}

/// A blocking handle on an [`AsyncStore`].
#[derive(Clone, Debug)]
pub struct Store {
    inner: AsyncStore,
}

impl Store {
    /// Open a location for reading and writing: a plain path (created if missing) or `file://`, `s3://`, `gs://`,
    /// `az://`, `memory://`, `http(s)://` URLs, configured by the process's [`StoreSettings`] (the `AWS_*`,
    /// `GOOGLE_*`, `AZURE_*` environment).
    ///
    /// # Errors
    /// When the URL scheme is unknown, the directory cannot be created, or the backend rejects its configuration.
    pub fn open(location: &str) -> Result<Store, StoreError> {
        Store::open_with(location, StoreSettings::process())
    }

    /// [`Store::open`] with explicit settings.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(location: &str, settings: &StoreSettings) -> Result<Store, StoreError> {
        Ok(Store { inner: AsyncStore::open_with(location, settings, true)? })
    }

    /// Run a future of this store's operations on the I/O runtime and wait for it.
    pub(super) fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        runtime().block_on(f)
    }

    /// The asynchronous store under this handle.
    #[must_use]
    pub fn as_async(&self) -> &AsyncStore {
        &self.inner
    }

    /// The location this store was opened with.
    #[must_use]
    pub fn location(&self) -> &str {
        self.inner.location()
    }

    /// Write an object whole (atomic: readers see the old object, or none, or the whole new one).
    ///
    /// # Errors
    /// When the backend write fails.
    pub fn put(&self, key: &str, data: impl Into<Bytes>) -> Result<(), StoreError> {
        runtime().block_on(self.inner.put(key, data.into()))
    }

    /// Read a whole object; `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend read fails for any reason other than absence.
    pub fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        runtime().block_on(self.inner.get(key))
    }

    /// Read a byte range of an object.
    ///
    /// # Errors
    /// When the object is missing or the range is outside it.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        runtime().block_on(self.inner.get_range(key, range))
    }

    /// The size of an object, `None` when it does not exist.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(runtime().block_on(self.inner.head(key))?.map(|m| m.size))
    }

    /// Whether an object exists.
    ///
    /// # Errors
    /// When the backend fails for any reason other than absence.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.size(key)?.is_some())
    }

    /// Every key under a prefix (recursively), relative to the store root, sorted.
    ///
    /// # Errors
    /// When listing fails.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        runtime().block_on(self.inner.list(prefix))
    }

    /// Delete an object (absent objects are not an error).
    ///
    /// # Errors
    /// When the backend fails.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        runtime().block_on(self.inner.delete(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_roundtrip_and_listing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().to_str().expect("utf8")).expect("open");
        store.put("Norder3/Dir0/Npix1.fits", Bytes::from_static(b"abc")).expect("put");
        assert_eq!(store.get("Norder3/Dir0/Npix1.fits").expect("get").as_deref(), Some(&b"abc"[..]));
        assert_eq!(store.get("missing").expect("get"), None);
        assert_eq!(store.get_range("Norder3/Dir0/Npix1.fits", 1..3).expect("range").as_ref(), b"bc");
        assert_eq!(store.list("Norder3").expect("list"), vec!["Norder3/Dir0/Npix1.fits".to_string()]);
        assert!(dir.path().join("Norder3/Dir0/Npix1.fits").exists());
    }

    #[test]
    fn clients_are_shared_per_bucket_and_settings() {
        let settings = StoreSettings::from_vars([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_REGION", "us-east-1"),
            ("HOME", "/ignored"),
        ]);
        assert_eq!(settings.options.len(), 5, "only backend options are kept");
        let a = Store::open_with("s3://bucket/dr1/g", &settings).expect("open");
        let b = Store::open_with("s3://bucket/coadds", &settings).expect("open");
        assert_eq!(a.as_async().path("Norder3/x").as_ref(), "dr1/g/Norder3/x");
        let ((ca, wa), _) = super::super::open::client_for("s3://bucket/dr1/g", &settings).expect("client");
        let ((cb, wb), _) = super::super::open::client_for("s3://bucket/coadds", &settings).expect("client");
        assert!(std::sync::Arc::ptr_eq(&ca, &cb), "one client per bucket");
        assert!(std::sync::Arc::ptr_eq(&wa, &wb), "one write limit per client");
        let ((cc, _), _) = super::super::open::client_for("s3://other/coadds", &settings).expect("client");
        assert!(!std::sync::Arc::ptr_eq(&ca, &cc), "another bucket, another client");
        drop((a, b));
    }

    #[test]
    fn missing_local_directories_are_named() {
        let e = AsyncStore::open_with("/nonexistent/hips", &StoreSettings::default(), false).expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/hips"), "{e}");
    }

    #[tokio::test]
    async fn local_errors_name_the_key_and_location() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            AsyncStore::open_with(dir.path().to_str().expect("utf8"), &StoreSettings::default(), false).expect("open");
        assert_eq!(store.local_path("Norder3//Dir0/Npix1.fits"), Some(dir.path().join("Norder3/Dir0/Npix1.fits")));
        let e = store.local_error("get", "Norder3/x", std::io::Error::other("disk on fire"));
        assert!(matches!(e, StoreError::Io { op: "get", ref key, .. } if key == "Norder3/x"), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("Norder3/x") && text.contains(store.location()) && text.contains("disk on fire"),
            "{text}"
        );
        assert_eq!(store.list_dir("").await.expect("list"), crate::storage::DirListing::default());
        assert_eq!(store.head("nope").await.expect("head"), None);
    }

    #[test]
    fn memory_url() {
        let store = Store::open("memory://").expect("open");
        store.put("a/b", Bytes::from_static(b"x")).expect("put");
        assert!(store.exists("a/b").expect("exists"));
    }
}
