//! Prometheus metrics kept in fixed arrays of atomics, one set per thread (no locks and no shared cache lines on the
//! request path), summed and rendered as text.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Route labels, in the order of the counter arrays.
pub const ROUTES: &[&str] = &[
    "tile",
    "allsky",
    "properties",
    "moc",
    "meta",
    "hpxfinder",
    "hipslist",
    "progenitors",
    "soda",
    "health",
    "ready",
    "metrics",
    "other",
];
const STATUSES: &[u16] = &[200, 204, 206, 301, 304, 400, 401, 403, 404, 405, 413, 414, 416, 500, 502, 503];
/// Latency bucket upper bounds in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// All counters of the server, kept per thread ([`Shard`]) and summed when rendered: the request path only touches
/// counters of its own thread, so the workers never contend on the cache lines of shared counters.
pub struct Metrics {
    id: u64,
    shards: Mutex<Vec<Arc<Shard>>>,
}

/// The id and the number of thread shards (the counters are read with [`Metrics::render`]).
impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shards = self.shards.lock().map_or(0, |s| s.len());
        f.debug_struct("Metrics").field("id", &self.id).field("shards", &shards).finish()
    }
}

/// One thread's counters. Only that thread writes them (a load and a store, no atomic read-modify-write); any thread
/// may read them.
struct Shard {
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

fn add(c: &AtomicU64, v: u64) {
    c.store(c.load(Relaxed).wrapping_add(v), Relaxed);
}

fn add_i(c: &AtomicI64, v: i64) {
    c.store(c.load(Relaxed).wrapping_add(v), Relaxed);
}

impl Default for Shard {
    fn default() -> Self {
        let n = |k: usize| (0..k).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Shard {
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

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's shard of each [`Metrics`] it has counted into (usually one), by [`Metrics::id`].
    static SHARDS: RefCell<Vec<(u64, Arc<Shard>)>> = const { RefCell::new(Vec::new()) };
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics { id: NEXT_ID.fetch_add(1, Relaxed), shards: Mutex::new(Vec::new()) }
    }
}

fn route_idx(route: &str) -> usize {
    ROUTES.iter().position(|r| *r == route).unwrap_or(ROUTES.len() - 1)
}

impl Metrics {
    /// Run `f` on this thread's shard (created and registered on first use).
    fn with<R>(&self, f: impl FnOnce(&Shard) -> R) -> R {
        SHARDS.with(|s| {
            if let Ok(s) = s.try_borrow() {
                if let Some((_, sh)) = s.iter().find(|(id, _)| *id == self.id) {
                    return f(sh);
                }
            }
            let sh = Arc::new(Shard::default());
            if let Ok(mut all) = self.shards.lock() {
                all.push(sh.clone());
            }
            if let Ok(mut s) = s.try_borrow_mut() {
                s.push((self.id, sh.clone()));
            }
            f(&sh)
        })
    }

    fn sum(&self, f: impl Fn(&Shard) -> u64) -> u64 {
        self.shards.lock().map_or(0, |all| all.iter().map(|s| f(s)).fold(0, u64::wrapping_add))
    }

    fn sum_i(&self, f: impl Fn(&Shard) -> i64) -> i64 {
        self.shards.lock().map_or(0, |all| all.iter().map(|s| f(s)).fold(0, i64::wrapping_add))
    }

    /// Count a finished request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let r = route_idx(route);
        let s = STATUSES.iter().position(|x| *x == status).unwrap_or(STATUSES.len());
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS.iter().position(|x| secs <= *x).unwrap_or(BUCKETS.len());
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.with(|sh| {
            add(&sh.requests[r * (STATUSES.len() + 1) + s], 1);
            add(&sh.latency[r * (BUCKETS.len() + 1) + b], 1);
            add(&sh.latency_sum_us[r], us);
            add(&sh.latency_count[r], 1);
        });
    }
    /// A cache hit serving `bytes`.
    pub fn cache_hit(&self, bytes: usize) {
        self.with(|sh| {
            add(&sh.cache_hits, 1);
            add(&sh.cache_hit_bytes, bytes as u64);
        });
    }
    /// A cache miss (one storage read).
    pub fn cache_miss(&self) {
        self.with(|sh| add(&sh.cache_misses, 1));
    }
    /// A failed or timed-out storage read.
    pub fn storage_error(&self) {
        self.with(|sh| add(&sh.storage_errors, 1));
    }
    /// Request started (+1) or finished (-1).
    pub fn in_flight(&self, delta: i64) {
        self.with(|sh| add_i(&sh.in_flight, delta));
    }
    /// Connection opened (+1) or closed (-1).
    pub fn connections(&self, delta: i64) {
        self.with(|sh| add_i(&sh.connections, delta));
    }

