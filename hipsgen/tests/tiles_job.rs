//! The `tiles` job as a library call: previews drawn in the same pass as the FITS tiles are byte-identical to those
//! the `previews` job draws afterwards from the FITS tiles (the cut sample is every deepest tile here), `properties`
//! says so, and invalid job values are usage errors.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Parser;
use hipsgen::cli::TilesArgs;
use hipsgen::preview::{PreviewFormat, PreviewsJob};
use hipsgen::run::{run_tiles, TilesJob};
use hipsgen::synth::{generate, SynthConfig};
use hipsgen::NoProgress;

#[derive(Parser)]
struct TilesCli {
    #[command(flatten)]
    a: TilesArgs,
}

/// Every preview image under `dir`, by relative path.
fn images(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "png" || x == "jpg") {
                let rel = p.strip_prefix(dir).expect("prefix").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn props(dir: &Path) -> hipsgen::properties::Properties {
    hipsgen::properties::Properties::parse(&std::fs::read_to_string(dir.join("properties")).expect("properties"))
}

#[test]
fn previews_in_the_same_pass_equal_previews_drawn_afterwards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = SynthConfig { bands: vec!["r".into()], patches: 4, patch_size: 600, seed: 5, ..SynthConfig::default() };
    generate(&cfg, &tmp.path().join("in")).expect("synth");
    let input = vec![tmp.path().join("in/r").display().to_string()];

    let one = tmp.path().join("one");
    let mut job = TilesJob::new(input.clone(), one.display().to_string());
    job.previews = vec![PreviewFormat::Png, PreviewFormat::Jpeg];
    let report = run_tiles(&job, &NoProgress).expect("tiles with previews");
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);

    let two = tmp.path().join("two");
    run_tiles(&TilesJob::new(input, two.display().to_string()), &NoProgress).expect("tiles");
    let previews = hipsgen::preview::run_previews(&PreviewsJob::new(two.display().to_string())).expect("previews");
    assert!(previews.failures.is_empty(), "{:?}", previews.failures);

    let (a, b) = (images(&one), images(&two));
    assert!(
        a.keys().any(|k| k == "Norder3/Allsky.png")
            && a.keys().any(|k| std::path::Path::new(k).extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let differ: Vec<&String> = a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|(k, _)| k).collect();
    assert!(
        differ.is_empty(),
        "{} of {} images differ, e.g. {:?}",
        differ.len(),
        a.len(),
        &differ[..differ.len().min(5)]
    );
    let (pa, pb) = (props(&one), props(&two));
    for key in ["hips_tile_format", "hips_pixel_cut", "hips_data_range", "hips_nb_tiles"] {
        assert_eq!(pa.get(key), pb.get(key), "{key}");
    }
    assert_eq!(pa.get("hips_tile_format"), Some("png jpeg fits"));
}

#[test]
fn invalid_values_are_usage_errors() {
    let args = |extra: &[&str]| {
        let mut v = vec!["x", "--input", "a.fits", "--out", "o"];
        v.extend_from_slice(extra);
        TilesCli::parse_from(v).a
    };
    let err = TilesJob::try_from(args(&["--formats", "fits,webp"])).expect_err("webp");
    assert!(err.is_usage() && err.to_string().contains("webp"), "{err}");
    let job = TilesJob::try_from(args(&["--formats", "fits,png,jpg,png"])).expect("formats");
    assert_eq!(job.previews, vec![PreviewFormat::Png, PreviewFormat::Jpeg]);
    let mut bad = TilesJob::new(vec!["a.fits".into()], "o");
    bad.tile_width = 100;
    assert!(run_tiles(&bad, &NoProgress).expect_err("width").is_usage());
}

/// Deepest-order tile numbers under `dir` (Norder<order>/Dir*/Npix*.fits).
fn deepest(dir: &Path, order: u8) -> std::collections::BTreeSet<u64> {
    let mut out = std::collections::BTreeSet::new();
    let Ok(dirs) = std::fs::read_dir(dir.join(format!("Norder{order}"))) else { return out };
    for d in dirs {
        for f in std::fs::read_dir(d.expect("dir").path()).expect("read_dir") {
            let name = f.expect("entry").file_name().to_string_lossy().into_owned();
            if let Some(n) = name.strip_prefix("Npix").and_then(|s| s.strip_suffix(".fits")) {
                out.insert(n.parse().expect("npix"));
            }
        }
    }
    out
}

#[test]
fn each_shard_writes_exactly_its_own_tiles() {
    use hipsgen::plan::{expand_inputs, open_all, Plan};
    use hipsgen::shard::{root_costs, shard_roots};

    let tmp = tempfile::tempdir().expect("tempdir");
    // patches spread wide enough (2 deg apart) to cover several order-3 subtrees
    let cfg = SynthConfig {
        bands: vec!["r".into()],
        patches: 4,
        patch_size: 300,
        seed: 3,
        pixel_scale_arcsec: 30.0,
        ..SynthConfig::default()
    };
    generate(&cfg, &tmp.path().join("in")).expect("synth");
    let input = vec![tmp.path().join("in/r").display().to_string()];
    let full = tmp.path().join("full");
    let mut job = TilesJob::new(input.clone(), full.display().to_string());
    job.tile_width = 64;
    let report = run_tiles(&job, &NoProgress).expect("unsharded");
    let k = report.order;
    let all = deepest(&full, k);

    let (coadds, skipped) =
        open_all(&expand_inputs(&input).expect("inputs"), None, &hips_core::coadd::PlaneOptions::default());
    let plan = Plan::new(coadds, skipped, Some(k), 64, hips_core::wcs::Frame::Equatorial).expect("plan");
    let shift = 2 * u32::from(k - 3);
    let mut roots: Vec<u64> = plan.tiles.keys().map(|t| t >> shift).collect();
    roots.dedup();
    assert!(roots.len() >= 3, "need several order-3 subtrees, got {}", roots.len());
    let cost = root_costs(&plan.tiles, shift);
    let n = 3;
    let mut union = std::collections::BTreeSet::new();
    let mut busy = 0;
    for i in 0..n {
        let dir = tmp.path().join(format!("shard{i}"));
        let mut j = job.clone();
        j.out = dir.display().to_string();
        j.shard = Some((i, n));
        run_tiles(&j, &NoProgress).expect("shard");
        let mine: std::collections::BTreeSet<u64> = shard_roots(&roots, &cost, i, n).into_iter().collect();
        let expected: std::collections::BTreeSet<u64> =
            all.iter().copied().filter(|t| mine.contains(&(t >> shift))).collect();
        let got = deepest(&dir, k);
        if !got.is_empty() {
            busy += 1;
        }
        assert_eq!(got, expected, "shard {i} of {n} wrote other tiles than its own subtrees'");
        assert!(union.is_disjoint(&got), "shard {i} wrote tiles another shard wrote");
        union.extend(got);
    }
    assert!(busy >= 2, "the work was not shared: {busy} shard(s) wrote tiles");
    assert_eq!(union, all, "the shards together wrote exactly the unsharded run's deepest tiles");
}
