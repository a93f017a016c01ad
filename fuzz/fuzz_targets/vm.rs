//! The engine on arbitrary programs: compile and run every input that is
//! UTF-8 with a step budget and a string limit, on both backends and with a
//! collection before every allocation. Nothing may panic or crash; the
//! three runs must print the same thing, stop with the same error (or
//! none) and have the same diagnostics; nothing may be left after
//! teardown.
#![no_main]

use lexer_demo::vm::{Backend, Options, run_source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let base = Options {
        max_steps: Some(3_000),
        max_string_len: 1 << 16,
        ..Options::default()
    };
    let run = |options: Options| {
        let mut out = Vec::new();
        let r = run_source(src, &options, &mut out);
        assert_eq!(r.heap.live_after_teardown, 0, "left after teardown");
        if r.diagnostics.is_empty() {
            assert_eq!(
                r.gc.objects_freed + r.gc.live_at_end,
                r.gc.objects_allocated,
                "objects lost"
            );
        }
        (out, r.error, r.diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>())
    };
    let morph = run(base);
    let heap = run(Options {
        backend: Backend::Heap,
        ..base
    });
    assert_eq!(morph, heap, "the backends disagree");
    let stressed = run(Options {
        gc_stress: true,
        ..base
    });
    assert_eq!(morph, stressed, "collecting changed the outcome");
});
