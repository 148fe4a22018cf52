//! The display cut of the previews a `tiles` run draws as it builds (`--formats fits,png[,jpeg]`).
//!
//! The cut (`hips_pixel_cut`) comes from the histogram of the deepest tiles, but a tile's PNG is drawn the moment the
//! tile exists, before most others do. So the build first renders a deterministic sample of deepest tiles, spread
//! evenly over the sorted tile list ([`spread`]) until [`budget`] of them hold data ([`SAMPLE_PIXELS`] pixels in
//! all; they are kept in memory and used as they are when the pyramid pass reaches them: nothing is rendered twice),
//! and takes the cut from their histogram. When the sample is every deepest tile (up to 128 tiles of 512 x 512 with
//! data) the cut is exactly the one a FITS-only run writes, so the previews are byte-identical to previews drawn
//! afterwards from the FITS tiles; otherwise it is an estimate from an even sample, and `hips_pixel_cut` records the
//! cut the previews were drawn with.

use crate::finalize;
use crate::preview::parse_cut;
use crate::stats::Stats;

/// Pixel budget of the cut sample (128 MiB of f32: 128 non-blank tiles of 512 x 512).
pub const SAMPLE_PIXELS: usize = 1 << 25;

/// How many non-blank deepest tiles of `width` pixels the sample keeps (at least one).
#[must_use]
pub fn budget(width: usize) -> usize {
    (SAMPLE_PIXELS / (width * width).max(1)).max(1)
}

/// The deepest tiles (sorted) in sampling order: bit-reversed index order, so that every prefix is spread evenly
/// over the sorted list (the first tile, the middle one, the quarters, ...). The build renders prefixes of it until
/// [`budget`] tiles hold data, or every tile has been sampled.
#[must_use]
pub fn spread(tiles: &[u64]) -> Vec<u64> {
    let n = tiles.len();
    let bits = n.next_power_of_two().trailing_zeros();
    (0..n.next_power_of_two())
        .map(|i| if bits == 0 { 0 } else { i.reverse_bits() >> (usize::BITS - bits) })
        .filter(|&j| j < n)
        .map(|j| tiles[j])
        .collect()
}

/// The preview cut for statistics, the way the `previews` job reads it back from `properties`: the text of
/// `hips_pixel_cut` (else `hips_data_range`) as a FITS-only run writes it, parsed to f32. Returns the cut and the text
/// it was read from (the value `hips_pixel_cut` then gets); `None` when neither holds a usable cut.
#[must_use]
pub fn from_stats(stats: &Stats) -> Option<((f32, f32), String)> {
    let (pixel_cut, data_range) = finalize::cut_texts(stats)?;
    [pixel_cut, data_range].into_iter().find_map(|t| parse_cut(&t).map(|c| (c, t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_a_permutation_with_even_prefixes() {
        let tiles: Vec<u64> = (100..1100).collect();
        let s = spread(&tiles);
        assert_eq!(s.len(), 1000);
        assert_eq!(&s[..4], &[100, 612, 356, 868]);
        let mut sorted = s.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, tiles);
        assert_eq!(spread(&[7]), vec![7]);
        assert!(spread(&[]).is_empty());
        assert_eq!((budget(512), budget(4096)), (128, 2));
    }

    #[test]
    fn cut_is_the_properties_text_parsed() {
        let data: Vec<f32> = (0..64 * 64).map(|i| (i % 97) as f32 * 0.5).collect();
        let stats = Stats::of_tile(&data, 3, 0, 64, 3);
        let ((lo, hi), text) = from_stats(&stats).expect("cut");
        assert_eq!(parse_cut(&text), Some((lo, hi)));
        assert!(lo < hi);
        assert!(from_stats(&Stats::new(3)).is_none());
    }
}
