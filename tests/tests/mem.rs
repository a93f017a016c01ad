//! The compile-footprint report, measured: this test binary installs the
//! counting allocator and the slab observer, as the `lexer_demo` binary
//! does. The counters are per thread, so tests run in parallel.

use lexer_demo::backend::BackendKind;
use lexer_demo::mem::{self, Contexts, Options, Report, measure, project};
use morph_tests::{cli, fixtures, lox_files, path_str};

#[global_allocator]
static ALLOC: lexer_demo::counting::CountingAlloc = lexer_demo::counting::CountingAlloc;

fn setup() {
    lexer_demo::counting::observe_slabs();
}

fn program(lines: usize) -> String {
    lexer_demo::generate::program(lines, 3)
}

fn with(backend: BackendKind) -> Options {
    Options {
        backend,
        ..Options::default()
    }
}

/// A report without its times, which are the only figures that vary.
fn timeless(mut r: Report) -> Report {
    r.micros = 0;
    for p in &mut r.phases {
        p.micros = 0;
    }
    r
}

#[test]
fn the_peak_is_measured_and_covers_the_ast() {
    setup();
    assert!(lexer_demo::counting::installed());
    let src = program(1000);
    for backend in BackendKind::ALL {
        let (r, diags) = measure(&src, "p.lox", with(backend)).unwrap();
        assert!(diags.is_empty());
        assert!(r.heap_measured);
        assert!(
            r.peak_bytes as u64 >= r.ast_payload_bytes,
            "{}: peak {} below the AST's own {} bytes",
            backend.name(),
            r.peak_bytes,
            r.ast_payload_bytes
        );
        // A phase never ends above its own peak, and the measuring itself
        // leaves nothing behind that a later phase could lose.
        for p in &r.phases {
            assert!(p.end_bytes <= p.peak_bytes, "{}: {p:?}", backend.name());
        }
        let max = r.phases.iter().map(|p| p.peak_bytes).max().unwrap();
        assert_eq!(r.peak_bytes, max);
        assert_eq!(
            r.phases.iter().find(|p| p.peak_bytes == max).unwrap().name,
            r.at_peak.phase
        );
        // Nodes in a context: its slabs hold them, and the observer saw them.
        if backend == BackendKind::Morph {
            let parse = &r.phases[1];
            assert!(parse.end_slab_bytes as u64 > r.ast_payload_bytes);
        }
    }
}

#[test]
fn phases_run_in_order_and_stop_at_errors() {
    setup();
    let (r, _) = measure(&program(200), "p.lox", Options::default()).unwrap();
    let names: Vec<_> = r.phases.iter().map(|p| p.name).collect();
    assert_eq!(names, ["lex", "parse", "resolve", "compile"]);
    // The lexer alone allocates nothing on the heap (the debug layer's
    // table of live objects aside) and keeps no token.
    if !cfg!(feature = "debug-checks") {
        assert_eq!(r.phases[0].heap_allocations, 0);
    }
    assert_eq!(r.phases[0].context_live_objects, 0);
    assert_eq!(r.phases[0].objects["token"], r.tokens);
    // The parse made every node, the compile every function's strings.
    let nodes: u64 = r.nodes.values().map(|k| k.objects).sum();
    let parse_made: u64 = r.phases[1].objects.values().sum();
    assert_eq!(parse_made, nodes + r.tokens);
    assert_eq!(
        r.phases[1].context_allocations,
        nodes + r.tokens,
        "tokens and nodes are the parse's context objects"
    );
    assert!(r.phases[3].objects["string"] > 0);
    assert!(r.bytecode.unwrap().code_bytes > 0);

    // An empty program: the lexer's one slab, then the engine's own
    // objects; every phase within its peak.
    let (r, _) = measure("", "e.lox", Options::default()).unwrap();
    assert_eq!(r.phases[0].end_bytes, r.phases[0].peak_bytes);
    assert!(
        r.phases.iter().all(|p| p.end_bytes <= p.peak_bytes),
        "{r:?}"
    );

    let (r, d) = measure("print ;", "e.lox", Options::default()).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(r.phases.len(), 2, "no resolve after a syntax error");
    let (r, d) = measure("return 1;", "e.lox", Options::default()).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(r.phases.len(), 3, "no compile after a resolve error");
    assert!(r.bytecode.is_none());
}

