//! The `/hipslist` document: the HiPS-node list of the public, listed HiPS, as registries harvest it.

use std::fmt::Write as _;

use super::Hips;
use crate::config::Access;

/// Build the `/hipslist` document: one properties record per listed public HiPS, separated by blank lines, with
/// `hips_service_url` set from the public URL and the mandatory registry keys present.
#[must_use]
pub fn hipslist(hips: &[Hips], public_url: Option<&str>, node_did: &str) -> String {
    let mut out = String::new();
    for h in hips.iter().filter(|h| h.settings.access == Access::Public && h.settings.listed) {
        let mut rec = h.properties.clone();
        if let Some(u) = public_url {
            rec.set("hips_service_url", format!("{u}/{}", h.name));
        }
        for (k, v) in [
            ("creator_did", format!("{node_did}/{}", h.name)),
            ("hips_release_date", "1970-01-01T00:00Z".into()),
            ("hips_status", "public master unclonable".into()),
        ] {
            if rec.get(k).is_none() {
                rec.set(k, v);
            }
        }
        for (k, v) in rec.iter() {
            let _ = writeln!(out, "{k:<20} = {v}");
        }
        out.push('\n');
    }
    out
}
