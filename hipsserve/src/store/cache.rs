//! The object cache: whole objects with their validators (a strong ETag, Last-Modified), lazily computed compressed
//! forms and zero-copy copies, in a byte-bounded cache with request coalescing.
//!
//! HiPS objects are small (tiles of a few hundred KB), so each object is read whole and kept as one [`Object`].
//! Concurrent requests for the same key while it is being read share one storage read (moka `try_get_with`).
//! Missing objects are cached too (negative entries) so a burst of 404s inside the coverage costs one read.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::budget::ReadBudget;
use super::error::ServeError;
use super::root::Root;
use super::zerocopy::SealedCopy;
use crate::metrics::Metrics;

/// A whole object held in memory, with its validators and lazily computed compressed forms.
#[derive(Debug)]
pub struct Object {
    /// Content.
    pub body: Bytes,
    /// Strong ETag including the quotes, from the 128-bit XXH3 hash of the content (non-cryptographic: a validator must change with the content, and only the operator writes objects; BLAKE3 was a fifth of the CPU time of an uncached request).
    pub etag: String,
    /// Modification time (seconds precision is what HTTP carries).
    pub modified: Option<SystemTime>,
    /// The ETag as a ready header value.
    pub etag_header: http::HeaderValue,
    /// Last-Modified as a ready header value.
    pub modified_header: Option<http::HeaderValue>,
    /// gzip form (None inside when compression does not help).
    pub gzip: OnceCell<Option<Bytes>>,
    /// brotli form.
    pub brotli: OnceCell<Option<Bytes>>,
    /// Sealed in-memory copy of the body for zero-copy sending (large cached objects only).
    pub sealed: Option<Arc<SealedCopy>>,
    /// Headers of a full 200 identity response, built on first use for one (content type, cache control) pair.
    pub ok_headers: std::sync::OnceLock<OkHeaders>,
}

/// Ready headers of a full 200 identity response of an [`Object`] (cloned per request instead of rebuilt).
#[derive(Debug)]
pub struct OkHeaders {
    /// Content-Type they were built for.
    pub content_type: &'static str,
    /// Cache-Control they were built for.
    pub cache_control: String,
    /// Cache-Control, Last-Modified, Vary, Content-Type, Accept-Ranges, ETag, Content-Length (and an X-Request-Id
    /// placeholder).
    pub headers: http::HeaderMap,
    /// The same response head on the HTTP/1.1 wire: status line and every header but X-Request-Id, each line ending
    /// in CRLF, without the blank line that ends the head (the fast path appends per-request headers).
    pub wire: Vec<u8>,
}

impl OkHeaders {
    /// Keep `headers` and their `wire` form.
    #[must_use]
    pub fn new(content_type: &'static str, cache_control: &str, wire: Vec<u8>, headers: http::HeaderMap) -> OkHeaders {
        OkHeaders { content_type, cache_control: cache_control.to_string(), headers, wire }
    }
}

impl Object {
    /// Wrap content, computing its ETag.
    #[must_use]
    pub fn new(body: Bytes, modified: Option<SystemTime>) -> Object {
        let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&body));
        Object::with_etag(body, modified, etag)
    }

    /// Wrap content whose strong ETag (with its quotes) is known without hashing it (a release's manifest).
    #[must_use]
    pub fn with_etag(body: Bytes, modified: Option<SystemTime>, etag: String) -> Object {
        let etag_header = http::HeaderValue::from_str(&etag).unwrap_or_else(|_| http::HeaderValue::from_static("\"\""));
        let modified_header = modified.and_then(|m| http::HeaderValue::from_str(&httpdate::fmt_http_date(m)).ok());
        Object {
            body,
            etag,
            modified,
            etag_header,
            modified_header,
            gzip: OnceCell::new(),
            brotli: OnceCell::new(),
            sealed: None,
            ok_headers: std::sync::OnceLock::new(),
        }
    }

    /// Add a sealed copy of the body for zero-copy sending (a no-op for small bodies or when the budget is used up).
    #[must_use]
    pub fn with_sealed_copy(mut self) -> Object {
        self.sealed = SealedCopy::new(&self.body);
        self
    }

    /// Bytes accounted for this object in the cache: the body, room for its compressed forms, its sealed copy.
    fn weight(&self) -> u32 {
        let copy = self.sealed.as_ref().map_or(0, |s| s.len());
        u32::try_from(self.body.len().saturating_mul(2).saturating_add(copy).saturating_add(256)).unwrap_or(u32::MAX)
    }
}

type Entry = Option<Arc<Object>>;

/// The cache of objects, keyed by root index and key.
pub struct ObjectCache {
    cache: Option<moka::future::Cache<(usize, String), Entry>>,
    max_object: u64,
    /// Memory for the bodies it does not keep (`limits.max_uncached_bytes`).
    budget: ReadBudget,
    timeout: Duration,
    metrics: Arc<Metrics>,
}

