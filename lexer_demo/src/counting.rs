//! A counting wrapper around the system allocator, for the
//! compile-footprint report: per thread, the bytes live in the process heap
//! and in the runtime's slabs, their peak, the allocations, and (on demand)
//! a bounded timeline of live bytes.
//!
//! The `lexer_demo` binary installs it as the global allocator and calls
//! [`observe_slabs`], so that slabs, which the runtime maps from the
//! operating system and the global allocator never sees, are counted too.
//! A program that does not install it sees [`installed`] answer `false` and
//! every figure stay zero.
//!
//! The counters are **per thread**: a window opened on a thread sees what
//! that thread allocates and frees, so several threads can measure
//! different files at once (memory freed by another thread than the one
//! that allocated it is counted where it is freed, which the measured work
//! never does). Counting is a few thread-local additions per call.
//!
//! ```
//! use lexer_demo::counting;
//! // Not installed in doctests: the figures are not measured here.
//! assert!(!counting::installed());
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::time::Instant;

/// Points a timeline keeps at most: when full, every other point goes and
/// the spacing between points doubles.
pub const TIMELINE_POINTS: usize = 512;

/// One thread's counters. Bytes are signed: memory freed on this thread but
/// allocated on another lowers them below what was allocated here.
struct Counts {
    /// Heap bytes live (this thread's allocations minus its frees).
    heap: Cell<isize>,
    /// Bytes of slabs in use by the runtime's pools.
    slabs: Cell<isize>,
    /// Most `heap + slabs` since the last [`open`].
    peak: Cell<isize>,
    /// Allocations and growing reallocations.
    calls: Cell<u64>,
    /// Bytes asked for by them.
    allocated: Cell<u64>,
}

/// A bounded timeline of `heap + slabs`: one point per `stride` changes,
/// holding the most bytes seen in its stride, so that no peak is lost.
struct Timeline {
    /// Recording now.
    on: bool,
    /// Started and not stopped (recording unless paused).
    active: bool,
    start: Option<Instant>,
    /// Changes seen in the current stride, and their most bytes.
    seen: u32,
    high: isize,
    stride: u32,
    len: usize,
    /// (nanoseconds since the start, bytes).
    points: [(u64, isize); TIMELINE_POINTS],
}

thread_local! {
    static COUNTS: Counts = const {
        Counts {
            heap: Cell::new(0),
            slabs: Cell::new(0),
            peak: Cell::new(0),
            calls: Cell::new(0),
            allocated: Cell::new(0),
        }
    };
    static TIMELINE: RefCell<Timeline> = const {
        RefCell::new(Timeline {
            on: false,
            active: false,
            start: None,
            seen: 0,
            high: 0,
            stride: 1,
            len: 0,
            points: [(0, 0); TIMELINE_POINTS],
        })
    };
}

/// Bytes as a signed delta, saturating (no allocation reaches `isize::MAX`).
fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

/// Records a change of `delta` bytes in the heap (`slab == false`) or in
/// the slabs. Never allocates, never panics (a thread being torn down
/// simply stops counting).
fn change(delta: isize, slab: bool, allocation: Option<usize>) {
    let now = COUNTS.try_with(|c| {
        let cell = if slab { &c.slabs } else { &c.heap };
        cell.set(cell.get().wrapping_add(delta));
        if let Some(bytes) = allocation {
            c.calls.set(c.calls.get() + 1);
            c.allocated
                .set(c.allocated.get().wrapping_add(bytes as u64));
        }
        let now = c.heap.get().wrapping_add(c.slabs.get());
        if now > c.peak.get() {
            c.peak.set(now);
        }
        now
    });
    if let Ok(now) = now {
        let _ = TIMELINE.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                if t.on {
                    t.record(now);
                }
            }
        });
    }
}

impl Timeline {
    fn record(&mut self, bytes: isize) {
        self.high = self.high.max(bytes);
        self.seen += 1;
        if self.seen >= self.stride {
            self.close();
        }
    }

