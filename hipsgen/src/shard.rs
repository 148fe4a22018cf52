//! The split of a HiPS's order-3 subtrees between shards: a pure function of the plan, so every shard of a job
//! computes the same split with no coordination, each subtree goes to exactly one shard, and the shards' work is
//! balanced by the rendering cost of each subtree (its deepest tiles, each counted once per coadd that touches it:
//! the kernel samples every contributing coadd for every output pixel).

use std::collections::BTreeMap;

/// The cost of each root: for every deepest tile (`tile -> coadds touching it`) under it, the number of coadds, at
/// least 1. `shift` = 2 x (deepest order - root order).
#[must_use]
pub fn root_costs(tiles: &BTreeMap<u64, Vec<u32>>, shift: u32) -> BTreeMap<u64, u64> {
    let mut cost: BTreeMap<u64, u64> = BTreeMap::new();
    for (t, coadds) in tiles {
        *cost.entry(t >> shift).or_default() += (coadds.len() as u64).max(1);
    }
    cost
}

/// The roots of shard `index` of `count`: longest-processing-time greedy (roots by decreasing cost, ties by root
/// number, each to the least loaded shard, ties to the lowest shard), sorted. Every root is in exactly one shard; the
/// most loaded shard exceeds the mean load by at most the cost of one root.
///
/// # Panics
/// Never: `index >= count` or `count == 0` give an empty share.
#[must_use]
pub fn shard_roots(roots: &[u64], cost: &BTreeMap<u64, u64>, index: usize, count: usize) -> Vec<u64> {
    if count == 0 || index >= count {
        return Vec::new();
    }
    let mut by_cost: Vec<(u64, u64)> = roots.iter().map(|r| (cost.get(r).copied().unwrap_or(0), *r)).collect();
    by_cost.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut loads = vec![0u64; count];
    let mut mine = Vec::new();
    for (w, r) in by_cost {
        let s = (0..count).min_by_key(|&j| (loads[j], j)).unwrap_or(0);
        loads[s] += w;
        if s == index {
            mine.push(r);
        }
    }
    mine.sort_unstable();
    mine
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A footprint with very uneven subtrees: 300 roots, deepest order 3 levels below, 1..=64 tiles per root, 1..=4
    /// coadds per tile (a pseudo-random but fixed pattern).
    fn uneven() -> (Vec<u64>, BTreeMap<u64, Vec<u32>>) {
        let mut tiles = BTreeMap::new();
        let mut x = 99u64;
        let mut roots = Vec::new();
        for r in 0..300u64 {
            let root = r * 7 + 11;
            roots.push(root);
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let n = 1 + (x >> 58);
            for t in 0..n {
                let contributors = 1 + ((x >> (t % 50)) & 3) as u32;
                tiles.insert((root << 6) + t, (0..contributors).collect());
            }
        }
        (roots, tiles)
    }

    #[test]
    fn split_is_disjoint_complete_deterministic_and_balanced_for_1_to_64_shards() {
        let (roots, tiles) = uneven();
        let cost = root_costs(&tiles, 6);
        let total: u64 = cost.values().sum();
        let biggest = cost.values().copied().max().unwrap_or(0);
        for n in 1..=64usize {
            let shares: Vec<Vec<u64>> = (0..n).map(|i| shard_roots(&roots, &cost, i, n)).collect();
            let mut seen = BTreeSet::new();
            for s in &shares {
                for r in s {
                    assert!(seen.insert(*r), "N={n}: root {r} in two shards");
                }
            }
            assert_eq!(seen, roots.iter().copied().collect::<BTreeSet<_>>(), "N={n}: not complete");
            for (i, s) in shares.iter().enumerate() {
                assert_eq!(&shard_roots(&roots, &cost, i, n), s, "N={n}: shard {i} not deterministic");
                assert!(!s.is_empty(), "N={n}: shard {i} is empty with {} roots", roots.len());
            }
            let loads: Vec<u64> = shares.iter().map(|s| s.iter().map(|r| cost[r]).sum()).collect();
            let max = *loads.iter().max().expect("loads");
            let mean = total.div_ceil(n as u64);
            assert!(max <= mean + biggest, "N={n}: most loaded shard {max} > mean {mean} + biggest root {biggest}");
        }
        assert!(shard_roots(&roots, &cost, 3, 3).is_empty() && shard_roots(&roots, &cost, 0, 0).is_empty());
    }

    #[test]
    fn cost_counts_every_contributing_coadd() {
        let tiles: BTreeMap<u64, Vec<u32>> =
            [(0u64, vec![0, 1, 2]), (1, vec![]), (4, vec![5]), (17, vec![0, 1])].into_iter().collect();
        let cost = root_costs(&tiles, 2);
        assert_eq!(cost.get(&0), Some(&4), "3 coadds + an empty tile counted once");
        assert_eq!(cost.get(&1), Some(&1));
        assert_eq!(cost.get(&4), Some(&2));
    }
}