#[test]
fn every_backend_places_the_same_nodes() {
    setup();
    let src = program(300);
    let reports: Vec<_> = BackendKind::ALL
        .iter()
        .map(|&b| measure(&src, "p.lox", with(b)).unwrap().0)
        .collect();
    for r in &reports[1..] {
        assert_eq!(r.nodes, reports[0].nodes);
        assert_eq!(r.ast_payload_bytes, reports[0].ast_payload_bytes);
        assert_eq!(r.tokens, reports[0].tokens);
        assert_eq!(r.bytecode, reports[0].bytecode);
    }
}

#[test]
fn breakdown_adds_up() {
    setup();
    let options = Options {
        classes: mem::ClassTable::Fine,
        ..Options::default()
    };
    let (r, _) = measure(&program(1000), "p.lox", options).unwrap();
    let c = r.ast_context.expect("a morph backend has a breakdown");
    let slots: usize = c.classes.iter().map(|k| k.live * k.slot_size).sum();
    let headers_in_pools: usize = c.classes.iter().map(|k| k.live * 8).sum();
    let payload_in_pools: usize = c.classes.iter().map(|k| k.payload_bytes).sum();
    assert_eq!(slots, payload_in_pools + headers_in_pools + c.slack_bytes);
    assert_eq!(c.slab_bytes, c.slabs * options.slab_size);
    assert_eq!(r.size_classes, "fine");
    // The top tags are the biggest, in order.
    let tags = &r.at_peak.top_tags;
    assert!(!tags.is_empty() && tags.len() <= 5);
    assert!(tags.windows(2).all(|w| w[0].1.bytes >= w[1].1.bytes));
}

/// A context reused with a reset reports what a fresh one does: what
/// measuring a project on a thread pool relies on.
#[test]
fn reused_contexts_report_what_fresh_ones_do() {
    setup();
    let (a, b) = (program(400), lexer_demo::generate::program(900, 8));
    for backend in BackendKind::ALL {
        let fresh_a = timeless(measure(&a, "a", with(backend)).unwrap().0);
        let fresh_b = timeless(measure(&b, "b", with(backend)).unwrap().0);
        let mut c = Contexts::new(with(backend)).unwrap();
        for _ in 0..2 {
            assert_eq!(timeless(c.measure(&b, "b").unwrap().0), fresh_b);
            assert_eq!(timeless(c.measure(&a, "a").unwrap().0), fresh_a);
        }
    }
}

/// The defaults on programs the project has never seen (fresh seeds):
/// at most bumpalo's peak, and 0.8 of the heap backend's. Bytes are
/// deterministic, so this is a count, not a timing. The debug layer keeps
/// a table per context, which is what it is for; the target is for the
/// runtime as shipped.
#[test]
fn defaults_beat_bumpalo_and_the_heap_on_unseen_programs() {
    setup();
    if cfg!(feature = "debug-checks") {
        return;
    }
    for seed in [11, 12] {
        let src = lexer_demo::generate::program(10_000, seed);
        let peak = |b| measure(&src, "p.lox", with(b)).unwrap().0.peak_bytes as f64;
        let morph = peak(BackendKind::Morph);
        let (bump, heap) = (peak(BackendKind::Bumpalo), peak(BackendKind::Heap));
        assert!(
            morph <= bump,
            "seed {seed}: {morph} against bumpalo's {bump}"
        );
        assert!(
            morph <= 0.8 * heap,
            "seed {seed}: {morph} against the heap's {heap}"
        );
    }
}

