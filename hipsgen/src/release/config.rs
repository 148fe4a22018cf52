//! The release configuration (`release.toml`): typed sections with every key checked (unknown keys are errors),
//! `HIPSGEN_<SECTION>_<KEY>` environment overrides applied to the TOML tree before it is typed, and the conversion
//! of each `[hips.<name>]` table into the library's own jobs ([`TilesJob`], [`ColorJob`]) through the same
//! validation as the command line.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use super::ReleaseError;
use crate::cli::{ColorArgs, FrameArg, TilesArgs};
use crate::color::{ColorJob, ColorMethod, DEFAULT_Q, DEFAULT_STRETCH};
use crate::preview::{PreviewFormat, DEFAULT_JPEG_QUALITY};
use crate::run::TilesJob;

/// Environment prefix of the overrides.
pub const ENV_PREFIX: &str = "HIPSGEN_";

/// The whole release configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// `[release]`: identity and output of the release.
    pub release: ReleaseSection,
    /// `[slurm]`: how `submit --engine slurm` writes its jobs.
    #[serde(default)]
    pub slurm: SlurmSection,
    /// `[kubernetes]`: how `submit --engine kubernetes` writes its manifests.
    #[serde(default)]
    pub kubernetes: KubernetesSection,
    /// `[store]`: object-store writes (defaults: hips_core's `StoreSettings`).
    #[serde(default)]
    pub store: StoreSection,
    /// `[hips.<name>]`: the HiPS of the release, by name (the folder `<out>/<id>/<name>/`).
    #[serde(default)]
    pub hips: BTreeMap<String, HipsSection>,
}

/// `[release]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSection {
    /// The release's prefix: `<out>/<id>/`.
    pub id: String,
    /// A local directory or an object-store URL.
    pub out: String,
    /// IVOA authority and prefix of the creator_did: `<authority>/<id>/<hips name>`.
    pub authority: String,
    /// Public base URL of `out`, for hips_service_url in the HiPS lists.
    pub public_url: String,
    /// Title of the release (each HiPS's obs_title is `<title> <name>` unless its table sets `title`).
    pub title: String,
    /// Deepest-order shards per band HiPS.
    #[serde(default = "one")]
    pub shards: usize,
    /// Seconds a publisher's lease `publish.lock` lives: after it, another publisher may take it over.
    #[serde(default = "lease_ttl")]
    pub publish_lease_ttl: u64,
}

fn one() -> usize {
    1
}

fn lease_ttl() -> u64 {
    super::lease::DEFAULT_TTL.as_secs()
}

/// `[slurm]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SlurmSection {
    /// sbatch `--partition`.
    pub partition: Option<String>,
    /// sbatch `--account`.
    pub account: Option<String>,
    /// sbatch `--time` of every job.
    pub time: Option<String>,
    /// sbatch `--mem` of every job.
    pub mem: Option<String>,
    /// sbatch `--cpus-per-task` of every job.
    pub cpus_per_task: Option<u32>,
    /// Array tasks of one HiPS running at once (`%P`; default: all).
    pub parallel: Option<usize>,
    /// Further sbatch options, each a full option (`"--qos=normal"`).
    #[serde(default)]
    pub extra: Vec<String>,
    /// The hipsgen binary the jobs run (default: the absolute path of the submitting binary).
    pub binary: Option<String>,
    /// Folder of the job scripts, their logs and the resolved configuration they read (default `hipsgen-release-<id>`
    /// in the current directory).
    pub workdir: Option<String>,
}

/// `[store]`: how objects are written to an object store, for every step of the release.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// PUTs (whole objects and multipart parts) in flight at once per bucket.
    pub write_concurrency: Option<usize>,
    /// Objects larger than this (bytes) go up by multipart upload.
    pub multipart_threshold: Option<usize>,
    /// Bytes per part of a multipart upload (at least 5 MiB).
    pub multipart_part_size: Option<usize>,
}

