//! What public answers say about the server's own files: source coadds are named by a stable identifier, never by
//! their path on this server, and server paths are taken out of the text objects served as they are stored
//! (properties, progenitor index files, pages).
//!
//! A coadd's identifier is an IVOA publisher DID: `<creator_did of the HiPS>?<coadd path relative to its coadd root>`,
//! e.g. `ivo://hipsgen.local/P/demo/g?g/patch_g_0000.fits`. It is stable (the same on every server that has the
//! HiPS and its coadds in the same layout, whatever the mount point), it says which HiPS vouches for the coadd (the
//! part before `?` is the HiPS's own IVOID, which registries already know), and it is what IVOA services expect in
//! SODA's `ID` (a publisher DID with a local part). A bare relative name would collide between HiPS served side by
//! side and would not be an IVOID. Coadds that lie under no coadd root get no identifier (nothing could serve them).
//!
//! hipsgen writes absolute paths into `HpxFinder/` and, for colour HiPS, into `properties`; the files on disk stay
//! as they are (hipsgen resumes from them) and the server rewrites what it sends: a known server path (a local
//! storage root or coadd root, as given, absolute and with links resolved) at the start of a word becomes the part
//! below it (`/srv/hips/i` -> `i`).

use std::borrow::Cow;
use std::fmt::Write as _;

use hips_core::layout::ProgenitorRecord;
use serde_json::Value;

/// Whether `path` lies under one of `roots` (a whole-segment prefix; no `..`, backslash or NUL anywhere).
#[must_use]
pub fn under_roots(path: &str, roots: &[String]) -> bool {
    below(path, roots).is_some()
}

/// The part of `path` below the longest of `roots` it lies under (see [`under_roots`]).
fn below<'p>(path: &'p str, roots: &[String]) -> Option<&'p str> {
    if path.contains('\\') || path.contains('\0') || path.split('/').any(|s| s == ".." || s == ".") {
        return None;
    }
    roots
        .iter()
        .filter_map(|r| {
            let r = r.trim_end_matches('/');
            let rest = path.strip_prefix(r)?.strip_prefix('/')?;
            (!r.is_empty() && !rest.is_empty()).then_some((r.len(), rest))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, rest)| rest)
}

