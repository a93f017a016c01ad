//! A heap that grows and shrinks in phases, as a language runtime's does,
//! on one allocator per run: the resident set after each phase, and for a
//! context its reserved bytes.
//!
//! Phases: 2 M objects of 24 bytes, 99 % freed; then 2 M of 120 bytes, 99 %
//! freed; then 2 M of 40 bytes, kept. `contiguous` frees the first 99 % of
//! each phase's objects (the survivors are the newest); `scattered` keeps
//! every hundredth object, so every slab or page keeps a survivor.
//!
//! ```text
//! cargo run --release -p morph-runtime --example phases -- ctx contiguous
//! cargo run --release -p morph-runtime --example phases -- glibc scattered
//! scripts/phases.sh        # all three allocators, both variants, side by side
//! ```
//!
//! The resident set comes from `/proc/self/status` (Linux), so run each
//! allocator in its own process.

use morph_runtime::{Config, MorphContext, TypeTag};
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::ptr::NonNull;

const PER_PHASE: usize = if cfg!(debug_assertions) {
    200_000
} else {
    2_000_000
};
const SIZES: [usize; 3] = [24, 120, 40];

/// One allocator under test.
enum Alloc {
    Ctx(Box<MorphContext>),
    Glibc,
    Mimalloc,
}

impl Alloc {
    fn alloc(&self, size: usize) -> NonNull<u8> {
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        let p = match self {
            Alloc::Ctx(ctx) => return ctx.try_alloc_layout(layout, TypeTag(1)).expect("memory"),
            // SAFETY: a non-zero layout.
            Alloc::Glibc => unsafe { System.alloc(layout) },
            // SAFETY: a non-zero layout.
            Alloc::Mimalloc => unsafe { mimalloc::MiMalloc.alloc(layout) },
        };
        NonNull::new(p).expect("memory")
    }

    /// # Safety
    /// `p` came from `alloc(size)` of this allocator and is not used again.
    unsafe fn free(&self, p: NonNull<u8>, size: usize) {
        let layout = Layout::from_size_align(size, 8).expect("valid layout");
        // SAFETY: forwarded from the caller.
        unsafe {
            match self {
                Alloc::Ctx(ctx) => ctx.free(p),
                Alloc::Glibc => System.dealloc(p.as_ptr(), layout),
                Alloc::Mimalloc => mimalloc::MiMalloc.dealloc(p.as_ptr(), layout),
            }
        }
    }
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn resident() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mb(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(which), Some(variant)) = (args.first(), args.get(1)) else {
        eprintln!("usage: phases ctx|glibc|mimalloc contiguous|scattered");
        return ExitCode::from(2);
    };
    let alloc = match which.as_str() {
        "ctx" => Alloc::Ctx(Box::new(
            MorphContext::with_config(Config::runtime()).expect("the runtime preset"),
        )),
        "glibc" => Alloc::Glibc,
        "mimalloc" => Alloc::Mimalloc,
        _ => {
            eprintln!("phases: unknown allocator '{which}'");
            return ExitCode::from(2);
        }
    };
    let scattered = match variant.as_str() {
        "contiguous" => false,
        "scattered" => true,
        _ => {
            eprintln!("phases: unknown variant '{variant}'");
            return ExitCode::from(2);
        }
    };
    println!("{which} {variant}: phase, resident MB, peak resident MB, live MB, reserved MB");
    let mut kept: Vec<(NonNull<u8>, usize)> = Vec::new();
    let report = |phase: &str, kept: &[(NonNull<u8>, usize)]| {
        let (rss, hwm) = resident();
        let live: usize = kept.iter().map(|&(_, s)| s).sum();
        let reserved = match &alloc {
            Alloc::Ctx(ctx) => mb(ctx.stats().bytes_reserved),
            _ => "-".to_string(),
        };
        println!(
            "{phase:<16} {:>8} {:>8} {:>8} {:>8}",
            mb(rss),
            mb(hwm),
            mb(live),
            reserved
        );
    };
    report("start", &kept);
    for (i, &size) in SIZES.iter().enumerate() {
        let mut objs: Vec<NonNull<u8>> = Vec::with_capacity(PER_PHASE);
        for n in 0..PER_PHASE {
            let p = alloc.alloc(size);
            // SAFETY: a fresh block of `size` bytes.
            unsafe { p.as_ptr().write_bytes(n as u8, size) };
            objs.push(p);
        }
        let phase = i + 1;
        kept.extend(objs.iter().map(|&p| (p, size)));
        report(&format!("{phase}: allocated"), &kept);
        kept.truncate(kept.len() - objs.len());
        if phase == SIZES.len() {
            kept.extend(objs.iter().map(|&p| (p, size)));
            break;
        }
        for (n, p) in objs.into_iter().enumerate() {
            let survives = if scattered {
                n % 100 == 0
            } else {
                n >= PER_PHASE - PER_PHASE / 100
            };
            if survives {
                kept.push((p, size));
            } else {
                // SAFETY: allocated above with `size`, freed once.
                unsafe { alloc.free(p, size) };
            }
        }
        report(&format!("{phase}: 99% freed"), &kept);
    }
    for (p, size) in kept.drain(..) {
        // SAFETY: every kept object is live and freed once.
        unsafe { alloc.free(p, size) };
    }
    report("all freed", &kept);
    ExitCode::SUCCESS
}
