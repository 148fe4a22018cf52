//! `hipsgen release` on a local directory: the configuration (every documented key is a real key and every key is
//! documented, unknown keys and variables are errors, `HIPSGEN_*` overrides), shards run out of order, twice and at
//! once give the release `run` gives, finalize refuses until every marker exists, publish and rollback swap
//! `current` and `hipslist` without touching the releases, and the Kubernetes manifests match their golden file.
//! Inputs: synthetic coadds in three bands (4 patches of 256 px at 60"/px, over several order-3 subtrees).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hips_core::storage::{Store, Swap};
use hipsgen::release::finalize::{build_manifest, finalize_band, finalize_release, Manifest};
use hipsgen::release::shards::{run_shard, ShardOutcome};
use hipsgen::release::{kubernetes, lease, publish, root_store, ReleaseConfig, ReleaseError};
use hipsgen::synth::{run_synth, SynthConfig, SynthJob};

fn coadds(dir: &Path) {
    let config = SynthConfig {
        bands: vec!["g".into(), "r".into(), "i".into()],
        patches: 4,
        patch_size: 256,
        seed: 1,
        pixel_scale_arcsec: 60.0,
        overlap: 10,
        ra: 150.0,
        dec: 2.0,
    };
    run_synth(&SynthJob { config, out: dir.to_path_buf() }).expect("synth");
}

fn config_text(out: &Path, coadds: &Path, id: &str) -> String {
    let mut t = format!(
        "[release]\nid = \"{id}\"\nout = \"{}\"\nauthority = \"ivo://example.org/P/test\"\npublic_url = \
         \"https://hips.example.org/\"\ntitle = \"Test\"\nshards = 3\n",
        out.display()
    );
    for b in ["g", "r", "i"] {
        let _ = write!(
            t,
            "[hips.{b}]\ninput = [\"{}/{b}\"]\nband = \"{b}\"\norder = 5\ntile_width = 64\n",
            coadds.display()
        );
    }
    t.push_str("[hips.color]\ncolor = { red = \"i\", green = \"r\", blue = \"g\" }\n");
    t
}

fn cfg(out: &Path, coadds: &Path, id: &str) -> ReleaseConfig {
    ReleaseConfig::from_toml(&config_text(out, coadds, id), Vec::new()).expect("config")
}

/// Every object under `<out>/<id>/` with its bytes, but the run records (their dates) and properties/hipslist
/// (dates) whose other lines are compared apart.
fn objects(out: &Path, id: &str) -> BTreeMap<String, Vec<u8>> {
    let s = Store::open(out.to_str().expect("utf8")).expect("open");
    s.list(&format!("{id}/"))
        .expect("list")
        .into_iter()
        .map(|k| {
            let b = s.get(&k).expect("get").expect("present").to_vec();
            (k, b)
        })
        .collect()
}

fn dateless(b: &[u8]) -> String {
    String::from_utf8_lossy(b).lines().filter(|l| !l.contains("_date") && !l.contains("creation")).collect()
}

fn run_all(c: &ReleaseConfig) {
    // What `release run --no-publish` does (`command::exec`, exercised through the binary by tests/test_release_*.py).
    for b in c.bands() {
        for i in 0..c.release.shards {
            run_shard(c, b, i).expect("shard");
        }
        finalize_band(c, b).expect("finalize");
    }
    for h in c.colors() {
        hipsgen::release::finalize::finalize_color(c, h).expect("colour");
    }
    finalize_release(c).expect("release");
}

