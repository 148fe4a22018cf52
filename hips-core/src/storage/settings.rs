//! Storage settings: backend options (the `AWS_*`, `GOOGLE_*`, `AZURE_*` variables), request and connect timeouts,
//! retries (object_store's `RetryConfig`: exponential backoff with decorrelated jitter on 5xx, connection errors and
//! timeouts of idempotent requests), and writes (PUTs in flight at once, multipart threshold and part size), read
//! from the environment once per process (or set once by a caller: `hipsgen release` from its `[store]` section) or
//! built by a caller (tests, a server's configuration).

use std::sync::OnceLock;
use std::time::Duration;

/// How stores are opened: backend options and the HTTP client's timeouts and retries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreSettings {
    /// Backend options as `(name, value)` pairs with environment-variable names (`AWS_ENDPOINT_URL`,
    /// `AWS_ALLOW_HTTP`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...); names are case-insensitive and
    /// those a backend does not know are ignored by it.
    pub options: Vec<(String, String)>,
    /// Timeout of one HTTP request to an object store (`object_store`'s default: 30 s).
    pub request_timeout: Duration,
    /// Timeout of establishing a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Retries of a failed idempotent request, with exponential backoff (default 10).
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt (default 3 min).
    pub retry_timeout: Duration,
    /// PUT requests (whole objects and multipart parts) in flight at once on one bucket or host, over every store
    /// of the process opened on it with these settings (default 8; `HIPSGEN_STORE_WRITE_CONCURRENCY`).
    pub write_concurrency: usize,
    /// Objects larger than this many bytes go up by multipart upload (default 16 MiB;
    /// `HIPSGEN_STORE_MULTIPART_THRESHOLD`). Local directories write every object whole.
    pub multipart_threshold: usize,
    /// Bytes per part of a multipart upload (default 8 MiB, at least 5 MiB as S3 requires of every part but the
    /// last; `HIPSGEN_STORE_MULTIPART_PART_SIZE`).
    pub multipart_part_size: usize,
}

/// The smallest part S3 accepts (but for the last part of an upload).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            options: Vec::new(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            write_concurrency: 8,
            multipart_threshold: 16 * 1024 * 1024,
            multipart_part_size: 8 * 1024 * 1024,
        }
    }
}

/// Environment variables that carry backend options.
const OPTION_PREFIXES: [&str; 4] = ["AWS_", "GOOGLE_", "AZURE_", "OBJECT_STORE_"];

impl StoreSettings {
    /// The defaults with the backend options found in `vars` (pairs whose names start with `AWS_`, `GOOGLE_`,
    /// `AZURE_` or `OBJECT_STORE_`) and the write settings `HIPSGEN_STORE_WRITE_CONCURRENCY`,
    /// `HIPSGEN_STORE_MULTIPART_THRESHOLD`, `HIPSGEN_STORE_MULTIPART_PART_SIZE` (whole numbers; one that does not
    /// parse is ignored with a warning, and [`StoreSettings::checked`] bounds them); the others are ignored.
    #[must_use]
    pub fn from_vars<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> StoreSettings {
        let mut s = StoreSettings::default();
        for (k, v) in vars.into_iter().map(|(k, v)| (k.into(), v.into())) {
            let field = match k.as_str() {
                "HIPSGEN_STORE_WRITE_CONCURRENCY" => &mut s.write_concurrency,
                "HIPSGEN_STORE_MULTIPART_THRESHOLD" => &mut s.multipart_threshold,
                "HIPSGEN_STORE_MULTIPART_PART_SIZE" => &mut s.multipart_part_size,
                _ => {
                    if OPTION_PREFIXES.iter().any(|p| k.starts_with(p)) {
                        s.options.push((k, v));
                    }
                    continue;
                }
            };
            match v.trim().parse() {
                Ok(n) => *field = n,
                Err(e) => tracing::warn!("{k}={v:?}: {e}; ignored"),
            }
        }
        s.checked()
    }

    /// These settings with the write settings brought into range: at least one PUT in flight, parts of at least
    /// [`MIN_PART_SIZE`].
    #[must_use]
    pub fn checked(mut self) -> StoreSettings {
        self.write_concurrency = self.write_concurrency.max(1);
        self.multipart_part_size = self.multipart_part_size.max(MIN_PART_SIZE);
        self
    }

    /// The settings of this process: those given to [`StoreSettings::init_process`] before any store was opened,
    /// else [`StoreSettings::from_vars`] of its environment, read once.
    #[must_use]
    pub fn process() -> &'static StoreSettings {
        PROCESS.get_or_init(|| StoreSettings::from_vars(std::env::vars()))
    }

    /// Set the settings of this process (`hipsgen release` does, from its configuration, before opening a store).
    /// Returns `false` (and changes nothing) when they were already set or read.
    #[must_use]
    pub fn init_process(settings: StoreSettings) -> bool {
        PROCESS.set(settings.checked()).is_ok()
    }
}

static PROCESS: OnceLock<StoreSettings> = OnceLock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_settings_from_variables() {
        let s = StoreSettings::from_vars([
            ("HIPSGEN_STORE_WRITE_CONCURRENCY", "3"),
            ("HIPSGEN_STORE_MULTIPART_THRESHOLD", "1000"),
            ("HIPSGEN_STORE_MULTIPART_PART_SIZE", "10"),
            ("AWS_REGION", "x"),
            ("HOME", "/"),
        ]);
        assert_eq!((s.write_concurrency, s.multipart_threshold, s.multipart_part_size), (3, 1000, MIN_PART_SIZE));
        assert_eq!(s.options, vec![("AWS_REGION".to_string(), "x".to_string())]);
        let s = StoreSettings::from_vars([("HIPSGEN_STORE_WRITE_CONCURRENCY", "many")]);
        assert_eq!(s.write_concurrency, StoreSettings::default().write_concurrency);
    }
}
