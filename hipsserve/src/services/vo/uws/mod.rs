//! SODA 1.0 asynchronous cutouts as UWS 1.1 jobs, `/vo/soda/async`: `POST` creates a job (`ID` and regions `POS`,
//! `CIRCLE`, `POLYGON` each repeatable, `CUTOUTDETAIL`, `BAND`, `TIME`, `RUNID`, `EXECUTIONDURATION`,
//! `DESTRUCTION`, `PHASE=RUN`) and answers 303 to it; `GET` lists the caller's jobs (`PHASE`, `AFTER`, `LAST`);
//! under `/<job>`: the job document (`?WAIT=n[&PHASE=p]` blocks until the phase changes, at most
//! `async_jobs.max_wait_secs`), `phase` (POST `PHASE=RUN|ABORT`), `executionduration`, `destruction`, `error`,
//! `quote`, `owner`, `parameters`, `results` and `results/<n>`; `DELETE` (or POST `ACTION=DELETE`) removes it.
//!
//! Ownership: a job is seen only by the caller that created it: the same bearer token (or `hips_token` cookie), the
//! same user from a trusted ingress, or (jobs created anonymously) any anonymous caller who knows its URL. Job ids are
//! 128 random bits, so an anonymous job's URL is a capability nobody can guess, and the job list of an anonymous
//! caller is always empty: anonymous callers never see each other's jobs. Someone else's job is a 404, as an unknown
//! one is. Access to the coadds: every ID is checked at creation with the rules of `/vo/soda/sync` (an ID in a HiPS
//! the caller may not read refuses the job with that 401/403, naming the ID), and each cutout again when it runs.
//! The documents are built in [`xml`], jobs kept in [`store`], run by [`run`].

pub mod run;
pub mod xml;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use super::{denied, hips_of_id, params};
use crate::jobs::{self as store, Phase, Refusal};
use crate::reply::{hv, Reply};
use crate::state::State;

/// The path of the job list.
pub const PATH: &str = "/vo/soda/async";

fn text(status: StatusCode, msg: &str) -> Reply {
    Reply::text(status, msg)
}

fn usage(msg: &str) -> Reply {
    text(StatusCode::BAD_REQUEST, &format!("UsageError: {msg}"))
}

fn no_job() -> Reply {
    text(StatusCode::NOT_FOUND, "NotFoundError: no such job")
}