#[test]
fn documented_keys_are_exactly_the_keys() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/release.toml")).expect("read");
    // The file as shipped parses...
    ReleaseConfig::from_toml(&text, Vec::new()).expect("config/release.toml parses");
    // ...and so does every commented-out key, uncommented: each documented key is a real key.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')) =>
            {
                format!("{rest}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let full = ReleaseConfig::from_toml(&uncommented, Vec::new()).expect("every documented key parses");
    // Every key of the resolved configuration appears in the documentation.
    let printed = full.to_toml().expect("print");
    for line in printed.lines() {
        if let Some((k, _)) = line.split_once(" = ") {
            assert!(text.contains(&format!("{} = ", k.trim())), "key {k} is not documented in config/release.toml");
        }
    }
    assert_eq!(full.slurm.partition.as_deref(), Some("debug"));
    assert_eq!(full.hips["g"].order, Some(11));
}

#[test]
fn unknown_keys_and_variables_are_errors_and_overrides_apply() {
    let d = tempfile::tempdir().expect("tmp");
    let text = config_text(&d.path().join("out"), d.path(), "dr1");
    let e = ReleaseConfig::from_toml(&text.replace("order = 5", "ordre = 5"), Vec::new()).expect_err("typo");
    assert!(e.to_string().contains("ordre"), "{e}");
    let e = ReleaseConfig::from_toml(&text, vec![("HIPSGEN_NOPE_X".into(), "1".into())]).expect_err("unknown var");
    assert!(e.to_string().contains("HIPSGEN_NOPE_X"), "{e}");
    let e = ReleaseConfig::from_toml(&text.replace("red = \"i\"", "red = \"z\""), Vec::new()).expect_err("bad band");
    assert!(e.to_string().contains("hips.color.color.red"), "{e}");
    let e = ReleaseConfig::from_toml(&text.replace("order = 5", "order = 40"), Vec::new()).expect_err("bad order");
    assert!(e.to_string().contains("hips.g") && e.to_string().contains("40"), "{e}");
    let env = vec![
        ("HIPSGEN_RELEASE_SHARDS".to_string(), "2".to_string()),
        ("HIPSGEN_HIPS_G_ORDER".into(), "6".into()),
        ("HIPSGEN_SLURM_PARTITION".into(), "long".into()),
        ("HIPSGEN_SLURM_EXTRA".into(), "[\"--qos=low\"]".into()),
        ("HOME".into(), "/ignored".into()),
    ];
    let c = ReleaseConfig::from_toml(&text, env).expect("overrides");
    assert_eq!(c.release.shards, 2);
    assert_eq!(c.tiles_job("g", None).expect("job").order, Some(6));
    assert_eq!(c.tiles_job("r", None).expect("job").order, Some(5));
    assert_eq!(c.slurm.partition.as_deref(), Some("long"));
    assert_eq!(c.slurm.extra, vec!["--qos=low".to_string()]);
    assert!(c.to_toml().expect("print").contains("partition = \"long\""));
    assert_eq!(c.creator_did("g"), "ivo://example.org/P/test/dr1/g");
}

#[test]
fn shards_out_of_order_twice_and_at_once_equal_one_run_then_publish_and_rollback() {
    let d = tempfile::tempdir().expect("tmp");
    let inputs = d.path().join("coadds");
    coadds(&inputs);
    let (out_a, out_b) = (d.path().join("a"), d.path().join("b"));
    let a = cfg(&out_a, &inputs, "dr1");
    run_all(&a);

    let b = cfg(&out_b, &inputs, "dr1");
    match finalize_band(&b, "g") {
        Err(ReleaseError::ShardsMissing { missing, of: 3, .. }) => assert_eq!(missing, vec![0, 1, 2]),
        r => panic!("finalize before any shard: {r:?}"),
    }
    assert!(matches!(run_shard(&b, "g", 2).expect("shard 2"), ShardOutcome::Done(_)));
    // Shard 0 twice at once.
    std::thread::scope(|s| {
        let h1 = s.spawn(|| run_shard(&b, "g", 0));
        let h2 = s.spawn(|| run_shard(&b, "g", 0));
        h1.join().expect("thread").expect("shard 0");
        h2.join().expect("thread").expect("shard 0 again");
    });
    match finalize_band(&b, "g") {
        Err(ReleaseError::ShardsMissing { missing, .. }) => assert_eq!(missing, vec![1]),
        r => panic!("finalize with shard 1 missing: {r:?}"),
    }
    run_shard(&b, "g", 1).expect("shard 1");
    assert!(matches!(run_shard(&b, "g", 1).expect("again"), ShardOutcome::AlreadyDone(_)));
    for band in ["r", "i"] {
        for i in [1, 0, 2] {
            run_shard(&b, band, i).expect("shard");
        }
    }
    assert!(matches!(publish::publish(&root_store(&b).expect("store"), "dr1"), Err(ReleaseError::NotReady { .. })));
    finalize_band(&b, "g").expect("finalize g");
    assert!(!finalize_band(&b, "g").expect("finalize g again"), "finalize twice does nothing");
    run_all(&b);

    let (oa, ob) = (objects(&out_a, "dr1"), objects(&out_b, "dr1"));
    assert_eq!(oa.keys().collect::<Vec<_>>(), ob.keys().collect::<Vec<_>>(), "the same set of objects");
    let mut tiles = 0;
    for (k, va) in &oa {
        let vb = &ob[k];
        if k.ends_with("manifest.json") {
            // Hashes of the dated objects differ; the tiles' are compared through the objects themselves.
            assert_eq!(va.len(), vb.len(), "{k}");
        } else if k.ends_with("properties")
            || k.ends_with("hipslist")
            || k.ends_with("index.html")
            || k.contains("hipsgen-state/run.json")
        {
            let (sa, sb) = (out_a.display().to_string(), out_b.display().to_string());
            assert_eq!(dateless(va).replace(&sa, "OUT"), dateless(vb).replace(&sb, "OUT"), "{k}");
        } else {
            assert_eq!(va, vb, "{k}: bytes differ");
            tiles += usize::from(k.contains("/Norder"));
        }
    }
    assert!(tiles > 250, "{tiles} tiles compared");

    // The manifest names every object with its size.
    let store_a = root_store(&a).expect("store");
    let m: Manifest =
        serde_json::from_slice(&store_a.get("dr1/manifest.json").expect("get").expect("manifest")).expect("json");
    assert_eq!(m.objects.len(), oa.len() - 1);
    for e in &m.objects {
        let len = std::fs::metadata(out_a.join("dr1").join(&e.key)).expect("file").len();
        assert_eq!(e.size, len, "{}", e.key);
    }

    // Publish, re-publish, a second release, rollback.
    let p = publish::publish(&store_a, "dr1").expect("publish");
    assert_eq!((p.id.as_str(), p.previous.as_deref()), ("dr1", None));
    assert_eq!(std::fs::read_to_string(out_a.join("current")).expect("current").trim(), "dr1");
    let list = std::fs::read_to_string(out_a.join("hipslist")).expect("hipslist");
    for h in ["g", "r", "i", "color"] {
        assert!(list.contains(&format!("creator_did          = ivo://example.org/P/test/dr1/{h}\n")), "{list}");
        assert!(list.contains(&format!("hips_service_url     = https://hips.example.org/dr1/{h}\n")), "{list}");
    }
    assert_eq!(list.matches("hips_release_date").count(), 4, "{list}");
    for h in ["g", "r", "i"] {
        let progenitors = format!("hips_progenitor_url  = https://hips.example.org/dr1/{h}/HpxFinder\n");
        assert!(list.contains(&progenitors), "{list}");
    }
    let again = publish::publish(&store_a, "dr1").expect("re-publish");
    assert_eq!(again.creator_dids, p.creator_dids, "a re-publish keeps creator_did");

    let c2 = cfg(&out_a, &inputs, "dr2");
    run_all(&c2);
    let stale = store_a.get_versioned("current").expect("get").expect("current");
    let p2 = publish::publish(&store_a, "dr2").expect("publish dr2");
    assert_eq!(p2.previous.as_deref(), Some("dr1"));
    assert!(p2.creator_dids.iter().all(|d| d.contains("/dr2/")), "{:?}", p2.creator_dids);
    assert!(std::fs::read_to_string(out_a.join("hipslist")).expect("list").contains("https://hips.example.org/dr2/g"));
    // A publisher that read `current` before dr2 was published cannot swap it.
    assert_eq!(store_a.swap("current", "dr1\n", Some(&stale.1)).expect("swap"), Swap::Conflict);
    let back = publish::publish(&store_a, "dr1").expect("rollback");
    assert_eq!(back.previous.as_deref(), Some("dr2"));
    assert_eq!(std::fs::read_to_string(out_a.join("current")).expect("current").trim(), "dr1");
    assert!(std::fs::read_to_string(out_a.join("hipslist")).expect("list").contains("https://hips.example.org/dr1/g"));
    // Publishing never modified a release: its objects still match its manifest.
    for id in ["dr1", "dr2"] {
        let stored: Manifest =
            serde_json::from_slice(&store_a.get(&format!("{id}/manifest.json")).expect("get").expect("m"))
                .expect("json");
        assert_eq!(build_manifest(&store_a, id).expect("manifest"), stored, "{id} changed after publishing");
    }
}

#[test]
fn kubernetes_manifests_match_the_golden_file() {
    let text = config_text(Path::new("s3://bucket/hips"), Path::new("/data/coadds"), "dr1");
    let c = ReleaseConfig::from_toml(&text, Vec::new()).expect("config");
    let got = kubernetes::manifests(&c, &text, true);
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/release_kubernetes.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden, &got).expect("write golden");
    }
    let want = std::fs::read_to_string(golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(got, want, "manifests differ from {golden}");
    assert_eq!(got.matches("completionMode: Indexed").count(), 3);
    assert_eq!(got.matches("backoffLimitPerIndex: 3").count(), 3);
}