impl StoreSection {
    /// The storage settings of the release: those of the environment (`AWS_*`, `HIPSGEN_STORE_*`) with this
    /// section's values (which already hold the `HIPSGEN_STORE_*` overrides).
    #[must_use]
    pub fn settings(&self, env: impl IntoIterator<Item = (String, String)>) -> hips_core::storage::StoreSettings {
        let mut s = hips_core::storage::StoreSettings::from_vars(env);
        s.write_concurrency = self.write_concurrency.unwrap_or(s.write_concurrency);
        s.multipart_threshold = self.multipart_threshold.unwrap_or(s.multipart_threshold);
        s.multipart_part_size = self.multipart_part_size.unwrap_or(s.multipart_part_size);
        s
    }
}

/// `[kubernetes]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSection {
    /// Container image with hipsgen.
    pub image: String,
    /// Namespace of the Jobs.
    pub namespace: String,
    /// CPU request and limit of every pod.
    pub cpu: String,
    /// Memory request and limit of every pod.
    pub memory: String,
    /// Pods of one HiPS's shards running at once.
    pub parallelism: usize,
    /// Retries of each shard (`backoffLimitPerIndex`).
    pub backoff_limit_per_index: u32,
    /// The hipsgen command inside the image.
    pub binary: String,
    /// Path of this configuration inside the pods (mounted from the ConfigMap the manifests include).
    pub config_path: String,
}

impl Default for KubernetesSection {
    fn default() -> Self {
        KubernetesSection {
            image: "hipsgen:latest".into(),
            namespace: "default".into(),
            cpu: "2".into(),
            memory: "4Gi".into(),
            parallelism: 4,
            backoff_limit_per_index: 3,
            binary: "hipsgen".into(),
            config_path: "/etc/hipsgen/release.toml".into(),
        }
    }
}

/// `[hips.<name>]`: a band HiPS (`input`, `band` and any `hipsgen tiles` option) or a colour HiPS (`color`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct HipsSection {
    /// Input coadds: paths, globs, directories, URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<String>,
    /// Band name.
    pub band: Option<String>,
    /// obs_title (default `<release title> <name>`).
    pub title: Option<String>,
    /// `tiles --order`.
    pub order: Option<u8>,
    /// `tiles --tile-width`.
    pub tile_width: Option<usize>,
    /// `tiles --frame` (equatorial, galactic).
    pub frame: Option<String>,
    /// `tiles --hdu`.
    pub hdu: Option<String>,
    /// `tiles --threads`.
    pub threads: Option<usize>,
    /// `tiles --interp`.
    pub interp: Option<String>,
    /// `tiles --formats`.
    pub formats: Option<Vec<String>>,
    /// `tiles --no-progenitors`.
    pub no_progenitors: Option<bool>,
    /// `tiles --moc-extra`.
    pub moc_extra: Option<u8>,
    /// `tiles --aladin-url` / `color --aladin-url`.
    pub aladin_url: Option<String>,
    /// `tiles --bad-bits` (a number; DQ bits that blank a pixel).
    pub bad_bits: Option<i64>,
    /// `tiles --mask-planes` (LSST mask planes blanked besides NO_DATA).
    pub mask_planes: Option<Vec<String>>,
    /// `tiles --no-sibling-weight`.
    pub no_sibling_weight: Option<bool>,
    /// `tiles --stored-order` (orders above it are rendered by hipsserve on demand).
    pub stored_order: Option<u8>,
    /// A colour HiPS from three band HiPS of this release.
    pub color: Option<ColorSection>,
}

/// `color = { red, green, blue, method, ... }`: the `hipsgen color` options, bands named by their HiPS name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ColorSection {
    /// HiPS name shown in red.
    pub red: String,
    /// HiPS name shown in green.
    pub green: String,
    /// HiPS name shown in blue.
    pub blue: String,
    /// lupton or linear.
    pub method: Option<String>,
    /// `color --q`.
    pub q: Option<f64>,
    /// `color --stretch`.
    pub stretch: Option<f64>,
    /// `color --minimum`.
    pub minimum: Option<Vec<f64>>,
    /// `color --maximum`.
    pub maximum: Option<Vec<f64>>,
    /// `color --scale`.
    pub scale: Option<Vec<f64>>,
    /// `color --format`.
    pub format: Option<Vec<String>>,
    /// `color --jpeg-quality`.
    pub jpeg_quality: Option<u8>,
}

