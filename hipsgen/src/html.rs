//! `index.html` for a HiPS: an Aladin Lite v3 page showing the HiPS it sits in.
//!
//! The HiPS URL is computed in the browser from the page's own location (`new URL('.', location)`), so the HiPS can
//! be moved, mirrored or served under any prefix. The Aladin Lite script location is a parameter (default the CDS
//! CDN; `--aladin-url` / `HIPS_ALADIN_URL` for sites without outside access). Both builds work: the CDN's classic
//! script (defines `window.A`) and the npm package's ES module (`export default A`): the page loads it as a classic
//! script first and falls back to `import()`.
//!
//! A click on the sky lists the coadds there, from the server's progenitor query (`progenitors?ra=&dec=` beside the
//! page, which hipsserve answers): each with links to the whole coadd, its DataLink document and a SODA cutout of the
//! field shown, and one line of Python that opens the cutout in jdaviz (Imviz) — the sky viewer to image viewer step.
//! Served statically, without that query, the panel says there is no coadd list.

use std::fmt::Write as _;

use crate::properties::Properties;

/// The CDS CDN location of Aladin Lite v3.
pub const DEFAULT_ALADIN_URL: &str = "https://aladin.cds.unistra.fr/AladinLite/api/v3/latest/aladin.js";

/// Environment variable overriding [`DEFAULT_ALADIN_URL`].
pub const ALADIN_URL_ENV: &str = "HIPS_ALADIN_URL";

/// The Aladin Lite script URL: `explicit` if given, else `$HIPS_ALADIN_URL`, else the CDS CDN.
#[must_use]
pub fn aladin_url(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| std::env::var(ALADIN_URL_ENV).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_ALADIN_URL.to_string())
}

/// Escape text for HTML element content and attribute values.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A JavaScript string literal (JSON string syntax, with `<` escaped so `</script>` cannot end the script).
fn js_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The image format Aladin Lite should fetch: the first of png, jpeg, webp listed in `hips_tile_format`, else fits.
#[must_use]
pub fn preferred_format(tile_format: Option<&str>) -> &'static str {
    let words: Vec<String> = tile_format.unwrap_or("fits").split_whitespace().map(str::to_ascii_lowercase).collect();
    for f in ["png", "jpeg", "webp"] {
        if words.iter().any(|w| w == f || (f == "jpeg" && w == "jpg")) {
            return f;
        }
    }
    "fits"
}

