//! Publish and roll back: make a finalized release current by conditional writes of two small objects at the top of
//! `out`: `hipslist` (the release's own list, its hips_release_date set to the time of publishing), then `current`
//! (the release id). Both are compare-and-swap on the versions read at the start (create-only the first time), under
//! the lease `publish.lock` (`lease`: create-only, with an owner and an expiry), so two publishers cannot interleave:
//! the second one fails and changes nothing. (A reader may see the new `hipslist` a moment before the new `current`.) Nothing under `<id>/` is ever written
//! here, so a published release is never modified; a rollback is a publish of an older release.

use std::fmt::Write as _;

use std::time::Duration;

use hips_core::storage::{Store, Swap};

pub use super::lease::LEASE;

use super::finalize::parse_properties;
use super::ReleaseError;

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The release now current.
    pub id: String,
    /// The release that was current before (`None` the first time).
    pub previous: Option<String>,
    /// The HiPS of the release (their creator_did).
    pub creator_dids: Vec<String>,
}

/// The release's hipslist with every entry's `hips_release_date` set to `date`.
fn dated(list: &str, date: &str) -> String {
    let mut out = String::new();
    let mut in_entry = false;
    let mut dated = false;
    let close = |out: &mut String, in_entry: bool, dated: bool| {
        if in_entry && !dated {
            let _ = writeln!(out, "{:<20} = {date}", "hips_release_date");
        }
    };
    for line in list.lines() {
        let blank = line.trim().is_empty();
        if blank || line.trim_start().starts_with('#') {
            close(&mut out, in_entry, dated);
            in_entry = false;
            dated = false;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        in_entry = true;
        if line.split_once('=').is_some_and(|(k, _)| k.trim() == "hips_release_date") {
            let _ = writeln!(out, "{:<20} = {date}", "hips_release_date");
            dated = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    close(&mut out, in_entry, dated);
    out
}

/// How to take the publish lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOptions {
    /// Lifetime of our lease (`release.publish_lease_ttl`): after it, another publisher may take it over.
    pub lease_ttl: Duration,
    /// Take over the lease whoever holds it (`--break-lock`: the operator knows no publisher runs).
    pub break_lock: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { lease_ttl: super::lease::DEFAULT_TTL, break_lock: false }
    }
}

/// Swap `hipslist`, then `current`, each compare-and-swap on the version read first (the lease checked before each);
/// returns the previous release.
fn swap_both(store: &Store, id: &str, top: String, lease: &super::lease::Held) -> Result<Option<String>, ReleaseError> {
    // Both versions are read before either write: a publisher that started from other versions fails its swap.
    let current = store.get_versioned("current")?;
    let listed = store.get_versioned("hipslist")?;
    let previous = current.as_ref().map(|(b, _)| String::from_utf8_lossy(b).trim().to_string());
    lease.check(id)?;
    if store.swap("hipslist", top, listed.as_ref().map(|(_, v)| v))? == Swap::Conflict {
        return Err(ReleaseError::PublishConflict { key: "hipslist".into(), id: id.to_string() });
    }
    lease.check(id)?;
    if store.swap("current", format!("{id}\n"), current.as_ref().map(|(_, v)| v))? == Swap::Conflict {
        return Err(ReleaseError::PublishConflict { key: "current".into(), id: id.to_string() });
    }
    Ok(previous)
}

/// Make release `id` (finalized under `store`, the release's `out`) the current one, with the default lease options.
///
/// # Errors
/// As [`publish_with`].
pub fn publish(store: &Store, id: &str) -> Result<Published, ReleaseError> {
    publish_with(store, id, PublishOptions::default())
}

/// Make release `id` (finalized under `store`, the release's `out`) the current one.
///
/// # Errors
/// [`ReleaseError::NotReady`] when the release is not finalized; [`ReleaseError::PublishLeaseHeld`] when a live
/// lease of another publisher is in the way; [`ReleaseError::PublishConflict`] when another publisher swapped
/// `current` or `hipslist` since we read them or took the lease first; storage failures.
pub fn publish_with(store: &Store, id: &str, opts: PublishOptions) -> Result<Published, ReleaseError> {
    if !store.exists(&format!("{id}/manifest.json"))? {
        return Err(ReleaseError::NotReady {
            what: format!("release {id}"),
            message: format!("{id}/manifest.json is missing: finalize the release before publishing it"),
        });
    }
    let list = store.get(&format!("{id}/hipslist"))?.ok_or_else(|| ReleaseError::NotReady {
        what: format!("release {id}"),
        message: format!("{id}/hipslist is missing"),
    })?;
    let list = String::from_utf8_lossy(&list).into_owned();
    let creator_dids =
        parse_properties(&list).into_iter().filter(|(k, _)| k == "creator_did").map(|(_, v)| v).collect();
    let top = dated(&list, &crate::finalize::now_hips_date());
    // One publisher at a time: a lease. Two objects cannot be swapped in one atomic write, and with a
    // compare-and-swap on each alone two publishers could leave `current` naming one release and `hipslist` the other.
    let lease = super::lease::acquire(store, id, opts.lease_ttl, opts.break_lock)?;
    let swapped = swap_both(store, id, top, &lease);
    lease.release()?;
    let previous = swapped?;
    Ok(Published { id: id.to_string(), previous, creator_dids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_gets_the_new_date() {
        let list = "# list\n\ncreator_did = a\nhips_release_date = 2020-01-01T00:00Z\n\ncreator_did = b\n";
        let d = dated(list, "2030-02-03T04:05Z");
        assert_eq!(d.matches("hips_release_date    = 2030-02-03T04:05Z").count(), 2, "{d}");
        assert!(!d.contains("2020-01-01"), "{d}");
    }
}
