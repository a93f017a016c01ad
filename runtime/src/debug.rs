//! Debug checks for [`MorphContext`](crate::MorphContext), behind the cargo
//! feature `debug-checks` (on in the test suite, off by default). With the
//! feature off none of this is compiled: the fast paths are unchanged.
//!
//! With it on, a context:
//! - records every live object (address, size, type tag, allocation site via
//!   `#[track_caller]`) in a side table;
//! - puts a canary (up to 8 bytes) in the spare bytes of each object's slot,
//!   after the payload, and checks it on free and realloc, catching writes
//!   past an object's end;
//! - poisons freed payloads with `0xDD`;
//! - refuses, reports and records a double free or a free of a pointer it
//!   never handed out, *before* touching the memory, so the free lists stay
//!   intact;
//! - reports live objects by type tag with their allocation sites, on request
//!   ([`MorphContext::leak_report`](crate::MorphContext::leak_report)) and on
//!   drop.
//!
//! The checks change no layout: objects go to the same classes, at the same
//! places, with the same statistics as without them. So an object whose slot
//! has no spare byte (or that lives in the arena) gets no canary; poisoning
//! and the double-free and foreign-pointer checks still apply to it.
//!
//! Checks look objects up by address, so they cost a hash-map operation per
//! allocation and free: for debugging, not for production.

use crate::header::TypeTag;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::panic::Location;

/// Most canary bytes placed after a payload.
pub const CANARY_SIZE: usize = 8;
/// The canary's bytes.
pub const CANARY: [u8; CANARY_SIZE] = *b"MORPHok!";
/// The byte freed payloads are filled with.
pub const POISON: u8 = 0xDD;

/// What is known of a live object.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveObject {
    pub(crate) size: usize,
    /// Canary bytes after the payload (as many of 8 as the slot had spare).
    pub(crate) canary: usize,
    pub(crate) tag: TypeTag,
    pub(crate) site: &'static Location<'static>,
}

/// The kinds of misuse the checks catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// A pointer freed a second time.
    DoubleFree,
    /// A pointer this context never handed out.
    ForeignPointer,
    /// Bytes past the end of the payload were overwritten.
    Overflow,
}

/// One detected misuse.
///
/// ```
/// # #[cfg(feature = "debug-checks")] {
/// use morph_runtime::{debug::ViolationKind, MorphContext, TypeTag};
/// use std::alloc::Layout;
/// let ctx = MorphContext::new();
/// let p = ctx.alloc_layout(Layout::new::<u32>(), TypeTag(4));
/// // SAFETY: the second free is the bug being caught; the checks refuse it.
/// unsafe {
///     ctx.free(p);
///     ctx.free(p);
/// }
/// let v = &ctx.violations()[0];
/// assert_eq!(v.kind, ViolationKind::DoubleFree);
/// assert_eq!((v.tag, v.size), (Some(TypeTag(4)), Some(4)));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What happened.
    pub kind: ViolationKind,
    /// The payload address involved.
    pub address: usize,
    /// The object's type tag, when known.
    pub tag: Option<TypeTag>,
    /// The object's payload size, when known.
    pub size: Option<usize>,
    /// Where the object was allocated, when known.
    pub allocated_at: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ViolationKind::DoubleFree => "double free",
            ViolationKind::ForeignPointer => "free of a pointer this context never handed out",
            ViolationKind::Overflow => "write past the end of an object",
        };
        write!(f, "morph: {what} at {:#x}", self.address)?;
        if let (Some(tag), Some(size)) = (self.tag, self.size) {
            write!(f, " (type tag {}, {size} bytes)", tag.0)?;
        }
        if let Some(site) = &self.allocated_at {
            write!(f, ", allocated at {site}")?;
        }
        Ok(())
    }
}

/// Live objects grouped by type tag, with their allocation sites.
///
/// ```
/// # #[cfg(feature = "debug-checks")] {
/// use morph_runtime::{MorphContext, TypeTag};
/// let ctx = MorphContext::new();
/// ctx.alloc_tagged(1u64, TypeTag(9));
/// let report = ctx.leak_report();
/// assert_eq!(report.live_objects(), 1);
/// assert!(report.to_string().contains("type tag 9: 1 object(s), 8 bytes"));
/// assert!(report.to_string().contains(".rs:"), "the allocation site, file:line");
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeakReport {
    /// Per tag: (objects, payload bytes, allocation sites with counts).
    pub by_tag: BTreeMap<u16, TagLeaks>,
}

