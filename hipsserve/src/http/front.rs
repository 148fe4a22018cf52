//! A small per-thread front cache for the HTTP/1.1 fast path: request path -> the cached object it names, with its
//! HiPS and content type, for one second. The hottest tiles then skip routing, storage-key building and the shared
//! cache's hashing and bookkeeping; what they serve is exactly what the shared cache held a moment ago.
//!
//! Bounds: 256 direct-mapped slots per thread, objects up to 1 MiB, and at most 16 MiB of bodies referenced per
//! thread (an object evicted from the shared cache stays alive at most until its slot is reused or the budget
//! sweep drops it). An entry older than one second is never served, so a changed object is picked up at most one
//! second after the shared cache reads it again.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::Hips;
use crate::store::Object;

const SLOTS: usize = 256;
const TTL: Duration = Duration::from_secs(1);
const MAX_OBJECT: usize = 1 << 20;
const BUDGET: usize = 16 << 20;

/// What a hot path resolves to.
#[derive(Clone)]
pub(crate) struct Hot {
    /// The object.
    pub obj: Arc<Object>,
    /// Its HiPS (for its Cache-Control).
    pub hips: Arc<Hips>,
    /// Its Content-Type.
    pub ct: &'static str,
    /// Its metrics route label.
    pub label: &'static str,
}

struct Slot {
    owner: u64,
    path: Box<[u8]>,
    hot: Hot,
    expires: Instant,
}

#[derive(Default)]
struct Front {
    slots: Vec<Option<Slot>>,
    held: usize,
}

thread_local! {
    static FRONT: RefCell<Front> = RefCell::new(Front::default());
}

/// FNV-1a: paths are short and a collision only costs a miss.
fn slot_of(path: &[u8]) -> usize {
    let h = path.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (h >> 32) as usize % SLOTS
}

/// The entry for `path` of the server state `owner`, when fresh at `now`.
pub(crate) fn get(owner: u64, path: &[u8], now: Instant) -> Option<Hot> {
    FRONT.with(|f| {
        let f = f.borrow();
        let s = f.slots.get(slot_of(path))?.as_ref()?;
        (s.owner == owner && now < s.expires && *s.path == *path).then(|| s.hot.clone())
    })
}

/// Remember `hot` for `path` until `now` + one second (objects over 1 MiB are not kept; over the budget, expired
/// entries are dropped first and the new one is skipped if that is not enough).
pub(crate) fn put(owner: u64, path: &[u8], hot: &Hot, now: Instant) {
    let size = hot.obj.body.len();
    if size > MAX_OBJECT {
        return;
    }
    FRONT.with(|f| {
        let mut f = f.borrow_mut();
        if f.slots.is_empty() {
            f.slots.resize_with(SLOTS, || None);
        }
        let i = slot_of(path);
        let old = f.slots[i].as_ref().map_or(0, |s| s.hot.obj.body.len());
        if f.held - old + size > BUDGET {
            let mut freed = 0;
            for s in &mut f.slots {
                if s.as_ref().is_some_and(|s| s.expires <= now) {
                    freed += s.take().map_or(0, |s| s.hot.obj.body.len());
                }
            }
            f.held -= freed;
            let old = f.slots[i].as_ref().map_or(0, |s| s.hot.obj.body.len());
            if f.held - old + size > BUDGET {
                return;
            }
        }
        let old = f.slots[i].take().map_or(0, |s| s.hot.obj.body.len());
        f.held = f.held - old + size;
        f.slots[i] = Some(Slot { owner, path: path.into(), hot: hot.clone(), expires: now + TTL });
    });
}
