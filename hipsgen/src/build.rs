//! Building the tile pyramid: depth-first from each root tile, rendering the deepest tiles with the kernel and
//! making every lower tile from its four children, in parallel (rayon), writing each tile as soon as it exists, with
//! its PNG/JPEG previews drawn from the same in-memory array when previews are asked for (the display cut comes from
//! a sample of deepest tiles rendered first, see [`crate::cut`]).
//!
//! Memory is bounded by (threads x depth x 4) tiles, whatever the number of inputs. Every tile is a pure function
//! of the inputs, so a run can be killed and resumed (`--resume`): existing deepest tiles are read back instead of
//! re-rendered, and whole order-3 subtrees whose checkpoint (the tile plus a statistics sidecar written after it)
//! exists are skipped. Shards split the order-3 subtrees between machines without coordination.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use hips_core::coadd::Coadd;
use hips_core::healpix::tile_key;
use hips_core::kernel::{self, Interp, TileSpec};
use hips_core::storage::Store;
use rayon::prelude::*;

use crate::plan::{Plan, Skipped};
use crate::preview::{try_encode_preview, PreviewFormat, PreviewSpec, Stretch};
use crate::stats::Stats;
use crate::tile;
use crate::{Error, Progress};

/// A built tile (FITS-order pixels) with the statistics of the deepest tiles under it.
type Built = (Vec<f32>, Stats);

/// Order of the checkpoints (statistics sidecars) and of the shard roots.
pub const CHECKPOINT_ORDER: u8 = 3;
/// Fewest deepest tiles rendered at once while sampling the preview cut.
const SAMPLE_CHUNK: usize = 8;
/// Folder (in the output) holding run state: checkpoints and the run record. Not part of the HiPS proper.
pub const STATE_DIR: &str = "hipsgen-state";

/// Options of the pyramid build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Interpolation kernel.
    pub interp: Interp,
    /// Reuse tiles and checkpoints already in the output.
    pub resume: bool,
    /// `(index, count)`: build only this shard's order-3 subtrees.
    pub shard: Option<(usize, usize)>,
    /// Write the HpxFinder progenitor index.
    pub progenitors: bool,
    /// Coverage order offset below the tile order (MOC order = tile order + this).
    pub moc_extra: u8,
    /// Preview formats drawn next to every FITS tile (none: FITS only).
    pub previews: Vec<PreviewFormat>,
    /// Resuming: skip order-3 subtrees that have a checkpoint (false when the previous run drew other previews).
    pub trust_checkpoints: bool,
    /// Store tiles (FITS and previews) of orders up to this one only; deeper ones are computed, not written.
    pub stored_order: Option<u8>,
}

/// What the build produced.
#[derive(Debug)]
pub struct BuildResult {
    /// Statistics of the built subtrees (all of them when not sharded).
    pub stats: Stats,
    /// Order-3 tiles reduced to W/8 pixels, for Allsky.
    pub allsky: BTreeMap<u64, Vec<f32>>,
    /// Coadds that failed while being read, or contributed no pixel.
    pub failed: Vec<Skipped>,
    /// Deepest tiles rendered in this run (not read back), blank ones included.
    pub rendered: u64,
    /// Deepest tiles written in this run (rendered and not blank).
    pub written: u64,
    /// The previews drawn (formats, cut, stretch) and the `hips_pixel_cut` text of the cut; `None` without previews.
    pub previews: Option<(PreviewSpec, String)>,
}

/// The stateful pyramid builder.
pub struct Builder<'a> {
    plan: &'a Plan,
    store: &'a Store,
    opts: BuildOptions,
    coverage: Vec<HashSet<u64>>,
    allsky: Mutex<BTreeMap<u64, Vec<f32>>>,
    failed: Mutex<BTreeMap<usize, String>>,
    used: Vec<AtomicBool>,
    rendered: AtomicU64,
    written: AtomicU64,
    progress: &'a dyn Progress,
    /// The previews to draw, set once the cut sample is done.
    spec: Option<PreviewSpec>,
    /// Deepest tiles of the cut sample, built before the pyramid pass and taken from here when it reaches them.
    sampled: Mutex<HashMap<u64, Option<Built>>>,
}

