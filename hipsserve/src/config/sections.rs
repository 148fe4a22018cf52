//! The sections of the server configuration below the top level: limits, cache, CORS, authentication, per-HiPS
//! settings, on-demand rendering, asynchronous jobs, release roots and logging, each with its defaults.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// SODA asynchronous cutout jobs (`/vo/soda/async`, [`crate::services::vo::uws`]): how many, how long, how much disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsyncJobsConfig {
    /// Jobs held at once, all owners together (a new job beyond it: 503).
    pub max_jobs: usize,
    /// Jobs held at once by one owner (a new job beyond it: 429).
    pub max_jobs_per_owner: usize,
    /// Results (IDs x regions) one job may ask for.
    pub max_results_per_job: usize,
    /// The longest execution duration a job may run, seconds (also its default); past it the job goes ERROR.
    pub max_execution_secs: u64,
    /// A job's destruction time, seconds after its creation, unless the client sets an earlier one.
    pub default_destruction_secs: u64,
    /// The latest destruction time a client may set, seconds from now.
    pub max_destruction_secs: u64,
    /// Bytes of results all jobs together may hold on disk; a job whose next result would pass it goes ERROR.
    pub max_disk_bytes: u64,
    /// Where results are written (`<jobs_dir>/<job id>/<n>`); default: a folder of this process under the temporary
    /// directory. Job folders found there at start are from an earlier process and are removed.
    pub jobs_dir: Option<PathBuf>,
    /// The longest `WAIT=` a job request may block, seconds.
    pub max_wait_secs: u64,
}

impl Default for AsyncJobsConfig {
    fn default() -> Self {
        AsyncJobsConfig {
            max_jobs: 1000,
            max_jobs_per_owner: 100,
            max_results_per_job: 10_000,
            max_execution_secs: 600,
            default_destruction_secs: 86_400,
            max_destruction_secs: 7 * 86_400,
            max_disk_bytes: 10 << 30,
            jobs_dir: None,
            max_wait_secs: 60,
        }
    }
}

/// Serving a release root (`hipsgen release`): `/<hips>/...` from the current release, `/<id>/<hips>/...` from each.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseServeConfig {
    /// `true`: the one root is a release root (even before anything is finalized); `false`: never; unset: a single
    /// root holding `current` or a finalized release (`<id>/manifest.json`) is one.
    pub enabled: Option<bool>,
    /// How often `current`, the release folders and `hipslist` are read again, in milliseconds.
    pub poll_ms: u64,
    /// Cache-Control of the current release's files (`/<hips>/...`, which change on publish).
    pub current_cache_control: String,
    /// Cache-Control of a release's own files (`/<id>/<hips>/...`, never modified once published).
    pub versioned_cache_control: String,
}

impl Default for ReleaseServeConfig {
    fn default() -> Self {
        ReleaseServeConfig {
            enabled: None,
            poll_ms: 2000,
            current_cache_control: "public, max-age=5".into(),
            versioned_cache_control: "public, max-age=31536000, immutable".into(),
        }
    }
}

/// Rendering tiles deeper than the stored orders from the source coadds (per HiPS: `on_demand_orders`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnDemandConfig {
    /// Locations (directories or object-store URL prefixes) the coadds named in progenitor indexes must lie under;
    /// a coadd elsewhere is never opened.
    pub coadd_roots: Vec<String>,
    /// Renders running at once (0: one per CPU); more requests wait, up to `timeout_ms`.
    pub max_concurrent: usize,
    /// Time allowed for one render, waiting included, before the request fails with 503.
    pub timeout_ms: u64,
    /// Largest SODA cutout, in pixels per plane (a larger box is refused with UsageError).
    pub max_cutout_pixels: u64,
    /// Largest `/vo/mosaic` output, in pixels per plane (a larger grid is refused with UsageFault naming POS/SCALE).
    pub max_mosaic_pixels: u64,
    /// `/vo/mosaic` requests built at once (each also takes one render worker); more wait, up to `timeout_ms`.
    pub max_mosaic_concurrent: usize,
}

impl Default for OnDemandConfig {
    fn default() -> Self {
        OnDemandConfig {
            coadd_roots: Vec::new(),
            max_concurrent: 0,
            timeout_ms: 30_000,
            max_cutout_pixels: 1 << 24,
            max_mosaic_pixels: 1 << 24,
            max_mosaic_concurrent: 2,
        }
    }
}

