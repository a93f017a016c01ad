//! The arena's C ABI against a model: generated sequences of allocations,
//! marks, resets and rewinds, where a rewind is handed a real mark, a real
//! mark with one word altered, another arena's mark or arbitrary words.
//! Every live object is filled with its own pattern and checked after every
//! step, so a rewind that frees too much (or a chunk freed while still in
//! use) shows as an overlap or a broken pattern; .ci/run also runs these
//! cases under valgrind, which sees any access to freed memory.

use morph_capi::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// `size` bytes aligned to `1 << align_log`.
    Alloc {
        size: usize,
        align_log: u32,
    },
    Mark,
    /// Rewind to a mark taken earlier (index modulo the marks taken).
    Rewind {
        mark: usize,
    },
    /// Rewind to a mark taken earlier with `word` changed by `delta`.
    Forged {
        mark: usize,
        word: usize,
        delta: u64,
    },
    /// Rewind to a mark the second arena handed out.
    Foreign,
    /// Rewind to arbitrary words.
    Garbage([u64; 5]),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop_oneof![1..64usize, 64..600usize, 600..3000usize], 0..7u32)
            .prop_map(|(size, align_log)| Op::Alloc { size, align_log }),
        2 => Just(Op::Mark),
        3 => any::<usize>().prop_map(|mark| Op::Rewind { mark }),
        2 => (any::<usize>(), 0..5usize, 1..u64::MAX)
            .prop_map(|(mark, word, delta)| Op::Forged { mark, word, delta }),
        1 => Just(Op::Foreign),
        1 => any::<[u64; 5]>().prop_map(Op::Garbage),
        1 => Just(Op::Reset),
    ]
}

struct Obj {
    /// Allocation number: objects made after a mark have numbers at or
    /// above the mark's clock.
    id: u64,
    ptr: *mut u8,
    size: usize,
}

impl Obj {
    fn pattern(&self) -> u8 {
        (self.id % 251) as u8 + 1
    }

    fn check(&self) {
        // SAFETY: the model holds only objects the arena still owes us.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.size) };
        assert!(
            bytes.iter().all(|&b| b == self.pattern()),
            "object {} was overwritten",
            self.id
        );
    }
}

struct Mark {
    words: MpArenaMark,
    /// Allocations made before the mark.
    clock: u64,
    epoch: u64,
    /// No rewind since the mark went back before it: it must be accepted.
    /// Otherwise the arena may accept it (the position may still exist)
    /// or refuse it, but never free an object made before it.
    sure: bool,
}

fn stats(a: *mut MpArena) -> MpArenaStats {
    let mut s = MpArenaStats::default();
    // SAFETY: `a` is a live handle; `s` is writable.
    assert_eq!(unsafe { mp_arena_stats(a, &mut s) }, MORPH_OK);
    s
}

fn rewind(a: *mut MpArena, m: &MpArenaMark) -> i32 {
    // SAFETY: `a` is live and `m` readable; nothing the model still holds
    // is freed by an accepted rewind (checked below).
    unsafe { mp_arena_rewind(a, m) }
}

fn run(ops: &[Op]) {
    let arena = mp_arena_create(256);
    let other = mp_arena_create(256);
    assert!(!arena.is_null() && !other.is_null());
    let mut foreign = MpArenaMark::default();
    // SAFETY: `other` is live.
    assert_eq!(unsafe { mp_arena_mark(other, &mut foreign) }, MORPH_OK);
    let (mut live, mut marks) = (Vec::<Obj>::new(), Vec::<Mark>::new());
    let (mut clock, mut epoch) = (0u64, 0u64);
    for op in ops {
        let before = stats(arena);
        let refused = |code: i32| {
            assert_eq!(code, MORPH_ERR_BAD_MARK);
            assert_eq!(stats(arena), before, "a refused rewind changes nothing");
        };
        match *op {
            Op::Alloc { size, align_log } => {
                let align = 1usize << align_log;
                // SAFETY: `arena` is live.
                let p = unsafe { mp_arena_alloc(arena, size, align) }.cast::<u8>();
                assert!(!p.is_null() && p as usize % align == 0);
                let (lo, hi) = (p as usize, p as usize + size);
                for o in &live {
                    let (olo, ohi) = (o.ptr as usize, o.ptr as usize + o.size);
                    assert!(hi <= olo || lo >= ohi, "new block overlaps object {}", o.id);
                }
                let o = Obj {
                    id: clock,
                    ptr: p,
                    size,
                };
                // SAFETY: a fresh block of `size` bytes.
                unsafe { p.write_bytes(o.pattern(), size) };
                live.push(o);
                clock += 1;
            }
            Op::Mark => {
                let mut words = MpArenaMark::default();
                // SAFETY: `arena` is live.
                assert_eq!(unsafe { mp_arena_mark(arena, &mut words) }, MORPH_OK);
                marks.push(Mark {
                    words,
                    clock,
                    epoch,
                    sure: true,
                });
            }
            Op::Rewind { mark } if !marks.is_empty() => {
                let i = mark % marks.len();
                let m = &marks[i];
                let code = rewind(arena, &m.words);
                if m.epoch != epoch {
                    refused(code);
                } else if m.sure || code == MORPH_OK {
                    assert_eq!(code, MORPH_OK, "a live mark was refused");
                    let c = m.clock;
                    live.retain(|o| o.id < c);
                    for later in marks.iter_mut().filter(|l| l.clock > c) {
                        later.sure = false;
                    }
                } else {
                    refused(code);
                }
            }
            Op::Forged { mark, word, delta } if !marks.is_empty() => {
                let mut words = marks[mark % marks.len()].words;
                words.private_[word] = words.private_[word].wrapping_add(delta);
                refused(rewind(arena, &words));
            }
            Op::Foreign => refused(rewind(arena, &foreign)),
            Op::Garbage(words) => refused(rewind(arena, &MpArenaMark { private_: words })),
            Op::Reset => {
                // SAFETY: `arena` is live; the model forgets every object.
                assert_eq!(unsafe { mp_arena_reset(arena) }, MORPH_OK);
                live.clear();
                epoch += 1;
            }
            Op::Rewind { .. } | Op::Forged { .. } => {}
        }
        live.iter().for_each(Obj::check);
        let s = stats(arena);
        let payload: usize = live.iter().map(|o| o.size).sum();
        assert!(payload <= s.bytes_used && s.bytes_used <= s.bytes_reserved);
    }
    // SAFETY: both handles are live and not used again.
    unsafe {
        mp_arena_destroy(arena);
        mp_arena_destroy(other);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // 256 natively unless PROPTEST_CASES says otherwise (CI's valgrind
        // run asks for fewer).
        cases: if cfg!(miri) { 4 } else { ProptestConfig::default().cases },
        // Miri's isolation has no file system for the regression seeds.
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        ..ProptestConfig::default()
    })]

    #[test]
    fn arena_marks_through_the_c_abi(ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 200 })) {
        run(&ops);
    }
}

/// The reproducer: a mark whose newest-chunk word is zeroed.
#[test]
fn zeroed_newest_chunk_word_is_refused() {
    run(&[
        Op::Alloc {
            size: 100,
            align_log: 3,
        },
        Op::Alloc {
            size: 100,
            align_log: 3,
        },
        Op::Alloc {
            size: 100,
            align_log: 3,
        },
        Op::Mark,
        Op::Forged {
            mark: 0,
            word: 3,
            delta: u64::MAX,
        },
        Op::Alloc {
            size: 64,
            align_log: 3,
        },
    ]);
}
