//! A counting wrapper around the system allocator: live heap bytes, their
//! peak and the number of allocations, for the compile-footprint report.
//!
//! The `lexer_demo` binary installs it as the global allocator; a program
//! that does not install it sees [`installed`] answer `false` and every
//! figure stay zero. The counters are process-wide: a measurement is only
//! meaningful while no other thread allocates or frees (the CLI measures on
//! its only thread; tests that measure must not run in parallel). Counting is two relaxed atomic additions and a
//! `fetch_max` per call.
//!
//! ```
//! use lexer_demo::counting;
//! // Not installed in doctests: the figures are not measured here.
//! assert!(!counting::installed());
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting. Install with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
pub struct CountingAlloc;

fn grow(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
    CALLS.fetch_add(1, Ordering::Relaxed);
}

fn shrink(bytes: usize) {
    CURRENT.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only
// observe sizes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

/// A measurement window: the live bytes when it opened, so that the peak
/// is reported as growth over that baseline.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    baseline: usize,
    calls: u64,
}

/// Opens a measurement window: the peak restarts from the bytes live now.
///
/// ```
/// let w = lexer_demo::counting::open();
/// let _v = vec![0u8; 100];
/// // Not installed in doctests, so nothing is counted here.
/// assert_eq!(w.peak_bytes(), 0);
/// ```
pub fn open() -> Window {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    Window {
        baseline: now,
        calls: CALLS.load(Ordering::Relaxed),
    }
}

impl Window {
    /// Most bytes live at once since the window opened, above the baseline.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _v = vec![0u8; 100];
    /// assert_eq!(w.peak_bytes(), 0); // counted only where installed
    /// ```
    pub fn peak_bytes(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.baseline)
    }

    /// Allocations (and growing reallocations) since the window opened.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _v = vec![0u8; 100];
    /// assert_eq!(w.allocations(), 0); // counted only where installed
    /// ```
    pub fn allocations(&self) -> u64 {
        CALLS.load(Ordering::Relaxed) - self.calls
    }
}

/// Whether the counting allocator is the global allocator of this process.
///
/// ```
/// assert!(!lexer_demo::counting::installed()); // doctests use the system allocator
/// ```
pub fn installed() -> bool {
    let before = CALLS.load(Ordering::Relaxed);
    let probe = std::hint::black_box(Box::new(0u64));
    drop(probe);
    CALLS.load(Ordering::Relaxed) != before
}
