//! `release submit --engine kubernetes`: manifests ready for `kubectl apply -f`: a ConfigMap with the configuration,
//! per band HiPS an Indexed Job of its shards (`completionMode: Indexed`, the pod's `JOB_COMPLETION_INDEX` is the
//! shard, `backoffLimitPerIndex` retries each shard on its own), and the finalize Jobs. Kubernetes Jobs have no
//! dependencies: the finalize Jobs run `release finalize --wait`, which waits for the markers in storage (the same
//! markers `status` reads), then publish.

use std::fmt::Write as _;

use super::ReleaseConfig;

fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dns(s: &str) -> String {
    s.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

fn pod(cfg: &ReleaseConfig, args: &[String]) -> String {
    let k = &cfg.kubernetes;
    let mut cmd = format!("[{}, \"release\"", yaml_str(&k.binary));
    for a in args {
        cmd.push_str(", ");
        cmd.push_str(&yaml_str(a));
    }
    let _ = write!(cmd, ", \"--config\", {}]", yaml_str(&k.config_path));
    let dir = k.config_path.rsplit_once('/').map_or("/", |(d, _)| d);
    let file = k.config_path.rsplit('/').next().unwrap_or("release.toml");
    format!(
        "    spec:\n      restartPolicy: Never\n      containers:\n      - name: hipsgen\n        image: {}\n        \
         command: {cmd}\n        resources:\n          requests: {{cpu: {c}, memory: {m}}}\n          limits: {{cpu: \
         {c}, memory: {m}}}\n        volumeMounts:\n        - {{name: config, mountPath: {}}}\n      volumes:\n      - \
         name: config\n        configMap:\n          name: {}\n          items: [{{key: release.toml, path: {}}}]\n",
        yaml_str(&k.image),
        yaml_str(dir),
        yaml_str(&format!("{}-config", dns(&cfg.release.id))),
        yaml_str(file),
        c = yaml_str(&k.cpu),
        m = yaml_str(&k.memory),
    )
}

/// The manifests (a multi-document YAML stream) for the configuration whose text is `config_text`.
#[must_use]
pub fn manifests(cfg: &ReleaseConfig, config_text: &str, publish: bool) -> String {
    let k = &cfg.kubernetes;
    let id = dns(&cfg.release.id);
    let ns = yaml_str(&k.namespace);
    let mut out = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {id}-config\n  namespace: {ns}\ndata:\n  release.toml: |\n"
    );
    for l in config_text.lines() {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
    }
    let n = cfg.release.shards;
    for b in cfg.bands() {
        let _ = write!(
            out,
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {id}-shards-{}\n  namespace: {ns}\nspec:\n  \
             completionMode: Indexed\n  completions: {n}\n  parallelism: {}\n  backoffLimitPerIndex: {}\n  \
             maxFailedIndexes: 0\n  template:\n",
            dns(b),
            k.parallelism.min(n),
            k.backoff_limit_per_index
        );
        out.push_str(&pod(cfg, &["shard".into(), "--hips".into(), b.into()]));
    }
    let mut finals: Vec<(String, Vec<String>)> = cfg
        .bands()
        .into_iter()
        .chain(cfg.colors())
        .map(|h| (dns(h), vec!["finalize".into(), "--hips".into(), h.into(), "--wait".into()]))
        .collect();
    let mut last = vec!["finalize".to_string(), "--wait".into()];
    if publish {
        last.push("--publish".into());
    }
    finals.push(("publish".into(), last));
    for (name, args) in finals {
        let _ = write!(
            out,
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {id}-finalize-{name}\n  namespace: {ns}\nspec:\n  \
             backoffLimit: {}\n  template:\n",
            k.backoff_limit_per_index
        );
        out.push_str(&pod(cfg, &args));
    }
    out
}
