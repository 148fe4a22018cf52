//! Server configuration: the TOML file layout, its defaults, and the layering file -> environment -> command line.
//!
//! Every key is documented in `config/hipsserve.toml`. Unknown keys are rejected (a typo in an access rule must not
//! silently make a HiPS public). Environment variables (`HIPSSERVE_*`) override the file; command-line flags that were
//! given override both (the binary applies them through [`Overrides`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors while loading the configuration; each names the file or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for this schema.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error (names the key and line).
        #[source]
        source: toml::de::Error,
    },
    /// An environment variable has an unusable value.
    #[error("invalid value {value:?} in environment variable {var}: {reason}")]
    Env {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The resolved configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Public base URL of this server, used for `hips_service_url` in `/hipslist`.
    pub public_url: Option<String>,
    /// Reverse proxies (peer IP addresses) whose `X-Forwarded-Proto`/`X-Forwarded-Host` give `hips_service_url` in
    /// `/hipslist` when `public_url` is unset; forwarded headers from anyone else are ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Storage roots (local directories or object-store URLs) searched for HiPS folders.
    pub roots: Vec<String>,
    /// How deep below a root to look for folders holding `properties`.
    pub discovery_depth: usize,
    /// Parse and answer bodiless HTTP/1.1 GET/HEAD/OPTIONS requests in the server's own connection loop (plain GETs
    /// of cached objects from pre-encoded heads); `false` sends every request through hyper.
    pub http1_fast_path: bool,
    /// Connection and request limits.
    pub limits: Limits,
    /// The in-memory object cache.
    pub cache: CacheConfig,
    /// Cross-origin resource sharing.
    pub cors: CorsConfig,
    /// Authentication sources.
    pub auth: AuthConfig,
    /// Settings applied to every HiPS unless overridden in `[hips.<name>]`.
    pub defaults: HipsSettings,
    /// Per-HiPS settings, keyed by HiPS name (its folder path relative to its root).
    pub hips: BTreeMap<String, HipsSettings>,
    /// Logging.
    pub log: LogConfig,
    /// Tiles rendered on demand from source coadds.
    pub on_demand: OnDemandConfig,
    /// SODA asynchronous cutout jobs (UWS 1.1, `/vo/soda/async`).
    pub async_jobs: AsyncJobsConfig,
    /// Serving a release root written by `hipsgen release` (`<out>/current`, `<out>/<id>/`).
    pub release: ReleaseServeConfig,
}

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

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            trusted_proxies: Vec::new(),
            roots: Vec::new(),
            discovery_depth: 3,
            http1_fast_path: true,
            limits: Limits::default(),
            cache: CacheConfig::default(),
            cors: CorsConfig::default(),
            auth: AuthConfig::default(),
            defaults: HipsSettings::default(),
            hips: BTreeMap::new(),
            log: LogConfig::default(),
            on_demand: OnDemandConfig::default(),
            async_jobs: AsyncJobsConfig::default(),
            release: ReleaseServeConfig::default(),
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

/// Values given on the command line or through the matching environment variables (they win over the file).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// --listen / HIPSSERVE_LISTEN.
    pub listen: Option<SocketAddr>,
    /// --root (repeatable) / HIPSSERVE_ROOT (comma separated); replaces the file's roots.
    pub roots: Vec<String>,
    /// --public-url / HIPSSERVE_PUBLIC_URL.
    pub public_url: Option<String>,
    /// --cache-bytes / HIPSSERVE_CACHE_BYTES.
    pub cache_bytes: Option<u64>,
    /// --spool-dir / HIPSSERVE_SPOOL_DIR.
    pub spool_dir: Option<PathBuf>,
    /// --no-access-log / HIPSSERVE_ACCESS_LOG=false.
    pub access_log: Option<bool>,
    /// --coadd-root (repeatable) / HIPSSERVE_COADD_ROOT (comma separated); replaces `on_demand.coadd_roots`.
    pub coadd_roots: Vec<String>,
}

