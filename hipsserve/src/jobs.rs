//! The job store of `/vo/soda/async`: jobs in memory (their results as files `<jobs_dir>/<job id>/<n>`), the limits
//! on their number (total and per owner) and on the disk their results hold, phase changes that wake `WAIT`ing
//! requests (a `watch` channel per job), and the reaper that deletes a job and its files at its destruction time.
//! Jobs live as long as the process: folders left in the jobs directory by an earlier process are removed at start.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use tokio::sync::{watch, Notify};

use crate::config::AsyncJobsConfig;

/// A UWS execution phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Created, not yet asked to run.
    Pending,
    /// Asked to run, waiting to start.
    Queued,
    /// Running.
    Executing,
    /// Finished: every result is there.
    Completed,
    /// Stopped by an error (execution duration, disk quota, access).
    Error,
    /// Aborted by its owner.
    Aborted,
}

impl Phase {
    /// The UWS name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Queued => "QUEUED",
            Phase::Executing => "EXECUTING",
            Phase::Completed => "COMPLETED",
            Phase::Error => "ERROR",
            Phase::Aborted => "ABORTED",
        }
    }

    /// The phase of a UWS name (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Phase> {
        [Phase::Pending, Phase::Queued, Phase::Executing, Phase::Completed, Phase::Error, Phase::Aborted]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Pending, queued or executing: the phases `WAIT` blocks in.
    #[must_use]
    pub fn active(self) -> bool {
        matches!(self, Phase::Pending | Phase::Queued | Phase::Executing)
    }
}

/// One result file.
#[derive(Debug, Clone)]
pub struct ResultFile {
    /// `application/fits` or `text/plain` (a region that misses, or a coadd that cannot be cut).
    pub mime: &'static str,
    /// Bytes.
    pub size: u64,
}

/// One job.
#[derive(Debug)]
pub struct Job {
    /// 128 random bits, hex: the job's URL is unguessable.
    pub id: String,
    /// Who may see it (`None`: created anonymously).
    pub owner: Option<String>,
    /// What `ownerId` shows.
    pub owner_label: Option<String>,
    /// The client's RUNID.
    pub run_id: Option<String>,
    /// The phase.
    pub phase: Phase,
    /// Creation time.
    pub creation: SystemTime,
    /// When it started executing.
    pub start: Option<SystemTime>,
    /// When it ended.
    pub end: Option<SystemTime>,
    /// Its execution duration, seconds.
    pub execution_secs: u64,
    /// When it is deleted.
    pub destruction: SystemTime,
    /// The cutout parameters, as given (ID, POS/CIRCLE/POLYGON, CUTOUTDETAIL, BAND, TIME).
    pub params: Vec<(String, String)>,
    /// Its results so far.
    pub results: Vec<ResultFile>,
    /// Why it failed (phase ERROR).
    pub error: Option<String>,
    /// The credentials it was created with (Authorization, Cookie, ingress identity), kept in memory only: each
    /// cutout is checked against them as a sync request would be.
    pub(crate) credentials: HeaderMap,
    /// The running task.
    pub(crate) task: Option<tokio::task::AbortHandle>,
    /// Phase changes, for `WAIT`.
    pub(crate) changes: watch::Sender<Phase>,
}

impl Job {
    /// Bytes its results hold.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.results.iter().map(|r| r.size).sum()
    }
}

/// Why a job cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// `async_jobs.max_jobs` reached.
    #[error("the server holds {0} jobs, its limit (async_jobs.max_jobs): retry later or delete finished jobs")]
    Full(usize),
    /// `async_jobs.max_jobs_per_owner` reached.
    #[error("you hold {0} jobs, the limit per owner (async_jobs.max_jobs_per_owner): delete some first")]
    OwnerFull(usize),
    /// No random job id.
    #[error("cannot draw a job id from /dev/urandom")]
    Random(#[source] std::io::Error),
}

#[derive(Debug, Default)]
struct Table {
    jobs: HashMap<String, Job>,
    /// Bytes of results on disk.
    used: u64,
}

#[derive(Debug)]
struct Inner {
    cfg: AsyncJobsConfig,
    dir: PathBuf,
    table: Mutex<Table>,
    /// Wakes the reaper when a destruction time changes.
    reaper: Arc<Notify>,
    reaper_started: AtomicBool,
}

/// The job store (cheap to clone).
#[derive(Debug, Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

