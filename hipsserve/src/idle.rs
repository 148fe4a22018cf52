//! Idle keep-alive connections that give way to new clients when the connection limit is reached.
//!
//! Every fast-path connection registers once (one lock at its start and end); between requests it marks itself idle
//! with the time it began waiting (one atomic store) and clears the mark when bytes arrive (one atomic swap), so the
//! hot path takes no lock. Only an accept that finds no connection permit scans the set, under its lock, and tells
//! the connection idle the longest to close ([`IdleSet::reclaim`]); the connection sees it as it sees shutdown (the
//! driver's stop future), closing at once when idle or after the request it is reading.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::Notify;

/// `since` of a busy connection.
const BUSY: u64 = 0;
/// `since` of a connection told to close.
const RECLAIMED: u64 = u64::MAX;

/// One connection's place in the [`IdleSet`].
#[derive(Debug, Default)]
pub struct Idle {
    /// Microseconds (plus one) since the process's base instant when it became idle; [`BUSY`] or [`RECLAIMED`].
    since: AtomicU64,
    /// Woken when reclaimed.
    notify: Notify,
}

impl Idle {
    /// The connection waits for its next request from now on.
    pub fn mark(&self, now: Instant) {
        let us = u64::try_from(now.saturating_duration_since(base()).as_micros()).unwrap_or(RECLAIMED - 1);
        let _ = self.since.compare_exchange(
            BUSY,
            us.saturating_add(1).min(RECLAIMED - 1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The connection got bytes: not idle any more (unless already reclaimed, which stays).
    pub fn clear(&self) {
        let cur = self.since.load(Ordering::Relaxed);
        if cur != BUSY && cur != RECLAIMED {
            let _ = self.since.compare_exchange(cur, BUSY, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// Resolves when this connection is reclaimed.
    pub async fn reclaimed(&self) {
        loop {
            let notified = self.notify.notified();
            if self.since.load(Ordering::Acquire) == RECLAIMED {
                return;
            }
            notified.await;
        }
    }
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// The registered connections of a server (shared by its workers).
#[derive(Debug, Default)]
pub struct IdleSet {
    conns: Mutex<HashMap<u64, Arc<Idle>>>,
    next: AtomicU64,
}

/// A registration, removed on drop.
#[derive(Debug)]
pub struct Registered<'a> {
    set: &'a IdleSet,
    id: u64,
    /// The connection's entry.
    pub idle: Arc<Idle>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.set.conns.lock() {
            m.remove(&self.id);
        }
    }
}

impl IdleSet {
    /// Register a connection.
    pub fn register(&self) -> Registered<'_> {
        let _ = base();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let idle = Arc::new(Idle::default());
        if let Ok(mut m) = self.conns.lock() {
            m.insert(id, idle.clone());
        }
        Registered { set: self, id, idle }
    }

    /// Tell the connection idle the longest to close; whether there was one.
    pub fn reclaim(&self) -> bool {
        let Ok(m) = self.conns.lock() else { return false };
        let oldest = m
            .values()
            .filter_map(|c| {
                let s = c.since.load(Ordering::Relaxed);
                (s != BUSY && s != RECLAIMED).then_some((s, c))
            })
            .min_by_key(|(s, _)| *s);
        let Some((s, c)) = oldest else { return false };
        if c.since.compare_exchange(s, RECLAIMED, Ordering::Release, Ordering::Relaxed).is_err() {
            return false;
        }
        c.notify.notify_one();
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_connection_idle_longest_is_reclaimed_and_busy_ones_never() {
        let set = IdleSet::default();
        let (a, b, c) = (set.register(), set.register(), set.register());
        let t = Instant::now();
        b.idle.mark(t);
        a.idle.mark(t + Duration::from_millis(5));
        assert!(set.reclaim(), "b is idle");
        tokio::time::timeout(Duration::from_secs(1), b.idle.reclaimed()).await.unwrap();
        a.idle.clear();
        assert!(!set.reclaim(), "a got a request, c never went idle, b is already reclaimed");
        drop(c);
        assert_eq!(set.conns.lock().unwrap().len(), 2);
    }
}
