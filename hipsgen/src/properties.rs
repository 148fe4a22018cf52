//! The HiPS `properties` file: an ordered `key = value` list (UTF-8, `#` comments), parsed and written faithfully.

use std::fmt::Write as _;

/// An ordered set of HiPS properties. Keys keep their first-insertion order; comments are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// An empty property list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse a properties file. Lines without `=` and `#` comments are ignored; later duplicates replace earlier ones.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut p = Self::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                p.set(k.trim(), v.trim());
            }
        }
        p
    }

    /// The value of a key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Set a key, keeping its position when it already exists.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into().replace(['\n', '\r'], " ");
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
    }

    /// Remove a key.
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The file text, keys padded to a common column as CDS tools write them.
    #[must_use]
    pub fn to_text(&self) -> String {
        let width = self.entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0).max(20);
        let mut out = String::new();
        for (k, v) in &self.entries {
            let _ = writeln!(out, "{k:<width$} = {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_order_and_replaces() {
        let p = Properties::parse("# c\ncreator_did = ivo://x/y\nhips_order=11\nhips_order = 12\nbad line\n");
        assert_eq!(p.get("hips_order"), Some("12"));
        let q = Properties::parse(&p.to_text());
        assert_eq!(p, q);
        assert_eq!(q.iter().next(), Some(("creator_did", "ivo://x/y")));
    }
}
