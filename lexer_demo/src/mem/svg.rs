//! The timeline as an SVG line chart: live bytes against milliseconds, one
//! line per backend, the phases of the first shaded and named, each peak
//! marked.

use super::Report;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
const SHADES: [&str; 4] = ["#f4f4f4", "#e8eef6", "#f4f4f4", "#e8eef6"];

/// A round step for about `ticks` ticks up to `max`.
fn step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// `v` with at most two decimals, no trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Bytes with a unit that suits `scale` (the axis maximum).
fn bytes(v: f64, scale: f64) -> String {
    if scale >= 2.0 * 1024.0 * 1024.0 {
        format!("{} MiB", trim(v / (1024.0 * 1024.0)))
    } else if scale >= 2.0 * 1024.0 {
        format!("{} KiB", trim(v / 1024.0))
    } else {
        format!("{v:.0} B")
    }
}

/// Text for XML: the markup characters escaped, control characters (which
/// XML 1.0 cannot hold) replaced, and at most `max` characters, the start
/// elided (a long path keeps its file name).
fn escape(t: &str, max: usize) -> String {
    let chars: Vec<char> = t.chars().collect();
    let shown: String = if chars.len() > max {
        std::iter::once('…')
            .chain(chars[chars.len() - (max - 1)..].iter().copied())
            .collect()
    } else {
        t.to_string()
    };
    shown
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart of `reports`' timelines (those measured with one); `title`
/// names the program. Reports without a timeline are left out.
///
/// ```
/// use lexer_demo::mem::{measure, svg::timeline_chart, Options};
/// let options = Options { timeline: true, ..Options::default() };
/// let (r, _) = measure("print 1;", "a.lox", options).unwrap();
/// let svg = timeline_chart(&[r], "a.lox");
/// assert!(svg.starts_with("<svg"));
/// assert!(svg.contains("parse"));
/// assert!(svg.contains("milliseconds"));
/// ```
pub fn timeline_chart(reports: &[Report], title: &str) -> String {
    let series: Vec<&Report> = reports.iter().filter(|r| r.timeline.is_some()).collect();
    let timelines: Vec<_> = series.iter().filter_map(|r| r.timeline.as_ref()).collect();
    let max_t = timelines
        .iter()
        .flat_map(|t| t.phases.iter().map(|p| p.2))
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let max_b = series
        .iter()
        .map(|r| r.peak_bytes)
        .chain(timelines.iter().flat_map(|t| t.points.iter().map(|p| p.1)))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    // Byte ticks are round in the unit they are shown in (KiB or MiB).
    let unit = if max_b >= 2.0 * 1024.0 * 1024.0 {
        1024.0 * 1024.0
    } else if max_b >= 2.0 * 1024.0 {
        1024.0
    } else {
        1.0
    };
    let (t_step, b_step) = (step(max_t, 8.0), step(max_b / unit, 5.0) * unit);
    // Decimals enough to tell the ticks apart (steps are 1, 2 or 5 times a
    // power of ten).
    let t_decimals = (0..9usize)
        .find(|&d| t_step * 10f64.powi(i32::try_from(d).unwrap_or(0)) >= 0.999)
        .unwrap_or(9);
    let (t_top, b_top) = (
        (max_t / t_step).ceil() * t_step,
        (max_b / b_step).ceil() * b_step,
    );
    let x = |t: f64| LEFT + t / t_top * plot_w;
    let y = |b: f64| TOP + plot_h - b / b_top * plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="16">Live bytes while compiling {}</text>"#,
        escape(title, 90)
    );
    // Phases of the first series, shaded and named (when wide enough for
    // the name).
    if let Some(t) = timelines.first() {
        for (i, &(name, start, end)) in t.phases.iter().enumerate() {
            let (x0, x1) = (x(start), x(end));
            let _ = writeln!(
                s,
                r#"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="{}"/>"#,
                (x1 - x0).max(0.5),
                SHADES[i % SHADES.len()]
            );
            if x1 - x0 >= 7.0 * name.len() as f64 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#555">{name}</text>"##,
                    (x0 + x1) / 2.0,
                    TOP - 6.0
                );
            }
        }
    }
    // Axes, ticks and grid.
    let mut b = 0.0;
    while b <= b_top + b_step / 2.0 {
        let yy = y(b);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0,
            bytes(b, b_top)
        );
        b += b_step;
    }
    let mut t = 0.0;
    while t <= t_top + t_step / 2.0 {
        let xx = x(t);
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="black"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{t:.t_decimals$}</text>"#,
            TOP + plot_h,
            TOP + plot_h + 5.0,
            TOP + plot_h + 18.0,
        );
        t += t_step;
    }
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="black"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">milliseconds since the compile began</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">live bytes (heap and slabs)</text>"#,
        TOP + plot_h / 2.0
    );
    // One line per series, its peak marked, and a legend.
    for (i, (r, tl)) in series.iter().zip(&timelines).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        // Each point is the most bytes of the stretch since the one
        // before, reached by its time: drawn as a step up (or down) at
        // that time, so no peak is shaved off and none is drawn early.
        // Points after the last phase (the teardown) are left out.
        let end = tl.phases.last().map_or(f64::INFINITY, |p| p.2);
        let mut path = format!("M{:.1},{:.1}", x(0.0), y(0.0));
        for &(t, b) in tl.points.iter().filter(|p| p.0 <= end) {
            let _ = write!(path, " H{:.1} V{:.1}", x(t), y(b as f64));
        }
        let _ = writeln!(
            s,
            r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#
        );
        let end = tl.phases.last().map_or(f64::INFINITY, |p| p.2);
        let shown = tl.points.iter().filter(|p| p.0 <= end);
        if let Some(&(t, b)) = shown.max_by_key(|p| p.1) {
            let (px, py) = (x(t), y(b as f64));
            let anchor = if px > LEFT + plot_w * 0.8 {
                "end"
            } else {
                "start"
            };
            let dx = if anchor == "end" { -8.0 } else { 8.0 };
            let _ = write!(
                s,
                r#"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="{colour}"/>"#
            );
            // One line: the peak named by the dot; several: by the legend
            // (labels beside close dots would overlap).
            if series.len() == 1 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="{colour}">peak {}</text>"#,
                    px + dx,
                    py - 6.0,
                    bytes(b as f64, b_top)
                );
            }
            s.push('\n');
        }
        let lx = LEFT + 10.0 + i as f64 * 215.0;
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="36" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="42">{} (peak {})</text>"#,
            lx + 20.0,
            r.backend.name(),
            bytes(r.peak_bytes as f64, b_top)
        );
    }
    s.push_str("</svg>\n");
    s
}