impl std::fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("order", &self.plan.order)
            .field("deepest_tiles", &self.plan.tiles.len())
            .field("opts", &self.opts)
            .field("rendered", &self.rendered)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

fn checkpoint_key(npix: u64) -> String {
    format!("{STATE_DIR}/Norder{CHECKPOINT_ORDER}/Npix{npix}.json")
}

impl<'a> Builder<'a> {
    /// A builder for a plan writing into a store.
    #[must_use]
    pub fn new(plan: &'a Plan, store: &'a Store, opts: BuildOptions, progress: &'a dyn Progress) -> Self {
        let k = plan.order;
        let mut coverage = vec![HashSet::new(); usize::from(k) + 1];
        coverage[usize::from(k)] = plan.tiles.keys().copied().collect();
        for o in (0..k).rev() {
            let next: HashSet<u64> = coverage[usize::from(o) + 1].iter().map(|t| t >> 2).collect();
            coverage[usize::from(o)] = next;
        }
        let used = (0..plan.coadds.len()).map(|_| AtomicBool::new(false)).collect();
        Builder {
            plan,
            store,
            opts,
            coverage,
            allsky: Mutex::new(BTreeMap::new()),
            failed: Mutex::new(BTreeMap::new()),
            used,
            rendered: AtomicU64::new(0),
            written: AtomicU64::new(0),
            progress,
            spec: None,
            sampled: Mutex::new(HashMap::new()),
        }
    }

    /// The order-3 roots this run builds (all, or this shard's share, see [`crate::shard`]).
    #[must_use]
    pub fn roots(&self) -> Vec<u64> {
        let c = CHECKPOINT_ORDER.min(self.plan.order);
        let mut roots: Vec<u64> = self.coverage[usize::from(c)].iter().copied().collect();
        roots.sort_unstable();
        let Some((i, n)) = self.opts.shard else { return roots };
        let shift = 2 * u32::from(self.plan.order - c);
        crate::shard::shard_roots(&roots, &crate::shard::root_costs(&self.plan.tiles, shift), i, n)
    }

    /// Number of deepest tiles under the given roots (for the progress bar).
    #[must_use]
    pub fn deep_count(&self, roots: &[u64]) -> u64 {
        let c = CHECKPOINT_ORDER.min(self.plan.order);
        let shift = 2 * u32::from(self.plan.order - c);
        let set: HashSet<u64> = roots.iter().copied().collect();
        self.plan.tiles.keys().filter(|t| set.contains(&(*t >> shift))).count() as u64
    }