    /// Ends the current stretch with a point (when anything happened in it).
    fn close(&mut self) {
        if self.seen == 0 {
            return;
        }
        if self.len == TIMELINE_POINTS {
            // Keep every other point (the higher of each pair), double the
            // stride.
            for i in 0..TIMELINE_POINTS / 2 {
                let (a, b) = (self.points[2 * i], self.points[2 * i + 1]);
                self.points[i] = (b.0, a.1.max(b.1));
            }
            self.len = TIMELINE_POINTS / 2;
            self.stride = self.stride.saturating_mul(2);
        }
        let t = self.start.map_or(0, |s| {
            u64::try_from(s.elapsed().as_nanos()).unwrap_or(u64::MAX)
        });
        self.points[self.len] = (t, self.high);
        self.len += 1;
        self.seen = 0;
        self.high = isize::MIN;
    }
}

/// The bytes the system allocator takes for a request of `layout`. With
/// glibc's malloc (Linux), a block carries an 8-byte header and is a
/// multiple of 16 bytes, at least 32; a request of 128 KiB or more is its
/// own mapping, in whole pages; a stricter alignment costs up to the
/// alignment more. Elsewhere, the request itself. Counting this rather than
/// the request is what makes one allocation per object cost what it really
/// does.
///
/// ```
/// use std::alloc::Layout;
/// use lexer_demo::counting::system_bytes;
/// let l = |n| Layout::from_size_align(n, 8).unwrap();
/// if cfg!(all(target_os = "linux", target_env = "gnu")) {
///     assert_eq!((system_bytes(l(1)), system_bytes(l(24)), system_bytes(l(40))), (32, 32, 48));
/// } else {
///     assert_eq!(system_bytes(l(40)), 40);
/// }
/// ```
pub fn system_bytes(layout: Layout) -> usize {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let size = layout.size();
        let align = layout.align();
        let extra = if align > 16 { align } else { 0 };
        if size >= 128 * 1024 {
            size.saturating_add(16 + extra).next_multiple_of(4096)
        } else {
            (size + 8 + extra).next_multiple_of(16).max(32)
        }
    } else {
        layout.size()
    }
}

/// The system allocator, counting. Install with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
pub struct CountingAlloc;

// SAFETY: every call is forwarded to `System` unchanged; the counters only
// observe sizes, in thread-locals that never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            change(signed(system_bytes(layout)), false, Some(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            change(signed(system_bytes(layout)), false, Some(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) };
        change(-signed(system_bytes(layout)), false, None);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // `new_size` with the old alignment: a valid layout, as the
            // caller guarantees for `realloc`.
            let new = Layout::from_size_align(new_size, layout.align()).unwrap_or(layout);
            let delta = signed(system_bytes(new)).wrapping_sub(signed(system_bytes(layout)));
            let grew = new_size.checked_sub(layout.size()).filter(|&g| g > 0);
            change(delta, false, grew);
        }
        p
    }
}

/// The runtime's slab observer that feeds these counters: slabs a pool
/// takes count as live bytes of the thread until it gives them back.
fn on_slab(event: morph_runtime::observe::SlabEvent) {
    use morph_runtime::observe::SlabEvent;
    match event {
        SlabEvent::Taken { bytes, .. } => change(signed(bytes), true, None),
        SlabEvent::Given { bytes, .. } => change(-signed(bytes), true, None),
    }
}

/// Counts the runtime's slabs too (see [`morph_runtime::observe`]). The
/// binary calls it once at start, with the counting allocator installed.
///
/// ```
/// lexer_demo::counting::observe_slabs();
/// let w = lexer_demo::counting::open();
/// let ctx = morph_runtime::MorphContext::new();
/// ctx.alloc(1u64);
/// // Slabs are counted even without the counting allocator.
/// assert_eq!(w.now().slabs, ctx.config().slab_size());
/// ```
pub fn observe_slabs() {
    // SAFETY: `on_slab` only adds to this module's thread-local counters
    // and timeline (fixed arrays): it allocates nothing and touches no
    // context or pool.
    unsafe { morph_runtime::observe::set_slab_observer(Some(on_slab)) };
}

/// What a window saw live at one moment, above its baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Heap bytes.
    pub heap: usize,
    /// Slab bytes in use by the runtime's pools.
    pub slabs: usize,
}

