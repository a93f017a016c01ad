//! The regression gate: a report saved as JSON (`mem --json FILE >
//! base.json`) against a fresh one (`mem --baseline base.json FILE`).
//!
//! Every number of the report is a metric, named by its path
//! (`phases.parse.heap_allocations`). Counts must not grow at all (they are
//! deterministic: the same source gives the same allocations); bytes (a
//! metric whose name says `bytes`, and the arena's figures) may grow by the
//! tolerance; times are left out, and so are the breakdowns whose parts
//! move against each other (uncarved slab space grows when a program
//! shrinks; the peak's total is gated, not its parts). A metric of the baseline that is gone (a phase that no longer
//! runs) fails the gate too; a new one does not.
//!
//! ```
//! use lexer_demo::mem::{gate, measure, Options};
//! let (r, _) = measure("print 1;", "a.lox", Options::default()).unwrap();
//! let base = serde_json::to_value(&r).unwrap();
//! let (r2, _) = measure("print 1; print 2;", "a.lox", Options::default()).unwrap();
//! let g = gate::compare(&base, &serde_json::to_value(&r2).unwrap(), 2.0).unwrap();
//! assert!(g.failed() > 0); // more tokens and nodes
//! assert!(gate::compare(&base, &base, 0.0).unwrap().failed() == 0);
//! ```

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// How a metric may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Exact: any growth fails.
    Count,
    /// Bytes: growth within the tolerance passes.
    Bytes,
}

/// One metric that changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta {
    /// Its path in the report, prefixed by the file and backend when the
    /// baseline holds several reports.
    pub path: String,
    /// In the baseline (`None`: new).
    pub base: Option<f64>,
    /// Now (`None`: gone).
    pub now: Option<f64>,
    /// Count or bytes.
    pub metric: Metric,
    /// Whether it fails the gate.
    pub fails: bool,
}

/// The changes between a baseline and now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gate {
    /// Metrics compared.
    pub compared: usize,
    /// The ones that changed, in path order.
    pub deltas: Vec<Delta>,
    /// The tolerance for bytes, in percent.
    pub tolerance: f64,
}

impl Gate {
    /// How many changes fail it.
    ///
    /// ```
    /// assert_eq!(lexer_demo::mem::gate::Gate::default().failed(), 0);
    /// ```
    pub fn failed(&self) -> usize {
        self.deltas.iter().filter(|d| d.fails).count()
    }

    /// Each change on a line, then a summary.
    ///
    /// ```
    /// let g = lexer_demo::mem::gate::Gate::default();
    /// assert_eq!(g.render(), "0 metrics compared, 0 changed; the gate passes\n");
    /// ```
    pub fn render(&self) -> String {
        let mut o = String::new();
        for d in &self.deltas {
            let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v}"));
            let change = match (d.base, d.now) {
                (Some(b), Some(n)) if b != 0.0 => {
                    format!("{:+} ({:+.2}%)", n - b, (n - b) / b * 100.0)
                }
                (Some(b), Some(n)) => format!("{:+}", n - b),
                (None, _) => "new".into(),
                (_, None) => "gone".into(),
            };
            let verdict = if d.fails {
                match d.metric {
                    Metric::Count => "  FAIL (counts are exact)",
                    Metric::Bytes => "  FAIL (beyond the tolerance)",
                }
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "{:<60} {:>14} -> {:>14}  {change}{verdict}",
                d.path,
                show(d.base),
                show(d.now)
            );
        }
        let failed = self.failed();
        let _ = writeln!(
            o,
            "{} metrics compared, {} changed; {}",
            self.compared,
            self.deltas.len(),
            if failed == 0 {
                "the gate passes".to_string()
            } else {
                format!(
                    "{failed} grew beyond what is allowed (counts: exact; bytes: {}%)",
                    self.tolerance
                )
            }
        );
        o
    }
}

/// Parses a tolerance: `2%`, `2` or `0.5%`, at least 0.
///
/// ```
/// use lexer_demo::mem::gate::parse_tolerance;
/// assert_eq!(parse_tolerance("2%"), Ok(2.0));
/// assert!(parse_tolerance("-1%").is_err());
/// assert!(parse_tolerance("lots").is_err());
/// ```
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage (like 2%)"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' is not a percentage of at least 0"))
    }
}

/// Whether a metric is left out: times, the timeline, and the breakdowns
/// whose parts move against each other (a smaller program leaves more of a
/// slab uncarved; the state at the peak is explained, its total is gated).
fn skipped(key: &str) -> bool {
    matches!(
        key,
        "micros" | "timeline" | "file" | "at_peak" | "uncarved_bytes" | "free_slot_bytes"
    )
}

fn metric_of(path: &str) -> Metric {
    let last = path.rsplit('.').next().unwrap_or(path);
    if last.contains("bytes") || last.starts_with("arena_") {
        Metric::Bytes
    } else {
        Metric::Count
    }
}

/// Every number (and string, for the configuration) of a report by path.
fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if !skipped(k) {
                    flatten(v, &join(k), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // Phases and classes are named by their name or slot size.
                let key = item
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| item.get("slot_size").map(|s| format!("class{s}")))
                    .unwrap_or_else(|| i.to_string());
                flatten(item, &join(&key), out);
            }
        }
        Value::Null => {}
        other => {
            out.insert(path.to_string(), other.clone());
        }
    }
}

