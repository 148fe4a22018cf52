//! The publish lease `<out>/publish.lock`: one publisher at a time swaps `current` and `hipslist`. The lease names
//! its owner (host, process, a per-process nonce), the release and an expiry (the time it was taken plus
//! `release.publish_lease_ttl`), so a publisher killed while holding it does not block publishing for ever: a later
//! publisher takes over an expired lease, and `hipsgen release publish --break-lock` takes over any lease.
//!
//! Taking a lease is a create-only write; taking over a lease is a compare-and-swap on the version of the lease that
//! was read (`If-Match` on object stores; on a local directory the new lease is renamed into place under the short
//! swap lock of `hips_core::storage`), so of two publishers that find the same expired lease only one gets it.
//! Releasing deletes the lease only when it still holds our text. The expiry is read against the taker's clock:
//! the TTL must be much longer than a publish (a few small requests) plus the clock skew between publishers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hips_core::storage::{Store, Swap};

use super::ReleaseError;

/// The lease object, at the top of `out`.
pub const LEASE: &str = "publish.lock";

/// The default lifetime of a lease (`release.publish_lease_ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// What a lease says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// `<host>:<pid>:<nonce>` of the publisher.
    pub owner: String,
    /// The release being published.
    pub release: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map_or_else(|| "unknown-host".to_string(), |h| h.trim().to_string())
}

impl Lease {
    /// A lease of this process for `release`, expiring `ttl` from now.
    #[must_use]
    pub fn new(release: &str, ttl: Duration) -> Lease {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let owner = format!("{}:{}:{nanos:09}", host(), std::process::id());
        Lease { owner, release: release.to_string(), expires: unix_now().saturating_add(ttl.as_secs()) }
    }

    /// The lease's text (`key = value` lines).
    #[must_use]
    pub fn to_text(&self) -> String {
        let at = chrono::DateTime::from_timestamp(i64::try_from(self.expires).unwrap_or(i64::MAX), 0)
            .map_or_else(String::new, |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        format!("owner = {}\nrelease = {}\nexpires = {} ({at})\n", self.owner, self.release, self.expires)
    }

    /// Parse a lease's text; `None` when it is not one (e.g. a lease of an older hipsgen, without expiry).
    #[must_use]
    pub fn parse(text: &str) -> Option<Lease> {
        let field = |name: &str| {
            text.lines().find_map(|l| l.split_once(" = ").filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim()))
        };
        let expires = field("expires")?.split_whitespace().next()?.parse().ok()?;
        Some(Lease { owner: field("owner")?.to_string(), release: field("release")?.to_string(), expires })
    }

    /// Whether the lease has expired by this machine's clock.
    #[must_use]
    pub fn expired(&self) -> bool {
        unix_now() > self.expires
    }
}

/// A lease we hold; [`Held::release`] gives it back.
#[derive(Debug)]
pub struct Held<'a> {
    store: &'a Store,
    text: String,
    /// The lease taken over (expired, or broken by `--break-lock`), if any.
    pub took_over: Option<String>,
}

fn held_error(id: &str, text: &str, why: &str) -> ReleaseError {
    ReleaseError::PublishLeaseHeld { id: id.to_string(), lease: text.trim().replace('\n', "; "), why: why.to_string() }
}

/// Take the lease for publishing `id`: create it, or take over an expired one (any one with `break_lock`).
///
/// # Errors
/// [`ReleaseError::PublishLeaseHeld`] when a live lease is in the way, [`ReleaseError::PublishConflict`] when another
/// publisher took over the same expired lease first; storage failures.
pub fn acquire<'a>(store: &'a Store, id: &str, ttl: Duration, break_lock: bool) -> Result<Held<'a>, ReleaseError> {
    let ours = Lease::new(id, ttl).to_text();
    if break_lock {
        // The swap lock of a local directory (held for one rename) of a publisher killed in that instant.
        let swap_lock = format!("{LEASE}.lock");
        if store.exists(&swap_lock)? {
            store.delete(&swap_lock)?;
        }
    }
    // The lease may be released between our create and our read: then try to create it again.
    for _ in 0..3 {
        if store.put_create(LEASE, ours.clone())? == Swap::Written {
            return Ok(Held { store, text: ours, took_over: None });
        }
        let Some((bytes, version)) = store.get_versioned(LEASE)? else { continue };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match Lease::parse(&text) {
            _ if break_lock => {}
            Some(l) if l.expired() => {}
            Some(_) => return Err(held_error(id, &text, "it has not expired")),
            None => return Err(held_error(id, &text, "it has no expiry (an older hipsgen's lease)")),
        }
        if store.swap(LEASE, ours.clone(), Some(&version))? == Swap::Written {
            tracing::warn!("{LEASE}: took over the lease {:?}", text.trim());
            return Ok(Held { store, text: ours, took_over: Some(text) });
        }
        return Err(ReleaseError::PublishConflict { key: LEASE.into(), id: id.to_string() });
    }
    Err(ReleaseError::PublishConflict { key: LEASE.into(), id: id.to_string() })
}

impl Held<'_> {
    /// Check that the lease is still ours (not taken over after expiring); call before each swap.
    ///
    /// # Errors
    /// [`ReleaseError::PublishConflict`] when another publisher holds the lease now; storage failures.
    pub fn check(&self, id: &str) -> Result<(), ReleaseError> {
        match self.store.get(LEASE)? {
            Some(b) if b == self.text.as_bytes() => Ok(()),
            _ => Err(ReleaseError::PublishConflict { key: LEASE.into(), id: id.to_string() }),
        }
    }

    /// Give the lease back: delete it if it still holds our text.
    ///
    /// # Errors
    /// Storage failures.
    pub fn release(self) -> Result<(), ReleaseError> {
        if self.store.get(LEASE)?.is_some_and(|b| b == self.text.as_bytes()) {
            self.store.delete(LEASE)?;
        } else {
            tracing::warn!("{LEASE}: our lease was taken over before we released it");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_expiry_is_read() {
        let l = Lease::new("dr1", Duration::from_secs(60));
        assert_eq!(Lease::parse(&l.to_text()), Some(l.clone()));
        assert!(!l.expired());
        assert!(Lease { expires: 1, ..l }.expired());
        assert_eq!(Lease::parse("dr1 pid 12 at 2026-01-01T00:00Z\n"), None);
    }
}