/// Is `name` a job folder's name (32 lowercase hex digits)?
fn job_like(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Jobs {
    /// A store with these limits; job folders left in a configured jobs directory by an earlier process (names of
    /// 32 hex digits) are removed.
    #[must_use]
    pub fn new(cfg: &AsyncJobsConfig) -> Jobs {
        let dir = cfg
            .jobs_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("hipsserve-jobs-{}", std::process::id())));
        Jobs {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                dir,
                table: Mutex::new(Table::default()),
                reaper: Arc::new(Notify::new()),
                reaper_started: AtomicBool::new(false),
            }),
        }
    }

    /// Remove the job folders an earlier process left in the jobs directory (once, when the server starts: a
    /// release root's catalogue snapshots share this store and must not remove each other's jobs).
    pub fn remove_stale(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.inner.dir) {
            for e in entries.flatten() {
                if e.file_name().to_str().is_some_and(job_like) {
                    if let Err(err) = std::fs::remove_dir_all(e.path()) {
                        tracing::warn!(dir = %e.path().display(), error = %err, "cannot remove a stale job folder");
                    }
                }
            }
        }
    }

    /// The limits.
    #[must_use]
    pub fn cfg(&self) -> &AsyncJobsConfig {
        &self.inner.cfg
    }

    /// The folder of job `id`.
    pub(crate) fn dir_of(&self, id: &str) -> PathBuf {
        self.inner.dir.join(id)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.inner.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on job `id` when `owner` owns it.
    pub fn with<T>(&self, id: &str, owner: Option<&str>, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
        let mut t = self.table();
        t.jobs.get_mut(id).filter(|j| j.owner.as_deref() == owner).map(f)
    }

    /// Run `f` on job `id`, whoever owns it (the runner's access).
    pub(crate) fn with_any<T>(&self, id: &str, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
        self.table().jobs.get_mut(id).map(f)
    }

    /// Run `f` on the jobs `owner` owns.
    pub fn with_owned<T>(&self, owner: Option<&str>, f: impl FnOnce(Vec<&Job>) -> T) -> T {
        let t = self.table();
        f(t.jobs.values().filter(|j| j.owner.as_deref() == owner).collect())
    }

    /// Add a job (PENDING) unless a limit is reached; its id.
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn create(
        &self,
        owner: Option<String>,
        owner_label: Option<String>,
        run_id: Option<String>,
        params: Vec<(String, String)>,
        credentials: HeaderMap,
    ) -> Result<String, Refusal> {
        let mut raw = [0u8; 16];
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut raw)).map_err(Refusal::Random)?;
        let id = hex::encode(raw);
        let cfg = &self.inner.cfg;
        let now = SystemTime::now();
        {
            let mut t = self.table();
            if t.jobs.len() >= cfg.max_jobs {
                return Err(Refusal::Full(t.jobs.len()));
            }
            let mine = t.jobs.values().filter(|j| j.owner == owner).count();
            if mine >= cfg.max_jobs_per_owner {
                return Err(Refusal::OwnerFull(mine));
            }
            let (changes, _) = watch::channel(Phase::Pending);
            t.jobs.insert(
                id.clone(),
                Job {
                    id: id.clone(),
                    owner,
                    owner_label,
                    run_id,
                    phase: Phase::Pending,
                    creation: now,
                    start: None,
                    end: None,
                    execution_secs: cfg.max_execution_secs,
                    destruction: now + Duration::from_secs(cfg.default_destruction_secs),
                    params,
                    results: Vec::new(),
                    error: None,
                    credentials,
                    task: None,
                    changes,
                },
            );
        }
        self.start_reaper();
        self.inner.reaper.notify_one();
        Ok(id)
    }

    /// Set job `id`'s phase (waking its `WAIT`ers), with its end time when the phase is final and `error` for ERROR.
    /// A job already final keeps its phase.
    pub fn set_phase(&self, id: &str, phase: Phase, error: Option<String>) {
        let mut t = self.table();
        let Some(j) = t.jobs.get_mut(id) else { return };
        if !j.phase.active() {
            return;
        }
        j.phase = phase;
        if phase == Phase::Executing {
            j.start = Some(SystemTime::now());
        }
        if !phase.active() {
            j.end = Some(SystemTime::now());
            j.task = None;
        }
        if error.is_some() {
            j.error = error;
        }
        j.changes.send_replace(phase);
    }

    /// PENDING -> QUEUED for job `id` owned by `owner`, in one step (false: not there, or not PENDING).
    pub(crate) fn try_queue(&self, id: &str, owner: Option<&str>) -> bool {
        let mut t = self.table();
        match t.jobs.get_mut(id) {
            Some(j) if j.owner.as_deref() == owner && j.phase == Phase::Pending => {
                j.phase = Phase::Queued;
                j.changes.send_replace(Phase::Queued);
                true
            }
            _ => false,
        }
    }

    /// A new destruction time for job `id` (the reaper is told).
    pub fn set_destruction(&self, id: &str, when: SystemTime) {
        if let Some(j) = self.table().jobs.get_mut(id) {
            j.destruction = when;
        }
        self.inner.reaper.notify_one();
    }

    /// Reserve `bytes` of the disk quota for a result of job `id` (false: the quota would be exceeded).
    pub(crate) fn reserve(&self, bytes: u64) -> bool {
        let mut t = self.table();
        if t.used.saturating_add(bytes) > self.inner.cfg.max_disk_bytes {
            return false;
        }
        t.used += bytes;
        true
    }

    /// Give back `bytes` reserved for a result that was not kept.
    pub(crate) fn release(&self, bytes: u64) {
        let mut t = self.table();
        t.used = t.used.saturating_sub(bytes);
    }

    /// Record result `n`'s file of job `id` (false when the job is gone or no longer executing: its bytes are
    /// then released and the file removed by the caller).
    pub(crate) fn add_result(&self, id: &str, r: ResultFile) -> bool {
        let mut t = self.table();
        match t.jobs.get_mut(id) {
            Some(j) if j.phase == Phase::Executing => {
                j.results.push(r);
                true
            }
            _ => false,
        }
    }

    /// Remove job `id` (aborting its task) and its files.
    pub fn delete(&self, id: &str) {
        let removed = {
            let mut t = self.table();
            let j = t.jobs.remove(id);
            if let Some(j) = &j {
                t.used = t.used.saturating_sub(j.bytes());
            }
            j
        };
        if let Some(j) = removed {
            if let Some(task) = j.task {
                task.abort();
            }
            j.changes.send_replace(Phase::Aborted);
            remove_dir(&self.dir_of(id));
        }
    }

    /// Delete the jobs whose destruction time has passed; the next destruction time.
    fn reap(&self) -> Option<SystemTime> {
        let now = SystemTime::now();
        let due: Vec<String> =
            self.table().jobs.values().filter(|j| j.destruction <= now).map(|j| j.id.clone()).collect();
        for id in &due {
            tracing::info!(job = %id, "job destroyed at its destruction time");
            self.delete(id);
        }
        self.table().jobs.values().map(|j| j.destruction).min()
    }

    /// Start the reaper task on this runtime (once): it sleeps until the next destruction time, or until a
    /// destruction time changes, and stops when the store is dropped.
    fn start_reaper(&self) {
        if self.inner.reaper_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let (weak, wake) = (Arc::downgrade(&self.inner), self.inner.reaper.clone());
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let next = Jobs { inner }.reap();
                let wait = next.map_or(Duration::from_secs(3600), |t| {
                    t.duration_since(SystemTime::now()).unwrap_or_default().min(Duration::from_secs(3600))
                });
                tokio::select! {
                    () = tokio::time::sleep(wait) => {},
                    () = wake.notified() => {},
                }
            }
        });
    }

    /// A receiver of job `id`'s phase changes, when `owner` owns it.
    pub fn watch(&self, id: &str, owner: Option<&str>) -> Option<watch::Receiver<Phase>> {
        self.with(id, owner, |j| j.changes.subscribe())
    }
}

/// Jobs live as long as the process: when the store goes (the server stops), the folders of its jobs go too, and the
/// per-process default jobs directory with them.
impl Drop for Inner {
    fn drop(&mut self) {
        let ids: Vec<String> =
            self.table.get_mut().unwrap_or_else(PoisonError::into_inner).jobs.keys().cloned().collect();
        for id in ids {
            remove_dir(&self.dir.join(id));
        }
        if self.cfg.jobs_dir.is_none() {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Remove a job folder (logged when it fails; absent is fine).
pub(crate) fn remove_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot remove a job folder"),
    }
}
