//! SODA 1.0 synchronous cutouts server-wide (`GET|POST /vo/soda/sync?ID=<coadd identifier>&...`): the coadd is found
//! by its identifier in the catalogue ([`crate::catalog::coadds`], case-insensitive), the caller must be allowed to
//! read its HiPS (401/403 otherwise, as for tiles), and the cutout is the same job as `/<hips>/soda/sync`
//! ([`crate::services::soda::cut`]). Without a region (and without `CUTOUTDETAIL=Image`) the coadd file itself comes
//! back, byte for byte (DataLink's `#this`). BAND and TIME
//! are checked against the coadd's band and exposure: an interval that excludes it gives 204, like a region that
//! misses its pixels. Also the SODA service descriptor that SIA answers and DataLink `#cutout` rows point to.

use hips_core::cutout::Shape;
use http::header::HeaderMap;
use http::StatusCode;

use super::sia::band_range;
use super::votable::{Field, Values};
use super::{coadds_of, denied, hips_of_id};
use crate::catalog::coadds::CoaddEntry;
use crate::catalog::Hips;
use crate::reply::hv;
use crate::reply::Reply;
use crate::services::ondemand::{bounded, open_coadd_file, under_roots};
use crate::services::soda::{cut, parse_params, CoaddRef, Detail};
use crate::state::State;
use http::header;

fn soda_error(status: StatusCode, word: &str, msg: &str) -> Reply {
    Reply::text(status, &format!("{word}: {msg}"))
}

fn excluded(want: &[(f64, f64)], have: Option<(f64, f64)>) -> bool {
    match have {
        Some((a, b)) if !want.is_empty() => !want.iter().any(|(lo, hi)| *lo <= b && a <= *hi),
        _ => false,
    }
}

/// Answer `/vo/soda/sync`.
pub async fn answer(state: &State, headers: &HeaderMap, p: &[(String, String)], request_id: &str) -> Reply {
    let req = match parse_params(p) {
        Ok(r) => r,
        Err(e) => return soda_error(StatusCode::BAD_REQUEST, e.word(), &e.to_string()),
    };
    let not_found = || soda_error(StatusCode::NOT_FOUND, "NotFoundError", &format!("no coadd {:?} here", req.id));
    if state.cfg.on_demand.coadd_roots.is_empty() {
        return soda_error(StatusCode::NOT_FOUND, "NotFoundError", "cutouts are not enabled on this server");
    }
    let Some((h, _)) = hips_of_id(state, &req.id) else { return not_found() };
    if let Some(r) = denied(state, headers, h) {
        return r;
    }
    let coadds = match coadds_of(state, h, request_id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(e) = coadds.iter().find(|e| e.id.eq_ignore_ascii_case(&req.id)) else { return not_found() };
    let t = e.mjd.map(|t| (t, t + e.exptime.unwrap_or(0.0) / 86400.0));
    if excluded(&req.band, e.band.as_deref().and_then(band_range)) || excluded(&req.time, t) {
        return Reply::new(StatusCode::NO_CONTENT, bytes::Bytes::new());
    }
    if req.shape.is_none() && req.detail == Detail::MaskedImage {
        return whole_file(state, h, e, request_id).await;
    }
    let whole = Shape::Range { ra_min: 0.0, ra_max: 360.0, dec_min: -90.0, dec_max: 90.0 };
    let shape = req.shape.clone().unwrap_or(whole);
    let c = CoaddRef { path: e.path.clone(), hdu: e.hdu, label: e.id.clone() };
    cut(state, h, c, shape, req.detail, request_id).await
}

/// The whole coadd file (DataLink's `#this`: SODA without a region), its bytes reserved in the uncached budget.
async fn whole_file(state: &State, h: &Hips, e: &CoaddEntry, request_id: &str) -> Reply {
    let roots = state.cfg.on_demand.coadd_roots.clone();
    let retry = |mut r: Reply| {
        r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
        r
    };
    if !under_roots(&e.path, &roots) {
        return soda_error(
            StatusCode::BAD_GATEWAY,
            "Error",
            "this coadd is not served (outside on_demand.coadd_roots)",
        );
    }
    let path = e.path.clone();
    let opened = bounded(state, move || {
        let src = open_coadd_file(&path, &roots)?;
        let len = src.len()?;
        Ok::<_, hips_core::fits::FitsError>((src, len))
    })
    .await;
    let (src, len) = match opened {
        Ok(Ok(x)) => x,
        Ok(Err(err)) => {
            tracing::warn!(request_id, hips = %h.name, coadd = %e.id, error = %hips_core::error_chain(&err), "coadd file");
            return retry(soda_error(StatusCode::BAD_GATEWAY, "Error", "cannot read this coadd"));
        }
        Err(_) => return retry(soda_error(StatusCode::SERVICE_UNAVAILABLE, "Error", "workers busy, retry later")),
    };
    let wait = std::time::Duration::from_millis(state.cfg.on_demand.timeout_ms);
    let Ok(Some(room)) = tokio::time::timeout(wait, state.cache.budget().reserve_generated(len)).await else {
        return retry(soda_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Error",
            "the server's memory for bodies being sent is in use (or the file is larger), retry later",
        ));
    };
    let Ok(n) = usize::try_from(len) else {
        return soda_error(StatusCode::BAD_GATEWAY, "Error", "this coadd is too large to send");
    };
    let read = bounded(state, move || src.read_at(0, n)).await;
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(err)) => {
            tracing::warn!(request_id, hips = %h.name, coadd = %e.id, error = %hips_core::error_chain(&err), "coadd file");
            return retry(soda_error(StatusCode::BAD_GATEWAY, "Error", "cannot read this coadd"));
        }
        Err(_) => return retry(soda_error(StatusCode::SERVICE_UNAVAILABLE, "Error", "workers busy, retry later")),
    };
    let name: String = e
        .rel
        .rsplit('/')
        .next()
        .unwrap_or("coadd.fits")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let mut r = Reply::new(StatusCode::OK, room.hold(bytes));
    let hd = r.headers_mut();
    hd.insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/fits"));
    hd.insert(header::CONTENT_DISPOSITION, hv(&format!("inline; filename=\"{name}\"")));
    hd.insert(header::CACHE_CONTROL, hv(&h.settings.cache_control));
    r
}

