//! No-panic harness for the server's query parsers: thousands of deterministic random queries (known parameter names
//! in any case, random and hostile values: numbers, infinities, NaN, huge exponents, shapes with too few or too many
//! numbers, control characters) go through the SIA 2.0 parser (`vo::sia::parse`, then the region preparation a
//! search does) and the progenitors parser (`progenitors::parse_query`). Each must return a query or an error that
//! names the parameter at fault, never panic.
#![allow(clippy::unwrap_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use hipsserve::services::progenitors::parse_query;
use hipsserve::services::vo::sia::{parse, Prepared, UsageFault};

/// A deterministic xorshift generator (same cases on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SIA_KEYS: &[&str] = &[
    "POS",
    "pos",
    "BAND",
    "TIME",
    "EXPTIME",
    "FOV",
    "SPATRES",
    "ID",
    "COLLECTION",
    "DPTYPE",
    "CALIB",
    "FACILITY",
    "INSTRUMENT",
    "MAXREC",
    "maxrec",
    "RESPONSEFORMAT",
    "UNKNOWN",
];
const WORDS: &[&str] = &[
    "CIRCLE",
    "RANGE",
    "POLYGON",
    "circle",
    "inf",
    "+Inf",
    "-Inf",
    "NaN",
    "1e999",
    "-1e999",
    "-90",
    "90",
    "360",
    "-0",
    "0",
    "18446744073709551616",
    "-1",
    "",
    " ",
    ",",
    "\u{0}",
    "\u{7f}",
    "é",
    "votable",
    "text/html",
];

fn value(rng: &mut Rng) -> String {
    if rng.below(4) == 0 {
        return (0..rng.below(40)).map(|_| char::from(32 + rng.below(95) as u8)).collect();
    }
    (0..rng.below(10))
        .map(|_| {
            if rng.below(3) == 0 {
                WORDS[rng.below(WORDS.len())].to_string()
            } else {
                format!("{}", (rng.next() % 2_000_000) as f64 / 1000.0 - 1000.0)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn sia_parser_never_panics_and_names_the_parameter() {
    let mut rng = Rng(0x243f_6a88_85a3_08d3);
    let (mut accepted, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for i in 0..20_000 {
        let params: Vec<(String, String)> =
            (0..=rng.below(4)).map(|_| (SIA_KEYS[rng.below(SIA_KEYS.len())].to_string(), value(&mut rng))).collect();
        match catch_unwind(AssertUnwindSafe(|| parse(&params).map(|q| drop(Prepared::new(&q))))) {
            Err(_) => failures.push(format!("#{i} {params:?}: panicked")),
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => {
                refused += 1;
                let UsageFault::Bad { param, .. } = &e;
                let msg = e.to_string();
                let named = params.iter().any(|(k, _)| k.eq_ignore_ascii_case(param));
                if !named || !msg.starts_with(param.as_str()) {
                    failures.push(format!("#{i} {params:?}: error does not name the parameter: {msg}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures[..failures.len().min(20)].join("\n"));
    assert!(accepted > 1000 && refused > 1000, "{accepted} accepted, {refused} refused: the cases should do both");
}

#[test]
fn progenitors_parser_never_panics_and_explains() {
    let mut rng = Rng(0x1319_8a2e_0370_7344);
    let keys = ["ra", "dec", "RA", "Dec", "order", "ipix", "npix", "x", "ra%00", "d%65c"];
    let mut failures = Vec::new();
    let mut accepted = 0;
    for i in 0..20_000 {
        let q: String = (0..rng.below(5))
            .map(|_| {
                let v: String = value(&mut rng).chars().take(20).collect();
                let v = url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                if rng.below(8) == 0 {
                    v
                } else {
                    format!("{}={v}", keys[rng.below(keys.len())])
                }
            })
            .collect::<Vec<_>>()
            .join(if rng.below(10) == 0 { ";" } else { "&" });
        match catch_unwind(|| parse_query(&q).map(drop)) {
            Err(_) => failures.push(format!("#{i} {q:?}: panicked")),
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) if e.to_string().trim().is_empty() => failures.push(format!("#{i} {q:?}: empty error")),
            Ok(Err(_)) => {}
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures[..failures.len().min(20)].join("\n"));
    assert!(accepted > 0, "no query was accepted: the cases should reach the parser's end");
}
