//! DataLink 1.1 (`GET|POST /vo/links?ID=...`, repeated IDs answered in order, the rows of one ID consecutive).
//! For a coadd identifier: `#this` (the coadd file, through SODA without a region, with its length), `#cutout` (a `service_def` pointing to a
//! SODA descriptor with that ID fixed and the footprint as the regions' VALUES MAX), `#preview` (a PNG of the coadd) and `#derivation` (the HiPS made
//! from it: derived from this coadd; DataLink's `#coderived` means sharing its progenitors). For a HiPS tile (`<HiPS IVOID>?NorderK/NpixN`, `DirD/` optional): `#progenitor` rows, the coadds its
//! progenitor index lists behind that tile. Anything else gives a `NotFoundFault` row. A caller who may not read the
//! HiPS an ID belongs to gets that HiPS's 401/403.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use http::header::HeaderMap;
use http::StatusCode;

use super::votable::{self as vt, Cell, Field, Values};
use super::{coadd_url, coadds_of, denied, error_reply, hips_of_id, votable_reply};
use crate::catalog::Hips;
use crate::reply::Reply;
use crate::services::progenitors::{index_keys, index_tiles, select, visit_index_files, Query};
use crate::state::State;

/// At most this many IDs per request.
pub const MAX_IDS: usize = 1000;

/// The DataLink columns.
#[must_use]
pub fn fields() -> [Field; 9] {
    [
        Field::text("ID").ucd("meta.id;meta.main"),
        Field::text("access_url").ucd("meta.ref.url"),
        Field::text("service_def").ucd("meta.ref"),
        Field::text("error_message").ucd("meta.code.error"),
        Field::text("semantics").ucd("meta.code"),
        Field::text("description").ucd("meta.note"),
        Field::text("content_type").ucd("meta.code.mime"),
        Field::scalar("content_length", "long").unit("byte").ucd("phys.size;meta.file"),
        Field::text("content_qualifier").ucd("meta.code.class"),
    ]
}

struct Link<'a> {
    id: &'a str,
    url: Option<String>,
    service_def: Option<String>,
    error: Option<String>,
    semantics: &'a str,
    description: String,
    content_type: Option<&'a str>,
    length: Option<u64>,
    qualifier: Option<&'a str>,
}

fn push(out: &mut String, l: Link<'_>) {
    vt::row(
        out,
        &[
            Cell::Text(l.id.to_string()),
            Cell::opt_text(l.url.as_deref()),
            Cell::opt_text(l.service_def.as_deref()),
            Cell::opt_text(l.error.as_deref()),
            Cell::Text(l.semantics.to_string()),
            Cell::Text(l.description),
            Cell::opt_text(l.content_type),
            l.length.map_or(Cell::Null, |n| Cell::Long(i64::try_from(n).unwrap_or(i64::MAX))),
            Cell::opt_text(l.qualifier),
        ],
    );
}

fn not_found(out: &mut String, id: &str, why: &str) {
    push(
        out,
        Link {
            id,
            url: None,
            service_def: None,
            error: Some(format!("NotFoundFault: {why}")),
            semantics: "#this",
            description: String::new(),
            content_type: None,
            length: None,
            qualifier: None,
        },
    );
}

/// The tile `NorderK/[DirD/]NpixN` of a local part, if it is one.
fn tile_of(local: &str) -> Option<(u8, u64)> {
    let mut parts = local.split('/');
    let order: u8 = parts.next()?.strip_prefix("Norder")?.parse().ok().filter(|o| *o <= 29)?;
    let last = parts.next_back()?;
    let npix: u64 = last.strip_prefix("Npix")?.split('.').next()?.parse().ok()?;
    (npix < hips_core::healpix::n_tiles(order)).then_some((order, npix))
}

/// The DataLink service descriptor of SIA answers (ID from `obs_publisher_did`).
pub fn datalink_descriptor(out: &mut String, base: &str, xml_id: &str) {
    let _ = writeln!(out, "<RESOURCE type=\"meta\" utype=\"adhoc:service\" ID=\"{xml_id}\" name=\"{xml_id}\">");
    let none = Values::default();
    Field::text("standardID").write_param(out, "ivo://ivoa.net/std/DataLink#links-1.1", None, &none);
    Field::text("accessURL").write_param(out, &format!("{base}/vo/links"), None, &none);
    out.push_str("<GROUP name=\"inputParams\">\n");
    Field::text("ID").ucd("meta.id;meta.main").write_param(out, "", Some("obs_publisher_did"), &none);
    out.push_str("</GROUP>\n</RESOURCE>\n");
}

