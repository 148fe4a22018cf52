//! The `/hipslist` document: the HiPS-node list of the public, listed HiPS, as registries harvest it.

use std::collections::BTreeMap;

use super::Hips;
use crate::config::Access;

/// Build the `/hipslist` document: one properties record per listed public HiPS, separated by blank lines, with
/// `hips_service_url` set from the public URL and the mandatory registry keys present.
#[must_use]
pub fn hipslist(hips: &[Hips], public_url: Option<&str>, node_did: &str) -> String {
    let mut out = String::new();
    for h in hips.iter().filter(|h| h.settings.access == Access::Public && h.settings.listed) {
        let mut rec: BTreeMap<&str, String> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (k, v) in &h.properties {
            if !rec.contains_key(k.as_str()) {
                order.push(k);
            }
            rec.insert(k, v.clone());
        }
        let mut set = |k: &'static str, v: String, force: bool| {
            if force || !rec.contains_key(k) {
                if !rec.contains_key(k) {
                    order.push(k);
                }
                rec.insert(k, v);
            }
        };
        if let Some(u) = public_url {
            set("hips_service_url", format!("{u}/{}", h.name), true);
        }
        set("creator_did", format!("{node_did}/{}", h.name), false);
        set("hips_release_date", "1970-01-01T00:00Z".into(), false);
        set("hips_status", "public master unclonable".into(), false);
        for k in order {
            if let Some(v) = rec.get(k) {
                out.push_str(&format!("{k:<20} = {v}\n"));
            }
        }
        out.push('\n');
    }
    out
}