/// A release as finalize leaves it, as far as publish reads it: its manifest and its hipslist.
fn finalized_stub(s: &Store, id: &str) {
    s.put(&format!("{id}/manifest.json"), "{\"objects\": []}").expect("put");
    let list = format!("creator_did          = ivo://example.org/P/test/{id}/g\nhips_release_date    = x\n");
    s.put(&format!("{id}/hipslist"), list).expect("put");
}

fn lease_of_a_crashed_publisher(s: &Store, expires_in: i64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let expires = now.saturating_add_signed(expires_in);
    let l = lease::Lease { owner: "node7:4242:000000001".into(), release: "dr0".into(), expires };
    s.put(lease::LEASE, l.to_text()).expect("lease");
}

#[test]
fn a_killed_publishers_lease_is_taken_over_once_expired_or_broken() {
    let d = tempfile::tempdir().expect("tmp");
    let s = Store::open(d.path().to_str().expect("utf8")).expect("open");
    finalized_stub(&s, "dr1");
    finalized_stub(&s, "dr2");
    let current = || s.get("current").expect("get").map(|b| String::from_utf8_lossy(&b).trim().to_string());

    // A live lease: publish fails naming the lease, its owner and --break-lock, and changes nothing.
    lease_of_a_crashed_publisher(&s, 3600);
    let e = publish::publish(&s, "dr1").expect_err("live lease");
    let msg = e.to_string();
    assert!(matches!(e, ReleaseError::PublishLeaseHeld { .. }), "{e:?}");
    assert!(msg.contains("publish.lock") && msg.contains("node7:4242") && msg.contains("--break-lock"), "{msg}");
    assert_eq!(current(), None);
    // --break-lock takes it over; the lease is gone afterwards.
    let opts = publish::PublishOptions { break_lock: true, ..Default::default() };
    assert_eq!(publish::publish_with(&s, "dr1", opts).expect("break-lock").id, "dr1");
    assert_eq!(current().as_deref(), Some("dr1"));
    assert!(!s.exists(lease::LEASE).expect("head"));

    // An expired lease is taken over without asking.
    lease_of_a_crashed_publisher(&s, -5);
    assert_eq!(publish::publish(&s, "dr2").expect("expired lease").previous.as_deref(), Some("dr1"));
    assert_eq!(current().as_deref(), Some("dr2"));
    assert!(!s.exists(lease::LEASE).expect("head"));

    // A lease of an older hipsgen (no expiry) needs --break-lock.
    s.put(lease::LEASE, "dr0 pid 12 at 2026-01-01T00:00Z\n").expect("old lease");
    let e = publish::publish(&s, "dr1").expect_err("old lease");
    assert!(e.to_string().contains("no expiry"), "{e}");
    publish::publish_with(&s, "dr1", opts).expect("break-lock");

    // Two publishers find the same expired lease: only one takes it over (compare-and-swap on the lease's version).
    lease_of_a_crashed_publisher(&s, -5);
    let (_, seen) = s.get_versioned(lease::LEASE).expect("get").expect("lease");
    let a = lease::acquire(&s, "dr1", std::time::Duration::from_secs(60), false).expect("first taker");
    assert!(a.took_over.as_deref().is_some_and(|t| t.contains("node7:4242")));
    assert_eq!(s.swap(lease::LEASE, "late taker", Some(&seen)).expect("swap"), Swap::Conflict);
    let e = lease::acquire(&s, "dr2", std::time::Duration::from_secs(60), false).expect_err("second taker");
    assert!(matches!(e, ReleaseError::PublishLeaseHeld { .. }), "{e:?}");
    // A holder whose lease was broken sees it before swapping and does not delete the new holder's lease.
    let b = lease::acquire(&s, "dr2", std::time::Duration::from_secs(60), true).expect("break");
    assert!(matches!(a.check("dr1"), Err(ReleaseError::PublishConflict { .. })));
    a.release().expect("release");
    b.check("dr2").expect("b holds the lease");
    b.release().expect("release");
    assert!(!s.exists(lease::LEASE).expect("head"));

    // The short swap lock of a local directory left by a publisher killed while renaming: --break-lock clears it.
    lease_of_a_crashed_publisher(&s, -5);
    s.put("publish.lock.lock", "4242").expect("swap lock");
    let e = publish::publish(&s, "dr2").expect_err("swap lock in the way");
    assert!(e.to_string().contains("publish.lock.lock"), "{e}");
    publish::publish_with(&s, "dr2", opts).expect("break-lock");
    assert_eq!(current().as_deref(), Some("dr2"));
    assert!(!s.exists("publish.lock.lock").expect("head") && !s.exists(lease::LEASE).expect("head"));
}