/// Allocation counts per fixture and phase, deterministic, as snapshots:
/// a change in what the front end or the compiler allocates shows here.
#[test]
fn allocation_counts_per_fixture_and_phase() {
    setup();
    let mut files = lox_files("pass");
    files.extend(lox_files("bench"));
    files.extend(lox_files("generated"));
    let mut text = String::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let name = path_str(f.strip_prefix(fixtures()).unwrap());
        let (r, _) = measure(&src, &name, Options::default()).unwrap();
        text.push_str(&format!("{name}\n"));
        for p in &r.phases {
            let mut objects: Vec<String> =
                p.objects.iter().map(|(k, v)| format!("{k} {v}")).collect();
            if objects.is_empty() {
                objects.push("nothing".into());
            }
            text.push_str(&format!(
                "  {:<8} context allocations {:>6}, live at end {:>6}; made: {}\n",
                p.name,
                p.context_allocations,
                p.context_live_objects,
                objects.join(", ")
            ));
        }
    }
    insta::assert_snapshot!(text);
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("morph-mem-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    dir
}

/// Per-file figures do not depend on the number of workers, nor on which
/// files a worker compiled before, and match a single file's.
#[test]
fn project_figures_do_not_depend_on_the_workers() {
    setup();
    let dir = temp_dir("workers");
    for i in 0..16u64 {
        let at = if i % 3 == 0 {
            dir.join("sub")
        } else {
            dir.clone()
        };
        let lines = 50 + usize::try_from(i).unwrap() * 37;
        std::fs::write(
            at.join(format!("f{i:02}.lox")),
            lexer_demo::generate::program(lines, i),
        )
        .unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a program").unwrap();
    let files = project::collect(&[path_str(&dir)]).unwrap();
    assert_eq!(files.len(), 16);
    let runs: Vec<Vec<Report>> = [1, 2, 3]
        .iter()
        .map(|&jobs| {
            let run = project::measure_all(&files, Options::default(), jobs).unwrap();
            assert_eq!(run.jobs, jobs);
            run.reports().into_iter().map(timeless).collect()
        })
        .collect();
    assert_eq!(runs[0].len(), 16);
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    for (f, r) in files.iter().zip(&runs[0]) {
        let src = std::fs::read_to_string(f).unwrap();
        let single = timeless(
            measure(&src, &f.display().to_string(), Options::default())
                .unwrap()
                .0,
        );
        assert_eq!(&single, r);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_mem_outputs() {
    setup();
    let path = fixtures().join("generated/lines_1000.lox");
    let path = path.to_str().unwrap();
    let (code, out, _) = cli(&["mem", path], b"");
    assert_eq!(code, 0);
    assert!(out.contains("where the peak went"), "{out}");
    assert!(out.contains("\nparse "), "{out}");

    let (code, out, _) = cli(&["mem", "--json", "--backend", "bumpalo", path], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backend"], "bumpalo");
    assert!(v["bumpalo_reserved_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["phases"].as_array().unwrap().len(), 4);

    let (code, out, _) = cli(&["mem", "--compare", "--json", path], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);

    let (code, out, _) = cli(&["mem", "--compare", path], b"");
    assert_eq!(code, 0);
    for phase in ["lex", "parse", "resolve", "compile"] {
        assert!(out.contains(phase), "{out}");
    }
}

#[test]
fn cli_mem_svg_is_a_timeline_with_phases_and_peak() {
    setup();
    let path = fixtures().join("generated/lines_1000.lox");
    let dir = temp_dir("svg");
    let svg = dir.join("t.svg");
    let (code, _, err) = cli(
        &[
            "mem",
            "--svg",
            svg.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(chart.matches("<path").count(), 1, "one line");
    assert_eq!(chart.matches(">peak ").count(), 1, "the peak marked");
    // The dot names the report's peak, as the legend does.
    let dot = chart
        .split(">peak ")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(chart.contains(&format!("(peak {dot})")), "{dot}");
    // Phases are named where they are wide enough (resolve is a sliver).
    for label in ["parse", "compile", "milliseconds", "live bytes"] {
        assert!(chart.contains(label), "{label}");
    }
    // Everything drawn lies inside the picture.
    let width: f64 = 960.0;
    for x in chart.split(" x=\"").skip(1) {
        let v: f64 = x.split('"').next().unwrap().parse().unwrap();
        assert!((0.0..width).contains(&v), "x = {v}");
    }
    let (code, _, _) = cli(
        &[
            "mem",
            "--compare",
            "--svg",
            svg.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(chart.matches("<path").count(), 4, "one line per backend");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_mem_baseline_gates_growth() {
    setup();
    let dir = temp_dir("gate");
    let (prog, base) = (dir.join("p.lox"), dir.join("base.json"));
    let (p, b) = (path_str(&prog), path_str(&base));
    std::fs::write(&prog, program(300)).unwrap();
    let (code, json, _) = cli(&["mem", "--json", &p], b"");
    assert_eq!(code, 0);
    std::fs::write(&base, json).unwrap();

    let (code, out, _) = cli(&["mem", "--baseline", &b, &p], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("0 changed; the gate passes\n"), "{out}");

    // One more statement: more tokens and nodes, counts that must not grow.
    std::fs::write(&prog, program(300) + "print 1;\n").unwrap();
    let (code, out, _) = cli(&["mem", "--baseline", &b, &p], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tokens"), "{out}");
    assert!(out.contains("FAIL (counts are exact)"), "{out}");

    // Fewer: the gate passes, showing the improvement.
    std::fs::write(&prog, program(100)).unwrap();
    let (code, out, _) = cli(&["mem", "--baseline", &b, &p, "--tolerance", "0%"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAIL"));

    let (code, _, err) = cli(&["mem", "--baseline", &b, &p, "--tolerance", "x"], b"");
    assert_eq!(code, 64);
    assert!(err.contains("not a percentage"), "{err}");
    let (code, _, err) = cli(&["mem", "--baseline", &p, &p], b"");
    assert_eq!(code, 66);
    assert!(err.contains("is not a report saved with --json"), "{err}");
    let (code, _, err) = cli(&["mem", "--baseline", &b, "--backend", "heap", &p], b"");
    assert_eq!(code, 65);
    assert!(err.contains("not comparable: backend"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_mem_and_check_take_projects() {
    setup();
    let dir = temp_dir("project");
    std::fs::write(dir.join("a.lox"), program(120)).unwrap();
    std::fs::write(dir.join("sub/b.lox"), program(40)).unwrap();
    let d = path_str(&dir);
    let (code, out, err) = cli(&["mem", "--jobs", "2", &d], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 workers"), "{out}");
    let a = out.find("a.lox").unwrap();
    let b = out.find("b.lox").unwrap();
    assert!(a < b, "sorted by peak, the larger first:\n{out}");
    assert!(out.contains("2 files, "), "{out}");
    assert!(out.contains("largest: ") && out.contains("slowest: "));

    let (code, out, _) = cli(&["mem", "--json", &d], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let base = dir.join("base.json");
    std::fs::write(&base, out).unwrap();
    let (code, out, _) = cli(&["mem", "--baseline", &path_str(&base), &d], b"");
    assert_eq!(code, 0, "{out}");

    let (code, _, err) = cli(&["check", "--jobs", "2", "--stats", &d], b"");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("checked 2 files"), "{err}");

    std::fs::write(dir.join("sub/bad.lox"), "print ;\nreturn 1;").unwrap();
    let (code, _, err) = cli(&["check", &d], b"");
    assert_eq!(code, 65);
    assert!(
        err.contains("bad.lox: [line 1] Error at ';': Expect expression."),
        "{err}"
    );
    let (code, out, err) = cli(&["mem", &d], b"");
    assert_eq!(code, 65);
    assert!(out.contains("bad.lox"), "{out}");
    assert!(err.contains("bad.lox: [line 1]"), "{err}");

    let (code, _, err) = cli(&["check", &d, "/no/such/dir"], b"");
    assert_eq!(code, 66);
    assert!(err.contains("cannot read '/no/such/dir'"), "{err}");
    let (code, _, err) = cli(&["mem", "--compare", &d], b"");
    assert_eq!(code, 64);
    assert!(err.contains("one program"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_mem_reports_compile_errors_with_65() {
    setup();
    let (code, out, err) = cli(&["mem", "-"], b"print ;");
    assert_eq!(code, 65);
    assert!(out.contains("compile footprint"));
    assert_eq!(err, "[line 1] Error at ';': Expect expression.\n");
    let (code, _, err) = cli(&["mem", "--slab-kib", "3", "-"], b"print 1;");
    assert_eq!(code, 64);
    assert!(
        err.contains("slab size 3072 must be a power of two"),
        "{err}"
    );
}

#[test]
fn cli_projects_refuse_what_they_cannot_measure() {
    setup();
    let dir = temp_dir("edges");
    let d = path_str(&dir);
    // Nothing to measure.
    let (code, _, err) = cli(&["mem", &d], b"");
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("no .lox file"), "{err}");
    // A directory linking to itself is not followed.
    std::fs::write(dir.join("a.lox"), "print 1;").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    }
    let (code, out, err) = cli(&["mem", "--json", &d], b"");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        1,
        "one file, once, as an array"
    );
    // A file whose name is not UTF-8 is still read.
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"n\xffx.lox");
        std::fs::write(dir.join(name), "print 2;").unwrap();
        let (code, _, err) = cli(&["check", &d], b"");
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = cli(&["check", "--pretty", &d], b"");
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = cli(&["mem", "--slab-kib", "3", &d], b"");
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = cli(
        &["mem", "--backend", "heap", "--slab-kib", "3", "-"],
        b"print 1;",
    );
    assert_eq!(code, 64, "{err}");

    // Baselines that are no reports, or of the other shape.
    let base = dir.join("base.json");
    let b = path_str(&base);
    std::fs::write(&base, "[]").unwrap();
    let (code, _, err) = cli(&["mem", "--baseline", &b, &d], b"");
    assert_eq!(code, 65);
    assert!(err.contains("holds no report"), "{err}");
    std::fs::write(&base, r#"{"backend": "morph"}"#).unwrap();
    let (code, _, err) = cli(&["mem", "--baseline", &b, "-"], b"print 1;");
    assert_eq!(code, 65);
    assert!(err.contains("is not a report saved with --json"), "{err}");
    let (_, single, _) = cli(&["mem", "--json", "-"], b"print 1;");
    std::fs::write(&base, single).unwrap();
    let (code, _, err) = cli(&["mem", "--baseline", &b, &d], b"");
    assert_eq!(code, 65);
    assert!(err.contains("not comparable"), "{err}");
    // A program with errors: the gate's verdict, then the diagnostics.
    let (code, _, err) = cli(&["mem", "--baseline", &b, "-"], b"print 1; print ;");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Expect expression."), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn svg_titles_are_valid_text() {
    setup();
    let options = Options {
        timeline: true,
        ..Options::default()
    };
    let name = format!("{}\u{1}<b>&.lox", "dir/".repeat(40));
    let (r, _) = measure("print 1;", &name, options).unwrap();
    let svg = mem::svg::timeline_chart(&[r], &name);
    let title = svg.lines().find(|l| l.contains("Live bytes")).unwrap();
    assert!(
        !title.contains('\u{1}') && !title.contains("<b>"),
        "{title}"
    );
    assert!(title.contains("&lt;b&gt;&amp;.lox"), "{title}");
    assert!(title.chars().count() < 200, "{title}");
}
