//! The byte budget shared by a context's pools and arena.
//!
//! Only slow paths (a new slab, a new chunk) consult it, so a budget costs
//! nothing per allocation.

use crate::error::Error;
use core::cell::Cell;

/// Bytes reserved from the system, and the most that may be.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Cell<usize>,
    reserved: Cell<usize>,
    /// Most bytes ever reserved at once.
    peak: Cell<usize>,
}

impl Budget {
    pub(crate) fn new(limit: Option<usize>) -> Budget {
        Budget {
            limit: Cell::new(limit.unwrap_or(usize::MAX)),
            reserved: Cell::new(0),
            peak: Cell::new(0),
        }
    }

    /// Records `bytes` more as reserved, or refuses if that passes the limit.
    pub(crate) fn reserve(&self, bytes: usize) -> Result<(), Error> {
        let reserved = self.reserved.get();
        match reserved.checked_add(bytes) {
            Some(total) if total <= self.limit.get() => {
                self.reserved.set(total);
                self.peak.set(self.peak.get().max(total));
                Ok(())
            }
            _ => Err(Error::BudgetExceeded {
                requested: bytes,
                reserved,
                limit: self.limit.get(),
            }),
        }
    }

    pub(crate) fn release(&self, bytes: usize) {
        debug_assert!(bytes <= self.reserved.get());
        self.reserved.set(self.reserved.get() - bytes);
    }

    pub(crate) fn reserved(&self) -> usize {
        self.reserved.get()
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.get()
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        let limit = self.limit.get();
        (limit != usize::MAX).then_some(limit)
    }

    /// Changes the limit. Memory already reserved stays; a limit below it
    /// refuses every further reservation until enough is released.
    pub(crate) fn set_limit(&self, limit: Option<usize>) {
        self.limit.set(limit.unwrap_or(usize::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_and_release() {
        let b = Budget::new(Some(100));
        assert!(b.reserve(60).is_ok());
        assert_eq!(
            b.reserve(41),
            Err(Error::BudgetExceeded {
                requested: 41,
                reserved: 60,
                limit: 100
            })
        );
        b.release(60);
        assert!(b.reserve(100).is_ok());
        assert_eq!(b.reserved(), 100);
        assert_eq!(b.peak(), 100);
        b.release(50);
        assert_eq!(b.peak(), 100);
        assert!(Budget::new(None).reserve(usize::MAX).is_ok());
    }
}
