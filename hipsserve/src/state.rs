//! The shared server state: the configuration, the storage roots and object cache, the served HiPS, access control,
//! counters and the permits that bound connections and on-demand work; and the request ids it hands out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::HeaderName;
#[cfg(test)]
use http::header::{HeaderMap, HeaderValue};

use crate::catalog::auth::Auth;
use crate::catalog::public::PublicNames;
use crate::catalog::{hipslist, Hips};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Object, ObjectCache, Root};

/// The request header (and response header) carrying the request id.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything a request handler needs, shared by all connections.
pub struct State {
    /// The resolved configuration.
    pub cfg: Config,
    /// Storage roots, by index.
    pub roots: Vec<Root>,
    /// Served HiPS by name.
    pub hips: HashMap<String, Arc<Hips>>,
    /// The object cache.
    pub cache: ObjectCache,
    /// Access control.
    pub auth: Auth,
    /// Coadd identifiers and server paths hidden from public answers.
    pub public: PublicNames,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The `/hipslist` document (with `public_url` set).
    pub hipslist: Arc<Object>,
    /// Without `public_url`: the `/hipslist` document with its base URL left to each request
    /// ([`hipslist::for_base`]).
    pub hipslist_template: Option<String>,
    /// Connection permits (`limits.max_connections`), shared by all accepting workers.
    pub connection_permits: Arc<tokio::sync::Semaphore>,
    /// Idle keep-alive connections, the oldest closed first when no connection permit is left.
    pub idle: crate::idle::IdleSet,
    /// Permits for on-demand tile renders (`on_demand.max_concurrent`).
    pub render_permits: Arc<tokio::sync::Semaphore>,
    /// The coadds of every HiPS, for the VO services (built per HiPS on first use).
    pub coadds: crate::catalog::coadds::Catalogue,
    /// SODA asynchronous jobs (`/vo/soda/async`).
    pub uws: crate::jobs::Jobs,
    /// This state once shared ([`State::attach`]), for work that outlives a request (asynchronous jobs).
    this: std::sync::OnceLock<std::sync::Weak<State>>,
    request_seq: AtomicU64,
    /// `<start time hex>-`, the prefix of generated request ids.
    request_prefix: String,
    /// Identifies this state's blocks of request ids in [`ID_BLOCK`].
    id_owner: u64,
    /// Serving a release root: the snapshot of the catalogue each request is answered from ([`Live`]).
    pub live: Option<Arc<Live>>,
}

/// The catalogue of a release root as it is now: a whole [`State`] (HiPS, `/hipslist`, object cache), replaced at
/// once when a release is published or finalized. A request takes the snapshot once and answers from it alone, so it
/// sees one release.
#[derive(Debug)]
pub struct Live {
    snapshot: std::sync::RwLock<Arc<State>>,
}

impl Live {
    /// Start from `first`.
    #[must_use]
    pub fn new(first: State) -> Live {
        let first = Arc::new(first);
        first.attach();
        Live { snapshot: std::sync::RwLock::new(first) }
    }

    /// The snapshot now.
    #[must_use]
    pub fn load(&self) -> Arc<State> {
        self.snapshot.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Replace the snapshot (requests under way finish with the one they took).
    pub fn store(&self, next: State) {
        let next = Arc::new(next);
        next.attach();
        let old =
            std::mem::replace(&mut *self.snapshot.write().unwrap_or_else(std::sync::PoisonError::into_inner), next);
        drop(old);
    }
}

/// The roots, the names of the HiPS and the shared parts, without the configuration's detail.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.hips.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("State")
            .field("roots", &self.roots)
            .field("hips", &names)
            .field("cache", &self.cache)
            .field("auth", &self.auth)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

/// Request ids a thread takes from the shared sequence at once.
const ID_BLOCK_LEN: u64 = 1024;

static NEXT_ID_OWNER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's block of request ids: (owning state, next, end).
    static ID_BLOCK: std::cell::Cell<(u64, u64, u64)> = const { std::cell::Cell::new((0, 0, 0)) };
}

impl State {
    /// Remember the shared state, so that tasks started by a request can hold it ([`State::shared`]).
    pub fn attach(self: &Arc<Self>) {
        let _ = self.this.set(Arc::downgrade(self));
    }

    /// The shared state, once attached and while alive.
    #[must_use]
    pub fn shared(&self) -> Option<Arc<State>> {
        self.this.get().and_then(std::sync::Weak::upgrade)
    }

