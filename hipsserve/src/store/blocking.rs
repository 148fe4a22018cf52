//! The blocking-pool tasks of the server, counted, so that shutdown knows whether any is still running: a storage
//! call that hangs in the kernel (a stuck network filesystem) cannot be cancelled, and tokio's runtime waits for such
//! tasks when it is dropped, so without this a SIGTERM would never finish. After the shutdown grace the server exits
//! the process instead ([`crate::http::server::serve`]).

use std::sync::atomic::{AtomicUsize, Ordering};

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Decrements the count when the task's closure ends (returns or panics), even if nobody awaits it any more.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `tokio::task::spawn_blocking`, counted in [`in_flight`] until `f` ends.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::task::JoinHandle<T> {
    IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        let _counted = Counted;
        f()
    })
}

/// Blocking-pool tasks started with [`spawn`] that have not ended (in this process).
#[must_use]
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_counts_until_its_closure_ends_even_when_nobody_awaits_it() {
        let before = in_flight();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = spawn(move || rx.recv().is_ok());
        drop(handle);
        assert!(in_flight() > before);
        drop(tx);
        let t0 = std::time::Instant::now();
        while in_flight() > before {
            assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the count never came down");
            tokio::task::yield_now().await;
        }
    }
}
