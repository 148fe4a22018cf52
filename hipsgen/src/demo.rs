//! `hipsgen demo`: the embedded default job. Makes LSST-like sample coadds in three bands, builds one HiPS per band
//! (FITS tiles plus PNG/JPEG previews) and a color HiPS, all into a local directory used as the object store.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::run::{FrameArg, TilesArgs};

/// Parses `color` arguments exactly as the CLI does, so the demo uses the documented defaults.
#[derive(Debug, Parser)]
struct ColorCli {
    #[command(flatten)]
    args: crate::color::ColorArgs,
}

/// Arguments of `hipsgen demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Output directory (object store root): coadds/ and one HiPS per band plus color/.
    #[arg(long, short = 'o', default_value = "hips-demo")]
    pub out: PathBuf,
    /// Patches per band.
    #[arg(long, default_value_t = 4)]
    pub patches: usize,
    /// Patch size in pixels.
    #[arg(long, default_value_t = 2048)]
    pub patch_size: usize,
}

/// Run the demo; returns whether every input was used.
///
/// # Errors
/// When any step fails.
pub fn run_demo(args: &DemoArgs) -> anyhow::Result<bool> {
    let coadds = args.out.join("coadds");
    let bands = ["g", "r", "i"];
    let cfg = crate::synth::SynthConfig {
        bands: bands.iter().map(|b| (*b).to_string()).collect(),
        patches: args.patches,
        patch_size: args.patch_size,
        seed: 1,
        pixel_scale_arcsec: 0.2,
        overlap: 100,
        ra: 150.0,
        dec: 2.0,
    };
    eprintln!(
        "hipsgen demo: writing {} patches x {} bands of {}^2 px to {}",
        args.patches,
        bands.len(),
        args.patch_size,
        coadds.display()
    );
    crate::synth::generate(&cfg, &coadds)?;
    let mut all_used = true;
    for b in bands {
        let out = args.out.join(b);
        let t = TilesArgs {
            input: vec![path_str(&coadds.join(b))?],
            out: path_str(&out)?,
            band: Some(b.to_string()),
            id: Some(format!("ivo://hipsgen.local/P/demo/{b}")),
            title: Some(format!("hipsgen demo: synthetic LSST-like coadds, band {b}")),
            order: None,
            tile_width: 512,
            frame: FrameArg::Equatorial,
            hdu: None,
            threads: None,
            resume: false,
            interp: hips_core::kernel::Interp::Bilinear,
            shard: None,
            formats: vec!["fits".into(), "png".into(), "jpeg".into()],
            no_progenitors: false,
            moc_extra: 3,
        };
        let o = crate::run::run_tiles(&t)?;
        all_used &= o.skipped.is_empty();
    }
    let color_out = path_str(&args.out.join("color"))?;
    let argv = [
        "color".to_string(),
        "--red".into(),
        path_str(&args.out.join("i"))?,
        "--green".into(),
        path_str(&args.out.join("r"))?,
        "--blue".into(),
        path_str(&args.out.join("g"))?,
        "--out".into(),
        color_out.clone(),
        "--title".into(),
        "hipsgen demo: synthetic LSST-like coadds, i/r/g color".into(),
    ];
    let color = ColorCli::try_parse_from(argv)?;
    let code = crate::color::run_color(&color.args)?;
    if code != std::process::ExitCode::SUCCESS {
        anyhow::bail!("color HiPS {color_out} finished with failures");
    }
    eprintln!("hipsgen demo: done. Serve it with: hipsserve --root {}", args.out.display());
    Ok(all_used)
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("{} is not valid UTF-8", p.display()))
}