/// A SODA sync service descriptor (`RESOURCE type="meta" utype="adhoc:service"`, XML `ID` `xml_id`): ID from the
/// `obs_publisher_did` column, or fixed to `coadd`'s with its footprint as the regions' VALUES MAX.
pub fn descriptor(out: &mut String, base: &str, xml_id: &str, coadd: Option<&CoaddEntry>) {
    let _ = std::fmt::Write::write_fmt(
        out,
        format_args!("<RESOURCE type=\"meta\" utype=\"adhoc:service\" ID=\"{xml_id}\" name=\"{xml_id}\">\n"),
    );
    let none = Values::default();
    Field::text("standardID").write_param(out, "ivo://ivoa.net/std/SODA#sync-1.0", None, &none);
    Field::text("accessURL").write_param(out, &format!("{base}/vo/soda/sync"), None, &none);
    out.push_str("<GROUP name=\"inputParams\">\n");
    let id = Field::text("ID").ucd("meta.id;meta.main");
    match coadd {
        Some(e) => id.write_param(out, &e.id, None, &none),
        None => id.write_param(out, "", Some("obs_publisher_did"), &none),
    }
    let (circle_max, polygon_max) = coadd.map_or((None, None), |e| {
        let poly: Vec<String> = e.footprint.iter().flat_map(|(a, b)| [format!("{a:.7}"), format!("{b:.7}")]).collect();
        (Some(format!("{:.7} {:.7} {:.7}", e.centre.0, e.centre.1, e.radius)), Some(poly.join(" ")))
    });
    Field::scalar("CIRCLE", "double").array("3").xtype("circle").unit("deg").ucd("obs.field").write_param(
        out,
        "",
        None,
        &Values { max: circle_max, ..Values::default() },
    );
    // No xtype: pyvo cannot serialise a 4-vertex polygon with xtype="polygon".
    Field::scalar("POLYGON", "double").array("*").unit("deg").ucd("obs.field").write_param(
        out,
        "",
        None,
        &Values { max: polygon_max, ..Values::default() },
    );
    Field::text("POS").ucd("obs.field").write_param(out, "", None, &none);
    let em = coadd.and_then(|e| e.band.as_deref().and_then(band_range));
    Field::scalar("BAND", "double").array("2").xtype("interval").unit("m").ucd("em.wl").write_param(
        out,
        "",
        None,
        &Values { min: em.map(|x| format!("{:e}", x.0)), max: em.map(|x| format!("{:e}", x.1)), options: Vec::new() },
    );
    Field::scalar("TIME", "double")
        .array("2")
        .xtype("interval")
        .unit("d")
        .ucd("time.interval;obs.exposure")
        .write_param(out, "", None, &none);
    cutoutdetail_param_and_end(out);
}

/// The CUTOUTDETAIL input parameter (Image or MaskedImage) of a service descriptor, then the end of its input group
/// and resource.
pub(super) fn cutoutdetail_param_and_end(out: &mut String) {
    Field::text("CUTOUTDETAIL").ucd("meta.code").write_param(
        out,
        "",
        None,
        &Values { options: vec!["Image".into(), "MaskedImage".into()], ..Values::default() },
    );
    out.push_str("</GROUP>\n</RESOURCE>\n");
}