/// Answer `/vo/links`.
pub async fn answer(state: &State, headers: &HeaderMap, base: &str, p: &[(String, String)], request_id: &str) -> Reply {
    let ids: Vec<&str> = p.iter().filter(|(k, _)| k.eq_ignore_ascii_case("ID")).map(|(_, v)| v.trim()).collect();
    if ids.is_empty() {
        return error_reply(StatusCode::BAD_REQUEST, "UsageFault: give ID (a coadd identifier or a HiPS tile's)");
    }
    if ids.len() > MAX_IDS {
        return error_reply(StatusCode::BAD_REQUEST, &format!("UsageFault: at most {MAX_IDS} IDs per request"));
    }
    // Access first: any ID of a HiPS the caller may not read gets that HiPS's 401/403, whatever the rest.
    for id in &ids {
        if let Some((h, _)) = hips_of_id(state, id) {
            if let Some(r) = denied(state, headers, h) {
                return r;
            }
        }
    }
    let mut out = String::with_capacity(2048);
    vt::start(&mut out);
    out.push_str("<RESOURCE type=\"results\">\n");
    vt::info(&mut out, "standardID", "ivo://ivoa.net/std/DataLink#links-1.1", None);
    vt::start_table(&mut out, "links", &fields());
    let mut descriptors = String::new();
    for id in ids {
        let Some((h, local)) = hips_of_id(state, id) else {
            not_found(&mut out, id, "no HiPS of this server has this IVOID");
            continue;
        };
        if let Some((order, npix)) = tile_of(local) {
            if let Err(r) = tile_links(state, h, &mut out, base, id, order, npix, request_id).await {
                return r;
            }
            continue;
        }
        let coadds = match coadds_of(state, h, request_id).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(e) = coadds.iter().find(|e| e.id.eq_ignore_ascii_case(id)) else {
            not_found(&mut out, id, "no such coadd");
            continue;
        };
        let n = descriptors.matches("<RESOURCE").count();
        let soda_id = format!("cutout-{n}");
        super::soda::descriptor(&mut descriptors, base, &soda_id, Some(e));
        let common = |semantics, url, service_def, description: String, content_type, qualifier| Link {
            id,
            url,
            service_def,
            error: None,
            semantics,
            description,
            content_type,
            length: None,
            qualifier,
        };
        let this = common(
            "#this",
            Some(coadd_url(base, &e.id)),
            None,
            format!("the coadd file {} (image, mask and variance)", e.rel),
            Some("application/fits"),
            Some("#image"),
        );
        push(&mut out, Link { length: e.file_bytes, ..this });
        push(
            &mut out,
            common(
                "#cutout",
                None,
                Some(soda_id),
                "a cutout of this coadd (SODA: CIRCLE, POLYGON or POS; CUTOUTDETAIL Image or MaskedImage)".into(),
                Some("application/fits"),
                Some("#image"),
            ),
        );
        push(
            &mut out,
            common(
                "#preview",
                Some(format!(
                    "{base}/vo/preview?ID={}",
                    url::form_urlencoded::byte_serialize(e.id.as_bytes()).collect::<String>()
                )),
                None,
                format!("a PNG of the coadd's image, at most {} pixels on a side", super::preview::MAX_SIDE),
                Some("image/png"),
                None,
            ),
        );
        push(
            &mut out,
            common(
                "#derivation",
                Some(format!("{base}/{}/", h.name)),
                None,
                format!("the HiPS {} made from this coadd", h.name),
                Some("text/html"),
                None,
            ),
        );
    }
    vt::end_table(&mut out);
    vt::info(&mut out, "QUERY_STATUS", "OK", None);
    out.push_str("</RESOURCE>\n");
    out.push_str(&descriptors);
    super::mosaic::descriptor::descriptor(&mut out, base, "mosaic");
    vt::end(&mut out);
    let mut r = votable_reply(StatusCode::OK, out);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(super::DATALINK_FORMAT));
    r
}

/// `#progenitor` rows of a HiPS tile: the coadds its progenitor index lists there.
#[allow(clippy::too_many_arguments)]
async fn tile_links(
    state: &State,
    h: &Hips,
    out: &mut String,
    base: &str,
    id: &str,
    order: u8,
    npix: u64,
    request_id: &str,
) -> Result<(), Reply> {
    let Some(k) = h.max_order else {
        not_found(out, id, "this HiPS has no progenitor index");
        return Ok(());
    };
    let q = Query::Tile { order, npix };
    let tiles = match index_tiles(h, k, q) {
        Ok(t) => t,
        Err(e) => {
            not_found(out, id, &e.to_string());
            return Ok(());
        }
    };
    let keys = index_keys(h, k, &tiles);
    let mut bodies = Vec::new();
    let read = visit_index_files(state, h, &keys, |b| {
        bodies.push(b.clone());
        ControlFlow::Continue(())
    });
    if let Err((key, e)) = read.await {
        return Err(crate::services::failure::storage_failure(state, request_id, h, key, &e));
    }
    let files: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
    let mut any = false;
    for rec in select(&files, q) {
        let Some(coadd) = state.public.coadd_id(&h.did, &rec.path) else { continue };
        any = true;
        push(
            out,
            Link {
                id,
                url: Some(coadd_url(base, &coadd)),
                service_def: None,
                error: None,
                semantics: "#progenitor",
                description: format!("coadd {coadd} behind this tile"),
                content_type: Some("application/fits"),
                length: None,
                qualifier: Some("#image"),
            },
        );
    }
    if !any {
        not_found(out, id, "no coadd is indexed behind this tile");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_ids_parse() {
        assert_eq!(tile_of("Norder3/Npix700"), Some((3, 700)));
        assert_eq!(tile_of("Norder9/Dir1740000/Npix1744410"), Some((9, 1_744_410)));
        assert_eq!(tile_of("Norder1/Npix48"), None);
        assert_eq!(tile_of("g/a.fits"), None);
    }
}
