//! Serving a release root (`hipsgen release`): `/<hips>/...` from the release named by `<out>/current`,
//! `/<id>/<hips>/...` from every finalized release, `/hipslist` as published (`<out>/hipslist`).
//!
//! The catalogue is a whole [`State`] snapshot held by [`Live`]; a task reads `current`, the release folders and
//! `hipslist` again every `release.poll_ms` and, when any changed, builds the next snapshot (releases already loaded
//! are kept: a finalized release never changes) and swaps it in at once. A request takes one snapshot and answers from
//! it alone ([`State::snapshot`]), so it sees one release. Nothing published yet serves no HiPS (and says so in the
//! log); a `current` naming a release that is missing keeps the previous one (and says so).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::catalog::auth::{Auth, AuthError};
use crate::catalog::release::{self, Release, ReleaseError, CURRENT, MANIFEST};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::{Live, State};
use crate::store::{Object, Root, ServeError};

/// What a snapshot was built from.
#[derive(Debug, Default, Clone)]
struct Seen {
    /// The current release (`None`: nothing published, or only a missing release named so far).
    current: Option<String>,
    /// Every finalized release, by id.
    releases: BTreeMap<String, Arc<Release>>,
    /// The published list.
    hipslist: Bytes,
}

impl Seen {
    fn same(&self, other: &Seen) -> bool {
        self.current == other.current
            && self.hipslist == other.hipslist
            && self.releases.keys().eq(other.releases.keys())
    }
}

