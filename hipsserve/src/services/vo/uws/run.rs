//! Running a `/vo/soda/async` job: every ID crossed with every region (POS, CIRCLE, POLYGON; none: the whole
//! coadd) is one synchronous SODA request answered by [`crate::services::vo::soda::answer`], with the job's own
//! credentials, so a result is byte for byte what `/vo/soda/sync` gives and the same access rules apply. A FITS
//! answer becomes an `application/fits` result; a region that misses (204) or any refusal a `text/plain` result
//! naming the ID and region. Each result is written to `<jobs_dir>/<job>/<n>` through a temporary file and a rename,
//! after its bytes are reserved in `async_jobs.max_disk_bytes` (a result that does not fit sends the job to ERROR).
//! The whole run is bounded by the job's execution duration (past it: ERROR).

use std::sync::Arc;
use std::time::Duration;

use http::header;
use http::StatusCode;

use crate::jobs::{remove_dir, Jobs, Phase, ResultFile};
use crate::services::vo::soda;
use crate::state::State;

/// The parameter names that give regions.
pub(super) const REGIONS: [&str; 3] = ["POS", "CIRCLE", "POLYGON"];

/// Why a run stopped with ERROR.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// `async_jobs.max_disk_bytes` would be exceeded.
    #[error("disk quota exceeded: result {n} ({bytes} bytes) would pass async_jobs.max_disk_bytes ({quota} bytes)")]
    Quota {
        /// The result's index.
        n: usize,
        /// Its size.
        bytes: u64,
        /// The quota.
        quota: u64,
    },
    /// The result file could not be written.
    #[error("cannot store result {n}")]
    Write {
        /// The result's index.
        n: usize,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The job was deleted or aborted while running.
    #[error("the job stopped")]
    Stopped,
}

/// Bytes reserved in the disk quota for one result: given back when dropped unless kept (a run cut short by its
/// execution duration or an abort drops it mid-write).
struct Held<'a> {
    jobs: &'a Jobs,
    bytes: u64,
    kept: bool,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.jobs.release(self.bytes);
        }
    }
}

/// The (ID, region) requests of a job's parameters, in order: IDs outer, regions inner; the other parameters
/// (CUTOUTDETAIL, BAND, TIME, RESPONSEFORMAT) go with each.
pub(super) fn requests(params: &[(String, String)]) -> Vec<Vec<(String, String)>> {
    let up = |k: &str| k.to_ascii_uppercase();
    let ids: Vec<&String> = params.iter().filter(|(k, _)| up(k) == "ID").map(|(_, v)| v).collect();
    let regions: Vec<&(String, String)> = params.iter().filter(|(k, _)| REGIONS.contains(&up(k).as_str())).collect();
    let common: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| up(k) != "ID" && !REGIONS.contains(&up(k).as_str())).collect();
    let mut out = Vec::new();
    for id in ids {
        let one = |region: Option<&(String, String)>| {
            let mut p = vec![("ID".to_string(), id.clone())];
            p.extend(region.cloned());
            p.extend(common.iter().map(|kv| (*kv).clone()));
            p
        };
        if regions.is_empty() {
            out.push(one(None));
        } else {
            out.extend(regions.iter().map(|r| one(Some(r))));
        }
    }
    out
}

/// Run job `id` (already QUEUED) to its end.
pub(super) async fn execute(jobs: Jobs, state: Arc<State>, id: String) {
    let Some((params, credentials, secs)) =
        jobs.with_any(&id, |j| (j.params.clone(), j.credentials.clone(), j.execution_secs))
    else {
        return;
    };
    jobs.set_phase(&id, Phase::Executing, None);
    if jobs.with_any(&id, |j| j.phase) != Some(Phase::Executing) {
        return; // aborted or deleted while queued
    }
    let limit = Duration::from_secs(secs.max(1));
    let work = run_all(&jobs, &state, &id, &params, &credentials);
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(())) => jobs.set_phase(&id, Phase::Completed, None),
        Ok(Err(RunError::Stopped)) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = %id, error = %hips_core::error_chain(&e), "async job failed");
            jobs.set_phase(&id, Phase::Error, Some(e.to_string()));
        }
        Err(_) => jobs.set_phase(
            &id,
            Phase::Error,
            Some(format!("execution duration exceeded: the job ran {secs} s (its executionDuration) unfinished")),
        ),
    }
}

async fn run_all(
    jobs: &Jobs,
    state: &State,
    id: &str,
    params: &[(String, String)],
    credentials: &http::HeaderMap,
) -> Result<(), RunError> {
    let dir = jobs.dir_of(id);
    for (n, p) in requests(params).into_iter().enumerate() {
        let request_id = format!("uws-{id}-{n}");
        let mut r = soda::answer(state, credentials, &p, &request_id).await;
        let status = r.status();
        let fits = status == StatusCode::OK
            && r.headers_mut().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/fits");
        let (mime, body): (&'static str, Vec<u8>) = if fits {
            ("application/fits", r.payload().bytes.to_vec())
        } else {
            let what = p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            let text = if status == StatusCode::NO_CONTENT {
                format!("NoOverlap: the region misses the coadd's pixels ({what})\n")
            } else {
                let said = String::from_utf8_lossy(r.payload().bytes).trim().to_string();
                format!("{said} ({what}; HTTP {})\n", status.as_u16())
            };
            ("text/plain", text.into_bytes())
        };
        drop(r);
        let bytes = body.len() as u64;
        if !jobs.reserve(bytes) {
            return Err(RunError::Quota { n, bytes, quota: jobs.cfg().max_disk_bytes });
        }
        let mut held = Held { jobs, bytes, kept: false };
        let (d, write_dir) = (dir.clone(), dir.clone());
        let written = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&write_dir)?;
            let tmp = write_dir.join(format!(".{n}.tmp"));
            std::fs::write(&tmp, &body)?;
            std::fs::rename(&tmp, write_dir.join(n.to_string()))
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        if let Err(source) = written {
            return Err(RunError::Write { n, source });
        }
        held.kept = jobs.add_result(id, ResultFile { mime, size: bytes });
        if !held.kept {
            if jobs.with_any(id, |_| ()).is_none() {
                remove_dir(&d);
            }
            return Err(RunError::Stopped);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn ids_cross_regions_with_the_common_parameters() {
        let p =
            kv(&[("ID", "a"), ("CIRCLE", "1 2 3"), ("id", "b"), ("POS", "RANGE 1 2 3 4"), ("CUTOUTDETAIL", "Image")]);
        let r = requests(&p);
        assert_eq!(
            r,
            vec![
                kv(&[("ID", "a"), ("CIRCLE", "1 2 3"), ("CUTOUTDETAIL", "Image")]),
                kv(&[("ID", "a"), ("POS", "RANGE 1 2 3 4"), ("CUTOUTDETAIL", "Image")]),
                kv(&[("ID", "b"), ("CIRCLE", "1 2 3"), ("CUTOUTDETAIL", "Image")]),
                kv(&[("ID", "b"), ("POS", "RANGE 1 2 3 4"), ("CUTOUTDETAIL", "Image")]),
            ]
        );
        assert_eq!(requests(&kv(&[("ID", "a")])), vec![kv(&[("ID", "a")])]);
    }
}