    /// Assemble the state from discovered HiPS.
    #[must_use]
    pub fn new(cfg: Config, roots: Vec<Root>, hips: Vec<Hips>, auth: Auth, metrics: Arc<Metrics>) -> State {
        let node_did = hipslist::node_did(cfg.public_url.as_deref());
        let public = PublicNames::new(&cfg.on_demand.coadd_roots, &cfg.roots);
        // Properties may name server paths (hipsgen's colour HiPS name their bands' folders).
        let list = public.scrub(&hipslist::hipslist(&hips, cfg.public_url.as_deref(), &node_did)).into_owned();
        let hipslist_template = cfg
            .public_url
            .is_none()
            .then(|| public.scrub(&hipslist::hipslist(&hips, Some(hipslist::BASE), &node_did)).into_owned());
        let hipslist = Arc::new(Object::new(Bytes::from(list), Some(SystemTime::now())));
        let cache = ObjectCache::new(
            cfg.cache.max_bytes,
            cfg.cache.max_object_bytes,
            cfg.limits.max_uncached_bytes,
            Duration::from_secs(cfg.cache.ttl_secs),
            Duration::from_millis(cfg.limits.storage_timeout_ms),
            metrics.clone(),
        );
        let connection_permits = Arc::new(tokio::sync::Semaphore::new(cfg.limits.max_connections));
        let renders = match cfg.on_demand.max_concurrent {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n,
        };
        let render_permits = Arc::new(tokio::sync::Semaphore::new(renders));
        let coadds = crate::catalog::coadds::Catalogue::new(hips.iter().map(|h| &h.name));
        let uws = crate::jobs::Jobs::new(&cfg.async_jobs);
        let request_base = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        State {
            cfg,
            roots,
            hips: hips.into_iter().map(|h| (h.name.clone(), Arc::new(h))).collect(),
            cache,
            auth,
            public,
            metrics,
            hipslist,
            hipslist_template,
            connection_permits,
            idle: crate::idle::IdleSet::default(),
            render_permits,
            coadds,
            uws,
            this: std::sync::OnceLock::new(),
            request_seq: AtomicU64::new(0),
            request_prefix: format!("{request_base:x}-"),
            id_owner: NEXT_ID_OWNER.fetch_add(1, Ordering::Relaxed),
            live: None,
        }
    }

    /// Serving a release root: the catalogue snapshot a request is answered from (`None`: this state itself).
    #[must_use]
    pub fn snapshot(&self) -> Option<Arc<State>> {
        self.live.as_ref().map(|l| l.load())
    }

    /// Identifies this state among others in the process (per-thread caches are keyed by it).
    pub(crate) fn id(&self) -> u64 {
        self.id_owner
    }

    /// The client's X-Request-Id when it is short and plain, else `<start time hex>-<sequence>` (the request paths
    /// use [`State::request_id_into`], which does not allocate).
    #[cfg(test)]
    pub(crate) fn request_id(&self, headers: &HeaderMap) -> HeaderValue {
        let given = headers.get(X_REQUEST_ID).map(HeaderValue::as_bytes);
        let mut buf = [0u8; 64];
        let n = self.request_id_into(given, &mut buf);
        HeaderValue::from_bytes(&buf[..n]).unwrap_or_else(|_| HeaderValue::from_static("0"))
    }

    /// Write the request id into `buf` and return its length: the client's `given` X-Request-Id when it is 1 to 64
    /// bytes of `[A-Za-z0-9_-]`, else `<start time hex>-<sequence>` (formatted on the stack, no allocation).
    pub(crate) fn request_id_into(&self, given: Option<&[u8]>, buf: &mut [u8; 64]) -> usize {
        if let Some(b) = given {
            if !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            {
                buf[..b.len()].copy_from_slice(b);
                return b.len();
            }
        }
        // Sequence numbers are taken from the shared counter in blocks per thread (unique, no shared cache line per
        // request); the prefix is formatted once.
        let seq = ID_BLOCK.with(|b| {
            let (owner, next, end) = b.get();
            let (next, end) = if owner == self.id_owner && next < end {
                (next, end)
            } else {
                let start = self.request_seq.fetch_add(ID_BLOCK_LEN, Ordering::Relaxed);
                (start, start + ID_BLOCK_LEN)
            };
            b.set((self.id_owner, next + 1, end));
            next
        });
        let (p, mut digits) = (self.request_prefix.as_bytes(), itoa::Buffer::new());
        let d = digits.format(seq).as_bytes();
        let n = p.len() + d.len();
        buf[..p.len()].copy_from_slice(p);
        buf[p.len()..n].copy_from_slice(d);
        n
    }

    /// The access-log line of one request (when `log.access_log` is on).
    pub(crate) fn log_access(&self, id: &str, method: &str, path: &str, status: u16, elapsed: Duration) {
        if self.cfg.log.access_log {
            tracing::info!(target: "hipsserve::access", request_id = %id, method = %method, path = %path, status,
                micros = elapsed.as_micros() as u64, "request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_request_ids_are_unique_across_threads() {
        let cfg = Config::default();
        let auth = Auth::new(&cfg.auth, |_| None).expect("default auth");
        let st = State::new(cfg, Vec::new(), Vec::new(), auth, Arc::new(Metrics::default()));
        let none = HeaderMap::new();
        let ids: Vec<String> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    sc.spawn(|| {
                        (0..2500).map(|_| st.request_id(&none).to_str().expect("ascii").to_string()).collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
        });
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|i| i.starts_with(&st.request_prefix) && i.len() > st.request_prefix.len()));
        assert!(ids.iter().any(|i| i.ends_with("-0")));
        let mut given = HeaderMap::new();
        given.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(st.request_id(&given), "abc-123");
    }
}
