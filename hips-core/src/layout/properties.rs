//! The HiPS `properties` file: an ordered `key = value` list (UTF-8, `#` comments), read with one parser and written
//! with keys padded to a common column as CDS tools write them, plus the typed values every reader needs.

use std::fmt::Write as _;

/// A property that is missing or has a value the HiPS standard does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    /// A required key is absent.
    #[error("properties: missing key {0}")]
    Missing(&'static str),
    /// A key's value is not what the standard allows.
    #[error("properties: {key} = {value:?} {why}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// An ordered set of HiPS properties. Keys keep their first-appearance order; comments are not kept.
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

    /// Parse a properties file. Blank lines, `#` comments, lines without `=` and keys that are empty or contain
    /// white space are ignored; a later duplicate replaces the earlier value (as Java's `Properties` does).
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut p = Self::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim();
                if !k.is_empty() && !k.contains(char::is_whitespace) {
                    p.set(k, v.trim());
                }
            }
        }
        p
    }

    /// The value of a key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Set a key, keeping its position when it already exists (line breaks in the value become spaces).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into().replace(['\n', '\r'], " ");
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
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

    /// `hips_order`: the deepest order (required, at most 29).
    ///
    /// # Errors
    /// When it is missing or not an order.
    pub fn order(&self) -> Result<u8, PropertiesError> {
        let v = self.get("hips_order").ok_or(PropertiesError::Missing("hips_order"))?;
        v.parse::<u8>().ok().filter(|o| *o <= 29).ok_or_else(|| PropertiesError::Invalid {
            key: "hips_order",
            value: v.to_string(),
            why: "is not an order (0..=29)",
        })
    }

    /// `hips_tile_width` (512 when absent; a power of two).
    ///
    /// # Errors
    /// When it is not a power of two.
    pub fn tile_width(&self) -> Result<usize, PropertiesError> {
        let Some(v) = self.get("hips_tile_width") else { return Ok(512) };
        v.parse::<usize>().ok().filter(|w| w.is_power_of_two()).ok_or_else(|| PropertiesError::Invalid {
            key: "hips_tile_width",
            value: v.to_string(),
            why: "is not a power of two",
        })
    }

    /// `hips_frame` as written (`equatorial` when absent).
    #[must_use]
    pub fn frame_name(&self) -> &str {
        self.get("hips_frame").map_or("equatorial", str::trim)
    }

    /// `hips_tile_format` as lower-case words (`fits` when absent).
    #[must_use]
    pub fn formats(&self) -> Vec<String> {
        self.get("hips_tile_format")
            .map_or_else(|| vec!["fits".to_string()], |f| f.split_whitespace().map(str::to_ascii_lowercase).collect())
    }
}

/// A properties text with the value of `key` replaced on every line that sets it, everything else (comments, order,
/// spacing, line ends) kept byte for byte.
#[must_use]
pub fn set_in_text(text: &str, key: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len() + value.len());
    for line in text.split_inclusive('\n') {
        let sets_key =
            !line.trim_start().starts_with('#') && line.split_once('=').is_some_and(|(k, _)| k.trim() == key);
        match line.find('=') {
            Some(eq) if sets_key => {
                out.push_str(&line[..=eq]);
                out.push(' ');
                out.push_str(value);
                out.push_str(if line.ends_with("\r\n") {
                    "\r\n"
                } else if line.ends_with('\n') {
                    "\n"
                } else {
                    ""
                });
            }
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_keeps_order_and_replaces() {
        let p =
            Properties::parse("# c\ncreator_did = ivo://x/y\nhips_order=11\nhips_order = 12\nbad line\nbad key = 1\n");
        assert_eq!(p.get("hips_order"), Some("12"));
        assert_eq!(p.get("bad key"), None);
        let q = Properties::parse(&p.to_text());
        assert_eq!(p, q);
        assert_eq!(q.iter().next(), Some(("creator_did", "ivo://x/y")));
        assert_eq!(q.order(), Ok(12));
        assert_eq!(q.tile_width(), Ok(512));
        assert_eq!(q.formats(), vec!["fits"]);
    }

    #[test]
    fn typed_values_name_the_key() {
        let p = Properties::parse("hips_order = 31\nhips_tile_width = 500\nhips_tile_format = PNG fits\n");
        assert!(p.order().expect_err("31").to_string().contains("hips_order"));
        assert!(p.tile_width().expect_err("500").to_string().contains("hips_tile_width"));
        assert_eq!(p.formats(), vec!["png", "fits"]);
        assert_eq!(Properties::new().order(), Err(PropertiesError::Missing("hips_order")));
    }

    #[test]
    fn set_in_text_keeps_everything_else() {
        let t = "# hips_order = 1\nhips_order   = 11\r\nhips_orderx = 3\nhips_frame = equatorial";
        assert_eq!(
            set_in_text(t, "hips_order", "13"),
            "# hips_order = 1\nhips_order   = 13\r\nhips_orderx = 3\nhips_frame = equatorial"
        );
        assert_eq!(set_in_text(t, "hips_frame", "galactic"), t.replace("= equatorial", "= galactic"));
    }
}