impl Live {
    /// Heap and slabs together.
    ///
    /// ```
    /// let l = lexer_demo::counting::Live { heap: 3, slabs: 4 };
    /// assert_eq!(l.total(), 7);
    /// ```
    pub fn total(self) -> usize {
        self.heap + self.slabs
    }
}

/// A measurement window on this thread: the bytes live when it opened, so
/// that figures are growth over that baseline, minus what the measuring
/// itself kept (see [`Window::exclude`]).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    heap: isize,
    slabs: isize,
    calls: u64,
    allocated: u64,
}

/// Opens a window: the peak restarts from the bytes live now.
///
/// ```
/// let w = lexer_demo::counting::open();
/// let _v = vec![0u8; 100];
/// // Not installed in doctests, so nothing is counted here.
/// assert_eq!(w.peak_bytes(), 0);
/// ```
pub fn open() -> Window {
    COUNTS
        .try_with(|c| {
            c.peak.set(c.heap.get().wrapping_add(c.slabs.get()));
            Window {
                heap: c.heap.get(),
                slabs: c.slabs.get(),
                calls: c.calls.get(),
                allocated: c.allocated.get(),
            }
        })
        .unwrap_or(Window {
            heap: 0,
            slabs: 0,
            calls: 0,
            allocated: 0,
        })
}

fn above(now: isize, base: isize) -> usize {
    usize::try_from(now.wrapping_sub(base)).unwrap_or(0)
}

impl Window {
    /// Most bytes (heap and slabs) live at once since the window opened (or
    /// since [`Window::restart_peak`]), above the baseline.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _v = vec![0u8; 100];
    /// assert_eq!(w.peak_bytes(), 0); // counted only where installed
    /// ```
    pub fn peak_bytes(&self) -> usize {
        COUNTS
            .try_with(|c| above(c.peak.get(), self.heap + self.slabs))
            .unwrap_or(0)
    }

    /// Bytes live now, above the baseline.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// assert_eq!(w.now().total(), 0);
    /// ```
    pub fn now(&self) -> Live {
        COUNTS
            .try_with(|c| Live {
                heap: above(c.heap.get(), self.heap),
                slabs: above(c.slabs.get(), self.slabs),
            })
            .unwrap_or_default()
    }

    /// Restarts the peak from the bytes live now (the baseline stays).
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// w.restart_peak();
    /// assert_eq!(w.peak_bytes(), 0);
    /// ```
    pub fn restart_peak(&self) {
        let _ = COUNTS.try_with(|c| c.peak.set(c.heap.get().wrapping_add(c.slabs.get())));
    }

    /// Raises the baseline by what `f` leaves allocated: measurements taken
    /// between phases (statistics, heap walks) must not count as the work.
    /// Neither does what `f` holds while it runs: the peak so far is kept,
    /// and what `f` reaches is not added to it.
    ///
    /// ```
    /// let mut w = lexer_demo::counting::open();
    /// let kept = w.exclude(|| vec![0u8; 64]);
    /// assert_eq!((kept.len(), w.now().heap), (64, 0));
    /// ```
    pub fn exclude<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let state = |c: &Counts| {
            (
                c.heap.get(),
                c.slabs.get(),
                c.calls.get(),
                c.allocated.get(),
            )
        };
        let before = COUNTS.try_with(|c| (state(c), c.peak.get()));
        let r = f();
        let after = COUNTS.try_with(state);
        if let (Ok((b, peak)), Ok(a)) = (before, after) {
            let (dh, ds) = (a.0.wrapping_sub(b.0), a.1.wrapping_sub(b.1));
            self.heap = self.heap.wrapping_add(dh);
            self.slabs = self.slabs.wrapping_add(ds);
            self.calls = self.calls.wrapping_add(a.2.wrapping_sub(b.2));
            self.allocated = self.allocated.wrapping_add(a.3.wrapping_sub(b.3));
            // The peak before `f`, moved with the baseline, or what is live
            // now if more.
            let kept = peak.wrapping_add(dh).wrapping_add(ds);
            let _ = COUNTS.try_with(|c| {
                c.peak
                    .set(kept.max(c.heap.get().wrapping_add(c.slabs.get())));
            });
        }
        r
    }

    /// Allocations (and growing reallocations) since the window opened.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _v = vec![0u8; 100];
    /// assert_eq!(w.allocations(), 0); // counted only where installed
    /// ```
    pub fn allocations(&self) -> u64 {
        COUNTS
            .try_with(|c| c.calls.get().wrapping_sub(self.calls))
            .unwrap_or(0)
    }

    /// Bytes those allocations asked for.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _v = vec![0u8; 100];
    /// assert_eq!(w.allocated_bytes(), 0); // counted only where installed
    /// ```
    pub fn allocated_bytes(&self) -> u64 {
        COUNTS
            .try_with(|c| c.allocated.get().wrapping_sub(self.allocated))
            .unwrap_or(0)
    }
}

