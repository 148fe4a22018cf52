//! A process-wide cache of decoded tiles, least recently used first out, bounded in bytes (`HIPS_TILE_CACHE_MB`,
//! default 256). The kernel reads overlapping regions of a coadd for neighbouring HiPS tiles, and fpack's row tiles
//! span the whole image width, so without it each row tile would be decoded once per HiPS tile it crosses.
//! One budget for all open HDUs: thousands of opened coadds cost nothing until they are read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

type Key = (u64, usize);

#[derive(Default)]
struct Lru {
    map: HashMap<Key, (Arc<Vec<u8>>, u64)>,
    order: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
}

fn cache() -> &'static (Mutex<Lru>, usize) {
    static C: OnceLock<(Mutex<Lru>, usize)> = OnceLock::new();
    C.get_or_init(|| {
        let mb = std::env::var("HIPS_TILE_CACHE_MB").ok().and_then(|s| s.trim().parse::<usize>().ok()).unwrap_or(256);
        (Mutex::new(Lru::default()), mb << 20)
    })
}

/// The decoded tile `tile` of the HDU `id`, if cached (and marked as just used).
pub fn get(id: u64, tile: usize) -> Option<Arc<Vec<u8>>> {
    let (m, _) = cache();
    let mut c = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    c.clock += 1;
    let now = c.clock;
    let (v, stamp) = c.map.get_mut(&(id, tile))?;
    let (v, old) = (v.clone(), std::mem::replace(stamp, now));
    c.order.remove(&old);
    c.order.insert(now, (id, tile));
    Some(v)
}

/// Keep a decoded tile, dropping the least recently used ones beyond the budget.
pub fn put(id: u64, tile: usize, v: Arc<Vec<u8>>) {
    let (m, budget) = cache();
    if v.len() > budget / 4 {
        return;
    }
    let mut c = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    c.clock += 1;
    let now = c.clock;
    let len = v.len();
    if let Some((old, stamp)) = c.map.insert((id, tile), (v, now)) {
        c.bytes -= old.len();
        c.order.remove(&stamp);
    }
    c.order.insert(now, (id, tile));
    c.bytes += len;
    while c.bytes > *budget {
        let Some((_, key)) = c.order.pop_first() else { break };
        if let Some((old, _)) = c.map.remove(&key) {
            c.bytes -= old.len();
        }
    }
}
