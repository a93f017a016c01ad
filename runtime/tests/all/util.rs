//! Helpers shared by the integration tests.

/// A small deterministic generator (xorshift64*), so tests need no seed file.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Scales an iteration count down under Miri, which runs far slower.
pub fn scaled(native: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { native }
}

/// A live object in a test's model of the allocator.
#[derive(Clone, Copy, Debug)]
pub struct Obj {
    pub ptr: std::ptr::NonNull<u8>,
    pub size: usize,
    pub align: usize,
    pub pattern: u8,
    pub tag: u16,
}

impl Obj {
    pub fn fill(&self) {
        // SAFETY: tests only build `Obj` for live allocations of `size` bytes.
        unsafe { self.ptr.as_ptr().write_bytes(self.pattern, self.size) };
    }

    pub fn intact(&self) -> bool {
        // SAFETY: as above.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.size) };
        bytes.iter().all(|&b| b == self.pattern)
    }
}

/// Panics with a description unless every object is aligned, intact, and
/// disjoint from every other (given `extra_before` bytes of header in front).
pub fn check_objects(objs: &[Obj], extra_before: usize) {
    let mut spans: Vec<(usize, usize)> = objs
        .iter()
        .map(|o| {
            assert_eq!(o.ptr.as_ptr() as usize % o.align, 0, "misaligned {o:?}");
            assert!(o.intact(), "pattern of {o:?} overwritten");
            let start = o.ptr.as_ptr() as usize - extra_before;
            (start, o.ptr.as_ptr() as usize + o.size)
        })
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "objects overlap: {:x?} and {:x?}",
            w[0],
            w[1]
        );
    }
}