/// The reports of a JSON value (one report, or an array of them) by
/// `file [backend]` (just the backend for a single report).
/// An error when `v` is not such a report.
fn reports<'v>(v: &'v Value, what: &str) -> Result<Vec<(String, &'v Value)>, String> {
    let key = |r: &'v Value| -> Result<(String, &'v Value), String> {
        let backend = r.get("backend").and_then(Value::as_str);
        let phases = r.get("phases").and_then(Value::as_array);
        match (backend, phases) {
            (Some(backend), Some(_)) => {
                let file = r.get("file").and_then(Value::as_str).unwrap_or("");
                Ok((format!("{file} [{backend}]"), r))
            }
            _ => Err(format!("{what} is not a report saved with --json")),
        }
    };
    match v {
        Value::Array(items) if items.is_empty() => Err(format!("{what} holds no report")),
        Value::Array(items) => items.iter().map(key).collect(),
        one => Ok(vec![(String::new(), key(one)?.1)]),
    }
}

/// Compares `now` against `base` (each one report, or both arrays of
/// reports matched by file, as named when measured, and backend); bytes
/// may grow by `tolerance` percent. An error when they cannot be compared:
/// not reports, an empty baseline, a report of the baseline without
/// counterpart, or a different configuration.
///
/// ```
/// use lexer_demo::mem::gate::compare;
/// let base = serde_json::json!({"backend": "morph", "peak_bytes": 1000, "phases": [{"name": "lex", "heap_allocations": 3}]});
/// let now = serde_json::json!({"backend": "morph", "peak_bytes": 1015, "phases": [{"name": "lex", "heap_allocations": 4}]});
/// let g = compare(&base, &now, 2.0).unwrap();
/// assert_eq!(g.deltas.len(), 2);
/// assert_eq!(g.failed(), 1); // the count grew; the bytes grew by 1.5%
/// assert!(compare(&serde_json::json!([]), &serde_json::json!([]), 2.0).is_err());
/// assert!(compare(&serde_json::json!({"backend": "morph"}), &now, 2.0).is_err());
/// ```
pub fn compare(base: &Value, now: &Value, tolerance: f64) -> Result<Gate, String> {
    let single = !base.is_array() && !now.is_array();
    if base.is_array() != now.is_array() {
        return Err(
            "not comparable: one of the baseline and this run is a single program's report, \
             the other a project's (or several files')"
                .into(),
        );
    }
    let now_reports = reports(now, "this run")?;
    let mut gate = Gate {
        tolerance,
        ..Gate::default()
    };
    for (key, b) in reports(base, "the baseline")? {
        let n = if single {
            now_reports.first().map(|r| r.1)
        } else {
            now_reports.iter().find(|r| r.0 == key).map(|r| r.1)
        }
        .ok_or_else(|| format!("the baseline's report {key} has no counterpart"))?;
        let (mut fb, mut fnow) = (BTreeMap::new(), BTreeMap::new());
        flatten(b, "", &mut fb);
        flatten(n, "", &mut fnow);
        for setting in ["backend", "size_classes", "slab_size"] {
            if fb.get(setting) != fnow.get(setting) {
                return Err(format!(
                    "not comparable: {setting} is {} in the baseline and {} now",
                    fb.get(setting).map_or("-".into(), Value::to_string),
                    fnow.get(setting).map_or("-".into(), Value::to_string)
                ));
            }
        }
        let prefix = if single {
            String::new()
        } else {
            format!("{key} ")
        };
        for (path, bv) in &fb {
            let Some(bn) = bv.as_f64() else { continue };
            let metric = metric_of(path);
            gate.compared += 1;
            let nn = fnow.get(path).and_then(Value::as_f64);
            let fails = match nn {
                None => true,
                Some(v) if v <= bn => false,
                Some(v) => match metric {
                    Metric::Count => true,
                    Metric::Bytes => v > bn * (1.0 + tolerance / 100.0),
                },
            };
            if nn != Some(bn) {
                gate.deltas.push(Delta {
                    path: format!("{prefix}{path}"),
                    base: Some(bn),
                    now: nn,
                    metric,
                    fails,
                });
            }
        }
        for (path, nv) in &fnow {
            if let (Some(v), None) = (nv.as_f64(), fb.get(path)) {
                gate.deltas.push(Delta {
                    path: format!("{prefix}{path}"),
                    base: None,
                    now: Some(v),
                    metric: metric_of(path),
                    fails: false,
                });
            }
        }
    }
    Ok(gate)
}

/// Reads a baseline saved with `mem --json`: its JSON, or why not.
///
/// ```
/// let err = lexer_demo::mem::gate::load("/no/such/base.json".as_ref()).unwrap_err();
/// assert!(err.starts_with("cannot read '/no/such/base.json'"));
/// ```
pub fn load(path: &std::path::Path) -> Result<Value, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read '{shown}': {e}"))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("'{shown}' is not a report saved with --json: {e}"))
}

/// Compares `reports`, measured now, against `base`: as one report, or
/// (`project`) as an array of them, the shapes `mem --json` saves.
///
/// ```
/// use lexer_demo::mem::{gate, measure, Options};
/// let (r, _) = measure("print 1;", "a.lox", Options::default()).unwrap();
/// let base = serde_json::to_value(&r).unwrap();
/// let g = gate::compare_reports(&base, &[r], false, 0.0).unwrap();
/// assert_eq!(g.failed(), 0);
/// ```
pub fn compare_reports(
    base: &Value,
    reports: &[super::Report],
    project: bool,
    tolerance: f64,
) -> Result<Gate, String> {
    let now = match reports {
        [one] if !project => serde_json::to_value(one),
        many => serde_json::to_value(many),
    }
    .map_err(|e| e.to_string())?;
    compare(base, &now, tolerance)
}
