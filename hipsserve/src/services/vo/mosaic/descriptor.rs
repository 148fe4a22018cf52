//! The mosaic service descriptor (`RESOURCE type="meta" utype="adhoc:service" name="mosaic"`) that DataLink answers
//! carry: `/vo/mosaic` and its input parameters (no IVOA standard describes mosaics, so no standardID).

use super::super::votable::{Field, Values};

/// Append the descriptor (XML `ID` `xml_id`) to `out`.
pub fn descriptor(out: &mut String, base: &str, xml_id: &str) {
    let _ = std::fmt::Write::write_fmt(
        out,
        format_args!("<RESOURCE type=\"meta\" utype=\"adhoc:service\" ID=\"{xml_id}\" name=\"{xml_id}\">\n"),
    );
    let none = Values::default();
    Field::text("accessURL").write_param(out, &format!("{base}/vo/mosaic"), None, &none);
    out.push_str("<GROUP name=\"inputParams\">\n");
    Field::text("POS")
        .ucd("obs.field")
        .describe("CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or POLYGON ra dec ..., ICRS degrees")
        .write_param(out, "", None, &none);
    Field::scalar("BAND", "double")
        .array("2")
        .xtype("interval")
        .unit("m")
        .ucd("em.wl")
        .write_param(out, "", None, &none);
    Field::text("COLLECTION").ucd("meta.id").write_param(out, "", None, &none);
    Field::scalar("SCALE", "double").unit("arcsec").ucd("pos.angResolution").write_param(out, "", None, &none);
    super::super::soda::cutoutdetail_param_and_end(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_names_the_service_and_its_parameters() {
        let mut s = String::new();
        descriptor(&mut s, "http://h:1", "mosaic");
        assert!(s.contains("value=\"http://h:1/vo/mosaic\"") && s.contains("name=\"SCALE\""), "{s}");
        assert!(s.starts_with("<RESOURCE type=\"meta\" utype=\"adhoc:service\" ID=\"mosaic\""), "{s}");
    }
}