    /// Build everything: the shard's subtrees, or (unsharded) the whole pyramid from order 0. With previews, the
    /// deepest tiles of the cut sample are built first ([`crate::cut`]) and every tile's previews are drawn as it is
    /// written.
    ///
    /// # Errors
    /// When the output store fails, a preview cannot be encoded, or the sample gives no display cut (inputs that
    /// fail are recorded, not fatal).
    pub fn run(mut self) -> Result<BuildResult, Error> {
        let moc_order = (self.plan.order + self.opts.moc_extra).min(29);
        let mut previews = None;
        if !self.opts.previews.is_empty() {
            let (cut, text) = self.sample_cut()?;
            let spec = PreviewSpec::new(self.opts.previews.clone(), cut, Stretch::default());
            self.spec = Some(spec.clone());
            previews = Some((spec, text));
        }
        let stats = if self.opts.shard.is_some() {
            let roots = self.roots();
            let c = CHECKPOINT_ORDER.min(self.plan.order);
            let parts: Vec<Stats> = roots
                .par_iter()
                .map(|&r| self.build(c, r).map(|o| o.map(|(_, s)| s)))
                .collect::<Result<Vec<_>, Error>>()?
                .into_iter()
                .flatten()
                .collect();
            merge_all(parts, moc_order)
        } else {
            let mut roots: Vec<u64> = self.coverage[0].iter().copied().collect();
            roots.sort_unstable();
            let parts: Vec<Stats> = roots
                .par_iter()
                .map(|&r| self.build(0, r).map(|o| o.map(|(_, s)| s)))
                .collect::<Result<Vec<_>, Error>>()?
                .into_iter()
                .flatten()
                .collect();
            merge_all(parts, moc_order)
        };
        let mut failed: Vec<Skipped> = self
            .failed
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .into_iter()
            .map(|(i, reason)| Skipped { input: self.plan.coadds[i].name.clone(), reason })
            .collect();
        // A coadd that overlapped planned tiles but never contributed a pixel is reported (all blank, or
        // entirely hidden by NO_DATA). Only meaningful when every tile was rendered in this run.
        if !self.opts.resume && self.opts.shard.is_none() {
            for (i, u) in self.used.iter().enumerate() {
                if !u.load(Ordering::Relaxed) && !failed.iter().any(|f| f.input == self.plan.coadds[i].name) {
                    failed.push(Skipped {
                        input: self.plan.coadds[i].name.clone(),
                        reason: format!("{}: no valid pixel (all blank or NO_DATA)", self.plan.coadds[i].name),
                    });
                }
            }
        }
        Ok(BuildResult {
            stats,
            allsky: self.allsky.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
            failed,
            rendered: self.rendered.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            previews,
        })
    }

    /// Build the deepest tiles of the cut sample (this run's are kept for the pyramid pass; a shard also renders,
    /// without writing, the sample tiles of other shards so that every shard draws with the same cut) and return the
    /// cut with its `hips_pixel_cut` text.
    fn sample_cut(&self) -> Result<((f32, f32), String), Error> {
        let k = self.plan.order;
        let tiles: Vec<u64> = self.plan.tiles.keys().copied().collect();
        let order = crate::cut::spread(&tiles);
        let budget = crate::cut::budget(self.plan.width);
        let shift = 2 * u32::from(k - CHECKPOINT_ORDER.min(k));
        let roots: HashSet<u64> = self.roots().into_iter().collect();
        let mut stats = Stats::new((k + self.opts.moc_extra).min(29));
        let (mut done, mut with_data) = (0usize, 0usize);
        // Prefixes of the spread order, each rendered in parallel, until `budget` sampled tiles hold data (blank
        // tiles cost no memory). The chunk sizes depend only on the data (not on the threads), so every run and shard
        // samples the same tiles.
        while done < order.len() && with_data < budget {
            let chunk = (budget - with_data).max(SAMPLE_CHUNK).min(order.len() - done);
            let built: Vec<(u64, bool, Option<Built>)> = order[done..done + chunk]
                .par_iter()
                .map(|&n| {
                    let mine = roots.contains(&(n >> shift));
                    self.build_deep(n, mine).map(|b| (n, mine, b))
                })
                .collect::<Result<_, Error>>()?;
            done += chunk;
            let mut sampled = self.sampled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (n, mine, b) in built {
                if let Some((_, s)) = &b {
                    stats.merge(s);
                    with_data += 1;
                }
                if mine {
                    sampled.insert(n, b);
                }
            }
        }
        tracing::info!(sampled = done, with_data, deepest = tiles.len(), "preview cut sampled");
        crate::cut::from_stats(&stats).ok_or_else(|| Error::NoCut {
            location: self.store.location().to_string(),
            message: format!(
                "the {done} sampled deepest tile(s) hold no data or a single value; add previews with `hipsgen \
                 previews --cut`"
            ),
        })
    }

    /// Draw and write the previews of a tile (nothing when no previews are asked for).
    fn put_previews(&self, order: u8, npix: u64, data: &[f32]) -> Result<(), Error> {
        let Some(spec) = &self.spec else { return Ok(()) };
        if !self.stores(order) {
            return Ok(());
        }
        let w = self.plan.width;
        for &f in &spec.formats {
            let bytes = try_encode_preview(f, data, w, w, spec)?;
            self.store.put(&tile_key(order, npix, f.extension()), bytes)?;
        }
        Ok(())
    }