impl Config {
    /// Parse a configuration from TOML text (`origin` names it in errors).
    ///
    /// # Errors
    /// When the text is not valid TOML or has unknown keys.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse { path: origin.to_path_buf(), source })
    }

    /// Read a configuration file.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_toml(&text, path)
    }

    /// Apply command-line/environment overrides, then check the result.
    ///
    /// # Errors
    /// When no root is configured or a value is out of range.
    pub fn apply(mut self, o: Overrides) -> Result<Config, ConfigError> {
        if let Some(l) = o.listen {
            self.listen = l;
        }
        if !o.roots.is_empty() {
            self.roots = o.roots;
        }
        if o.public_url.is_some() {
            self.public_url = o.public_url;
        }
        if let Some(b) = o.cache_bytes {
            self.cache.max_bytes = b;
        }
        if o.spool_dir.is_some() {
            self.cache.spool_dir = o.spool_dir;
        }
        if let Some(a) = o.access_log {
            self.log.access_log = a;
        }
        if !o.coadd_roots.is_empty() {
            self.on_demand.coadd_roots = o.coadd_roots;
        }
        self.on_demand.coadd_roots = resolve_coadd_roots(&self.on_demand.coadd_roots)?;
        if self.roots.is_empty() {
            return Err(ConfigError::Invalid("no storage root: give --root or `roots = [...]`".into()));
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Invalid("limits.max_connections must be at least 1".into()));
        }
        let on_demand = self.defaults.on_demand_orders.unwrap_or(0) > 0
            || self.hips.values().any(|h| h.on_demand_orders.unwrap_or(0) > 0);
        if on_demand && self.on_demand.coadd_roots.is_empty() {
            return Err(ConfigError::Invalid(
                "on_demand_orders is set but on_demand.coadd_roots is empty: list where the coadds may be read".into(),
            ));
        }
        if let Some(u) = &self.public_url {
            url::Url::parse(u).map_err(|e| ConfigError::Invalid(format!("public_url {u:?}: {e}")))?;
            self.public_url = Some(u.trim_end_matches('/').to_string());
        }
        Ok(self)
    }

    /// The settings of one HiPS after falling back to `[defaults]` and built-in defaults.
    #[must_use]
    pub fn settings_for(&self, name: &str) -> ResolvedSettings {
        let s = self.hips.get(name);
        let d = &self.defaults;
        let pick = |f: fn(&HipsSettings) -> Option<String>| s.and_then(f).or_else(|| f(d));
        let access = s.and_then(|s| s.access).or(d.access).unwrap_or_default();
        let cache_control = pick(|h| h.cache_control.clone()).unwrap_or_else(|| "public, max-age=3600".to_string());
        ResolvedSettings {
            access,
            owner: pick(|h| h.owner.clone()),
            users: s.and_then(|s| s.users.clone()).or_else(|| d.users.clone()).unwrap_or_default(),
            groups: s.and_then(|s| s.groups.clone()).or_else(|| d.groups.clone()).unwrap_or_default(),
            // A shared cache must never keep a restricted object for someone else.
            cache_control: if access == Access::Restricted { "private, no-cache".to_string() } else { cache_control },
            listed: s.and_then(|s| s.listed).or(d.listed).unwrap_or(true),
            enabled: s.and_then(|s| s.enabled).or(d.enabled).unwrap_or(true),
            on_demand_orders: s.and_then(|s| s.on_demand_orders).or(d.on_demand_orders).unwrap_or(0),
        }
    }
}

/// The coadd roots as the server compares them with the paths in progenitor indexes: object-store URLs as given;
/// local directories (`file://` or plain, relative ones resolved against the working directory at start) by their
/// real path (hipsgen records local coadds with links resolved), followed by the absolute path as given when that
/// differs (indexes written by tools that keep links).
///
/// # Errors
/// When a local root does not exist or is not a directory (every cutout would fail later).
pub fn resolve_coadd_roots(given: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for g in given {
        let local = g.strip_prefix("file://").or(if g.contains("://") { None } else { Some(g.as_str()) });
        let Some(local) = local else {
            out.push(g.clone());
            continue;
        };
        let bad = |why: String| {
            ConfigError::Invalid(format!("coadd root {g:?} (--coadd-root, on_demand.coadd_roots): {why}"))
        };
        let abs = std::path::absolute(local).map_err(|e| bad(e.to_string()))?;
        let real = std::fs::canonicalize(&abs).map_err(|e| bad(format!("{}: {e}", abs.display())))?;
        if !real.is_dir() {
            return Err(bad(format!("{} is not a directory", real.display())));
        }
        for p in [real, abs] {
            let text = p.to_string_lossy().trim_end_matches('/').to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push(text);
            }
        }
    }
    Ok(out)
}

