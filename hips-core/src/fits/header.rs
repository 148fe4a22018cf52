//! FITS header cards: parsing 2880-byte header blocks into typed, looked-up keywords.
//!
//! Keys are stored upper-case without the `HIERARCH ` prefix, so `HIERARCH MP_NO_DATA = 8` is found as `MP_NO_DATA`.
//! Lookups return the first card with the key, as cfitsio does.

/// One header card: keyword, raw value text (string values unquoted) and comment.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Keyword, upper case, without any `HIERARCH ` prefix.
    pub key: String,
    /// The value as written (strings without quotes, `''` unescaped), `None` for commentary cards.
    pub value: Option<Value>,
    /// Comment text after `/`, if any.
    pub comment: Option<String>,
}

/// A card value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted string, trailing blanks removed.
    Str(String),
    /// `T` or `F`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number (also `D` exponents).
    Float(f64),
    /// Anything else (complex values, undefined values).
    Other(String),
}

/// An ordered list of header cards with typed lookups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// Cards in file order, `END` excluded.
    pub cards: Vec<Card>,
}

impl Header {
    /// The first card with this key.
    #[must_use]
    pub fn card(&self, key: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.key == key)
    }

    /// The value of `key` as a string (strings, and the text of any other value).
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.card(key)?.value.as_ref()? {
            Value::Str(s) | Value::Other(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "T".into() } else { "F".into() }),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
        }
    }

    /// The value of `key` as a number (integers widened; numeric strings accepted, as some writers quote numbers).
    #[must_use]
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        match self.card(key)?.value.as_ref()? {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) | Value::Other(s) => parse_number(s),
            Value::Bool(_) => None,
        }
    }

    /// The value of `key` as an integer (reals with no fractional part accepted).
    #[must_use]
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        match self.card(key)?.value.as_ref()? {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    /// The value of `key` as a logical.
    #[must_use]
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.card(key)?.value.as_ref()? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether a card with this key exists.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.card(key).is_some()
    }

    /// Parse header blocks (a multiple of 80 bytes, up to and including `END`).
    ///
    /// Returns the header and the number of bytes consumed up to the end of the `END` card (not padded),
    /// or `None` when no `END` card is present in `bytes`.
    #[must_use]
    pub fn parse(bytes: &[u8]) -> Option<(Header, usize)> {
        let mut cards = Vec::new();
        for (i, raw) in bytes.chunks_exact(80).enumerate() {
            let text: String = raw.iter().map(|&b| if (32..127).contains(&b) { b as char } else { ' ' }).collect();
            let key8 = text[..8].trim_end();
            if key8 == "END" && text[8..].trim().is_empty() {
                return Some((Header { cards }, (i + 1) * 80));
            }
            cards.push(parse_card(&text));
        }
        None
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim().replace(['D', 'd'], "E");
    t.parse::<f64>().ok()
}

/// Parse one 80-character card.
fn parse_card(text: &str) -> Card {
    let (key, rest) = if let Some(hier) = text.strip_prefix("HIERARCH ") {
        match hier.find('=') {
            Some(eq) => (hier[..eq].trim().to_ascii_uppercase(), Some(&hier[eq + 1..])),
            None => (hier.trim().to_ascii_uppercase(), None),
        }
    } else if &text[8..10] == "= " || (text.len() >= 9 && &text[8..9] == "=") {
        (text[..8].trim_end().to_ascii_uppercase(), Some(&text[9..]))
    } else {
        (text[..8].trim_end().to_ascii_uppercase(), None)
    };
    let Some(rest) = rest else {
        let comment = text.get(8..).map(|s| s.trim_end().to_string()).filter(|s| !s.is_empty());
        return Card { key, value: None, comment };
    };
    let rest = rest.trim_start();
    if let Some(body) = rest.strip_prefix('\'') {
        // Quoted string: '' is an escaped quote.
        let mut s = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = body.len();
        while let Some((i, ch)) = chars.next() {
            if ch == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    s.push('\'');
                    chars.next();
                } else {
                    end = i + 1;
                    break;
                }
            } else {
                s.push(ch);
            }
        }
        let comment = body[end..].split_once('/').map(|(_, c)| c.trim().to_string());
        return Card { key, value: Some(Value::Str(s.trim_end().to_string())), comment };
    }
    let (val, comment) = match rest.split_once('/') {
        Some((v, c)) => (v.trim(), Some(c.trim().to_string())),
        None => (rest.trim(), None),
    };
    let value = if val.is_empty() {
        None
    } else if val == "T" {
        Some(Value::Bool(true))
    } else if val == "F" {
        Some(Value::Bool(false))
    } else if let Ok(i) = val.parse::<i64>() {
        Some(Value::Int(i))
    } else if let Some(f) = parse_number(val) {
        Some(Value::Float(f))
    } else {
        Some(Value::Other(val.to_string()))
    };
    Card { key, value, comment }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(cards: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cards {
            out.extend(format!("{c:<80}").bytes());
        }
        out.extend(format!("{:<80}", "END").bytes());
        out
    }

    #[test]
    fn parses_typed_values_and_hierarch() {
        let b = block(&[
            "SIMPLE  =                    T",
            "BITPIX  =                  -32 / float",
            "CDELT1  =           -5.5556D-4",
            "CTYPE1  = 'RA---TAN-SIP'       / proj",
            "OBJECT  = 'it''s'",
            "HIERARCH MP_NO_DATA = 8",
            "COMMENT hello",
        ]);
        let (h, n) = Header::parse(&b).expect("END present");
        assert_eq!(n, 8 * 80);
        assert_eq!(h.get_bool("SIMPLE"), Some(true));
        assert_eq!(h.get_i64("BITPIX"), Some(-32));
        assert!((h.get_f64("CDELT1").expect("cdelt") + 5.5556e-4).abs() < 1e-12);
        assert_eq!(h.get_str("CTYPE1").as_deref(), Some("RA---TAN-SIP"));
        assert_eq!(h.get_str("OBJECT").as_deref(), Some("it's"));
        assert_eq!(h.get_i64("MP_NO_DATA"), Some(8));
        assert!(h.card("COMMENT").is_some_and(|c| c.value.is_none()));
    }

    #[test]
    fn missing_end_is_none() {
        assert!(Header::parse(&[b' '; 160]).is_none());
    }
}
