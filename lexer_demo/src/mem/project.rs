//! Whole projects: every `.lox` file of some directories and files,
//! compiled on a thread pool, each worker thread with its own contexts,
//! reused from file to file with a reset in between (the thread-local pools
//! the runtime is built for: a slab freed by one file serves the next
//! without a system call).
//!
//! Per-file figures do not depend on the number of workers or on which
//! files a worker compiled before: a reset context reports what a fresh one
//! does ([`super::Contexts`]), and the counters are per thread.
//!
//! ```
//! use lexer_demo::mem::{project, Options};
//! let dir = std::env::temp_dir().join(format!("morph-project-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("a.lox"), "print 1;").unwrap();
//! std::fs::write(dir.join("b.lox"), "var x = 2; print x * x;").unwrap();
//! let files = project::collect(&[dir.to_string_lossy().into_owned()]).unwrap();
//! let run = project::measure_all(&files, Options::default(), 2).unwrap();
//! assert_eq!(run.files.len(), 2);
//! assert!(run.files.iter().all(|f| f.outcome.is_ok()));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use super::{Contexts, Options, Report};
use crate::diagnostics::Diagnostic;
use crate::mem::text::{ms, n, u};
use rayon::prelude::*;
use std::cell::RefCell;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `.lox` files of `paths`: a directory gives every regular `.lox`
/// file under it (recursively, sorted; symbolic links to directories are
/// not followed, so no loop can make the walk endless, and pipes or devices
/// named `.lox` are left out), a file itself. An error names a path that
/// cannot be read, or says that there is no file at all.
///
/// ```
/// let err = lexer_demo::mem::project::collect(&["/no/such/dir".into()]).unwrap_err();
/// assert!(err.starts_with("cannot read '/no/such/dir'"));
/// ```
pub fn collect(paths: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        let path = Path::new(p);
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read '{p}': {e}"))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.to_path_buf());
        }
    }
    if files.is_empty() {
        return Err(format!("no .lox file in {}", paths.join(", ")));
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot read '{}': {e}", dir.display());
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(cannot)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        // `file_type` does not follow links: a linked directory is skipped.
        if kind.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|x| x == "lox")
            && std::fs::metadata(&path).is_ok_and(|m| m.is_file())
        {
            files.push(path);
        }
    }
    Ok(())
}

/// One file's result.
pub struct FileResult {
    /// The file.
    pub file: String,
    /// Its report and compile errors, or why it could not be measured (it
    /// could not be read, or is too large).
    pub outcome: Result<(Report, Vec<Diagnostic>), String>,
}

/// A project's results, in the order the files were given.
pub struct ProjectRun {
    /// Per file.
    pub files: Vec<FileResult>,
    /// Workers.
    pub jobs: usize,
    /// Wall-clock time of the whole run.
    pub wall: Duration,
}

/// `1 worker`, `2 workers`.
pub(crate) fn workers(n: usize) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}

thread_local! {
    /// This worker's contexts, reused from file to file.
    static WORKER: RefCell<Option<Contexts>> = const { RefCell::new(None) };
}

fn pool(jobs: usize) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("mem-worker-{i}"))
        .build()
        .map_err(|e| format!("cannot start {jobs} workers: {e}"))
}

/// Runs `work` on every file's name and text on a pool of `jobs` threads:
/// each file's result, or why it could not be read, in the files' order;
/// and the wall-clock time.
#[allow(clippy::type_complexity)]
fn on_pool<R: Send>(
    files: &[PathBuf],
    jobs: usize,
    work: impl Fn(&str, String) -> Result<R, String> + Sync,
) -> Result<(Vec<(String, Result<R, String>)>, Duration), String> {
    let pool = pool(jobs)?;
    let started = Instant::now();
    let results = pool.install(|| {
        files
            .par_iter()
            .map(|path| {
                let file = path.display().to_string();
                let outcome = crate::frontend::read_path(path).and_then(|s| work(&file, s));
                (file, outcome)
            })
            .collect()
    });
    Ok((results, started.elapsed()))
}

/// Measures every file on `jobs` worker threads.
///
/// ```
/// let run = lexer_demo::mem::project::measure_all(&[], Default::default(), 1).unwrap();
/// assert!(run.files.is_empty()); // `collect` refuses an empty project
/// ```
pub fn measure_all(files: &[PathBuf], options: Options, jobs: usize) -> Result<ProjectRun, String> {
    // Refuse a bad configuration once, not per file.
    Contexts::new(options)?;
    let (results, wall) = on_pool(files, jobs, |file, source| {
        WORKER.with(|w| {
            let mut w = w.borrow_mut();
            if w.as_ref().is_none_or(|c| c.options() != options) {
                *w = Some(Contexts::new(options)?);
            }
            let contexts = w.as_mut().ok_or("no contexts")?;
            contexts.measure(&source, file)
        })
    })?;
    Ok(ProjectRun {
        files: results
            .into_iter()
            .map(|(file, outcome)| FileResult { file, outcome })
            .collect(),
        jobs: jobs.max(1),
        wall,
    })
}