/// Local paths of a root location (`file://` or plain; object-store URLs have none): absolute, and with links
/// resolved when it exists.
fn local_forms(location: &str) -> Vec<String> {
    let local = location.strip_prefix("file://").or((!location.contains("://")).then_some(location));
    let Some(abs) = local.and_then(|l| std::path::absolute(l).ok()) else { return Vec::new() };
    let mut out = vec![abs.to_string_lossy().trim_end_matches('/').to_string()];
    if let Ok(real) = std::fs::canonicalize(&abs) {
        out.push(real.to_string_lossy().trim_end_matches('/').to_string());
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Naming and path hiding for public answers (built once at start).
#[derive(Debug, Clone, Default)]
pub struct PublicNames {
    /// `on_demand.coadd_roots` as resolved.
    coadd_roots: Vec<String>,
    /// Server paths to hide, longest first, each also as a `file://` URL.
    hidden: Vec<String>,
}

impl PublicNames {
    /// From the resolved coadd roots and the storage root locations.
    #[must_use]
    pub fn new(coadd_roots: &[String], storage_roots: &[String]) -> PublicNames {
        let mut hidden: Vec<String> = coadd_roots.iter().chain(storage_roots).flat_map(|r| local_forms(r)).collect();
        hidden.extend(hidden.clone().into_iter().map(|p| format!("file://{p}")));
        hidden.sort_by_key(|p| std::cmp::Reverse(p.len()));
        hidden.dedup();
        // "/" would hide every absolute path's first slash and nothing else: keep only real prefixes.
        hidden.retain(|p| p.trim_start_matches("file://").len() > 1);
        PublicNames { coadd_roots: coadd_roots.to_vec(), hidden }
    }

    /// The coadd's path relative to its coadd root, when it lies under one.
    #[must_use]
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        below(path, &self.coadd_roots)
    }

    /// The identifier of the coadd at `path` in the HiPS whose IVOID is `did` (see the module documentation).
    #[must_use]
    pub fn coadd_id(&self, did: &str, path: &str) -> Option<String> {
        let rel = self.relative(path)?;
        let mut id = String::with_capacity(did.len() + 1 + rel.len());
        id.push_str(did);
        id.push('?');
        for b in rel.bytes() {
            if b.is_ascii_alphanumeric() || b"._~/+-".contains(&b) {
                id.push(char::from(b));
            } else {
                let _ = write!(id, "%{b:02X}");
            }
        }
        Some(id)
    }

    /// Whether a SODA `ID` names the coadd at `path`: its identifier, its name relative to its coadd root, or the
    /// path itself (what older clients copied from the index).
    #[must_use]
    pub fn names(&self, did: &str, path: &str, id: &str) -> bool {
        id == path || self.relative(path) == Some(id) || self.coadd_id(did, path).as_deref() == Some(id)
    }

    /// `text` with every known server path at the start of a word replaced by the part below it (`.` for the root
    /// itself).
    #[must_use]
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.hidden.iter().any(|p| text.contains(p.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        'outer: while i < text.len() {
            let word_start = i == 0
                || text.as_bytes()[i - 1].is_ascii_whitespace()
                || b"\"'([{=,;".contains(&text.as_bytes()[i - 1]);
            if word_start {
                for p in &self.hidden {
                    let Some(rest) = text[i..].strip_prefix(p.as_str()) else { continue };
                    match rest.as_bytes().first() {
                        Some(b'/') => {
                            i += p.len() + 1;
                            continue 'outer;
                        }
                        Some(c) if c.is_ascii_alphanumeric() || b"._-+~".contains(c) => {}
                        _ => {
                            out.push('.');
                            i += p.len();
                            continue 'outer;
                        }
                    }
                }
            }
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
        Cow::Owned(out)
    }

    /// [`PublicNames::scrub`] on every string of a JSON value.
    pub fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Cow::Owned(t) = self.scrub(s) {
                    *s = t;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub_value(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.scrub_value(x)),
            _ => {}
        }
    }

    /// A progenitor index file (`HpxFinder/NorderK/...`) as served: each record's `path` becomes the coadd's
    /// identifier (its file name when it has none), other server paths are scrubbed; the format is kept (one JSON
    /// object per line, the keys Aladin reads), so clients see the records they know without this server's paths.
    #[must_use]
    pub fn index_file(&self, did: &str, body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body);
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let (content, end) = line.strip_suffix('\n').map_or((line, ""), |c| (c, "\n"));
            match serde_json::from_str::<Value>(content) {
                Ok(mut v @ Value::Object(_)) => {
                    if let Some(Value::String(path)) = v.get("path").cloned() {
                        let public = self.coadd_id(did, &path).unwrap_or_else(|| file_name(&path).to_string());
                        v["path"] = Value::String(public);
                    }
                    self.scrub_value(&mut v);
                    out.push_str(&v.to_string());
                }
                _ => out.push_str(&self.scrub(content)),
            }
            out.push_str(end);
        }
        out.into_bytes()
    }

    /// A record of `/<hips>/progenitors`: `id` (the coadd's identifier, when it lies under a coadd root) instead of
    /// `path`, `ra` and `dec` as numbers, no server path anywhere.
    #[must_use]
    pub fn progenitor(&self, did: &str, rec: &ProgenitorRecord) -> Value {
        // A record of strings, numbers and JSON values always converts.
        let mut v = serde_json::to_value(rec).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.remove("path");
            if let Some(id) = self.coadd_id(did, &rec.path) {
                o.insert("id".into(), Value::String(id));
            }
            for k in ["ra", "dec"] {
                let n = o.get(k).and_then(Value::as_str).and_then(|s| s.trim().parse::<f64>().ok());
                if let Some(n) = n.and_then(serde_json::Number::from_f64) {
                    o.insert(k.into(), Value::Number(n));
                }
            }
        }
        self.scrub_value(&mut v);
        v
    }
}