/// Whether the configured roots are one release root: `release.enabled`, else a single root holding `current` or a
/// finalized release (`<id>/manifest.json`) and no `properties` of its own.
///
/// # Errors
/// When the root cannot be listed.
pub async fn is_release_root(cfg: &Config, roots: &[Root], timeout: Duration) -> Result<bool, ServeError> {
    match (cfg.release.enabled, roots) {
        (Some(false), _) | (None, [] | [_, _, ..]) => Ok(false),
        (Some(true), _) => Ok(true),
        (None, [root]) => {
            let (dirs, files) = root.list("").await?;
            if files.iter().any(|f| f == CURRENT) {
                return Ok(true);
            }
            if files.iter().any(|f| f == hips_core::layout::PROPERTIES) {
                return Ok(false);
            }
            for d in dirs.iter().filter(|d| release::valid_id(d)) {
                if root.read(&format!("{d}/{MANIFEST}"), timeout).await?.is_some() {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// The state of a release root: its first snapshot, and the task that keeps it current (spawned on the calling
/// runtime).
///
/// # Errors
/// When more than one root is configured, or the tokens cannot be loaded.
pub async fn build_state(cfg: Config, roots: Vec<Root>, metrics: Arc<Metrics>) -> Result<Arc<State>, AuthError> {
    let root = roots[0].clone();
    let auth = Auth::new(&cfg.auth, |k| std::env::var(k).ok())?;
    tracing::info!(root = root.location(), poll_ms = cfg.release.poll_ms, "serving a release root");
    let jobs = crate::jobs::Jobs::new(&cfg.async_jobs);
    jobs.remove_stale();
    let mut watcher =
        Watcher { cfg: cfg.clone(), root, metrics: metrics.clone(), jobs, seen: Seen::default(), logged: None };
    let first = watcher.scan().await;
    let snapshot = watcher.snapshot(&first)?;
    watcher.seen = first;
    let live = Arc::new(Live::new(snapshot));
    let mut outer = State::new(cfg, roots, Vec::new(), auth, metrics);
    outer.live = Some(live.clone());
    outer.uws = watcher.jobs.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis(watcher.cfg.release.poll_ms.max(50));
        loop {
            tokio::time::sleep(every).await;
            let next = watcher.scan().await;
            if next.same(&watcher.seen) {
                continue;
            }
            match watcher.snapshot(&next) {
                Ok(s) => {
                    if next.current != watcher.seen.current {
                        tracing::info!(
                            current = next.current.as_deref().unwrap_or("none"),
                            previous = watcher.seen.current.as_deref().unwrap_or("none"),
                            "release root: current release switched"
                        );
                    }
                    live.store(s);
                    watcher.seen = next;
                }
                Err(e) => tracing::warn!(error = %e, "release root: keeping the previous catalogue"),
            }
        }
    });
    Ok(Arc::new(outer))
}

struct Watcher {
    cfg: Config,
    root: Root,
    metrics: Arc<Metrics>,
    /// The asynchronous jobs, one store for every snapshot (a job outlives a switch of release).
    jobs: crate::jobs::Jobs,
    seen: Seen,
    /// The last problem logged (each is logged once, not at every poll).
    logged: Option<String>,
}

impl Watcher {
    fn once(&mut self, problem: String) {
        if self.logged.as_deref() != Some(problem.as_str()) {
            tracing::warn!(root = self.root.location(), "release root: {problem}");
            self.logged = Some(problem);
        }
    }

    /// What the root holds now; on a storage failure, what was seen before.
    async fn scan(&mut self) -> Seen {
        let timeout = Duration::from_millis(self.cfg.limits.storage_timeout_ms);
        let dirs = match release::release_dirs(&self.root).await {
            Ok(d) => d,
            Err(e) => {
                self.once(format!("cannot list the releases: {e}"));
                return self.seen.clone();
            }
        };
        let mut releases = BTreeMap::new();
        for id in dirs {
            if let Some(r) = self.seen.releases.get(&id) {
                releases.insert(id, r.clone());
                continue;
            }
            match release::load_release(&self.cfg, &self.root, &id, timeout).await {
                Ok(Some(r)) => {
                    tracing::info!(release = %id, hips = r.hips.len(), "release root: release found");
                    releases.insert(id, Arc::new(r));
                }
                Ok(None) => {}
                Err(e) => self.once(format!("release {id} not served: {e}")),
            }
        }
        let current = match release::read_current(&self.root, timeout).await {
            Ok(Some(id)) if releases.contains_key(&id) => Some(id),
            Ok(Some(id)) => {
                self.once(format!(
                    "{CURRENT} names release {id}, which has no {id}/{MANIFEST}: keeping the previous current release"
                ));
                self.seen.current.clone().filter(|c| releases.contains_key(c))
            }
            Ok(None) => {
                self.once(format!("nothing published yet (no {CURRENT}): no HiPS served at /<hips>/ until a publish"));
                None
            }
            Err(ReleaseError::Read(e)) => {
                self.once(format!("cannot read {CURRENT}: {e}"));
                self.seen.current.clone().filter(|c| releases.contains_key(c))
            }
            Err(e) => {
                self.once(format!("{e}: keeping the previous current release"));
                self.seen.current.clone().filter(|c| releases.contains_key(c))
            }
        };
        let hipslist = match release::read_hipslist(&self.root, timeout).await {
            Ok(b) => b,
            Err(e) => {
                self.once(format!("cannot read the published hipslist: {e}"));
                self.seen.hipslist.clone()
            }
        };
        Seen { current, releases, hipslist }
    }

    /// The catalogue snapshot of `seen`: every release's HiPS as `<id>/<hips>`, the current one's also as `<hips>`.
    fn snapshot(&self, seen: &Seen) -> Result<State, AuthError> {
        let mut hips = Vec::new();
        for r in seen.releases.values() {
            hips.extend(r.hips.iter().cloned());
        }
        if let Some(cur) = seen.current.as_ref().and_then(|c| seen.releases.get(c)) {
            hips.extend(release::current_aliases(&self.cfg, cur));
        }
        let auth = Auth::new(&self.cfg.auth, |k| std::env::var(k).ok())?;
        let mut st = State::new(self.cfg.clone(), vec![self.root.clone()], hips, auth, self.metrics.clone());
        st.hipslist = Arc::new(Object::new(seen.hipslist.clone(), Some(SystemTime::now())));
        st.hipslist_template = None;
        st.uws = self.jobs.clone();
        Ok(st)
    }
}
