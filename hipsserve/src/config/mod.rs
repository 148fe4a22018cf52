//! Server configuration: the TOML file layout, its defaults, and the layering file -> environment -> command line.
//!
//! Every key is documented in `config/hipsserve.toml`. Unknown keys are rejected (a typo in an access rule must not
//! silently make a HiPS public). Environment variables (`HIPSSERVE_*`) override the file; command-line flags that were
//! given override both (the binary applies them through [`Overrides`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod sections;

pub use sections::{
    Access, AsyncJobsConfig, AuthConfig, CacheConfig, CorsConfig, HipsSettings, Limits, LogConfig, OnDemandConfig,
    ReleaseServeConfig, ResolvedSettings,
};

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