fn see_other(url: &str) -> Reply {
    let mut r = Reply::new(StatusCode::SEE_OTHER, Bytes::new());
    r.headers_mut().insert(header::LOCATION, hv(url));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn xml_reply(body: String) -> Reply {
    let mut r = Reply::new(StatusCode::OK, Bytes::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Who the caller is for job ownership: `Ok(None)` anonymous, `Ok(Some((key, label)))` an authenticated user (key and
/// label are the user name, as the authenticator identifies it from a token, a cookie or a trusted ingress), `Err` the
/// 401 for a credential that is not valid.
fn owner_of(state: &State, headers: &HeaderMap) -> Result<Option<(String, String)>, Reply> {
    match state.auth.identify(headers) {
        Ok(None) => Ok(None),
        Ok(Some(id)) => Ok(Some((format!("user:{}", id.user), id.user))),
        Err(()) => {
            let mut r = text(StatusCode::UNAUTHORIZED, "authentication required: the token is not valid");
            let realm = state.auth.realm();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, hv(&format!("Bearer realm=\"{realm}\", error=\"invalid_token\"")));
            Err(r)
        }
    }
}

/// The request headers a job keeps to run its cutouts as its creator.
fn credentials(state: &State, headers: &HeaderMap) -> HeaderMap {
    let auth = &state.cfg.auth;
    let mut out = HeaderMap::new();
    for name in [header::AUTHORIZATION.as_str(), header::COOKIE.as_str(), &auth.user_header, &auth.groups_header] {
        for v in headers.get_all(name) {
            if let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) {
                out.append(n, v.clone());
            }
        }
    }
    out
}

/// Answer a request under `/vo/soda/async` (`path`: the request path; `base`: the server's base URL).
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    state: &State,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    base: &str,
    query: Option<&str>,
    body: Option<&[u8]>,
    request_id: &str,
) -> Reply {
    let rest = path.strip_prefix(PATH).unwrap_or("").trim_matches('/');
    let list_url = format!("{base}{PATH}");
    let owner = match owner_of(state, headers) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let key = owner.as_ref().map(|(k, _)| k.as_str());
    let p = params(query, body);
    let post = method == Method::POST;
    let mut segs = rest.splitn(3, '/');
    let (job, sub, tail) = (segs.next().unwrap_or(""), segs.next(), segs.next());
    if job.is_empty() {
        return match *method {
            Method::POST => create(state, headers, owner.clone(), &p, &list_url, request_id),
            Method::GET | Method::HEAD => list(state, key, &p, &list_url),
            _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        };
    }
    let jobs = &state.uws;
    if jobs.with(job, key, |_| ()).is_none() {
        return no_job();
    }
    let job_url = format!("{list_url}/{job}");
    let get = |k: &str| p.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.trim().to_string());
    if *method == Method::DELETE && sub.is_none() {
        jobs.delete(job);
        return see_other(&list_url);
    }
    if *method == Method::DELETE {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: DELETE the job itself");
    }
    match (sub, tail, post) {
        (None, None, false) => wait_then_show(state, job, key, &p, &job_url).await,
        (None, None, true) => {
            if get("ACTION").is_some_and(|a| a.eq_ignore_ascii_case("DELETE")) {
                jobs.delete(job);
                return see_other(&list_url);
            }
            if let Some(r) = update(state, job, key, &p) {
                return r;
            }
            see_other(&job_url)
        }
        (Some("phase" | "executionduration" | "destruction"), None, true) => match update(state, job, key, &p) {
            Some(r) => r,
            None => see_other(&job_url),
        },
        (Some("phase"), None, false) => field(state, job, key, |j| j.phase.name().to_string()),
        (Some("executionduration"), None, false) => field(state, job, key, |j| j.execution_secs.to_string()),
        (Some("destruction"), None, false) => field(state, job, key, |j| xml::iso(j.destruction)),
        (Some("quote"), None, false) => field(state, job, key, |_| String::new()),
        (Some("owner"), None, false) => field(state, job, key, |j| j.owner_label.clone().unwrap_or_default()),
        (Some("error"), None, false) => match jobs.with(job, key, |j| (j.phase, j.error.clone())) {
            Some((Phase::Error, Some(msg))) => text(StatusCode::OK, &msg),
            Some(_) => text(StatusCode::NOT_FOUND, "NotFoundError: this job has no error"),
            None => no_job(),
        },
        (Some("parameters"), None, false) => {
            let doc = jobs.with(job, key, |j| {
                let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                xml::parameters(&mut s, j, true);
                s
            });
            doc.map_or_else(no_job, xml_reply)
        }
        (Some("results"), None, false) => {
            let doc = jobs.with(job, key, |j| {
                let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                xml::results(&mut s, j, &job_url, true);
                s
            });
            doc.map_or_else(no_job, xml_reply)
        }
        (Some("results"), Some(n), false) => result_file(state, job, key, n, request_id).await,
        (Some(_), _, true) => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => text(StatusCode::NOT_FOUND, "NotFoundError: no such job resource"),
    }
}

fn field(state: &State, job: &str, key: Option<&str>, f: impl FnOnce(&store::Job) -> String) -> Reply {
    state.uws.with(job, key, |j: &mut store::Job| f(j)).map_or_else(no_job, |s| text(StatusCode::OK, &s))
}