/// Starts recording this thread's timeline (clearing any before): a point
/// every so many changes of the live bytes, at most [`TIMELINE_POINTS`].
///
/// ```
/// lexer_demo::counting::start_timeline();
/// assert!(lexer_demo::counting::stop_timeline().is_empty()); // not installed here
/// ```
pub fn start_timeline() {
    let _ = TIMELINE.try_with(|t| {
        let mut t = t.borrow_mut();
        t.on = true;
        t.active = true;
        t.start = Some(Instant::now());
        t.seen = 0;
        t.high = isize::MIN;
        t.stride = 1;
        t.len = 0;
    });
}

/// Nanoseconds since [`start_timeline`] (0 when it is not running), to mark
/// phase boundaries on the timeline's axis.
///
/// ```
/// assert_eq!(lexer_demo::counting::timeline_clock(), 0);
/// ```
pub fn timeline_clock() -> u64 {
    TIMELINE
        .try_with(|t| {
            t.borrow()
                .start
                .filter(|_| t.borrow().active)
                .map_or(0, |s| {
                    u64::try_from(s.elapsed().as_nanos()).unwrap_or(u64::MAX)
                })
        })
        .unwrap_or(0)
}

/// Ends the timeline's current stretch with a point now and pauses it, so
/// that a phase boundary drawn at [`timeline_clock`] has every byte of the
/// phase before it, and what runs between phases (measuring) is not
/// drawn. Does nothing when the timeline is not running.
///
/// ```
/// lexer_demo::counting::timeline_pause();
/// lexer_demo::counting::timeline_resume();
/// ```
pub fn timeline_pause() {
    let _ = TIMELINE.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            if t.on {
                t.close();
                t.on = false;
            }
        }
    });
}

/// Resumes a paused timeline (nothing if it was stopped or never started).
///
/// ```
/// lexer_demo::counting::timeline_resume();
/// assert_eq!(lexer_demo::counting::timeline_clock(), 0);
/// ```
pub fn timeline_resume() {
    let _ = TIMELINE.try_with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            t.on = t.active;
        }
    });
}

/// Stops the timeline and returns its points: (nanoseconds since the start,
/// the most live bytes of the thread in that stretch). The bytes are
/// absolute: subtract a window's baseline to get growth.
///
/// ```
/// lexer_demo::counting::start_timeline();
/// let points = lexer_demo::counting::stop_timeline();
/// assert!(points.len() <= lexer_demo::counting::TIMELINE_POINTS);
/// ```
pub fn stop_timeline() -> Vec<(u64, isize)> {
    TIMELINE
        .try_with(|t| {
            let mut t = t.borrow_mut();
            t.on = false;
            t.active = false;
            t.points[..t.len].to_vec()
        })
        .unwrap_or_default()
}

impl Window {
    /// The baseline's total, to relate a timeline's absolute bytes to it.
    ///
    /// ```
    /// let w = lexer_demo::counting::open();
    /// let _ = w.baseline();
    /// ```
    pub fn baseline(&self) -> isize {
        self.heap.wrapping_add(self.slabs)
    }
}

/// Whether the counting allocator is the global allocator of this process.
///
/// ```
/// assert!(!lexer_demo::counting::installed()); // doctests use the system allocator
/// ```
pub fn installed() -> bool {
    let before = COUNTS.try_with(|c| c.calls.get()).unwrap_or(0);
    let probe = std::hint::black_box(Box::new(0u64));
    drop(probe);
    COUNTS.try_with(|c| c.calls.get()).unwrap_or(0) != before
}