    /// Prometheus text exposition format 0.0.4, with the bytes held in the cache and outside it (by bodies counted
    /// against `limits.max_uncached_bytes`).
    #[must_use]
    pub fn render(&self, cache_bytes: u64, uncached_bytes: u64) -> String {
        let mut o = String::with_capacity(8192);
        o.push_str("# HELP hipsserve_requests_total HTTP requests by route and status.\n");
        o.push_str("# TYPE hipsserve_requests_total counter\n");
        for (ri, r) in ROUTES.iter().enumerate() {
            for si in 0..=STATUSES.len() {
                let v = self.sum(|sh| sh.requests[ri * (STATUSES.len() + 1) + si].load(Relaxed));
                if v > 0 {
                    let s = STATUSES.get(si).map_or_else(|| "other".to_string(), ToString::to_string);
                    let _ = writeln!(o, "hipsserve_requests_total{{route=\"{r}\",status=\"{s}\"}} {v}");
                }
            }
        }
        o.push_str("# HELP hipsserve_request_duration_seconds Request latency by route.\n");
        o.push_str("# TYPE hipsserve_request_duration_seconds histogram\n");
        for (ri, r) in ROUTES.iter().enumerate() {
            let count = self.sum(|sh| sh.latency_count[ri].load(Relaxed));
            if count == 0 {
                continue;
            }
            let mut cum = 0;
            for (bi, ub) in BUCKETS.iter().enumerate() {
                cum += self.sum(|sh| sh.latency[ri * (BUCKETS.len() + 1) + bi].load(Relaxed));
                let _ = writeln!(o, "hipsserve_request_duration_seconds_bucket{{route=\"{r}\",le=\"{ub}\"}} {cum}");
            }
            let _ = writeln!(o, "hipsserve_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {count}");
            let sum = self.sum(|sh| sh.latency_sum_us[ri].load(Relaxed)) as f64 / 1e6;
            let _ = writeln!(o, "hipsserve_request_duration_seconds_sum{{route=\"{r}\"}} {sum}");
            let _ = writeln!(o, "hipsserve_request_duration_seconds_count{{route=\"{r}\"}} {count}");
        }
        let mut one = |name: &str, kind: &str, help: &str, v: String| {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        one(
            "hipsserve_cache_hits_total",
            "counter",
            "Object cache hits.",
            self.sum(|sh| sh.cache_hits.load(Relaxed)).to_string(),
        );
        one(
            "hipsserve_cache_misses_total",
            "counter",
            "Object cache misses.",
            self.sum(|sh| sh.cache_misses.load(Relaxed)).to_string(),
        );
        one(
            "hipsserve_cache_hit_bytes_total",
            "counter",
            "Bytes served from the cache.",
            self.sum(|sh| sh.cache_hit_bytes.load(Relaxed)).to_string(),
        );
        one("hipsserve_cache_bytes", "gauge", "Bytes held in the object cache.", cache_bytes.to_string());
        one(
            "hipsserve_uncached_bytes",
            "gauge",
            "Bytes reserved by bodies held outside the cache (limit: limits.max_uncached_bytes).",
            uncached_bytes.to_string(),
        );
        one(
            "hipsserve_storage_errors_total",
            "counter",
            "Failed or timed-out storage reads.",
            self.sum(|sh| sh.storage_errors.load(Relaxed)).to_string(),
        );
        one(
            "hipsserve_in_flight_requests",
            "gauge",
            "Requests being served.",
            self.sum_i(|sh| sh.in_flight.load(Relaxed)).to_string(),
        );
        one(
            "hipsserve_open_connections",
            "gauge",
            "Open client connections.",
            self.sum_i(|sh| sh.connections.load(Relaxed)).to_string(),
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_several_threads_are_summed() {
        let m = Arc::new(Metrics::default());
        let other = Metrics::default();
        std::thread::scope(|sc| {
            for _ in 0..3 {
                let m = m.clone();
                sc.spawn(move || {
                    for _ in 0..100 {
                        m.in_flight(1);
                        m.record("tile", 200, Duration::from_micros(300));
                        m.cache_hit(10);
                        m.in_flight(-1);
                    }
                });
            }
        });
        other.record("tile", 404, Duration::from_micros(1));
        m.in_flight(1);
        let text = m.render(0, 0);
        assert!(text.contains("hipsserve_requests_total{route=\"tile\",status=\"200\"} 300\n"), "{text}");
        assert!(!text.contains("status=\"404\""), "another Metrics' counts leak in: {text}");
        assert!(text.contains("hipsserve_request_duration_seconds_bucket{route=\"tile\",le=\"0.0005\"} 300\n"));
        assert!(text.contains("hipsserve_request_duration_seconds_count{route=\"tile\"} 300\n"));
        assert!(text.contains("hipsserve_cache_hit_bytes_total 3000\n"));
        assert!(text.contains("hipsserve_in_flight_requests 1\n"), "{text}");
    }
}
