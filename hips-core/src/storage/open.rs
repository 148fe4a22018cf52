//! Turning a location into an `object_store` client: local directories, and URLs through the backend builders with
//! the [`StoreSettings`]' options, timeouts and retries. Clients are shared: one per bucket or host and settings for
//! the life of the process, so opening a thousand coadds in one bucket opens one connection pool, not a thousand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::path::Path as ObjPath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig};

use super::asynch::Writes;
use super::{StoreError, StoreSettings};

/// Whether a string names an object-store URL rather than a local path (`file://` URLs are local paths).
#[must_use]
pub fn is_url(s: &str) -> bool {
    s.contains("://") && !s.starts_with("file://")
}

/// A client and its write limits.
type Client = (Arc<dyn ObjectStore>, Arc<Writes>);

/// The shared clients and their write limits, by base URL and settings.
type Clients = Mutex<HashMap<(String, StoreSettings), Client>>;
static CLIENTS: OnceLock<Clients> = OnceLock::new();

/// The client for `url` (one per scheme, bucket or host and settings), its write limits (shared as the client is)
/// and the key prefix the URL's path gives.
pub(super) fn client_for(location: &str, settings: &StoreSettings) -> Result<(Client, ObjPath), StoreError> {
    let open_err =
        |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Open { location: location.to_string(), source: e };
    let url = url::Url::parse(location).map_err(|e| open_err(Box::new(e)))?;
    let (scheme, path) = ObjectStoreScheme::parse(&url).map_err(|_| {
        open_err(
            format!(
                "unsupported URL scheme {:?}: use a local directory, file://, s3://, gs://, az://, http(s):// or \
                 memory://",
                url.scheme()
            )
            .into(),
        )
    })?;
    let prefix = ObjPath::parse(path).map_err(|e| open_err(Box::new(e)))?;
    // What one client serves: everything before the path (scheme, bucket or host, port).
    let base = url[..url::Position::BeforePath].to_string();
    if scheme == ObjectStoreScheme::Memory {
        // Every `memory://` is a new, empty store (nothing to share, and tests rely on the isolation).
        return Ok(((Arc::new(object_store::memory::InMemory::new()), Arc::new(Writes::new(settings))), prefix));
    }
    let clients = CLIENTS.get_or_init(Clients::default);
    let key = (base, settings.clone());
    if let Some((c, w)) = clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
        return Ok(((c.clone(), w.clone()), prefix));
    }
    let client = build(scheme, &key.0, settings).map_err(|e| open_err(Box::new(e)))?;
    let (client, writes) = clients
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| (client, Arc::new(Writes::new(settings))))
        .clone();
    Ok(((client, writes), prefix))
}

/// A new client for the store at `base` (a URL without path). Its retries are object_store's: exponential backoff
/// with decorrelated jitter (100 ms doubling up to 15 s) on 5xx answers, connection errors and timeouts of idempotent
/// requests, at most `max_retries` times and never after `retry_timeout`.
fn build(
    scheme: ObjectStoreScheme,
    base: &str,
    settings: &StoreSettings,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    let retry = RetryConfig {
        max_retries: settings.max_retries,
        retry_timeout: settings.retry_timeout,
        ..RetryConfig::default()
    };
    let timeouts = [
        (ClientConfigKey::Timeout, humantime(settings.request_timeout)),
        (ClientConfigKey::ConnectTimeout, humantime(settings.connect_timeout)),
    ];
    // Options named as environment variables, lower-cased as the builders parse them; unknown ones are skipped. The
    // generic HTTP client options also answer to their prefixed names (`OBJECT_STORE_ALLOW_HTTP`, `AWS_ALLOW_HTTP`),
    // the only way to give them to the plain-HTTP backend.
    let opts = || {
        settings.options.iter().flat_map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let bare = ["object_store_", "aws_", "google_", "azure_"]
                .iter()
                .find_map(|p| k.strip_prefix(p))
                .map(str::to_string);
            std::iter::once((k, v.clone())).chain(bare.map(|b| (b, v.clone())))
        })
    };
    macro_rules! configured {
        ($builder:expr, $client_key:path) => {{
            let mut b = $builder.with_url(base).with_retry(retry);
            for (k, v) in &timeouts {
                b = b.with_config($client_key(*k), v.clone());
            }
            for (k, v) in opts() {
                if let Ok(key) = k.parse() {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(b.build()?) as Arc<dyn ObjectStore>
        }};
    }
    Ok(match scheme {
        ObjectStoreScheme::AmazonS3 => {
            configured!(object_store::aws::AmazonS3Builder::new(), object_store::aws::AmazonS3ConfigKey::Client)
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            configured!(object_store::gcp::GoogleCloudStorageBuilder::new(), object_store::gcp::GoogleConfigKey::Client)
        }
        ObjectStoreScheme::MicrosoftAzure => {
            configured!(object_store::azure::MicrosoftAzureBuilder::new(), object_store::azure::AzureConfigKey::Client)
        }
        ObjectStoreScheme::Http => {
            let mut b = object_store::http::HttpBuilder::new().with_url(base).with_retry(retry);
            for (k, v) in timeouts {
                b = b.with_config(k, v);
            }
            for (k, v) in opts() {
                if let Ok(key) = k.parse::<ClientConfigKey>() {
                    b = b.with_config(key, v);
                }
            }
            Arc::new(b.build()?)
        }
        ObjectStoreScheme::Memory => Arc::new(object_store::memory::InMemory::new()),
        other => {
            return Err(object_store::Error::NotSupported {
                source: format!("storage scheme {other:?} is not supported here").into(),
            })
        }
    })
}

/// A duration as the builders parse it (`humantime`: "30s", "1500ms").
fn humantime(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}
