//! The UWS 1.1 documents (`uws:job`, `uws:jobs`, `uws:parameters`, `uws:results`, namespace
//! `http://www.ivoa.net/xml/UWS/v1.0`, `version="1.1"`, elements in the order of the UWS 1.1 schema) and the ISO 8601
//! UTC times they carry (written and parsed here: no date crate for two functions).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::jobs::{Job, Phase};
use crate::services::vo::votable::esc;

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NS: &str = "xmlns:uws=\"http://www.ivoa.net/xml/UWS/v1.0\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
                  xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";
/// `uws:job` and `uws:jobs` carry the version (the schema allows it on those two only).
const VERSION: &str = "version=\"1.1\"";

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `t` as `YYYY-MM-DDThh:mm:ss.sssZ`.
#[must_use]
pub fn iso(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, da) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{da:02}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, d.subsec_millis())
}

/// Parse an ISO 8601 UTC time (`YYYY-MM-DD`, optionally `Thh:mm[:ss[.fff]]`, optionally `Z`).
#[must_use]
pub fn parse_iso(text: &str) -> Option<SystemTime> {
    let t = text.trim().trim_end_matches('Z');
    let (date, time) = t.split_once('T').unwrap_or((t, "00:00:00"));
    let mut dp = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, mo, da) = (dp.next()?.ok()?, dp.next()?.ok()?, dp.next()?.ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || y < 1970 {
        return None;
    }
    let mut tp = time.splitn(3, ':');
    let h: u64 = tp.next()?.parse().ok()?;
    let mi: u64 = tp.next()?.parse().ok()?;
    let sec: f64 = tp.next().map_or(Ok(0.0), str::parse).ok()?;
    if h > 23 || mi > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, mo, da)).ok()?;
    let whole = days * 86_400 + h * 3600 + mi * 60;
    Some(UNIX_EPOCH + Duration::from_secs(whole) + Duration::from_secs_f64(sec))
}

fn opt_time(out: &mut String, name: &str, t: Option<SystemTime>) {
    match t {
        Some(t) => {
            let _ = writeln!(out, "  <uws:{name}>{}</uws:{name}>", iso(t));
        }
        None => {
            let _ = writeln!(out, "  <uws:{name} xsi:nil=\"true\"/>");
        }
    }
}

fn owner(out: &mut String, indent: &str, job: &Job) {
    match &job.owner_label {
        Some(o) => {
            let _ = writeln!(out, "{indent}<uws:ownerId>{}</uws:ownerId>", esc(o));
        }
        None => {
            let _ = writeln!(out, "{indent}<uws:ownerId xsi:nil=\"true\"/>");
        }
    }
}

/// The `uws:parameters` element (`ns`: with the namespace declarations, as a document of its own).
pub fn parameters(out: &mut String, job: &Job, ns: bool) {
    let decl = if ns { format!(" {NS}") } else { String::new() };
    let _ = writeln!(out, "<uws:parameters{decl}>");
    for (k, v) in &job.params {
        let _ = writeln!(out, "    <uws:parameter id=\"{}\">{}</uws:parameter>", esc(k), esc(v));
    }
    out.push_str("</uws:parameters>\n");
}

/// The `uws:results` element, hrefs under `job_url`.
pub fn results(out: &mut String, job: &Job, job_url: &str, ns: bool) {
    let decl = if ns { format!(" {NS}") } else { String::new() };
    let _ = writeln!(out, "<uws:results{decl}>");
    for (n, r) in job.results.iter().enumerate() {
        let _ = writeln!(
            out,
            "    <uws:result id=\"{n}\" xlink:type=\"simple\" xlink:href=\"{}/results/{n}\" mime-type=\"{}\" \
             size=\"{}\"/>",
            esc(job_url),
            r.mime,
            r.size
        );
    }
    out.push_str("</uws:results>\n");
}

/// The `uws:job` document of `job`, at `job_url`.
#[must_use]
pub fn job_document(job: &Job, job_url: &str) -> String {
    let mut out = format!("{HEAD}<uws:job {NS} {VERSION}>\n");
    let _ = writeln!(out, "  <uws:jobId>{}</uws:jobId>", esc(&job.id));
    if let Some(r) = &job.run_id {
        let _ = writeln!(out, "  <uws:runId>{}</uws:runId>", esc(r));
    }
    owner(&mut out, "  ", job);
    let _ = writeln!(out, "  <uws:phase>{}</uws:phase>", job.phase.name());
    out.push_str("  <uws:quote xsi:nil=\"true\"/>\n");
    opt_time(&mut out, "creationTime", Some(job.creation));
    opt_time(&mut out, "startTime", job.start);
    opt_time(&mut out, "endTime", job.end);
    let _ = writeln!(out, "  <uws:executionDuration>{}</uws:executionDuration>", job.execution_secs);
    opt_time(&mut out, "destruction", Some(job.destruction));
    out.push_str("  ");
    parameters(&mut out, job, false);
    out.push_str("  ");
    results(&mut out, job, job_url, false);
    if let (Phase::Error, Some(msg)) = (job.phase, &job.error) {
        let _ = writeln!(
            out,
            "  <uws:errorSummary type=\"fatal\" hasDetail=\"true\">\n    <uws:message>{}</uws:message>\n  \
             </uws:errorSummary>",
            esc(msg)
        );
    }
    out.push_str("</uws:job>\n");
    out
}

/// The `uws:jobs` document listing `jobs` (job URLs under `list_url`).
#[must_use]
pub fn job_list(jobs: &[&Job], list_url: &str) -> String {
    let mut out = format!("{HEAD}<uws:jobs {NS} {VERSION}>\n");
    for job in jobs {
        let _ = writeln!(
            out,
            "  <uws:jobref id=\"{0}\" xlink:type=\"simple\" xlink:href=\"{1}/{0}\">\n    <uws:phase>{2}</uws:phase>",
            esc(&job.id),
            esc(list_url),
            job.phase.name()
        );
        if let Some(r) = &job.run_id {
            let _ = writeln!(out, "    <uws:runId>{}</uws:runId>", esc(r));
        }
        owner(&mut out, "    ", job);
        let _ = writeln!(out, "    <uws:creationTime>{}</uws:creationTime>\n  </uws:jobref>", iso(job.creation));
    }
    out.push_str("</uws:jobs>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_match_known_dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_798_761_599_123);
        assert_eq!(iso(t), "2026-12-31T23:59:59.123Z");
        assert_eq!(parse_iso("2026-12-31T23:59:59.123Z"), Some(t));
        assert_eq!(iso(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
        assert_eq!(parse_iso("2000-02-29"), Some(UNIX_EPOCH + Duration::from_secs(951_782_400)));
        assert_eq!(parse_iso("2000-02-29T00:00"), Some(UNIX_EPOCH + Duration::from_secs(951_782_400)));
        for bad in ["", "tomorrow", "2026-13-01", "2026-01-01T25:00:00", "1969-12-31"] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }
}