/// Create a job from the POSTed parameters.
fn create(
    state: &State,
    headers: &HeaderMap,
    owner: Option<(String, String)>,
    p: &[(String, String)],
    list_url: &str,
    request_id: &str,
) -> Reply {
    if state.cfg.on_demand.coadd_roots.is_empty() {
        return text(StatusCode::NOT_FOUND, "NotFoundError: cutouts are not enabled on this server");
    }
    let (mut kept, mut ids, mut n_regions) = (Vec::new(), Vec::new(), 0usize);
    let (mut run_now, mut run_id, mut duration, mut destruction) = (false, None, None, None);
    for (k, v) in p {
        let up = k.to_ascii_uppercase();
        match up.as_str() {
            "PHASE" if v.trim().eq_ignore_ascii_case("RUN") => run_now = true,
            "PHASE" => return usage(&format!("PHASE={v:?}: only RUN may be given when creating a job")),
            "RUNID" => run_id = Some(v.clone()),
            "EXECUTIONDURATION" => duration = Some(v.clone()),
            "DESTRUCTION" => destruction = Some(v.clone()),
            "ID" => {
                if v.trim().is_empty() {
                    return usage("an empty ID");
                }
                ids.push(v.trim().to_string());
                kept.push(("ID".to_string(), v.trim().to_string()));
            }
            "POS" | "CIRCLE" | "POLYGON" => {
                let parsed = match up.as_str() {
                    "POS" => hips_core::cutout::Shape::parse_pos(v),
                    "CIRCLE" => hips_core::cutout::Shape::parse_circle(v),
                    _ => hips_core::cutout::Shape::parse_polygon(v),
                };
                if let Err(e) = parsed {
                    return usage(&format!("{up}={v:?}: {e}"));
                }
                n_regions += 1;
                kept.push((up, v.clone()));
            }
            "CUTOUTDETAIL" | "BAND" | "TIME" | "RESPONSEFORMAT" => kept.push((up, v.clone())),
            _ => return usage(&format!("unknown parameter {k:?} (use ID with POS, CIRCLE or POLYGON)")),
        }
    }
    if ids.is_empty() {
        return usage("give at least one ID (a coadd identifier)");
    }
    // The other parameters are checked as the sync service will read them, once.
    let mut probe: Vec<(String, String)> =
        kept.iter().filter(|(k, _)| !matches!(k.as_str(), "ID" | "POS" | "CIRCLE" | "POLYGON")).cloned().collect();
    probe.push(("ID".into(), ids[0].clone()));
    if let Err(e) = crate::services::soda::parse_params(&probe) {
        return text(StatusCode::BAD_REQUEST, &format!("{}: {e}", e.word()));
    }
    let cfg = state.uws.cfg();
    let wanted = ids.len() * n_regions.max(1);
    if wanted > cfg.max_results_per_job {
        return usage(&format!(
            "{wanted} results (IDs x regions) asked, more than async_jobs.max_results_per_job ({})",
            cfg.max_results_per_job
        ));
    }
    for id in &ids {
        if let Some((h, _)) = hips_of_id(state, id) {
            if let Some(mut r) = denied(state, headers, h) {
                let why = if r.status() == StatusCode::UNAUTHORIZED { "authentication required" } else { "forbidden" };
                let challenge = r.headers_mut().remove(header::WWW_AUTHENTICATE);
                let mut out = text(r.status(), &format!("AuthorizationError: ID {id:?}: {why}"));
                if let Some(c) = challenge {
                    out.headers_mut().insert(header::WWW_AUTHENTICATE, c);
                }
                return out;
            }
        }
    }
    let secs = match duration.as_deref().map(str::trim).map(str::parse::<u64>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(_)) => {
            return usage(&format!("EXECUTIONDURATION={:?}: give whole seconds", duration.unwrap_or_default()))
        }
    };
    let when = match destruction.as_deref().map(|d| (d, xml::parse_iso(d))) {
        None => None,
        Some((_, Some(t))) => Some(t),
        Some((d, None)) => return usage(&format!("DESTRUCTION={d:?}: give an ISO 8601 UTC time")),
    };
    let (key, label) = owner.map_or((None, None), |(k, l)| (Some(k), Some(l)));
    let id = match state.uws.create(key.clone(), label, run_id, kept, credentials(state, headers)) {
        Ok(id) => id,
        Err(e @ Refusal::Full(_)) => {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, &format!("ServiceUnavailable: {e}"));
            r.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
            return r;
        }
        Err(e @ Refusal::OwnerFull(_)) => {
            return text(StatusCode::TOO_MANY_REQUESTS, &format!("UsageError: {e}"));
        }
        Err(e) => {
            tracing::warn!(request_id, error = %hips_core::error_chain(&e), "async job not created");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Error: cannot create a job now");
        }
    };
    let key = key.as_deref();
    if let Some(s) = secs {
        set_duration(state, &id, key, s);
    }
    if let Some(t) = when {
        set_destruction(state, &id, t);
    }
    if run_now {
        start(state, &id, key);
    }
    tracing::info!(request_id, job = %id, "async job created");
    see_other(&format!("{list_url}/{id}"))
}