/// The limits and the bytes in use, not the entries.
impl std::fmt::Debug for ObjectCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectCache")
            .field("enabled", &self.cache.is_some())
            .field("weighted_size", &self.weighted_size())
            .field("max_object", &self.max_object)
            .field("budget", &self.budget)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ObjectCache {
    /// A cache of at most `max_bytes` (0 disables caching; coalescing is then lost too); the objects it does not keep
    /// (larger than `max_object`, or all of them when disabled) share `max_uncached` bytes ([`crate::store::budget`]).
    #[must_use]
    pub fn new(
        max_bytes: u64,
        max_object: u64,
        max_uncached: u64,
        ttl: Duration,
        timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let cache = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &(usize, String), v: &Entry| {
                    let base = u32::try_from(k.1.len() + 64).unwrap_or(u32::MAX);
                    v.as_ref().map_or(base, |o| o.weight().saturating_add(base))
                })
                .time_to_live(ttl)
                .build()
        });
        let kept_up_to = if cache.is_some() { max_object } else { 0 };
        ObjectCache { cache, max_object, budget: ReadBudget::new(max_uncached, kept_up_to), timeout, metrics }
    }

    /// The memory budget of bodies outside the cache (`limits.max_uncached_bytes`), which generated bodies (SODA
    /// cutouts) reserve too.
    #[must_use]
    pub fn budget(&self) -> &ReadBudget {
        &self.budget
    }

    /// Fetch an object through the cache. `Ok(None)`: it does not exist.
    ///
    /// # Errors
    /// Storage errors and timeouts (shared by all coalesced waiters).
    pub async fn get(&self, root_idx: usize, root: &Root, key: String) -> Result<Entry, Arc<ServeError>> {
        self.get_tagged(root_idx, root, key, None).await
    }

    /// [`ObjectCache::get`] of an object whose ETag is known (`Some`: from a release's manifest, so its body is not
    /// hashed).
    ///
    /// # Errors
    /// As [`ObjectCache::get`].
    pub async fn get_tagged(
        &self,
        root_idx: usize,
        root: &Root,
        key: String,
        etag: Option<String>,
    ) -> Result<Entry, Arc<ServeError>> {
        let timeout = self.timeout;
        let load = |k: String| async move { root.read_within(&k, timeout, &self.budget).await };
        self.load_through(root_idx, key, load, etag).await
    }

    /// Fetch an object through the cache, producing it with `load(key)` (content and modification time; `None`:
    /// it does not exist) when it is not cached; concurrent requests for the same key share one load.
    ///
    /// # Errors
    /// The load's error (shared by all coalesced waiters).
    pub async fn get_with<F, Fut>(&self, root_idx: usize, key: String, load: F) -> Result<Entry, Arc<ServeError>>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<Option<(Bytes, Option<SystemTime>)>, ServeError>>,
    {
        self.load_through(root_idx, key, load, None).await
    }

    /// [`ObjectCache::get_with`], the object's ETag given or (`None`) computed from its body.
    async fn load_through<F, Fut>(
        &self,
        root_idx: usize,
        key: String,
        load: F,
        etag: Option<String>,
    ) -> Result<Entry, Arc<ServeError>>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<Option<(Bytes, Option<SystemTime>)>, ServeError>>,
    {
        let cached = self.cache.is_some();
        let ck = (root_idx, key);
        let load = async {
            self.metrics.cache_miss();
            let r = load(ck.1.clone()).await;
            if r.is_err() {
                self.metrics.storage_error();
            }
            r.map(|o| {
                o.map(|(b, m)| {
                    let keep = cached && b.len() as u64 <= self.max_object;
                    let obj = match etag {
                        Some(t) => Object::with_etag(b, m, t),
                        None => Object::new(b, m),
                    };
                    Arc::new(if keep { obj.with_sealed_copy() } else { obj })
                })
            })
        };
        let Some(cache) = &self.cache else { return load.await.map_err(Arc::new) };
        if let Some(hit) = cache.get(&ck).await {
            self.metrics.cache_hit(hit.as_ref().map_or(0, |o| o.body.len()));
            return Ok(hit);
        }
        let entry = cache.try_get_with(ck.clone(), load).await?;
        if entry.as_ref().is_some_and(|o| o.body.len() as u64 > self.max_object) {
            // Too large to keep: it only went through the cache to share one read. Flush the cache's pending
            // operations too, which hold the object (and so its room in the uncached budget) until they run.
            cache.invalidate(&ck).await;
            cache.run_pending_tasks().await;
        }
        Ok(entry)
    }

    /// The cached object for `key`, without reading storage: `None` when it is not cached (or cached as missing).
    pub async fn cached(&self, root_idx: usize, key: String) -> Option<Arc<Object>> {
        let hit = self.cache.as_ref()?.get(&(root_idx, key)).await??;
        self.metrics.cache_hit(hit.body.len());
        Some(hit)
    }

    /// Bytes reserved now by the bodies the cache does not keep.
    #[must_use]
    pub fn uncached_bytes(&self) -> u64 {
        self.budget.used_bytes()
    }

    /// Bytes currently accounted in the cache.
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.cache.as_ref().map_or(0, moka::future::Cache::weighted_size)
    }
}
