//! Debug checks: misuse is detected and reported with the type tag and
//! size, and the free lists stay intact.
#![cfg(feature = "debug-checks")]

use morph_runtime::{Header, MorphContext, TypeTag, debug::ViolationKind};
use std::alloc::Layout;
use std::ptr::NonNull;

fn obj(ctx: &MorphContext, size: usize, tag: u16) -> NonNull<u8> {
    ctx.try_alloc_layout(Layout::from_size_align(size, 8).unwrap(), TypeTag(tag))
        .unwrap()
}

#[test]
fn freed_memory_is_poisoned() {
    let ctx = MorphContext::new();
    let p = obj(&ctx, 64, 1);
    // SAFETY: a live 64-byte object, freed once; reading it after the free is
    // what the test inspects (the slot stays mapped in its slab).
    unsafe {
        p.as_ptr().write_bytes(0x11, 64);
        ctx.free(p);
        let bytes = std::slice::from_raw_parts(p.as_ptr(), 64);
        assert!(bytes.iter().all(|&b| b == 0xDD));
    }
}

#[test]
fn double_free_is_refused_with_tag_and_size() {
    let ctx = MorphContext::new();
    let p = obj(&ctx, 24, 7);
    let q = obj(&ctx, 24, 7);
    // SAFETY: the second free of `p` is the misuse under test; it is refused.
    unsafe {
        ctx.free(p);
        ctx.free(p);
    }
    let v = ctx.violations();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind, ViolationKind::DoubleFree);
    assert_eq!((v[0].tag, v[0].size), (Some(TypeTag(7)), Some(24)));
    assert!(v[0].to_string().contains("double free"));
    assert!(v[0].allocated_at.as_deref().unwrap().contains("debug.rs"));
    // The free list was not corrupted: two allocations give two distinct slots.
    let (a, b) = (obj(&ctx, 24, 7), obj(&ctx, 24, 7));
    assert_ne!(a, b);
    assert!(a != q && b != q);
    assert_eq!(ctx.stats().live_objects, 3);
}

#[test]
fn foreign_pointers_are_refused_untouched() {
    let ctx = MorphContext::new();
    let mut local = [0u8; 32];
    let foreign = NonNull::new(local.as_mut_ptr().wrapping_add(Header::SIZE)).unwrap();
    // SAFETY: a foreign pointer is refused before the runtime touches it.
    unsafe { ctx.free(foreign) };
    assert_eq!(local, [0; 32], "nothing was written");
    assert_eq!(ctx.violations()[0].kind, ViolationKind::ForeignPointer);
    // SAFETY: likewise for realloc.
    let refused = unsafe { ctx.realloc(foreign, 100) };
    let address = foreign.as_ptr() as usize;
    assert_eq!(
        refused,
        Err(morph_runtime::Error::ForeignPointer { address })
    );
    assert_eq!(ctx.violations().len(), 2);
}

#[test]
fn writes_past_the_end_are_caught() {
    let ctx = MorphContext::new();
    let p = obj(&ctx, 10, 3);
    // SAFETY: writing one byte past the 10-byte payload is the bug under test;
    // the canary sits there, inside the same slot.
    unsafe {
        p.as_ptr().add(10).write(0);
        ctx.free(p);
    }
    let v = ctx.violations();
    assert_eq!(v[0].kind, ViolationKind::Overflow);
    assert_eq!((v[0].tag, v[0].size), (Some(TypeTag(3)), Some(10)));
}

#[test]
fn leak_report_groups_by_tag_with_sites() {
    let ctx = MorphContext::new();
    for _ in 0..3 {
        obj(&ctx, 8, 1);
    }
    let freed = obj(&ctx, 500, 2);
    ctx.alloc_tagged([0u16; 40], TypeTag(2));
    // SAFETY: live, freed once.
    unsafe { ctx.free(freed) };
    let report = ctx.leak_report();
    assert_eq!(report.live_objects(), 4);
    assert_eq!(
        (report.by_tag[&1].objects, report.by_tag[&1].bytes),
        (3, 24)
    );
    assert_eq!(
        (report.by_tag[&2].objects, report.by_tag[&2].bytes),
        (1, 80)
    );
    let site = report.by_tag[&2].sites.keys().next().unwrap();
    assert!(site.contains("tests/all/debug.rs"), "{site}");
}

#[test]
fn realloc_keeps_contents_and_checks() {
    let ctx = MorphContext::new();
    let p = obj(&ctx, 4, 5);
    // SAFETY: live 4-byte object, then reallocated; the old pointer is dropped.
    let q = unsafe {
        p.as_ptr().copy_from(b"lox!".as_ptr(), 4);
        ctx.realloc(p, 400).unwrap()
    };
    // SAFETY: `q` is live and at least 4 bytes.
    let bytes = unsafe { std::slice::from_raw_parts(q.as_ptr(), 4) };
    assert_eq!(bytes, b"lox!");
    assert!(ctx.violations().is_empty());
    assert_eq!(ctx.leak_report().by_tag[&5].bytes, 400);
}