/// Checks every file (lex, parse, resolve) on `jobs` worker threads: the
/// compile errors of each file, or why it could not be read. With the
/// morph backend each worker keeps a token and an AST context, reset
/// between files; the others get a fresh backend per file.
///
/// ```
/// use lexer_demo::backend::BackendKind;
/// let (results, _) = lexer_demo::mem::project::check_all(&[], 2, BackendKind::Morph).unwrap();
/// assert!(results.is_empty());
/// ```
#[allow(clippy::type_complexity)]
pub fn check_all(
    files: &[PathBuf],
    jobs: usize,
    backend: crate::backend::BackendKind,
) -> Result<(Vec<(String, Result<Vec<Diagnostic>, String>)>, Duration), String> {
    thread_local! {
        static CHECKER: RefCell<Option<(morph_runtime::MorphContext, morph_runtime::MorphContext)>> =
            const { RefCell::new(None) };
    }
    on_pool(files, jobs, |_, source| {
        if backend != crate::backend::BackendKind::Morph {
            return crate::frontend::front_end(backend, &source, false).map(|r| r.diagnostics);
        }
        CHECKER.with(|c| {
            let mut c = c.borrow_mut();
            let (tokens, ast) = c.get_or_insert_with(|| {
                (
                    crate::frontend::token_context(),
                    crate::frontend::ast_context(),
                )
            });
            tokens.reset();
            ast.reset();
            crate::frontend::compile(&source, &*ast, &*tokens)
                .map(|c| c.diagnostics)
                .map_err(|e| e.to_string())
        })
    })
}

impl ProjectRun {
    /// The reports measured, in file order.
    ///
    /// ```
    /// let run = lexer_demo::mem::project::measure_all(&[], Default::default(), 1).unwrap();
    /// assert!(run.reports().is_empty());
    /// ```
    pub fn reports(&self) -> Vec<Report> {
        self.files
            .iter()
            .filter_map(|f| f.outcome.as_ref().ok().map(|(r, _)| r.clone()))
            .collect()
    }

    /// The per-file table sorted by peak, the totals, and the largest and
    /// slowest files.
    ///
    /// ```
    /// let run = lexer_demo::mem::project::measure_all(&[], Default::default(), 1).unwrap();
    /// assert!(run.render().contains("0 files"));
    /// ```
    pub fn render(&self) -> String {
        let mut rows: Vec<&Report> = self
            .files
            .iter()
            .filter_map(|f| f.outcome.as_ref().ok().map(|(r, _)| r))
            .collect();
        rows.sort_by(|a, b| b.peak_bytes.cmp(&a.peak_bytes).then(a.file.cmp(&b.file)));
        let mut o = String::new();
        if let Some(r) = rows.first() {
            let _ = writeln!(
                o,
                "compile footprint per file, backend {}, {} size classes, {} KiB slabs, {}",
                r.backend.name(),
                r.size_classes,
                r.slab_size / 1024,
                workers(self.jobs)
            );
        }
        let width = rows.iter().map(|r| r.file.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(
            o,
            "{:<width$} {:>8} {:>9} {:>9} {:>12} {:>10} {:>6}",
            "file", "lines", "tokens", "nodes", "peak bytes", "time", "errors"
        );
        for r in &rows {
            let nodes: u64 = r.nodes.values().map(|k| k.objects).sum();
            let _ = writeln!(
                o,
                "{:<width$} {:>8} {:>9} {:>9} {:>12} {:>10} {:>6}",
                r.file,
                u(r.lines),
                n(r.tokens),
                n(nodes),
                u(r.peak_bytes),
                ms(r.micros),
                r.diagnostics
            );
        }
        for f in &self.files {
            if let Err(e) = &f.outcome {
                let _ = writeln!(o, "{:<width$} not measured: {e}", f.file);
            }
        }
        let lines: usize = rows.iter().map(|r| r.lines).sum();
        let tokens: u64 = rows.iter().map(|r| r.tokens).sum();
        let busy: u64 = rows.iter().map(|r| r.micros).sum();
        let secs = self.wall.as_secs_f64().max(1e-9);
        let _ = writeln!(
            o,
            "{} files, {} lines, {} tokens; {} on {} ({:.0} files/s, {:.0} lines/s); {} compiling in all",
            rows.len(),
            u(lines),
            n(tokens),
            ms(u64::try_from(self.wall.as_micros()).unwrap_or(u64::MAX)),
            workers(self.jobs),
            rows.len() as f64 / secs,
            lines as f64 / secs,
            ms(busy)
        );
        let list = |v: &[&Report], f: &dyn Fn(&Report) -> String| {
            v.iter()
                .take(3)
                .map(|r| format!("{} ({})", r.file, f(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !rows.is_empty() {
            let _ = writeln!(
                o,
                "largest: {}",
                list(&rows, &|r| format!("{} bytes", u(r.peak_bytes)))
            );
            let mut slow = rows.clone();
            slow.sort_by(|a, b| b.micros.cmp(&a.micros).then(a.file.cmp(&b.file)));
            let _ = writeln!(o, "slowest: {}", list(&slow, &|r| ms(r.micros)));
        }
        o
    }
}
