//! `release submit --engine slurm`: one batch script per step, submitted with `sbatch --parsable` and chained by
//! `--dependency=afterok:...` with `--kill-on-invalid-dep=yes` (a failed step cancels what depends on it instead of
//! leaving it pending forever). Per band HiPS a job array of its shards (`--array=0-(N-1)%P`, the task id is the
//! shard), then its finalize; each colour HiPS after its bands' finalize; then the release finalize and publish.
//! The scripts run `hipsgen release ...` steps that read the same configuration; completion is read from the markers
//! in storage, not from Slurm (which forgets finished jobs).

use std::fmt::Write as _;

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ReleaseConfig, ReleaseError};

/// One batch job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJob {
    /// Job name (also the script file name, `<name>.sh`).
    pub name: String,
    /// The batch script.
    pub script: String,
    /// Names of the jobs this one runs after (all must succeed).
    pub after: Vec<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The jobs of the release, in submission order.
#[must_use]
pub fn jobs(cfg: &ReleaseConfig, config: &Path, binary: &str, workdir: &Path, publish: bool) -> Vec<SlurmJob> {
    let s = &cfg.slurm;
    let id = &cfg.release.id;
    let n = cfg.release.shards;
    let header = |name: &str, array: Option<String>| {
        let mut h = format!("#!/bin/bash\n#SBATCH --job-name={id}-{name}\n");
        if let Some(a) = array {
            let _ = writeln!(h, "#SBATCH --array={a}");
        }
        let log = workdir.join(if h.contains("--array") { "%x-%A_%a.out" } else { "%x-%j.out" });
        let _ = writeln!(h, "#SBATCH --output={}", log.display());
        for (opt, v) in [("partition", &s.partition), ("account", &s.account), ("time", &s.time), ("mem", &s.mem)] {
            if let Some(v) = v {
                let _ = writeln!(h, "#SBATCH --{opt}={v}");
            }
        }
        if let Some(c) = s.cpus_per_task {
            let _ = writeln!(h, "#SBATCH --cpus-per-task={c}");
        }
        for e in &s.extra {
            let _ = writeln!(h, "#SBATCH {e}");
        }
        h.push_str("set -euo pipefail\n");
        h
    };
    let run =
        |args: &str| format!("{} release {args} --config {}\n", quote(binary), quote(&config.display().to_string()));
    let mut out = Vec::new();
    for b in cfg.bands() {
        let p = s.parallel.map_or(String::new(), |p| format!("%{p}"));
        let mut script = header(&format!("shards-{b}"), Some(format!("0-{}{p}", n - 1)));
        script.push_str(&run(&format!("shard --hips {} --index \"$SLURM_ARRAY_TASK_ID\"", quote(b))));
        out.push(SlurmJob { name: format!("shards-{b}"), script, after: vec![] });
        let mut script = header(&format!("finalize-{b}"), None);
        script.push_str(&run(&format!("finalize --hips {}", quote(b))));
        out.push(SlurmJob { name: format!("finalize-{b}"), script, after: vec![format!("shards-{b}")] });
    }
    for c in cfg.colors() {
        let Some(col) = cfg.hips.get(c).and_then(|h| h.color.as_ref()) else { continue };
        let mut script = header(&format!("finalize-{c}"), None);
        script.push_str(&run(&format!("finalize --hips {}", quote(c))));
        let mut after: Vec<String> =
            [&col.red, &col.green, &col.blue].iter().map(|b| format!("finalize-{b}")).collect();
        after.dedup();
        out.push(SlurmJob { name: format!("finalize-{c}"), script, after });
    }
    let mut script = header("publish", None);
    script.push_str(&run("finalize"));
    if publish {
        script.push_str(&run("publish"));
    }
    let after = cfg.hips.keys().map(|h| format!("finalize-{h}")).collect();
    out.push(SlurmJob { name: "publish".into(), script, after });
    out
}

/// The folder of the scripts and logs.
#[must_use]
pub fn workdir(cfg: &ReleaseConfig) -> PathBuf {
    let w = cfg.slurm.workdir.clone().unwrap_or_else(|| format!("hipsgen-release-{}", cfg.release.id));
    std::path::absolute(&w).unwrap_or_else(|_| PathBuf::from(w))
}

/// Write the scripts and submit them in order; returns `(job name, Slurm job id)`.
///
/// # Errors
/// When a script cannot be written or `sbatch` fails (its error output is in the message).
pub fn submit(jobs: &[SlurmJob], workdir: &Path) -> Result<Vec<(String, String)>, ReleaseError> {
    std::fs::create_dir_all(workdir).map_err(|e| ReleaseError::Scheduler {
        command: format!("mkdir {}", workdir.display()),
        message: e.to_string(),
    })?;
    let mut ids: Vec<(String, String)> = Vec::new();
    for j in jobs {
        let path = workdir.join(format!("{}.sh", j.name));
        std::fs::write(&path, &j.script).map_err(|e| ReleaseError::Scheduler {
            command: format!("write {}", path.display()),
            message: e.to_string(),
        })?;
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable");
        let deps: Vec<&str> =
            j.after.iter().filter_map(|a| ids.iter().find(|(n, _)| n == a).map(|(_, id)| id.as_str())).collect();
        if !deps.is_empty() {
            cmd.arg(format!("--dependency=afterok:{}", deps.join(":"))).arg("--kill-on-invalid-dep=yes");
        }
        cmd.arg(&path);
        let shown = format!("{cmd:?}");
        let o = cmd.output().map_err(|e| ReleaseError::Scheduler { command: shown.clone(), message: e.to_string() })?;
        if !o.status.success() {
            return Err(ReleaseError::Scheduler {
                command: shown,
                message: format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim()),
            });
        }
        // --parsable prints "jobid" or "jobid;cluster".
        let text = String::from_utf8_lossy(&o.stdout);
        let id = text.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() {
            return Err(ReleaseError::Scheduler { command: shown, message: "sbatch printed no job id".into() });
        }
        ids.push((j.name.clone(), id));
    }
    Ok(ids)
}