/// The live objects of one type tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagLeaks {
    /// How many.
    pub objects: usize,
    /// Their payload bytes.
    pub bytes: usize,
    /// Allocation site (`file:line:column`) → objects allocated there.
    pub sites: BTreeMap<String, usize>,
}

impl LeakReport {
    /// Live objects in all.
    ///
    /// ```
    /// let report = morph_runtime::debug::LeakReport::default();
    /// assert_eq!(report.live_objects(), 0);
    /// ```
    pub fn live_objects(&self) -> usize {
        self.by_tag.values().map(|t| t.objects).sum()
    }

    /// Whether nothing is live.
    ///
    /// ```
    /// assert!(morph_runtime::debug::LeakReport::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.by_tag.is_empty()
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "morph: {} live object(s)", self.live_objects())?;
        for (tag, t) in &self.by_tag {
            writeln!(
                f,
                "  type tag {tag}: {} object(s), {} bytes",
                t.objects, t.bytes
            )?;
            for (site, n) in &t.sites {
                writeln!(f, "    {n} allocated at {site}")?;
            }
        }
        Ok(())
    }
}

/// The side tables of a context with debug checks.
#[derive(Default)]
pub(crate) struct DebugState {
    live: HashMap<usize, LiveObject>,
    /// Objects freed whose addresses were not handed out again.
    freed: HashMap<usize, LiveObject>,
    violations: Vec<Violation>,
}

impl DebugState {
    /// Records a new object. A table that cannot grow drops the record
    /// (the object is then reported as foreign when freed) rather than
    /// abort: the checks must not be what takes a program down.
    pub(crate) fn on_alloc(&mut self, address: usize, object: LiveObject) {
        self.freed.remove(&address);
        if self.live.try_reserve(1).is_ok() {
            self.live.insert(address, object);
        }
    }

    /// The object at `address` if it may be freed; otherwise records (and
    /// prints) the violation and returns `None`.
    pub(crate) fn on_free(&mut self, address: usize) -> Option<LiveObject> {
        if let Some(object) = self.live.remove(&address) {
            if self.freed.try_reserve(1).is_ok() {
                self.freed.insert(address, object);
            }
            return Some(object);
        }
        let v = match self.freed.get(&address) {
            Some(o) => Violation {
                kind: ViolationKind::DoubleFree,
                address,
                tag: Some(o.tag),
                size: Some(o.size),
                allocated_at: Some(o.site.to_string()),
            },
            None => Violation {
                kind: ViolationKind::ForeignPointer,
                address,
                tag: None,
                size: None,
                allocated_at: None,
            },
        };
        self.report(v);
        None
    }

    /// Drops the record of a live object (it moved).
    pub(crate) fn forget(&mut self, address: usize) {
        self.live.remove(&address);
    }

    pub(crate) fn lookup(&self, address: usize) -> Option<LiveObject> {
        self.live.get(&address).copied()
    }

    pub(crate) fn overflow(&mut self, address: usize, object: LiveObject) {
        self.report(Violation {
            kind: ViolationKind::Overflow,
            address,
            tag: Some(object.tag),
            size: Some(object.size),
            allocated_at: Some(object.site.to_string()),
        });
    }

    /// Prints a violation (ignoring a closed stderr, which would make
    /// `eprintln!` panic inside `free`) and keeps it, if there is room.
    pub(crate) fn report(&mut self, v: Violation) {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{v}");
        if self.violations.try_reserve(1).is_ok() {
            self.violations.push(v);
        }
    }

    pub(crate) fn violations(&self) -> Vec<Violation> {
        self.violations.clone()
    }

    pub(crate) fn leak_report(&self) -> LeakReport {
        let mut report = LeakReport::default();
        for o in self.live.values() {
            let t = report.by_tag.entry(o.tag.0).or_default();
            t.objects += 1;
            t.bytes += o.size;
            *t.sites.entry(o.site.to_string()).or_default() += 1;
        }
        report
    }

    pub(crate) fn clear(&mut self) {
        // New tables rather than cleared ones: a reset gives their memory
        // back too, so a reused context holds what a fresh one does.
        self.live = HashMap::new();
        self.freed = HashMap::new();
    }
}
