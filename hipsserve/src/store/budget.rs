//! The memory budget for object bodies held outside the cache (`limits.max_uncached_bytes`): objects too large for
//! the cache (or every object, with the cache off) reserve their size before they are read, and give it back when
//! the last copy of their bytes is dropped, after the response has been sent.
//!
//! Without it, memory would be bounded only by connections times object size: a few dozen requests for a large file
//! left in a HiPS folder could exhaust the machine. With it, a read waits for room (within the storage timeout, then
//! 503 with Retry-After), and an object larger than the whole budget is refused (502, logged with its size).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ServeError;

/// Bytes per permit of the budget's semaphore.
const UNIT: u64 = 64 * 1024;

static NONE: OnceLock<ReadBudget> = OnceLock::new();

/// No budget: for objects the server keeps for its whole life anyway (the catalogue's properties and MOCs).
pub fn none() -> &'static ReadBudget {
    NONE.get_or_init(|| ReadBudget::new(0, u64::MAX))
}

/// A byte budget for uncached object bodies (the object cache owns the server's one).
#[derive(Debug)]
pub struct ReadBudget {
    sem: Arc<Semaphore>,
    units: u64,
    max_bytes: u64,
    exempt_up_to: u64,
}

/// Room reserved for one body (nothing for exempt objects).
#[derive(Debug)]
pub struct Reservation(Option<OwnedSemaphorePermit>);

impl ReadBudget {
    /// A budget of `max_bytes`, not counting objects of at most `exempt_up_to` bytes.
    #[must_use]
    pub fn new(max_bytes: u64, exempt_up_to: u64) -> ReadBudget {
        let units = (max_bytes / UNIT).min(u64::from(u32::MAX)).min(Semaphore::MAX_PERMITS as u64);
        let permits = usize::try_from(units).unwrap_or(0);
        ReadBudget { sem: Arc::new(Semaphore::new(permits)), units, max_bytes, exempt_up_to }
    }

    /// The permits an object of `size` bytes needs: `Ok(None)` when it is exempt, `Err` when it needs more than the
    /// whole budget.
    fn permits_for(&self, size: u64) -> Result<Option<u32>, ()> {
        if size <= self.exempt_up_to {
            return Ok(None);
        }
        let need = size.div_ceil(UNIT);
        if need > self.units {
            return Err(());
        }
        u32::try_from(need).map(Some).map_err(|_| ())
    }

    /// Reserve room for an object of `size` bytes, waiting until there is some.
    ///
    /// # Errors
    /// [`ServeError::TooLarge`] when the object is larger than the whole budget.
    pub async fn reserve(&self, key: &str, size: u64) -> Result<Reservation, ServeError> {
        let too_large = || ServeError::TooLarge { key: key.to_string(), size, limit: self.max_bytes };
        let Some(n) = self.permits_for(size).map_err(|()| too_large())? else {
            return Ok(Reservation(None));
        };
        let permit = self.sem.clone().acquire_many_owned(n).await.map_err(|_| too_large())?;
        Ok(Reservation(Some(permit)))
    }

    /// Reserve room for an object of `size` bytes if there is some now (`None`: there is not, or never will be).
    #[must_use]
    pub fn try_reserve(&self, size: u64) -> Option<Reservation> {
        match self.permits_for(size).ok()? {
            None => Some(Reservation(None)),
            Some(n) => self.sem.clone().try_acquire_many_owned(n).ok().map(|p| Reservation(Some(p))),
        }
    }

    /// Reserve room for a body the server generates (a SODA cutout), waiting until there is some: never exempt,
    /// whatever its size, since no cache shares it (`None`: more than the whole budget).
    pub async fn reserve_generated(&self, size: u64) -> Option<Reservation> {
        let need = size.div_ceil(UNIT).max(1);
        if need > self.units {
            return None;
        }
        let n = u32::try_from(need).ok()?;
        self.sem.clone().acquire_many_owned(n).await.ok().map(|p| Reservation(Some(p)))
    }

    /// Reserve room for a body the server generated (a SODA cutout) if there is some now: never exempt, whatever
    /// its size, since no cache shares it (`None`: no room now, or more than the whole budget).
    #[must_use]
    pub fn try_reserve_generated(&self, size: u64) -> Option<Reservation> {
        let need = size.div_ceil(UNIT).max(1);
        if need > self.units {
            return None;
        }
        let n = u32::try_from(need).ok()?;
        self.sem.clone().try_acquire_many_owned(n).ok().map(|p| Reservation(Some(p)))
    }

    /// Bytes currently reserved (`/metrics`: `hipsserve_uncached_bytes`).
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.units.saturating_sub(self.sem.available_permits() as u64) * UNIT
    }

    /// Bytes currently free.
    #[must_use]
    pub fn available_bytes(&self) -> u64 {
        self.sem.available_permits() as u64 * UNIT
    }
}

/// Body bytes that hold their reservation until the last clone is dropped.
struct Held<T> {
    bytes: T,
    _room: OwnedSemaphorePermit,
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Held<T> {
    fn as_ref(&self) -> &[u8] {
        self.bytes.as_ref()
    }
}

impl Reservation {
    /// The body as `Bytes` that keep this reservation until the last copy of them is dropped.
    #[must_use]
    pub fn hold<T: AsRef<[u8]> + Send + 'static>(self, bytes: T) -> Bytes
    where
        Bytes: From<T>,
    {
        match self.0 {
            None => Bytes::from(bytes),
            Some(room) => Bytes::from_owner(Held { bytes, _room: room }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_hold_their_room_until_dropped() {
        let b = ReadBudget::new(4 * UNIT, UNIT);
        assert!(b.reserve("small", UNIT).await.expect("exempt").0.is_none(), "exempt objects take nothing");
        let one = b.reserve("a", 3 * UNIT).await.expect("room").hold(vec![1u8; 3 * UNIT as usize]);
        assert_eq!(b.available_bytes(), UNIT);
        let clone = one.slice(10..20);
        drop(one);
        assert_eq!(b.available_bytes(), UNIT, "a slice keeps the room");
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), b.reserve("b", 2 * UNIT)).await;
        assert!(waiting.is_err(), "no room: the read waits");
        assert_eq!(b.used_bytes(), 3 * UNIT);
        drop(clone);
        assert_eq!((b.available_bytes(), b.used_bytes()), (4 * UNIT, 0));
        let e = b.reserve("huge", 5 * UNIT).await.expect_err("larger than the budget");
        let cut = b.try_reserve_generated(10).expect("room").hold(vec![0u8; 10]);
        assert_eq!(b.used_bytes(), UNIT, "generated bodies are never exempt");
        assert!(b.try_reserve_generated(4 * UNIT).is_none(), "no room while it is held");
        drop(cut);
        assert!(b.try_reserve_generated(5 * UNIT).is_none(), "more than the whole budget");
        assert!(e.to_string().contains("huge") && e.to_string().contains(&(5 * UNIT).to_string()), "{e}");
    }
}