fn set_duration(state: &State, id: &str, key: Option<&str>, secs: u64) {
    let max = state.uws.cfg().max_execution_secs;
    state.uws.with(id, key, |j| j.execution_secs = if secs == 0 { max } else { secs.min(max) });
}

fn set_destruction(state: &State, id: &str, when: SystemTime) {
    let latest = SystemTime::now() + Duration::from_secs(state.uws.cfg().max_destruction_secs);
    state.uws.set_destruction(id, when.min(latest));
}

/// PHASE=RUN on a PENDING job: QUEUED, and its task spawned.
fn start(state: &State, id: &str, key: Option<&str>) {
    let jobs = state.uws.clone();
    let Some(shared) = state.shared() else {
        jobs.set_phase(id, Phase::Error, Some("the server cannot run jobs (not attached)".into()));
        return;
    };
    if !jobs.try_queue(id, key) {
        return;
    }
    let task = tokio::spawn(run::execute(jobs.clone(), shared, id.to_string()));
    let handle = task.abort_handle();
    jobs.with(id, key, move |j| j.task = Some(handle));
}

/// POSTed PHASE, EXECUTIONDURATION, DESTRUCTION on a job: `Some` reply when refused.
fn update(state: &State, id: &str, key: Option<&str>, p: &[(String, String)]) -> Option<Reply> {
    let mut did = false;
    for (k, v) in p {
        match k.to_ascii_uppercase().as_str() {
            "PHASE" => match v.trim().to_ascii_uppercase().as_str() {
                "RUN" => start(state, id, key),
                "ABORT" => {
                    let task =
                        state.uws.with(id, key, |j| if j.phase.active() { j.task.take() } else { None }).flatten();
                    if let Some(t) = task {
                        t.abort();
                    }
                    state.uws.set_phase(id, Phase::Aborted, None);
                }
                _ => return Some(usage(&format!("PHASE={v:?}: use RUN or ABORT"))),
            },
            "EXECUTIONDURATION" => {
                let Ok(s) = v.trim().parse::<u64>() else {
                    return Some(usage(&format!("EXECUTIONDURATION={v:?}: give whole seconds")));
                };
                if state.uws.with(id, key, |j| j.phase) != Some(Phase::Pending) {
                    return Some(usage("EXECUTIONDURATION can be changed only while the job is PENDING"));
                }
                set_duration(state, id, key, s);
            }
            "DESTRUCTION" => {
                let Some(t) = xml::parse_iso(v) else {
                    return Some(usage(&format!("DESTRUCTION={v:?}: give an ISO 8601 UTC time")));
                };
                set_destruction(state, id, t);
            }
            _ => return Some(usage(&format!("unknown parameter {k:?} for a job"))),
        }
        did = true;
    }
    (!did).then(|| usage("give PHASE, EXECUTIONDURATION, DESTRUCTION or ACTION=DELETE"))
}

/// The job document, after `WAIT=n` when the job is active (and in `PHASE`, when given).
async fn wait_then_show(state: &State, job: &str, key: Option<&str>, p: &[(String, String)], job_url: &str) -> Reply {
    let get = |k: &str| p.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.trim().to_string());
    if let Some(w) = get("WAIT") {
        let Ok(w) = w.parse::<i64>() else { return usage(&format!("WAIT={w:?}: give seconds")) };
        let max = state.uws.cfg().max_wait_secs;
        let secs = if w < 0 { max } else { (w as u64).min(max) };
        let asked = match get("PHASE") {
            None => None,
            Some(ph) => match Phase::parse(&ph) {
                Some(x) => Some(x),
                None => return usage(&format!("PHASE={ph:?}: not a UWS phase")),
            },
        };
        if let Some(mut rx) = state.uws.watch(job, key) {
            let now = *rx.borrow_and_update();
            if now.active() && asked.is_none_or(|a| a == now) {
                let _ = tokio::time::timeout(Duration::from_secs(secs), rx.wait_for(|ph| *ph != now)).await;
            }
        }
    }
    state.uws.with(job, key, |j| xml::job_document(j, job_url)).map_or_else(no_job, xml_reply)
}