    /// Whether tiles of `order` are written (`--stored-order`).
    fn stores(&self, order: u8) -> bool {
        self.opts.stored_order.is_none_or(|m| order <= m)
    }

    /// Write a tile and its previews; returns the FITS bytes written (0 above the stored order).
    fn put_tile(&self, order: u8, npix: u64, data: &[f32]) -> Result<u64, Error> {
        if !self.stores(order) {
            return Ok(0);
        }
        let bytes = tile::encode_fits_tile(order, npix, self.plan.width, self.plan.frame, data);
        let n = bytes.len() as u64;
        self.store.put(&tile_key(order, npix, "fits"), bytes)?;
        self.put_previews(order, npix, data)?;
        Ok(n)
    }

    fn put_checkpoint(&self, npix: u64, stats: &Stats) -> Result<(), Error> {
        let key = checkpoint_key(npix);
        let bytes = serde_json::to_vec(stats).map_err(|source| Error::State { key: key.clone(), source })?;
        self.store.put(&key, bytes)?;
        Ok(())
    }

    fn get_tile(&self, order: u8, npix: u64) -> Result<Option<Vec<f32>>, Error> {
        let key = tile_key(order, npix, "fits");
        match self.store.get(&key)? {
            Some(b) => Ok(Some(tile::decode_fits_tile(&key, b, self.plan.width)?)),
            None => Ok(None),
        }
    }

    fn note_order3(&self, order: u8, npix: u64, data: &[f32]) {
        if order == 3 {
            let small = tile::reduce(data, self.plan.width, 8);
            self.allsky.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(npix, small);
        }
    }

    /// Build tile (order, npix) and everything below it; `None` when it holds no data.
    fn build(&self, order: u8, npix: u64) -> Result<Option<Built>, Error> {
        let k = self.plan.order;
        let moc_order = (k + self.opts.moc_extra).min(29);
        if order == CHECKPOINT_ORDER.min(k) && self.opts.resume && self.opts.trust_checkpoints {
            if let Some(b) = self.store.get(&checkpoint_key(npix))? {
                if let (Ok(stats), Some(data)) = (serde_json::from_slice::<Stats>(&b), self.get_tile(order, npix)?) {
                    self.progress.advance(self.deep_count(&[npix]));
                    self.note_order3(order, npix, &data);
                    return Ok(Some((data, stats)));
                }
            }
        }
        let result = if order == k { self.take_or_build_deep(npix)? } else { self.build_parent(order, npix)? };
        if let Some((data, stats)) = &result {
            self.note_order3(order, npix, data);
            if order == CHECKPOINT_ORDER.min(k) {
                self.put_checkpoint(npix, stats)?;
            }
        } else if order == CHECKPOINT_ORDER.min(k) {
            self.put_checkpoint(npix, &Stats::new(moc_order))?;
        }
        Ok(result)
    }

    fn build_parent(&self, order: u8, npix: u64) -> Result<Option<Built>, Error> {
        let moc_order = (self.plan.order + self.opts.moc_extra).min(29);
        let next = &self.coverage[usize::from(order) + 1];
        let kids: Vec<(usize, Option<Built>)> = (0..4usize)
            .into_par_iter()
            .filter(|q| next.contains(&(4 * npix + *q as u64)))
            .map(|q| self.build(order + 1, 4 * npix + q as u64).map(|r| (q, r)))
            .collect::<Result<_, Error>>()?;
        let mut children: [Option<Vec<f32>>; 4] = Default::default();
        let mut stats = Stats::new(moc_order);
        for (q, r) in kids {
            if let Some((d, s)) = r {
                stats.merge(&s);
                children[q] = Some(d);
            }
        }
        if children.iter().all(Option::is_none) {
            return Ok(None);
        }
        let data = tile::parent_from_children(&children, self.plan.width);
        stats.tiles += 1;
        stats.bytes += self.put_tile(order, npix, &data)?;
        Ok(Some((data, stats)))
    }