/// Connection and request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Maximum simultaneous connections; further clients wait in the kernel backlog.
    pub max_connections: usize,
    /// Time allowed for a client to send the full request head (slowloris protection); the first one from accept.
    pub header_read_timeout_ms: u64,
    /// A connection on which the client sends nothing for this long is closed (idle keep-alive included).
    pub idle_timeout_ms: u64,
    /// A connection whose client does not accept response bytes for this long is closed.
    pub write_timeout_ms: u64,
    /// Largest request head accepted, in bytes (HTTP/1 read buffer).
    pub max_header_bytes: usize,
    /// Most header fields in an HTTP/1 request (more: 431).
    pub max_headers: usize,
    /// Longest request path accepted, in bytes (longer: 414).
    pub max_path_bytes: usize,
    /// Largest request body accepted (this server only reads GET/HEAD/OPTIONS, which have none).
    pub max_body_bytes: u64,
    /// Time allowed for one storage read before the request fails with 503.
    pub storage_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long in-flight requests may take to finish (then the process exits if a blocking
    /// storage call is still running).
    pub shutdown_grace_ms: u64,
    /// Value of Retry-After (seconds) on 502/503.
    pub retry_after_secs: u64,
    /// Bytes of object bodies held in memory outside the cache at once (objects larger than
    /// `cache.max_object_bytes`, or every object with the cache off); see [`crate::store::budget`].
    pub max_uncached_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 75_000,
            write_timeout_ms: 30_000,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_path_bytes: 1024,
            max_body_bytes: 0,
            storage_timeout_ms: 10_000,
            shutdown_grace_ms: 10_000,
            retry_after_secs: 5,
            max_uncached_bytes: 1 << 30,
        }
    }
}

/// The in-memory object cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Total bytes of object bodies (and their compressed forms) kept in memory. 0 disables caching.
    pub max_bytes: u64,
    /// Objects bigger than this are served but not cached.
    pub max_object_bytes: u64,
    /// Seconds an entry may stay cached before it is re-read from storage.
    pub ttl_secs: u64,
    /// Directory for the unlinked, read-only copies that cached bodies of 4 KiB and more are sent from with
    /// `sendfile` (see [`crate::store::zerocopy`]); `None` keeps them in memory (memfd).
    pub spool_dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { max_bytes: 256 * 1024 * 1024, max_object_bytes: 16 * 1024 * 1024, ttl_secs: 300, spool_dir: None }
    }
}

/// Cross-origin resource sharing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to read responses (`"*"` = any). Only origins listed by name may read restricted HiPS with
    /// credentials (cookies); `"null"` never matches. Empty disables CORS headers.
    pub allowed_origins: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig { allowed_origins: vec!["*".to_string()], max_age_secs: 86_400 }
    }
}

/// Authentication sources for restricted HiPS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// File of bearer tokens, one `user:token` or `user:sha256:<hex>` per line (`#` comments).
    pub tokens_file: Option<PathBuf>,
    /// Environment variable holding more tokens, same syntax, separated by commas or newlines.
    pub tokens_env: String,
    /// Cookie name a browser may carry the bearer token in (Aladin Lite with credentials). Empty disables.
    pub token_cookie: String,
    /// Group membership for token users: group name -> users.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Trust identity headers set by an authenticating reverse proxy. Only enable when one is in front.
    pub trusted_ingress: bool,
    /// Header carrying the authenticated user name (trusted_ingress only).
    pub user_header: String,
    /// Header carrying the user's groups, comma separated (trusted_ingress only).
    pub groups_header: String,
    /// Realm in the WWW-Authenticate challenge.
    pub realm: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            tokens_file: None,
            tokens_env: "HIPSSERVE_TOKENS".to_string(),
            token_cookie: "hips_token".to_string(),
            groups: BTreeMap::new(),
            trusted_ingress: false,
            user_header: "X-Auth-Request-User".to_string(),
            groups_header: "X-Auth-Request-Groups".to_string(),
            realm: "hipsserve".to_string(),
        }
    }
}

/// Who may read a HiPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone.
    #[default]
    Public,
    /// Only the owner, listed users and members of listed groups.
    Restricted,
}

impl std::fmt::Display for Access {
    /// As written in the configuration: `public` or `restricted`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::Public => "public",
            Access::Restricted => "restricted",
        })
    }
}

/// Per-HiPS settings (every field optional; unset fields fall back to `[defaults]`, then built-in defaults).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HipsSettings {
    /// public or restricted.
    pub access: Option<Access>,
    /// The owner (restricted HiPS).
    pub owner: Option<String>,
    /// Users allowed besides the owner.
    pub users: Option<Vec<String>>,
    /// Groups whose members are allowed.
    pub groups: Option<Vec<String>>,
    /// Cache-Control for public objects of this HiPS.
    pub cache_control: Option<String>,
    /// Whether the HiPS appears in `/hipslist` (public HiPS only; restricted ones never do).
    pub listed: Option<bool>,
    /// Serve this HiPS at all (false hides a discovered folder).
    pub enabled: Option<bool>,
    /// Orders below `hips_order` whose FITS tiles are rendered on demand from the source coadds named in the
    /// progenitor index (0 = none).
    pub on_demand_orders: Option<u8>,
}

/// The per-HiPS settings after falling back to defaults.
#[derive(Debug, Clone)]
pub struct ResolvedSettings {
    /// public or restricted.
    pub access: Access,
    /// Owner.
    pub owner: Option<String>,
    /// Allowed users.
    pub users: Vec<String>,
    /// Allowed groups.
    pub groups: Vec<String>,
    /// Cache-Control header value.
    pub cache_control: String,
    /// Listed in /hipslist.
    pub listed: bool,
    /// Served.
    pub enabled: bool,
    /// Orders rendered on demand below `hips_order`.
    pub on_demand_orders: u8,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// One line per request (with its request id) at info level.
    pub access_log: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { access_log: true }
    }
}
