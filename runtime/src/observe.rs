//! A process-wide hook told whenever a slab pool starts or stops using a
//! slab, for hosts that account for their memory themselves.
//!
//! Slabs come straight from the operating system (see the crate's slab
//! pages), so a counting global allocator never sees them: a profiler that
//! wraps the global allocator would report a context's objects as free. The
//! observer closes that gap. It is called when a pool of any context or
//! [`SlabPool`](crate::SlabPool) takes a slab (from its context's cache of
//! empty slabs, or from the system) and when it gives one back (to the cache,
//! or to the system), on the thread doing so, with the slab's size. So the
//! sum of what it was told is the bytes of slabs in use by pools, whatever
//! was cached before: a context reused with [`reset`](crate::MorphContext::reset)
//! reports the same figures as a fresh one.
//!
//! It costs one atomic load per slab taken or given (never on an object's
//! allocation or free). The observer must not allocate or free through a
//! context or pool (it is called while one is being changed), which is why
//! installing it is `unsafe`; a counting global allocator's counters are
//! what it is for.
//!
//! ```
//! use morph_runtime::{MorphContext, observe::{self, SlabEvent}};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! static IN_USE: AtomicUsize = AtomicUsize::new(0);
//! fn count(e: SlabEvent) {
//!     match e {
//!         SlabEvent::Taken { bytes, .. } => IN_USE.fetch_add(bytes, Ordering::Relaxed),
//!         SlabEvent::Given { bytes, .. } => IN_USE.fetch_sub(bytes, Ordering::Relaxed),
//!     };
//! }
//! // SAFETY: `count` only adds to an atomic.
//! unsafe { observe::set_slab_observer(Some(count)) };
//! let ctx = MorphContext::new();
//! ctx.alloc(1u64);
//! assert_eq!(IN_USE.load(Ordering::Relaxed), ctx.config().slab_size());
//! drop(ctx);
//! assert_eq!(IN_USE.load(Ordering::Relaxed), 0);
//! unsafe { observe::set_slab_observer(None) };
//! ```

use core::sync::atomic::{AtomicPtr, Ordering};

/// What happened to a slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabEvent {
    /// A pool took a slab of `bytes`: from the system (`from_system`), or
    /// from the cache of empty slabs.
    Taken {
        /// The slab size.
        bytes: usize,
        /// Whether the system was asked for it.
        from_system: bool,
    },
    /// A pool gave back a slab of `bytes`: to the system (`to_system`), or
    /// to the cache of empty slabs. A cached slab given to the system later
    /// is not reported again (it was already out of use).
    Given {
        /// The slab size.
        bytes: usize,
        /// Whether it went back to the system.
        to_system: bool,
    },
}

/// The observer, as a type-erased function pointer (null: none).
static OBSERVER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Installs `observer` (or removes it with `None`) for every thread. The
/// events of slabs already in use are not replayed: install it before the
/// contexts it should see.
///
/// # Safety
/// The observer is called while a pool is between two states (a slab
/// taken but not yet linked, or unlinked and not yet cached). It must not
/// allocate or free through any `MorphContext` or `SlabPool` (nor anything
/// built on them), on any thread where it may run: that would find the
/// pool's lists half updated. Counting into atomics or thread-locals, or
/// through the global allocator, is what it is for.
///
/// ```
/// use morph_runtime::observe::{set_slab_observer, SlabEvent};
/// fn ignore(_: SlabEvent) {}
/// // SAFETY: `ignore` touches no context or pool.
/// unsafe { set_slab_observer(Some(ignore)) };
/// unsafe { set_slab_observer(None) };
/// ```
pub unsafe fn set_slab_observer(observer: Option<fn(SlabEvent)>) {
    let p = observer.map_or(core::ptr::null_mut(), |f| f as *mut ());
    OBSERVER.store(p, Ordering::Release);
}

/// Tells the observer, if any.
#[inline]
pub(crate) fn notify(event: SlabEvent) {
    let p = OBSERVER.load(Ordering::Acquire);
    if !p.is_null() {
        // SAFETY: the only non-null value ever stored is a `fn(SlabEvent)`
        // cast to a pointer in `set_slab_observer`; casting it back gives
        // the same function, with its provenance (function pointers keep
        // theirs through `as *mut ()`).
        let f = unsafe { core::mem::transmute::<*mut (), fn(SlabEvent)>(p) };
        f(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, MorphContext};
    use core::cell::Cell;

    std::thread_local! {
        // Per thread: tests run in parallel, and each sees its own slabs.
        static IN_USE: Cell<isize> = const { Cell::new(0) };
        static FROM_SYSTEM: Cell<usize> = const { Cell::new(0) };
    }

    fn count(e: SlabEvent) {
        let delta = match e {
            SlabEvent::Taken { bytes, from_system } => {
                if from_system {
                    FROM_SYSTEM.with(|c| c.set(c.get() + 1));
                }
                isize::try_from(bytes).unwrap()
            }
            SlabEvent::Given { bytes, .. } => -isize::try_from(bytes).unwrap(),
        };
        IN_USE.with(|c| c.set(c.get() + delta));
    }

    #[test]
    fn a_reset_context_reports_what_a_fresh_one_does() {
        // SAFETY: `count` only touches thread-locals.
        unsafe { set_slab_observer(Some(count)) };
        let slab = 4096;
        let fill = |ctx: &MorphContext| {
            let mut peak = 0;
            // Two classes of 4 KiB slabs, several slabs each (fewer under
            // Miri, still more than one slab a class).
            let n: u64 = if cfg!(miri) { 300 } else { 600 };
            for i in 0..n {
                ctx.alloc(i);
                ctx.alloc([i; 3]);
                peak = peak.max(IN_USE.with(Cell::get));
            }
            peak
        };
        let mut ctx = MorphContext::with_config(Config::compiler().with_slab_size(slab)).unwrap();
        let fresh = fill(&ctx);
        assert!(fresh >= 2 * 4096, "{fresh}");
        let taken = FROM_SYSTEM.with(Cell::get);
        ctx.reset();
        assert_eq!(IN_USE.with(Cell::get), 0, "a reset gives every slab back");
        let again = fill(&ctx);
        assert_eq!(again, fresh);
        // The second round took its slabs from the cache.
        assert_eq!(FROM_SYSTEM.with(Cell::get), taken);
        drop(ctx);
        assert_eq!(IN_USE.with(Cell::get), 0);
        // SAFETY: removing the observer is always sound.
        unsafe { set_slab_observer(None) };
    }
}