    /// A deepest tile of the pyramid pass: from the cut sample (its previews drawn now), else built.
    fn take_or_build_deep(&self, npix: u64) -> Result<Option<Built>, Error> {
        let taken = self.sampled.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&npix);
        match taken {
            Some(built) => {
                if let Some((data, _)) = &built {
                    self.put_previews(self.plan.order, npix, data)?;
                }
                Ok(built)
            }
            None => self.build_deep(npix, true),
        }
    }

    /// Build a deepest tile; `write`: store it (and count it), else only compute it (a sample tile of another shard).
    fn build_deep(&self, npix: u64, write: bool) -> Result<Option<Built>, Error> {
        let (k, w) = (self.plan.order, self.plan.width);
        let moc_order = (k + self.opts.moc_extra).min(29);
        if self.opts.resume {
            if let Some(data) = self.get_tile(k, npix)? {
                if write {
                    self.progress.advance(1);
                    self.put_previews(k, npix, &data)?;
                }
                let mut s = Stats::of_tile(&data, k, npix, w, moc_order);
                s.tiles = 1;
                s.bytes = tile::fits_tile_size(w);
                return Ok(Some((data, s)));
            }
        }
        let idx = self.plan.tiles.get(&npix).map(Vec::as_slice).unwrap_or_default();
        let spec = TileSpec { order: k, npix, width: w, frame: self.plan.frame };
        thread_local! {
            // Per worker thread: the lattice and accumulators, reused for every tile.
            static WORKSPACE: std::cell::RefCell<kernel::Workspace> = std::cell::RefCell::default();
        }
        WORKSPACE.with(|b| match b.try_borrow_mut() {
            Ok(mut ws) => self.render_deep(&spec, idx, &mut ws, write),
            // Re-entered on this thread (work stealing): use a fresh workspace rather than share.
            Err(_) => self.render_deep(&spec, idx, &mut kernel::Workspace::default(), write),
        })
    }

    fn render_deep(
        &self,
        spec: &TileSpec,
        idx: &[u32],
        ws: &mut kernel::Workspace,
        write: bool,
    ) -> Result<Option<Built>, Error> {
        let (k, w, npix) = (spec.order, spec.width, spec.npix);
        let moc_order = (k + self.opts.moc_extra).min(29);
        let live: Vec<usize> = idx.iter().map(|&i| i as usize).filter(|&i| !self.is_failed(i)).collect();
        let coadds: Vec<&Coadd> = live.iter().map(|&i| &self.plan.coadds[i]).collect();
        let (data, used_pos) = kernel::render_tile_in(spec, &coadds, self.opts.interp, ws, |j, e| {
            tracing::error!("skipping input: {}", crate::error_chain(&e));
            self.failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(live[j], crate::error_chain(&e));
        });
        let used: Vec<&Coadd> = used_pos.iter().map(|&j| coadds[j]).collect();
        for &j in &used_pos {
            self.used[live[j]].store(true, Ordering::Relaxed);
        }
        if write {
            self.progress.advance(1);
            self.rendered.fetch_add(1, Ordering::Relaxed);
        }
        if tile::is_blank(&data) {
            return Ok(None);
        }
        let mut s = Stats::of_tile(&data, k, npix, w, moc_order);
        s.tiles = 1;
        if !write {
            s.bytes = tile::fits_tile_size(w);
            return Ok(Some((data, s)));
        }
        if self.opts.progenitors {
            let text = crate::progenitor::hpxfinder_lines(&used);
            self.store.put(&format!("HpxFinder/{}", tile_key(k, npix, "").trim_end_matches('.')), text)?;
        }
        s.bytes = self.put_tile(k, npix, &data)?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(Some((data, s)))
    }

    fn is_failed(&self, i: usize) -> bool {
        self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(&i)
    }
}

fn merge_all(parts: Vec<Stats>, moc_order: u8) -> Stats {
    let mut s = Stats::new(moc_order);
    for p in &parts {
        s.merge(p);
    }
    s
}
