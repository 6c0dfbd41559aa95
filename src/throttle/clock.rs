//! The time throttles and the response cache see: the system clock, or a clock tests move by
//! hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Default, Debug)]
pub struct Clock {
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock::default()
    }

    /// A clock that stands still at `start` until `set` moves it.
    pub fn manual(start: f64) -> Self {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(start.to_bits()))),
        }
    }

    pub fn set(&self, now: f64) {
        if let Some(manual) = &self.manual {
            manual.store(now.to_bits(), Ordering::SeqCst);
        }
    }

    /// Seconds since the Unix epoch, as DRF's `time.time()`.
    pub fn now(&self) -> f64 {
        match &self.manual {
            Some(manual) => f64::from_bits(manual.load(Ordering::SeqCst)),
            None => super::unix_now(),
        }
    }
}