/// The job list of the caller (`PHASE` repeatable, `AFTER`, `LAST`), most recent first.
fn list(state: &State, key: Option<&str>, p: &[(String, String)], list_url: &str) -> Reply {
    let mut phases = Vec::new();
    let (mut after, mut last) = (None, None);
    for (k, v) in p {
        match k.to_ascii_uppercase().as_str() {
            "PHASE" => match Phase::parse(v) {
                Some(ph) => phases.push(ph),
                None => return usage(&format!("PHASE={v:?}: not a UWS phase")),
            },
            "AFTER" => match xml::parse_iso(v) {
                Some(t) => after = Some(t),
                None => return usage(&format!("AFTER={v:?}: give an ISO 8601 UTC time")),
            },
            "LAST" => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => last = Some(n),
                _ => return usage(&format!("LAST={v:?}: give a positive integer")),
            },
            _ => return usage(&format!("unknown parameter {k:?} for the job list (PHASE, AFTER, LAST)")),
        }
    }
    if key.is_none() {
        // Anonymous callers never see each other's jobs: their jobs are reached by URL only.
        return xml_reply(xml::job_list(&[], list_url));
    }
    let doc = state.uws.with_owned(key, |mut jobs| {
        jobs.retain(|j| {
            (phases.is_empty() || phases.contains(&j.phase)) && after.is_none_or(|a| millis(j.creation) > millis(a))
        });
        jobs.sort_by(|a, b| b.creation.cmp(&a.creation).then_with(|| a.id.cmp(&b.id)));
        if let Some(n) = last {
            jobs.truncate(n);
        }
        xml::job_list(&jobs, list_url)
    });
    xml_reply(doc)
}

/// Milliseconds since 1970: the precision of the times the documents give (and so of AFTER).
fn millis(t: SystemTime) -> u128 {
    t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
}

/// `results/<n>`: the stored file, its bytes reserved in the uncached budget while it is sent.
async fn result_file(state: &State, job: &str, key: Option<&str>, n: &str, request_id: &str) -> Reply {
    let Ok(i) = n.parse::<usize>() else { return text(StatusCode::NOT_FOUND, "NotFoundError: no such result") };
    let Some(Some(r)) = state.uws.with(job, key, |j| j.results.get(i).cloned()) else {
        return text(StatusCode::NOT_FOUND, "NotFoundError: no such result");
    };
    let wait = Duration::from_millis(state.cfg.on_demand.timeout_ms);
    let Ok(Some(room)) = tokio::time::timeout(wait, state.cache.budget().reserve_generated(r.size)).await else {
        let mut out =
            text(StatusCode::SERVICE_UNAVAILABLE, "Error: the server's memory for bodies is in use, retry later");
        out.headers_mut().insert(header::RETRY_AFTER, hv(&state.cfg.limits.retry_after_secs.to_string()));
        return out;
    };
    let path = state.uws.dir_of(job).join(i.to_string());
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(request_id, job, result = i, error = %e, "async result unreadable");
            return text(StatusCode::NOT_FOUND, "NotFoundError: this result is gone");
        }
    };
    let mut out = Reply::new(StatusCode::OK, room.hold(bytes));
    let hd = out.headers_mut();
    let ct = if r.mime == "text/plain" { "text/plain; charset=utf-8" } else { r.mime };
    hd.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    hd.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if r.mime == "application/fits" {
        hd.insert(header::CONTENT_DISPOSITION, hv(&format!("inline; filename=\"cutout_{job}_{i}.fits\"")));
    }
    out
}