fn number(p: &Properties, key: &str) -> Option<f64> {
    p.get(key)?.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Write `index.html` for the HiPS in `store`, described by `props`, loading Aladin Lite from `aladin_url`
/// (see [`aladin_url`] for the default).
///
/// # Errors
/// When the store write fails.
pub fn write_index_html(
    store: &hips_core::storage::Store,
    props: &Properties,
    aladin_url: &str,
) -> Result<(), Box<hips_core::storage::StoreError>> {
    store.put("index.html", index_html(props, aladin_url)).map_err(Box::new)
}

/// The page text for a HiPS described by `props`, loading Aladin Lite from `aladin_url`.
#[must_use]
pub fn index_html(props: &Properties, aladin_url: &str) -> String {
    let title = props.get("obs_title").or(props.get("creator_did")).unwrap_or("HiPS");
    let ra = number(props, "hips_initial_ra").unwrap_or(0.0);
    let dec = number(props, "hips_initial_dec").unwrap_or(0.0);
    let fov = number(props, "hips_initial_fov").unwrap_or(60.0);
    let galactic = props.get("hips_frame").is_some_and(|f| f.trim().eq_ignore_ascii_case("galactic"));
    let frame = if galactic { "galactic" } else { "ICRS" };
    let format = preferred_format(props.get("hips_tile_format"));
    let desc = props.get("obs_description").unwrap_or("");
    let did = props.get("creator_did").unwrap_or("");
    format!(
        r##"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, height=device-height, initial-scale=1.0, user-scalable=no">
<title>{title_h}</title>
<style>
  html, body {{ margin: 0; padding: 0; height: 100%; background: #232323; color: #ddd; font-family: sans-serif; }}
  #header {{ padding: 6px 12px; }}
  #header h1 {{ font-size: 1.2rem; font-weight: 400; margin: 0; }}
  #header h1, #header p {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }}
  #header p {{ font-size: 0.85rem; margin: 2px 0 0 0; color: #aaa; }}
  #aladin-lite-div {{ position: absolute; top: 56px; bottom: 0; left: 0; right: 0; }}
  #coadds {{ position: absolute; top: 64px; right: 8px; width: 26rem; max-height: 70%; overflow: auto; z-index: 100;
    background: rgba(20, 20, 20, 0.92); border: 1px solid #555; border-radius: 4px; padding: 6px 10px; font-size: 0.8rem; }}
  #coadds h2 {{ font-size: 0.9rem; margin: 0 0 4px 0; }}
  #coadds ul {{ list-style: none; margin: 0; padding: 0; }}
  #coadds li {{ margin: 6px 0; }}
  #coadds a {{ color: #8cf; margin-right: 0.8em; }}
  #coadds code {{ display: block; white-space: pre-wrap; word-break: break-all; background: #111; padding: 3px; margin-top: 3px; }}
  #coadds button {{ float: right; }}
</style>
</head>
<body>
<div id="header"><h1 title="{title_h}">{title_h}</h1><p title="{desc_h}">{did_h} {desc_h}</p></div>
<div id="aladin-lite-div"></div>
<div id="coadds" hidden></div>
<script type="module">
const ALADIN_URL = {url_js};
const HIPS_URL = new URL(".", window.location.href).href.replace(/\/$/, "");
function loadClassic(url) {{
  return new Promise((resolve) => {{
    const s = document.createElement("script");
    s.src = url;
    s.charset = "utf-8";
    s.onload = () => resolve(window.A);
    s.onerror = () => resolve(undefined);
    document.head.appendChild(s);
  }});
}}
async function loadAladin(url) {{
  let A = await loadClassic(url);
  if (!A || !A.init) {{
    const m = await import(url);
    A = (m && m.default) || window.A;
  }}
  return A;
}}
// A click on the sky lists the coadds there (the HiPS server's progenitor query), each with links to the coadd, its
// DataLink document and a cutout of the field shown, and a Python line that opens the cutout in jdaviz (Imviz).
function el(tag, text, attrs) {{
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {{}})) e.setAttribute(k, v);
  return e;
}}
function pyString(s) {{ return JSON.stringify(String(s)); }}
async function showCoadds(ra, dec) {{
  const panel = document.getElementById("coadds");
  panel.hidden = false;
  panel.replaceChildren(el("button", "close"), el("h2", "Coadds at " + ra.toFixed(5) + " " + dec.toFixed(5)));
  panel.firstChild.onclick = () => {{ panel.hidden = true; }};
  panel.dataset.ra = ra;
  panel.dataset.dec = dec;
  const url = new URL("progenitors", HIPS_URL + "/");
  url.searchParams.set("ra", ra.toFixed(7));
  url.searchParams.set("dec", dec.toFixed(7));
  let records;
  try {{
    const r = await fetch(url, {{ credentials: "same-origin" }});
    if (!r.ok) throw new Error(r.status === 404 ? "this server has no progenitor service for this HiPS" : "HTTP " + r.status);
    records = (await r.json()).progenitors || [];
  }} catch (err) {{
    panel.append(el("p", "No coadd list: " + err.message));
    panel.dataset.state = "error";
    return;
  }}
  if (records.length === 0) panel.append(el("p", "No coadd covers this position."));
  const [vra, vdec] = window.aladin.getRaDec();
  const [fx, fy] = window.aladin.getFov();
  const radius = Math.min(Math.min(fx, fy) / 2, 0.5);
  const list = el("ul");
  for (const rec of records) {{
    const name = rec.name || rec.id || "coadd";
    const li = el("li", null, {{ "data-id": rec.id || "" }});
    li.append(el("strong", name), el("br"));
    if (rec.soda) {{
      const cutout = rec.soda + "&CIRCLE=" + encodeURIComponent(vra.toFixed(6) + " " + vdec.toFixed(6) + " " + radius.toPrecision(6));
      li.append(el("a", "coadd", {{ href: rec.soda, class: "coadd" }}), el("a", "cutout of this field", {{ href: cutout, class: "cutout" }}),
        el("a", "DataLink", {{ href: rec.links, class: "links" }}));
      const label = name.replace(/\.fits(\.fz|\.gz)?$/i, "");
      li.append(el("code", "import jdaviz; app = jdaviz.new_app(); app.load(" + pyString(cutout) + ", data_label=" + pyString(label) + "); app.show()", {{ class: "imviz" }}));
    }}
    list.append(li);
  }}
  panel.append(list);
  panel.dataset.state = "done";
}}
loadAladin(ALADIN_URL).then((A) => A.init.then(() => {{
  const survey = A.imageHiPS(HIPS_URL, {{ imgFormat: {format_js}, name: {title_js} }});
  window.aladin = A.aladin("#aladin-lite-div", {{
    survey: survey,
    fov: {fov},
    target: "{ra} {dec}",
    cooFrame: {frame_js},
    showCooGridControl: true,
    showSimbadPointerControl: true,
  }});
  window.aladin.on("click", (e) => {{ if (e && !e.isDragging) showCoadds(e.ra, e.dec); }});
}})).catch((e) => {{
  document.getElementById("aladin-lite-div").textContent = "Aladin Lite could not be loaded from " + ALADIN_URL + ": " + e;
}});
</script>
</body>
</html>
"##,
        title_h = html_escape(title),
        did_h = html_escape(did),
        desc_h = html_escape(desc),
        url_js = js_string(aladin_url),
        format_js = js_string(format),
        title_js = js_string(title),
        frame_js = js_string(frame),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_view_and_escapes() {
        let p = Properties::parse(
            "obs_title = J & H </script>\nhips_initial_ra = 266.4\nhips_initial_dec = -28.9\nhips_initial_fov = 1.5\n\
             hips_tile_format = jpeg fits\nhips_frame = equatorial\n",
        );
        let html = index_html(&p, "/al/aladin.js");
        assert!(html.contains("const ALADIN_URL = \"/al/aladin.js\";"));
        assert!(html.contains("target: \"266.4 -28.9\""));
        assert!(html.contains("fov: 1.5,"));
        assert!(html.contains("imgFormat: \"jpeg\""));
        assert!(html.contains("<title>J &amp; H &lt;/script&gt;</title>"));
        assert!(!html.contains("J & H </script>"));
        assert_eq!(preferred_format(Some("fits")), "fits");
        assert_eq!(preferred_format(Some("png jpeg fits")), "png");
        assert_eq!(aladin_url(Some("x.js")), "x.js");
        // A click lists the coadds there through the server's progenitor query, with the jdaviz line.
        assert!(html.contains(r#"window.aladin.on("click""#));
        assert!(html.contains(r#"new URL("progenitors", HIPS_URL + "/")"#));
        assert!(html.contains("import jdaviz; app = jdaviz.new_app(); app.load("));
    }
}