#[test]
fn plan_estimates_the_colour_hips_bytes_and_cpu_from_measured_costs() {
    let d = tempfile::tempdir().expect("tmp");
    let inputs = d.path().join("coadds");
    coadds(&inputs);
    let out = d.path().join("out");
    let c = cfg(&out, &inputs, "dr1");
    let plan = hipsgen::release::plan::plan_release(&c).expect("plan");
    let color = plan.iter().find(|h| h.hips == "color").expect("colour plan");
    let g = plan.iter().find(|h| h.hips == "g").expect("g plan");
    assert_eq!(color.orders.len(), usize::from(g.order) + 1);
    for o in &color.orders {
        assert!(o.tiles > 0 && o.bytes > 0, "{o:?}");
        assert!(o.cpu_s.is_some_and(|s| s > 0.0), "{o:?}");
    }
    let ns = color.ns_per_pixel.expect("measured");
    assert!((0.1..100_000.0).contains(&ns), "{ns} ns per colour pixel");
    // Against the colour HiPS the release then writes (JPEG and PNG tiles of orders 0-5): the plan's tile count is an
    // upper bound, and its bytes (the fullest sample tile's size for every tile) are of the same magnitude.
    run_all(&c);
    let s = Store::open(out.to_str().expect("utf8")).expect("open");
    let (mut tiles, mut bytes) = (BTreeMap::<u8, u64>::new(), 0u64);
    for k in s.list("dr1/color/").expect("list") {
        let Some((o, _, ext)) = hips_core::healpix::parse_tile_key(k.trim_start_matches("dr1/color/")) else {
            continue;
        };
        bytes += s.size(&k).expect("size").expect("present");
        if ext == "jpg" {
            *tiles.entry(o).or_default() += 1;
        }
    }
    for o in &color.orders {
        let written = tiles.get(&o.order).copied().unwrap_or(0);
        assert!(written > 0 && written <= o.tiles, "order {}: {written} written, {} planned", o.order, o.tiles);
    }
    let planned: u64 = color.orders.iter().map(|o| o.bytes).sum();
    let ratio = planned as f64 / bytes as f64;
    assert!((0.5..8.0).contains(&ratio), "planned {planned} bytes, written {bytes} ({ratio:.2}x)");
}
