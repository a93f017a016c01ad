//! The bytecode VM: `lexer_demo run --engine vm`. It gives every program
//! the tree-walker's exact output, messages, lines and exit codes (the
//! tests compare every fixture and generated programs, collecting before
//! every allocation, on both backends); it will replace the tree-walker.
//!
//! - [`value`]: 8-byte NaN-boxed values whose object references keep their
//!   pointer's provenance.
//! - [`chunk`]: bytecode with constants and a line table; operands wide
//!   enough that no per-function limit (constants, locals, jump distance)
//!   is met in practice.
//! - `compiler`: the resolved AST to one chunk per function; locals in
//!   stack slots, captured variables as upvalues.
//! - `object`: the object layouts (strings interned, closures with inline
//!   upvalue slots, classes and instances with open-addressing tables).
//! - `machine`: the stack VM (frames allocate nothing; a property or
//!   method is looked up before the arguments are evaluated, as the
//!   tree-walker does) and the collector: the header's mark bit, the
//!   header's type tag for the kind, the heap's own walk for the sweep, and
//!   a weak table of interned strings.

pub mod chunk;
pub(crate) mod compiler;
mod gc;
pub(crate) mod machine;
pub(crate) mod object;
pub mod value;

use crate::ast::Program;
use crate::interp::{
    Backend, GcStats, HeapFigures, MorphHeap, Options, RuntimeError, SysHeap, runtime_context,
};
use crate::resolver::Resolution;
use std::io::Write;

/// Runs a resolved program on the VM, with its objects on the backend
/// `options` names: the error that stopped it, the collector's figures and
/// the heap's.
///
/// ```
/// use lexer_demo::interp::Options;
/// let ast = morph_runtime::MorphContext::new();
/// let tokens = lexer_demo::frontend::token_context();
/// let src = "fun f(n) { return n * 2; } print f(21);";
/// let c = lexer_demo::frontend::compile(src, &ast, &tokens).unwrap();
/// let mut out = Vec::new();
/// let res = c.resolution.unwrap();
/// let (err, gc, _) = lexer_demo::vm::run_program(&c.program, &res, src, &Options::default(), &mut out);
/// assert!(err.is_none());
/// assert_eq!(out, b"42\n");
/// assert!(gc.objects_allocated > 0);
/// ```
pub fn run_program(
    program: &Program<'_>,
    res: &Resolution,
    source: &str,
    options: &Options,
    out: &mut dyn Write,
) -> (Option<RuntimeError>, GcStats, HeapFigures) {
    match options.backend {
        Backend::Morph => {
            let mut ctx = runtime_context();
            let (err, gc) =
                machine::interpret(MorphHeap::new(&mut ctx), program, res, source, options, out);
            (err, gc.0, HeapFigures::of_context(&ctx, gc.1))
        }
        Backend::Heap => {
            let (err, gc) =
                machine::interpret(SysHeap::default(), program, res, source, options, out);
            (err, gc.0, HeapFigures::of_system_heap(gc.1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of object, through collections before every allocation,
    /// on both backends; under Miri with strict provenance this checks the
    /// tagged pointers, the inline tails and the collector.
    #[test]
    fn every_object_kind_survives_collection_on_both_backends() {
        let src = r#"
            fun counter() { var n = 0; fun inc() { n = n + 1; return n; } return inc; }
            var c = counter(); c(); print c();
            class A { init(x) { this.x = x; } get() { return this.x; } }
            class B < A { init(x) { super.init(x + 1); this.a = 1; this.b = 2; this.c = 3; this.d = 4; }
                          get() { return super.get() * 10; } }
            var b = B(1); print b.get(); print b.d;
            var m = b.get; print m();
            var s = "a"; for (var i = 0; i < 3; i = i + 1) { s = s + "b"; } print s;
            print s == "abbb"; print !nil; print b; print B; print counter;
        "#;
        let ast = morph_runtime::MorphContext::new();
        let tokens = crate::frontend::token_context();
        let c = crate::frontend::compile(src, &ast, &tokens).unwrap();
        let res = c.resolution.unwrap();
        for backend in [Backend::Morph, Backend::Heap] {
            let o = Options {
                gc_stress: true,
                backend,
                ..Options::default()
            };
            let mut out = Vec::new();
            let (err, gc, heap) = run_program(&c.program, &res, src, &o, &mut out);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "2\n20\n4\n20\nabbb\ntrue\ntrue\nB instance\nB\n<fn counter>\n"
            );
            assert!(gc.collections > 10 && gc.objects_freed > 0);
            assert_eq!(heap.live_after_teardown, 0);
        }
    }
}