impl HipsSection {
    /// Whether this is a colour HiPS.
    #[must_use]
    pub fn is_color(&self) -> bool {
        self.color.is_some()
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ReleaseError {
    ReleaseError::Config { key: key.into(), message: message.into() }
}

impl ReleaseConfig {
    /// Read a configuration file and apply the `HIPSGEN_*` variables of `env`.
    ///
    /// # Errors
    /// When the file cannot be read or parsed, a key is unknown, a value has the wrong type, or the release does not
    /// hold together ([`ReleaseConfig::check`]).
    pub fn load(path: &std::path::Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ReleaseError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ReleaseError::ConfigFile { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_toml(&text, env).map_err(|e| match e {
            ReleaseError::Config { key, message } => {
                ReleaseError::ConfigFile { path: path.display().to_string(), message: format!("{key}: {message}") }
            }
            e => e,
        })
    }

    /// Parse configuration text and apply the `HIPSGEN_*` variables of `env`.
    ///
    /// # Errors
    /// As [`ReleaseConfig::load`].
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ReleaseError> {
        let mut tree: toml::Table = toml::from_str(text).map_err(|e| invalid("(syntax)", e.message().to_string()))?;
        let mut vars: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with(ENV_PREFIX)).collect();
        vars.sort();
        for (k, v) in vars {
            apply_override(&mut tree, &k, &v)?;
        }
        let cfg: ReleaseConfig = toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("(keys)", e.message().to_string()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The resolved configuration as TOML (`--print-config`).
    ///
    /// # Errors
    /// Never in practice (every value is representable).
    pub fn to_toml(&self) -> Result<String, ReleaseError> {
        toml::to_string_pretty(self).map_err(|e| invalid("(print)", e.to_string()))
    }

    /// Check what types cannot: names, the shard count, colour bands that are band HiPS of this release, and every
    /// HiPS's options (by building its job).
    ///
    /// # Errors
    /// [`ReleaseError::Config`] naming the key.
    pub fn check(&self) -> Result<(), ReleaseError> {
        let r = &self.release;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                && !s.starts_with('.')
                && !s.starts_with('_')
        };
        if !name_ok(&r.id) {
            return Err(invalid("release.id", format!("{:?}: use letters, digits, '-', '_', '.'", r.id)));
        }
        if r.id == "current" || r.id == "hipslist" {
            return Err(invalid("release.id", format!("{:?} is a reserved name", r.id)));
        }
        if self.store.write_concurrency == Some(0) {
            return Err(invalid("store.write_concurrency", "0: at least one write must be in flight"));
        }
        if let Some(p) = self.store.multipart_part_size.filter(|&p| p < hips_core::storage::MIN_PART_SIZE) {
            return Err(invalid(
                "store.multipart_part_size",
                format!("{p}: S3 takes parts of at least {} bytes (5 MiB)", hips_core::storage::MIN_PART_SIZE),
            ));
        }
        if r.shards == 0 || r.shards > 100_000 {
            return Err(invalid("release.shards", format!("{} is not in 1..=100000", r.shards)));
        }
        if !r.authority.starts_with("ivo://") {
            return Err(invalid("release.authority", format!("{:?} is not an IVOID (ivo://...)", r.authority)));
        }
        if r.out.is_empty() {
            return Err(invalid("release.out", "empty"));
        }
        if self.hips.is_empty() {
            return Err(invalid("hips", "the release has no [hips.<name>] table"));
        }
        if self.slurm.parallel == Some(0) {
            return Err(invalid("slurm.parallel", "need at least 1"));
        }
        for (name, h) in &self.hips {
            if !name_ok(name) {
                return Err(invalid(format!("hips.{name}"), "use letters, digits, '-', '_', '.' for a HiPS name"));
            }
            if let Some(c) = &h.color {
                if !h.input.is_empty() {
                    return Err(invalid(format!("hips.{name}.input"), "a colour HiPS takes no input"));
                }
                for (k, b) in [("red", &c.red), ("green", &c.green), ("blue", &c.blue)] {
                    if self.hips.get(b).is_none_or(HipsSection::is_color) {
                        return Err(invalid(
                            format!("hips.{name}.color.{k}"),
                            format!("{b:?} is not a band HiPS of this release"),
                        ));
                    }
                }
                self.color_job(name)?;
            } else {
                self.tiles_job(name, None)?;
            }
        }
        Ok(())
    }

    /// Names of the band HiPS, sorted.
    #[must_use]
    pub fn bands(&self) -> Vec<&str> {
        self.hips.iter().filter(|(_, h)| !h.is_color()).map(|(n, _)| n.as_str()).collect()
    }

    /// Names of the colour HiPS, sorted.
    #[must_use]
    pub fn colors(&self) -> Vec<&str> {
        self.hips.iter().filter(|(_, h)| h.is_color()).map(|(n, _)| n.as_str()).collect()
    }

    /// The creator_did of a HiPS of this release.
    #[must_use]
    pub fn creator_did(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.release.authority.trim_end_matches('/'), self.release.id)
    }

    /// The location of a HiPS of this release (`<out>/<id>/<name>`).
    #[must_use]
    pub fn hips_location(&self, name: &str) -> String {
        join(&join(&self.release.out, &self.release.id), name)
    }

    fn title(&self, name: &str) -> String {
        self.hips.get(name).and_then(|h| h.title.clone()).unwrap_or_else(|| format!("{} {name}", self.release.title))
    }

    /// The `tiles` job of band HiPS `name` (shard `shard`, resuming: a release always continues what is there).
    ///
    /// # Errors
    /// [`ReleaseError::Config`] naming the key of a bad option.
    pub fn tiles_job(&self, name: &str, shard: Option<(usize, usize)>) -> Result<TilesJob, ReleaseError> {
        let h = self.hips.get(name).ok_or_else(|| invalid(format!("hips.{name}"), "no such HiPS"))?;
        let key = |k: &str| format!("hips.{name}.{k}");
        if h.input.is_empty() {
            return Err(invalid(key("input"), "a band HiPS needs input = [...]"));
        }
        let frame = match &h.frame {
            Some(f) => FrameArg::from_str(f, true).map_err(|e| invalid(key("frame"), e))?,
            None => FrameArg::Equatorial,
        };
        let args = TilesArgs {
            input: h.input.clone(),
            out: self.hips_location(name),
            band: h.band.clone(),
            id: Some(self.creator_did(name)),
            title: Some(self.title(name)),
            order: h.order,
            tile_width: h.tile_width.unwrap_or(512),
            frame,
            hdu: h.hdu.as_deref().map(str::parse).transpose().map_err(|e| invalid(key("hdu"), format!("{e}")))?,
            threads: h.threads,
            resume: true,
            interp: h.interp.as_deref().unwrap_or("bilinear").parse().map_err(|e: String| invalid(key("interp"), e))?,
            shard,
            formats: h.formats.clone().unwrap_or_else(|| vec!["fits".into()]),
            no_progenitors: h.no_progenitors.unwrap_or(false),
            moc_extra: h.moc_extra.unwrap_or(3),
            aladin_url: h.aladin_url.clone(),
            bad_bits: h.bad_bits,
            mask_planes: h.mask_planes.clone().unwrap_or_default(),
            no_sibling_weight: h.no_sibling_weight.unwrap_or(false),
            stored_order: h.stored_order,
        };
        if let Some(o) = args.order.filter(|o| !(3..=20).contains(o)) {
            return Err(invalid(key("order"), format!("{o} is not in 3..=20")));
        }
        TilesJob::try_from(args).map_err(|e| invalid(format!("hips.{name}"), crate::error_chain(&e)))
    }

    /// The `color` job of colour HiPS `name` (resuming).
    ///
    /// # Errors
    /// [`ReleaseError::Config`] naming the key of a bad option.
    pub fn color_job(&self, name: &str) -> Result<ColorJob, ReleaseError> {
        let h = self.hips.get(name).ok_or_else(|| invalid(format!("hips.{name}"), "no such HiPS"))?;
        let c = h.color.as_ref().ok_or_else(|| invalid(format!("hips.{name}.color"), "not a colour HiPS"))?;
        let key = |k: &str| format!("hips.{name}.color.{k}");
        let method = match &c.method {
            Some(m) => ColorMethod::from_str(m, true).map_err(|e| invalid(key("method"), e))?,
            None => ColorMethod::Lupton,
        };
        let format = match &c.format {
            Some(f) => f
                .iter()
                .map(|f| PreviewFormat::from_str(f, true).map_err(|e| invalid(key("format"), e)))
                .collect::<Result<_, _>>()?,
            None => vec![PreviewFormat::Jpeg, PreviewFormat::Png],
        };
        let args = ColorArgs {
            red: self.hips_location(&c.red),
            green: self.hips_location(&c.green),
            blue: self.hips_location(&c.blue),
            out: self.hips_location(name),
            method,
            q: c.q.unwrap_or(DEFAULT_Q),
            stretch: c.stretch.unwrap_or(DEFAULT_STRETCH),
            minimum: c.minimum.clone(),
            maximum: c.maximum.clone(),
            scale: c.scale.clone(),
            format,
            jpeg_quality: c.jpeg_quality.unwrap_or(DEFAULT_JPEG_QUALITY),
            id: Some(self.creator_did(name)),
            title: Some(self.title(name)),
            resume: true,
            aladin_url: h.aladin_url.clone(),
        };
        ColorJob::try_from(args).map_err(|e| invalid(format!("hips.{name}.color"), crate::error_chain(&e)))
    }
}

/// `base/part` for a local path or a URL.
#[must_use]
pub fn join(base: &str, part: &str) -> String {
    format!("{}/{part}", base.trim_end_matches('/'))
}

/// Apply one `HIPSGEN_<SECTION>_<KEY>` variable: `HIPSGEN_RELEASE_OUT`, `HIPSGEN_SLURM_PARTITION`,
/// `HIPSGEN_HIPS_<NAME>_<KEY>` (NAME as in the file, upper-cased). The value is read as a TOML value when it is one
/// (`4`, `true`, `["a", "b"]`), else as a string.
fn apply_override(tree: &mut toml::Table, var: &str, raw: &str) -> Result<(), ReleaseError> {
    let rest = &var[ENV_PREFIX.len()..];
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let unknown = || invalid(var, "not a key of the release configuration (HIPSGEN_<SECTION>_<KEY>)");
    let (section, key) = rest.split_once('_').ok_or_else(unknown)?;
    let section = section.to_ascii_lowercase();
    if section == "hips" {
        let hips = tree.get_mut("hips").and_then(toml::Value::as_table_mut).ok_or_else(unknown)?;
        // The longest HiPS name that prefixes the rest (names may hold '_').
        let mut names: Vec<String> = hips.keys().cloned().collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let name = names
            .into_iter()
            .find(|n| {
                key.len() > n.len() + 1 && key[..n.len()].eq_ignore_ascii_case(n) && key.as_bytes()[n.len()] == b'_'
            })
            .ok_or_else(unknown)?;
        let k = key[name.len() + 1..].to_ascii_lowercase();
        let t = hips.get_mut(&name).and_then(toml::Value::as_table_mut).ok_or_else(unknown)?;
        t.insert(k, value);
        return Ok(());
    }
    if !["release", "slurm", "kubernetes", "store"].contains(&section.as_str()) {
        return Err(unknown());
    }
    let t = tree.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    t.as_table_mut().ok_or_else(unknown)?.insert(key.to_ascii_lowercase(), value);
    Ok(())
}
