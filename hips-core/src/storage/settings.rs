//! Storage settings: backend options (the `AWS_*`, `GOOGLE_*`, `AZURE_*` variables), request and connect timeouts and
//! retries, read from the environment once per process or built by a caller (tests, a server's configuration).

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
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            options: Vec::new(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
        }
    }
}

/// Environment variables that carry backend options.
const OPTION_PREFIXES: [&str; 4] = ["AWS_", "GOOGLE_", "AZURE_", "OBJECT_STORE_"];

impl StoreSettings {
    /// The defaults with the backend options found in `vars` (pairs whose names start with `AWS_`, `GOOGLE_`,
    /// `AZURE_` or `OBJECT_STORE_`; the others are ignored).
    #[must_use]
    pub fn from_vars<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> StoreSettings {
        let options = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| OPTION_PREFIXES.iter().any(|p| k.starts_with(p)))
            .collect();
        StoreSettings { options, ..StoreSettings::default() }
    }

    /// The settings of this process: [`StoreSettings::from_vars`] of its environment, read once.
    #[must_use]
    pub fn process() -> &'static StoreSettings {
        static SETTINGS: OnceLock<StoreSettings> = OnceLock::new();
        SETTINGS.get_or_init(|| StoreSettings::from_vars(std::env::vars()))
    }
}
