//! A small VOTable 1.3 writer (TABLEDATA) for the VO answers: SIA result tables, DataLink tables, service
//! descriptors (`RESOURCE type="meta" utype="adhoc:service"`) and DALI error documents. Text is XML-escaped;
//! numbers are written with Rust's shortest round-trip form; empty cells are nulls.

use std::fmt::Write as _;

/// The XML escape of `s` (also for attribute values).
#[must_use]
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A column (FIELD) or parameter (PARAM) description.
#[derive(Debug, Clone, Copy, Default)]
pub struct Field {
    /// Name.
    pub name: &'static str,
    /// VOTable datatype (`char`, `double`, `long`, `int`, ...).
    pub datatype: &'static str,
    /// `arraysize`, when any.
    pub arraysize: Option<&'static str>,
    /// UCD.
    pub ucd: Option<&'static str>,
    /// utype.
    pub utype: Option<&'static str>,
    /// Unit.
    pub unit: Option<&'static str>,
    /// xtype.
    pub xtype: Option<&'static str>,
    /// XML ID (for `ref`s).
    pub id: Option<&'static str>,
    /// DESCRIPTION text.
    pub description: Option<&'static str>,
}

/// Builder methods of [`Field`] that set one optional attribute: `name => field`.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident,)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub const fn $name(mut self, value: &'static str) -> Field {
                self.$field = Some(value);
                self
            }
        )*
    };
}

impl Field {
    /// A `char` column of any length.
    #[must_use]
    pub const fn text(name: &'static str) -> Field {
        Field::scalar(name, "char").array("*")
    }

    /// A column of a scalar type.
    #[must_use]
    pub const fn scalar(name: &'static str, datatype: &'static str) -> Field {
        Field {
            name,
            datatype,
            arraysize: None,
            ucd: None,
            utype: None,
            unit: None,
            xtype: None,
            id: None,
            description: None,
        }
    }

    setters! {
        /// The same with a UCD.
        ucd => ucd,
        /// The same with a utype.
        utype => utype,
        /// The same with a unit.
        unit => unit,
        /// The same with an xtype.
        xtype => xtype,
        /// The same with an XML ID.
        id => id,
        /// The same with an arraysize.
        array => arraysize,
        /// The same with a description.
        describe => description,
    }

    fn attrs(&self, out: &mut String) {
        let _ = write!(out, " name=\"{}\" datatype=\"{}\"", self.name, self.datatype);
        for (k, v) in [
            ("ID", self.id),
            ("arraysize", self.arraysize),
            ("ucd", self.ucd),
            ("utype", self.utype),
            ("unit", self.unit),
            ("xtype", self.xtype),
        ] {
            if let Some(v) = v {
                let _ = write!(out, " {k}=\"{}\"", esc(v));
            }
        }
    }

    /// Write it as a FIELD.
    pub fn write_field(&self, out: &mut String) {
        out.push_str("<FIELD");
        self.attrs(out);
        match self.description {
            Some(d) => {
                let _ = writeln!(out, "><DESCRIPTION>{}</DESCRIPTION></FIELD>", esc(d));
            }
            None => out.push_str("/>\n"),
        }
    }

    /// Write it as a PARAM with `value`, an optional `ref`, and VALUES (`min`, `max`, `options`).
    pub fn write_param(&self, out: &mut String, value: &str, reference: Option<&str>, values: &Values) {
        out.push_str("<PARAM");
        self.attrs(out);
        let _ = write!(out, " value=\"{}\"", esc(value));
        if let Some(r) = reference {
            let _ = write!(out, " ref=\"{}\"", esc(r));
        }
        let has_values = values.min.is_some() || values.max.is_some() || !values.options.is_empty();
        if self.description.is_none() && !has_values {
            out.push_str("/>\n");
            return;
        }
        out.push('>');
        if let Some(d) = self.description {
            let _ = write!(out, "<DESCRIPTION>{}</DESCRIPTION>", esc(d));
        }
        if has_values {
            out.push_str("<VALUES>");
            if let Some(m) = &values.min {
                let _ = write!(out, "<MIN value=\"{}\"/>", esc(m));
            }
            if let Some(m) = &values.max {
                let _ = write!(out, "<MAX value=\"{}\"/>", esc(m));
            }
            for o in &values.options {
                let _ = write!(out, "<OPTION value=\"{}\"/>", esc(o));
            }
            out.push_str("</VALUES>");
        }
        out.push_str("</PARAM>\n");
    }
}