/// Read the `HIPSSERVE_*` variables that have no command-line flag equivalent handled by clap.
///
/// # Errors
/// When a variable holds an unparsable value.
pub fn env_overrides(get: impl Fn(&str) -> Option<String>) -> Result<Overrides, ConfigError> {
    let mut o = Overrides::default();
    if let Some(v) = get("HIPSSERVE_CACHE_BYTES") {
        o.cache_bytes = Some(v.trim().parse().map_err(|e: std::num::ParseIntError| ConfigError::Env {
            var: "HIPSSERVE_CACHE_BYTES".into(),
            value: v.clone(),
            reason: e.to_string(),
        })?);
    }
    if let Some(v) = get("HIPSSERVE_ACCESS_LOG") {
        o.access_log = Some(match v.trim() {
            "1" | "true" | "yes" => true,
            "0" | "false" | "no" => false,
            _ => {
                return Err(ConfigError::Env {
                    var: "HIPSSERVE_ACCESS_LOG".into(),
                    value: v,
                    reason: "expected true or false".into(),
                })
            }
        });
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_resolves() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/hipsserve.toml");
        let c = Config::from_file(&p).expect("example config parses");
        // As shipped, nothing in it needs a file: it starts with a root from the command line.
        assert!(c.roots.is_empty() && c.on_demand.coadd_roots.is_empty() && c.auth.tokens_file.is_none());
        // The documented [async_jobs] values are the defaults.
        let (a, d) = (&c.async_jobs, AsyncJobsConfig::default());
        assert_eq!(
            (a.max_jobs, a.max_jobs_per_owner, a.max_results_per_job, a.max_execution_secs, a.max_wait_secs),
            (d.max_jobs, d.max_jobs_per_owner, d.max_results_per_job, d.max_execution_secs, d.max_wait_secs)
        );
        assert_eq!(
            (a.default_destruction_secs, a.max_destruction_secs, a.max_disk_bytes, &a.jobs_dir),
            (d.default_destruction_secs, d.max_destruction_secs, d.max_disk_bytes, &d.jobs_dir)
        );
        let c = c.apply(Overrides { roots: vec!["/srv/hips".into()], ..Overrides::default() }).expect("valid");
        assert_eq!(c.roots, ["/srv/hips"]);
    }

    #[test]
    fn coadd_roots_resolve_to_absolute_real_paths_and_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = std::fs::canonicalize(dir.path()).expect("real");
        let got = resolve_coadd_roots(&[dir.path().to_string_lossy().into_owned(), "s3://b/c".into()]).expect("ok");
        assert_eq!(got[0], real.to_string_lossy());
        assert!(got.contains(&"s3://b/c".to_string()));
        let cwd = std::env::current_dir().expect("cwd");
        let rel = resolve_coadd_roots(&[".".into()]).expect("relative root");
        assert_eq!(rel[0], std::fs::canonicalize(&cwd).expect("real").to_string_lossy());
        let missing = dir.path().join("nope");
        let e = resolve_coadd_roots(&[missing.to_string_lossy().into_owned()])
            .expect_err("a missing root is refused")
            .to_string();
        assert!(e.contains("nope") && e.contains("coadd root"), "{e}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let e = Config::from_toml("[hips.x]\nacess = \"public\"\n", Path::new("t.toml"));
        assert!(e.is_err());
    }

    #[test]
    fn restricted_is_private() {
        let c = Config::from_toml("[hips.x]\naccess = \"restricted\"\nowner = \"al\"\n", Path::new("t")).expect("ok");
        let s = c.settings_for("x");
        assert_eq!(s.access, Access::Restricted);
        assert!(s.cache_control.starts_with("private"));
        assert_eq!(c.settings_for("y").access, Access::Public);
    }
}
