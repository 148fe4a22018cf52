//! Prometheus metrics kept in fixed arrays of atomics (no locks on the request path) and rendered as text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Route labels, in the order of the counter arrays.
pub const ROUTES: &[&str] =
    &["tile", "allsky", "properties", "moc", "meta", "hpxfinder", "hipslist", "health", "ready", "metrics", "other"];
const STATUSES: &[u16] = &[200, 204, 206, 301, 304, 400, 401, 403, 404, 405, 413, 414, 416, 500, 502, 503];
/// Latency bucket upper bounds in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// All counters of the server.
pub struct Metrics {
    requests: Vec<AtomicU64>,
    latency: Vec<AtomicU64>,
    latency_sum_us: Vec<AtomicU64>,
    latency_count: Vec<AtomicU64>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    cache_hit_bytes: AtomicU64,
    storage_errors: AtomicU64,
    in_flight: AtomicI64,
    connections: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        let n = |k: usize| (0..k).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Metrics {
            requests: n(ROUTES.len() * (STATUSES.len() + 1)),
            latency: n(ROUTES.len() * (BUCKETS.len() + 1)),
            latency_sum_us: n(ROUTES.len()),
            latency_count: n(ROUTES.len()),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            cache_hit_bytes: AtomicU64::new(0),
            storage_errors: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            connections: AtomicI64::new(0),
        }
    }
}

fn route_idx(route: &str) -> usize {
    ROUTES.iter().position(|r| *r == route).unwrap_or(ROUTES.len() - 1)
}

impl Metrics {
    /// Count a finished request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let r = route_idx(route);
        let s = STATUSES.iter().position(|x| *x == status).unwrap_or(STATUSES.len());
        self.requests[r * (STATUSES.len() + 1) + s].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS.iter().position(|x| secs <= *x).unwrap_or(BUCKETS.len());
        self.latency[r * (BUCKETS.len() + 1) + b].fetch_add(1, Relaxed);
        self.latency_sum_us[r].fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Relaxed);
        self.latency_count[r].fetch_add(1, Relaxed);
    }
    /// A cache hit serving `bytes`.
    pub fn cache_hit(&self, bytes: usize) {
        self.cache_hits.fetch_add(1, Relaxed);
        self.cache_hit_bytes.fetch_add(bytes as u64, Relaxed);
    }
    /// A cache miss (one storage read).
    pub fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Relaxed);
    }
    /// A failed or timed-out storage read.
    pub fn storage_error(&self) {
        self.storage_errors.fetch_add(1, Relaxed);
    }
    /// Request started (+1) or finished (-1).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Relaxed);
    }
    /// Connection opened (+1) or closed (-1).
    pub fn connections(&self, delta: i64) {
        self.connections.fetch_add(delta, Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    #[must_use]
    pub fn render(&self, cache_bytes: u64) -> String {
        let mut o = String::with_capacity(8192);
        o.push_str("# HELP hipsserve_requests_total HTTP requests by route and status.\n");
        o.push_str("# TYPE hipsserve_requests_total counter\n");
        for (ri, r) in ROUTES.iter().enumerate() {
            for si in 0..=STATUSES.len() {
                let v = self.requests[ri * (STATUSES.len() + 1) + si].load(Relaxed);
                if v > 0 {
                    let s = STATUSES.get(si).map_or_else(|| "other".to_string(), ToString::to_string);
                    let _ = writeln!(o, "hipsserve_requests_total{{route=\"{r}\",status=\"{s}\"}} {v}");
                }
            }
        }
        o.push_str("# HELP hipsserve_request_duration_seconds Request latency by route.\n");
        o.push_str("# TYPE hipsserve_request_duration_seconds histogram\n");
        for (ri, r) in ROUTES.iter().enumerate() {
            let count = self.latency_count[ri].load(Relaxed);
            if count == 0 {
                continue;
            }
            let mut cum = 0;
            for (bi, ub) in BUCKETS.iter().enumerate() {
                cum += self.latency[ri * (BUCKETS.len() + 1) + bi].load(Relaxed);
                let _ = writeln!(o, "hipsserve_request_duration_seconds_bucket{{route=\"{r}\",le=\"{ub}\"}} {cum}");
            }
            let _ = writeln!(o, "hipsserve_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {count}");
            let sum = self.latency_sum_us[ri].load(Relaxed) as f64 / 1e6;
            let _ = writeln!(o, "hipsserve_request_duration_seconds_sum{{route=\"{r}\"}} {sum}");
            let _ = writeln!(o, "hipsserve_request_duration_seconds_count{{route=\"{r}\"}} {count}");
        }
        let mut one = |name: &str, kind: &str, help: &str, v: String| {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        one("hipsserve_cache_hits_total", "counter", "Object cache hits.", self.cache_hits.load(Relaxed).to_string());
        one(
            "hipsserve_cache_misses_total",
            "counter",
            "Object cache misses.",
            self.cache_misses.load(Relaxed).to_string(),
        );
        one(
            "hipsserve_cache_hit_bytes_total",
            "counter",
            "Bytes served from the cache.",
            self.cache_hit_bytes.load(Relaxed).to_string(),
        );
        one("hipsserve_cache_bytes", "gauge", "Bytes held in the object cache.", cache_bytes.to_string());
        one(
            "hipsserve_storage_errors_total",
            "counter",
            "Failed or timed-out storage reads.",
            self.storage_errors.load(Relaxed).to_string(),
        );
        one(
            "hipsserve_in_flight_requests",
            "gauge",
            "Requests being served.",
            self.in_flight.load(Relaxed).to_string(),
        );
        one(
            "hipsserve_open_connections",
            "gauge",
            "Open client connections.",
            self.connections.load(Relaxed).to_string(),
        );
        o
    }
}
