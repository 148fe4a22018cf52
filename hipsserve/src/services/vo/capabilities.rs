//! VOSI for `/vo/`: `GET /vo/capabilities` (VOSI 1.1 capabilities: the VOSI endpoints, SIA 2.0 query, DataLink 1.1
//! links, SODA 1.0 sync and async, each with its absolute access URL), `GET /vo/availability` (always available while the
//! process answers), and SIA's `name="this"` self-descriptor that query answers carry.

use std::fmt::Write as _;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;

use super::votable::{esc, Field, Values};
use crate::reply::Reply;

/// The services advertised: standardID, path under the base URL.
pub const SERVICES: [(&str, &str); 6] = [
    ("ivo://ivoa.net/std/VOSI#capabilities", "/vo/capabilities"),
    ("ivo://ivoa.net/std/VOSI#availability", "/vo/availability"),
    ("ivo://ivoa.net/std/SIA#query-2.0", "/vo/sia/query"),
    ("ivo://ivoa.net/std/DataLink#links-1.1", "/vo/links"),
    ("ivo://ivoa.net/std/SODA#sync-1.0", "/vo/soda/sync"),
    ("ivo://ivoa.net/std/SODA#async-1.0", "/vo/soda/async"),
];

/// The mosaic service (no IVOA standard: a capability without standardID, SODA-like parameters), under the base URL.
pub const MOSAIC_PATH: &str = "/vo/mosaic";

fn xml_reply(body: String) -> Reply {
    let mut r = Reply::new(StatusCode::OK, Bytes::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The VOSI capabilities document.
#[must_use]
pub fn document(base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vosi:capabilities \
         xmlns:vosi=\"http://www.ivoa.net/xml/VOSICapabilities/v1.0\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:vs=\"http://www.ivoa.net/xml/VODataService/v1.1\">\n",
    );
    for (id, path) in SERVICES {
        let use_ = if path.contains("VOSI") || path.ends_with("capabilities") || path.ends_with("availability") {
            "full"
        } else {
            "base"
        };
        let version = if id.contains("SIA") { " version=\"2.0\"" } else { "" };
        let _ = writeln!(
            out,
            "  <capability standardID=\"{id}\">\n    <interface xsi:type=\"vs:ParamHTTP\" role=\"std\"{version}>\n      \
             <accessURL use=\"{use_}\">{}</accessURL>\n    </interface>\n  </capability>",
            esc(&format!("{base}{path}"))
        );
    }
    let _ = writeln!(
        out,
        "  <capability>\n    <interface xsi:type=\"vs:ParamHTTP\">\n      <accessURL use=\"base\">{}</accessURL>\n    \
         </interface>\n  </capability>",
        esc(&format!("{base}{MOSAIC_PATH}"))
    );
    out.push_str("</vosi:capabilities>\n");
    out
}

/// `GET /vo/capabilities`.
#[must_use]
pub fn capabilities(base: &str) -> Reply {
    xml_reply(document(base))
}

/// `GET /vo/availability`.
#[must_use]
pub fn availability() -> Reply {
    xml_reply(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<vosi:availability \
         xmlns:vosi=\"http://www.ivoa.net/xml/VOSIAvailability/v1.0\">\n  <vosi:available>true</vosi:available>\n  \
         <vosi:note>hipsserve answers</vosi:note>\n</vosi:availability>\n"
            .to_string(),
    )
}

/// SIA's self-descriptor (`RESOURCE type="meta" utype="adhoc:service" name="this"`): the query's parameters.
pub fn sia_self_descriptor(out: &mut String, base: &str) {
    out.push_str("<RESOURCE type=\"meta\" utype=\"adhoc:service\" name=\"this\">\n");
    let none = Values::default();
    Field::text("standardID").write_param(out, "ivo://ivoa.net/std/SIA#query-2.0", None, &none);
    Field::text("accessURL").write_param(out, &format!("{base}/vo/sia/query"), None, &none);
    out.push_str("<GROUP name=\"inputParams\">\n");
    let interval = |name: &'static str, unit: &'static str, ucd: &'static str| {
        Field::scalar(name, "double").array("2").xtype("interval").unit(unit).ucd(ucd)
    };
    let params = [
        Field::text("POS")
            .ucd("pos.outline;obs")
            .describe("CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or POLYGON ra dec ..., ICRS degrees"),
        interval("BAND", "m", "em.wl"),
        interval("TIME", "d", "time.epoch"),
        interval("EXPTIME", "s", "time.duration;obs.exposure"),
        interval("FOV", "deg", "phys.angSize;instr.fov"),
        interval("SPATRES", "arcsec", "pos.angResolution"),
        Field::text("ID").ucd("meta.ref.ivoid"),
        Field::text("COLLECTION").ucd("meta.id"),
        Field::text("DPTYPE").ucd("meta.code.class"),
        Field::scalar("CALIB", "int").ucd("meta.code;obs.calib"),
        Field::text("FACILITY").ucd("meta.id;instr.tel"),
        Field::text("INSTRUMENT").ucd("meta.id;instr"),
        Field::scalar("MAXREC", "int").ucd("meta.number"),
    ];
    for p in params {
        p.write_param(out, "", None, &none);
    }
    out.push_str("</GROUP>\n</RESOURCE>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_name_every_service_with_its_url() {
        let d = document("http://h:1");
        assert!(d.contains("standardID=\"ivo://ivoa.net/std/SIA#query-2.0\""), "{d}");
        assert!(d.contains("<accessURL use=\"base\">http://h:1/vo/sia/query</accessURL>"), "{d}");
        assert!(d.contains("<accessURL use=\"full\">http://h:1/vo/capabilities</accessURL>"), "{d}");
        assert!(d.contains("ivo://ivoa.net/std/SODA#sync-1.0") && d.contains("DataLink#links-1.1"), "{d}");
        assert!(d.contains("<accessURL use=\"base\">http://h:1/vo/mosaic</accessURL>"), "{d}");
    }
}