/// The VALUES of a PARAM.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// MIN.
    pub min: Option<String>,
    /// MAX.
    pub max: Option<String>,
    /// OPTIONs.
    pub options: Vec<String>,
}

/// A table cell.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Null.
    Null,
    /// Text.
    Text(String),
    /// A floating-point number (NaN is null).
    Double(f64),
    /// An integer.
    Long(i64),
}

impl Cell {
    /// A text cell, or null when `None`.
    #[must_use]
    pub fn opt_text(v: Option<&str>) -> Cell {
        v.map_or(Cell::Null, |s| Cell::Text(s.to_string()))
    }

    /// A number, or null when `None`.
    #[must_use]
    pub fn opt(v: Option<f64>) -> Cell {
        v.map_or(Cell::Null, Cell::Double)
    }
}

/// The start of a VOTable document.
pub fn start(out: &mut String) {
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VOTABLE version=\"1.3\" \
         xmlns=\"http://www.ivoa.net/xml/VOTable/v1.3\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
    );
}

/// The end of a VOTable document.
pub fn end(out: &mut String) {
    out.push_str("</VOTABLE>\n");
}

/// An INFO element.
pub fn info(out: &mut String, name: &str, value: &str, text: Option<&str>) {
    match text {
        Some(t) => {
            let _ = writeln!(out, "<INFO name=\"{}\" value=\"{}\">{}</INFO>", esc(name), esc(value), esc(t));
        }
        None => {
            let _ = writeln!(out, "<INFO name=\"{}\" value=\"{}\"/>", esc(name), esc(value));
        }
    }
}

/// Start a TABLE with these columns (then [`row`]s, then [`end_table`]).
pub fn start_table(out: &mut String, name: &str, fields: &[Field]) {
    let _ = writeln!(out, "<TABLE name=\"{}\">", esc(name));
    for f in fields {
        f.write_field(out);
    }
    out.push_str("<DATA><TABLEDATA>\n");
}

/// One table row.
pub fn row(out: &mut String, cells: &[Cell]) {
    out.push_str("<TR>");
    for c in cells {
        out.push_str("<TD>");
        match c {
            Cell::Text(s) => out.push_str(&esc(s)),
            Cell::Double(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Cell::Double(_) | Cell::Null => {}
            Cell::Long(v) => {
                let _ = write!(out, "{v}");
            }
        }
        out.push_str("</TD>");
    }
    out.push_str("</TR>\n");
}

/// The end of a TABLE.
pub fn end_table(out: &mut String) {
    out.push_str("</TABLEDATA></DATA>\n</TABLE>\n");
}

/// A whole DALI error document: `QUERY_STATUS=ERROR` with `message` (e.g. `UsageFault: ...`).
#[must_use]
pub fn error_document(message: &str) -> String {
    let mut out = String::new();
    start(&mut out);
    out.push_str("<RESOURCE type=\"results\">\n");
    info(&mut out, "QUERY_STATUS", "ERROR", Some(message));
    out.push_str("</RESOURCE>\n");
    end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_nulls_are_empty() {
        let mut out = String::new();
        start_table(&mut out, "t", &[Field::text("a").ucd("meta.id"), Field::scalar("b", "double")]);
        row(&mut out, &[Cell::Text("<x & \"y\">".into()), Cell::Double(f64::NAN)]);
        row(&mut out, &[Cell::Null, Cell::Double(1.5)]);
        end_table(&mut out);
        assert!(out.contains("<FIELD name=\"a\" datatype=\"char\" arraysize=\"*\" ucd=\"meta.id\"/>"), "{out}");
        assert!(out.contains("<TR><TD>&lt;x &amp; &quot;y&quot;&gt;</TD><TD></TD></TR>"), "{out}");
        assert!(out.contains("<TR><TD></TD><TD>1.5</TD></TR>"), "{out}");
        assert!(error_document("UsageFault: bad <POS>").contains("value=\"ERROR\">UsageFault: bad &lt;POS&gt;</INFO>"));
    }
}