/// `<base>/vo/links?ID=<id>`: a coadd's DataLink document.
#[must_use]
pub fn links_url(base: &str, id: &str) -> String {
    format!("{base}/vo/links?ID={}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
}

/// `<base>/vo/soda/sync?ID=<id>`: a coadd through SODA (the whole coadd; a region parameter makes it a cutout).
#[must_use]
pub fn coadd_url(base: &str, id: &str) -> String {
    format!("{base}/vo/soda/sync?ID={}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>())
}

/// The last segment of a path or URL.
fn file_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names() -> PublicNames {
        PublicNames::new(&["/data/coadds".into(), "s3://b/dr1".into()], &["/srv/hips".into(), "s3://x".into()])
    }

    #[test]
    fn coadds_are_named_by_did_and_relative_path() {
        let n = names();
        let did = "ivo://org/P/dr1/g";
        assert_eq!(n.coadd_id(did, "/data/coadds/g/t 1.fits").unwrap(), "ivo://org/P/dr1/g?g/t%201.fits");
        assert_eq!(n.coadd_id(did, "s3://b/dr1/g/a.fits").unwrap(), "ivo://org/P/dr1/g?g/a.fits");
        assert_eq!(n.coadd_id(did, "/elsewhere/a.fits"), None);
        assert_eq!(n.coadd_id(did, "/data/coadds/../etc/passwd"), None);
        for id in ["ivo://org/P/dr1/g?g/a.fits", "g/a.fits", "/data/coadds/g/a.fits"] {
            assert!(n.names(did, "/data/coadds/g/a.fits", id), "{id}");
        }
        assert!(!n.names(did, "/data/coadds/g/a.fits", "ivo://other/P?g/a.fits"));
    }

    #[test]
    fn server_paths_are_scrubbed_at_word_starts_only() {
        let n = names();
        let t = "hips_rgb_red = ivo://a/P/i /srv/hips/i\nx=/srv/hips y=(/data/coadds/g/a.fits) /srv/hipsx/q";
        assert_eq!(n.scrub(t), "hips_rgb_red = ivo://a/P/i i\nx=. y=(g/a.fits) /srv/hipsx/q");
        assert_eq!(
            n.scrub("see https://h.org/srv/hips/i and file:///srv/hips/a"),
            "see https://h.org/srv/hips/i and a"
        );
        assert!(matches!(n.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn index_files_and_progenitor_records_carry_no_path() {
        let n = names();
        let line = br#"{"dec":"2.0000000","hdu":1,"name":"a.fits","path":"/data/coadds/g/a.fits","ra":"150.0000000"}
{"path":"/other/b.fits","note":"from /srv/hips/g"}
not json /srv/hips/x
"#;
        let out = String::from_utf8(n.index_file("ivo://d/g", line)).unwrap();
        assert_eq!(
            out,
            "{\"dec\":\"2.0000000\",\"hdu\":1,\"name\":\"a.fits\",\"path\":\"ivo://d/g?g/a.fits\",\"ra\":\"150.0000000\"}\n\
             {\"note\":\"from g\",\"path\":\"b.fits\"}\nnot json x\n"
        );
        let rec = ProgenitorRecord::parse_lines(line).next().unwrap();
        let v = n.progenitor("ivo://d/g", &rec);
        assert_eq!(v["id"], "ivo://d/g?g/a.fits");
        assert!(v.get("path").is_none());
        assert_eq!(v["ra"], serde_json::json!(150.0));
        assert_eq!(v["dec"], serde_json::json!(2.0));
    }
}
