//! The steps of `hipsgen release` as the command line asks for them: load the configuration, run the step, and
//! return the text to print (the binary prints it; the library never does).

use std::fmt::Write as _;
use std::time::Duration;

use super::{finalize, kubernetes, plan, publish, root_store, shards, slurm, ReleaseConfig, ReleaseError};
use crate::cli::{Engine, ReleaseArgs, ReleaseStep};

/// Poll interval of `finalize --wait`.
const WAIT_POLL: Duration = Duration::from_secs(3);

/// Run a `release` step; returns what to print on stdout.
///
/// # Errors
/// The step's error.
pub fn exec(args: &ReleaseArgs) -> Result<String, ReleaseError> {
    let cfg = ReleaseConfig::load(&args.config, std::env::vars())?;
    if args.print_config {
        return cfg.to_toml();
    }
    // Every store of the steps below is opened with the release's write settings.
    if !hips_core::storage::StoreSettings::init_process(cfg.store.settings(std::env::vars())) {
        tracing::warn!("storage settings were read before the release configuration: [store] is not applied");
    }
    let mut out = String::new();
    match &args.step {
        ReleaseStep::Plan => {
            let _ = writeln!(out, "{:<10} {:>5} {:>12} {:>14} {:>12}", "hips", "order", "tiles", "bytes", "cpu_s");
            for h in plan::plan_release(&cfg)? {
                for o in &h.orders {
                    let cpu = o.cpu_s.map_or_else(|| "-".to_string(), |c| format!("{c:.3}"));
                    let _ = writeln!(out, "{:<10} {:>5} {:>12} {:>14} {:>12}", h.hips, o.order, o.tiles, o.bytes, cpu);
                }
                let total: Option<f64> = h.orders.iter().map(|o| o.cpu_s).sum();
                let total = total.map_or_else(|| "-".to_string(), |t| format!("{t:.1}"));
                let per = if h.inputs == 0 {
                    "ns/pixel measured (decode, colour, encode)"
                } else {
                    "ns/pixel/coadd measured"
                };
                let ns = h.ns_per_pixel.map_or_else(|| "-".into(), |n| format!("{n:.1} {per}"));
                let _ = writeln!(
                    out,
                    "{:<10} total {:>12} tiles, {total} CPU s ({ns})",
                    h.hips,
                    h.orders.iter().map(|o| o.tiles).sum::<u64>(),
                );
            }
        }
        ReleaseStep::Run { no_publish } => {
            for b in cfg.bands() {
                for i in 0..cfg.release.shards {
                    shards::run_shard(&cfg, b, i)?;
                }
                finalize::finalize_band(&cfg, b)?;
                let _ = writeln!(out, "{b}: {} shard(s) done, finalized", cfg.release.shards);
            }
            for c in cfg.colors() {
                finalize::finalize_color(&cfg, c)?;
                let _ = writeln!(out, "{c}: finalized");
            }
            finalize::finalize_release(&cfg)?;
            let _ = writeln!(out, "release {}: finalized", cfg.release.id);
            if !no_publish {
                out.push_str(&published(&publish_step(&cfg, &cfg.release.id, false)?));
            }
        }
        ReleaseStep::Submit { engine: Engine::Slurm, dry_run, no_publish } => {
            let binary = match &cfg.slurm.binary {
                Some(b) => b.clone(),
                None => std::env::current_exe()
                    .and_then(std::fs::canonicalize)
                    .map_err(|e| ReleaseError::Scheduler { command: "current_exe".into(), message: e.to_string() })?
                    .display()
                    .to_string(),
            };
            let workdir = slurm::workdir(&cfg);
            // The jobs read the configuration as resolved here (file plus this environment), whatever their own
            // environment holds.
            let config = workdir.join("release.toml");
            if !*dry_run {
                let text = cfg.to_toml()?;
                std::fs::create_dir_all(&workdir).and_then(|()| std::fs::write(&config, text)).map_err(|e| {
                    ReleaseError::Scheduler { command: format!("write {}", config.display()), message: e.to_string() }
                })?;
            }
            let jobs = slurm::jobs(&cfg, &config, &binary, &workdir, !no_publish);
            if *dry_run {
                for j in &jobs {
                    let _ = writeln!(out, "# {}.sh (after: {})\n{}", j.name, j.after.join(", "), j.script);
                }
            } else {
                for (name, id) in slurm::submit(&jobs, &workdir)? {
                    let _ = writeln!(out, "{name} {id}");
                }
            }
        }
        ReleaseStep::Submit { engine: Engine::Kubernetes, no_publish, .. } => {
            let text = std::fs::read_to_string(&args.config).map_err(|e| ReleaseError::ConfigFile {
                path: args.config.display().to_string(),
                message: e.to_string(),
            })?;
            out.push_str(&kubernetes::manifests(&cfg, &text, !no_publish));
        }
        ReleaseStep::Status => {
            let (hips, done, current) = shards::status(&cfg)?;
            for h in hips {
                let shards = if h.of == 0 {
                    "colour".to_string()
                } else {
                    format!("{}/{} shards {:?}", h.done.len(), h.of, h.done)
                };
                let _ = writeln!(out, "{:<10} {shards} finalized={}", h.hips, h.finalized);
            }
            let _ = writeln!(
                out,
                "release {} finalized={done} current={}",
                cfg.release.id,
                current.as_deref().unwrap_or("-")
            );
        }
        ReleaseStep::Shard { hips, index } => {
            let index = match index {
                Some(i) => *i,
                None => env_index()?,
            };
            match shards::run_shard(&cfg, hips, index)? {
                shards::ShardOutcome::AlreadyDone(m) => {
                    let _ = writeln!(out, "{hips} shard {index}/{}: already done ({} tiles)", m.of, m.tiles);
                }
                shards::ShardOutcome::Done(m) => {
                    let _ =
                        writeln!(out, "{hips} shard {index}/{}: done ({} tiles, digest {})", m.of, m.tiles, m.digest);
                }
            }
        }
        ReleaseStep::Finalize { hips, wait, publish: then_publish } => {
            let step = || match hips {
                Some(h) => finalize::finalize_hips(&cfg, h).map(|_| ()),
                None => finalize::finalize_all(&cfg),
            };
            loop {
                match step() {
                    Err(ReleaseError::ShardsMissing { .. } | ReleaseError::NotReady { .. }) if *wait => {
                        std::thread::sleep(WAIT_POLL);
                    }
                    r => break r?,
                }
            }
            let _ = writeln!(out, "{}: finalized", hips.as_deref().unwrap_or(&cfg.release.id));
            if *then_publish && hips.is_none() {
                out.push_str(&published(&publish_step(&cfg, &cfg.release.id, false)?));
            }
        }
        ReleaseStep::Publish { break_lock } => {
            out.push_str(&published(&publish_step(&cfg, &cfg.release.id, *break_lock)?));
        }
        ReleaseStep::Rollback { to, break_lock } => out.push_str(&published(&publish_step(&cfg, to, *break_lock)?)),
    }
    Ok(out)
}

fn publish_step(cfg: &ReleaseConfig, id: &str, break_lock: bool) -> Result<publish::Published, ReleaseError> {
    let opts = publish::PublishOptions { lease_ttl: Duration::from_secs(cfg.release.publish_lease_ttl), break_lock };
    publish::publish_with(&root_store(cfg)?, id, opts)
}

fn published(p: &publish::Published) -> String {
    format!("current: {} (was {})\n", p.id, p.previous.as_deref().unwrap_or("none"))
}

/// The shard index of a scheduler task: `JOB_COMPLETION_INDEX` (Kubernetes), else `SLURM_ARRAY_TASK_ID`.
fn env_index() -> Result<usize, ReleaseError> {
    for var in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] {
        if let Ok(v) = std::env::var(var) {
            return v
                .trim()
                .parse()
                .map_err(|e| ReleaseError::Config { key: var.into(), message: format!("{v:?}: {e}") });
        }
    }
    Err(ReleaseError::Config {
        key: "--index".into(),
        message: "no --index and neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set".into(),
    })
}
