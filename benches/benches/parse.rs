//! Bench 7: lex + parse + resolve of generated 1,000- and 10,000-line
//! programs with the morph, bumpalo and heap backends, as bytes of source per
//! second. Each iteration compiles and then gives the memory back (a reset
//! for the arenas, dropping the backend for the heap), so each backend pays
//! its whole cost; the token context is reused and reset too. The group
//! `lex_parse` leaves out the resolver.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lexer_demo::backend::HeapBackend;
use lexer_demo::frontend::compile;
use lexer_demo::parser;
use morph_runtime::MorphContext;
use std::hint::black_box;

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for lines in [1_000usize, 10_000] {
        let src = lexer_demo::generate::program(lines, 1);
        group.throughput(Throughput::Bytes(src.len() as u64));
        let mut tokens = lexer_demo::frontend::token_context();
        let mut ctx = MorphContext::new();
        group.bench_with_input(BenchmarkId::new("morph", lines), &src, |b, src| {
            b.iter(|| {
                let c = compile(black_box(src), &ctx, &tokens).unwrap();
                black_box(c.program.statements.len());
                drop(c);
                ctx.reset();
                tokens.reset();
            })
        });
        let mut bump = bumpalo::Bump::new();
        group.bench_with_input(BenchmarkId::new("bumpalo", lines), &src, |b, src| {
            b.iter(|| {
                let c = compile(black_box(src), &bump, &tokens).unwrap();
                black_box(c.program.statements.len());
                drop(c);
                bump.reset();
                tokens.reset();
            })
        });
        group.bench_with_input(BenchmarkId::new("heap", lines), &src, |b, src| {
            b.iter(|| {
                let heap = HeapBackend::new();
                let c = compile(black_box(src), &heap, &tokens).unwrap();
                black_box(c.program.statements.len());
                drop(c);
                drop(heap);
                tokens.reset();
            })
        });
    }
    group.finish();
}

fn lex_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("lex_parse");
    let src = lexer_demo::generate::program(10_000, 1);
    group.throughput(Throughput::Bytes(src.len() as u64));
    let mut tokens = lexer_demo::frontend::token_context();
    let mut ctx = MorphContext::new();
    group.bench_function("morph/10000", |b| {
        b.iter(|| {
            let out = parser::parse(black_box(&src), &ctx, &tokens).unwrap();
            black_box(out.program.statements.len());
            drop(out);
            ctx.reset();
            tokens.reset();
        })
    });
    let mut bump = bumpalo::Bump::new();
    group.bench_function("bumpalo/10000", |b| {
        b.iter(|| {
            let out = parser::parse(black_box(&src), &bump, &tokens).unwrap();
            black_box(out.program.statements.len());
            drop(out);
            bump.reset();
            tokens.reset();
        })
    });
    group.finish();
}

criterion_group!(benches, parse, lex_parse);
criterion_main!(benches);
