//! One SVG chart of one series: the values with their interval band, the
//! level between change points, each change point marked with its commit,
//! the machine's own line (the floor benches) and host changes. Tooltips
//! (`<title>`) name the commit of every point and change.

use std::fmt::Write;

use super::changes::Change;
use super::record::Record;
use super::series::{Kind, Series};
use crate::figures::{fmt_change_ci, fmt_ns, short};

const W: f64 = 760.0;
const H: f64 = 230.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// What a chart draws besides its series.
pub struct Extras<'a> {
    pub records: &'a [Record],
    /// The series' change points.
    pub changes: &'a [&'a Change],
    /// The machine's index per run (floor benches relative to their own
    /// median, geometric mean), drawn at the series' level; empty for none.
    pub machine: &'a [Option<f64>],
    /// Runs measured on another kind of machine than the run before.
    pub host_changes: &'a [usize],
}

/// Maps runs and values to the plot area.
struct Scale {
    runs: usize,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn x(&self, run: usize) -> f64 {
        let span = (self.runs.max(2) - 1) as f64;
        LEFT + (W - LEFT - RIGHT) * run as f64 / span
    }
    fn y(&self, v: f64) -> f64 {
        TOP + (H - TOP - BOTTOM) * (1.0 - (v - self.lo) / (self.hi - self.lo))
    }
}

/// The chart of `s` as an `<svg>` element.
pub fn chart(s: &Series, extra: &Extras<'_>) -> String {
    let scale = scale_for(s, extra);
    let mut out = String::with_capacity(64 * s.points.len() + 2048);
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        esc(&s.id)
    );
    axes(&mut out, s, &scale, extra.records);
    for &run in extra.host_changes {
        let x = scale.x(run);
        let _ = write!(
            out,
            r#"<line class="host" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"><title>host changed at {}</title></line>"#,
            H - BOTTOM,
            short(&extra.records[run].commit)
        );
    }
    band(&mut out, s, &scale);
    machine_line(&mut out, s, &scale, extra.machine);
    line(&mut out, s, &scale);
    levels(&mut out, s, &scale, extra.changes);
    points(&mut out, s, &scale, extra.records);
    for c in extra.changes {
        marker(&mut out, c, &scale, s.kind);
    }
    out.push_str("</svg>");
    out
}

/// The value range: every value and band, with a margin.
fn scale_for(s: &Series, extra: &Extras<'_>) -> Scale {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in &s.points {
        let [a, b] = p.band.unwrap_or([p.value, p.value]);
        lo = lo.min(a.min(p.value));
        hi = hi.max(b.max(p.value));
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < hi.abs() * 1e-6 + 1e-12 {
        (lo, hi) = (lo * 0.99 - 1e-9, hi * 1.01 + 1e-9);
    }
    let pad = (hi - lo) * 0.06;
    Scale {
        runs: extra.records.len(),
        lo: lo - pad,
        hi: hi + pad,
    }
}

/// Y ticks with values, and the first, middle and last run's commits.
fn axes(out: &mut String, s: &Series, scale: &Scale, records: &[Record]) {
    let _ = write!(
        out,
        r#"<rect class="frame" x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}"/>"#,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for k in 0..=3 {
        let v = scale.lo + (scale.hi - scale.lo) * (0.06 + 0.88 * k as f64 / 3.0);
        let y = scale.y(v);
        let label = match s.kind {
            Kind::Ratio => format!("{v:.3}"),
            _ => fmt_ns(v),
        };
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&label)
        );
    }
    let n = records.len();
    let mut runs = vec![0, n / 2, n.saturating_sub(1)];
    runs.dedup();
    for run in runs.into_iter().filter(|&r| r < n) {
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            scale.x(run),
            H - BOTTOM + 16.0,
            short(&records[run].commit)
        );
    }
}

/// The interval band, where the runs have one.
fn band(out: &mut String, s: &Series, scale: &Scale) {
    let with: Vec<(usize, [f64; 2])> = s
        .points
        .iter()
        .filter_map(|p| p.band.map(|b| (p.run, b)))
        .collect();
    if with.len() < 2 {
        return;
    }
    out.push_str(r#"<path class="band" d=""#);
    for (i, (run, b)) in with.iter().enumerate() {
        let _ = write!(
            out,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { "L" },
            scale.x(*run),
            scale.y(b[1])
        );
    }
    for (run, b) in with.iter().rev() {
        let _ = write!(out, "L{:.1},{:.1}", scale.x(*run), scale.y(b[0]));
    }
    out.push_str(r#"Z"><title>confidence interval of each run's median</title></path>"#);
}

/// The floor benches' index at the series' median level: when both move
/// together, the machine moved, not the code.
fn machine_line(out: &mut String, s: &Series, scale: &Scale, machine: &[Option<f64>]) {
    if s.kind == Kind::Floor || machine.iter().flatten().count() < 2 {
        return;
    }
    let level = crate::stats::median(&s.values()).unwrap_or(1.0);
    let pts: Vec<String> = machine
        .iter()
        .enumerate()
        .filter_map(|(run, m)| m.map(|m| format!("{:.1},{:.1}", scale.x(run), scale.y(level * m))))
        .collect();
    let _ = write!(
        out,
        r#"<polyline class="machine" points="{}"><title>the machine: floor benches relative to their median, at this bench's level</title></polyline>"#,
        pts.join(" ")
    );
}

fn line(out: &mut String, s: &Series, scale: &Scale) {
    let pts: Vec<String> = s
        .points
        .iter()
        .map(|p| format!("{:.1},{:.1}", scale.x(p.run), scale.y(p.value)))
        .collect();
    let _ = write!(
        out,
        r#"<polyline class="series" points="{}"/>"#,
        pts.join(" ")
    );
}

/// The median of each level between change points.
fn levels(out: &mut String, s: &Series, scale: &Scale, changes: &[&Change]) {
    if changes.is_empty() {
        return;
    }
    let mut cuts: Vec<usize> = vec![0];
    for c in changes {
        if let Some(i) = s.points.iter().position(|p| p.run == c.run) {
            cuts.push(i);
        }
    }
    cuts.push(s.points.len());
    for w in cuts.windows(2) {
        let part = &s.points[w[0]..w[1]];
        let values: Vec<f64> = part.iter().map(|p| p.value).collect();
        if let (Some(first), Some(last), Some(m)) =
            (part.first(), part.last(), crate::stats::median(&values))
        {
            let y = scale.y(m);
            let _ = write!(
                out,
                r#"<line class="level" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
                scale.x(first.run),
                scale.x(last.run)
            );
        }
    }
}

fn points(out: &mut String, s: &Series, scale: &Scale, records: &[Record]) {
    for p in &s.points {
        let r = &records[p.run];
        let value = match s.kind {
            Kind::Ratio => format!("{:.3}", p.value),
            _ => fmt_ns(p.value),
        };
        let _ = write!(
            out,
            r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="2.2"><title>{} {}: {}{}</title></circle>"#,
            scale.x(p.run),
            scale.y(p.value),
            short(&r.commit),
            esc(r.subject.as_deref().unwrap_or("")),
            esc(&value),
            if r.quick { " (quick)" } else { "" }
        );
    }
}

/// A change point: a vertical line at its first run, labelled with the
/// commit, the tooltip giving the range, the size and its significance.
fn marker(out: &mut String, c: &Change, scale: &Scale, kind: Kind) {
    let x = scale.x(c.run);
    let slower = if kind == Kind::Ratio {
        "Rust relative to Go"
    } else {
        "time"
    };
    let _ = write!(
        out,
        r#"<g class="change" data-commit="{}" data-series="{}"><line class="cp" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}"/><text class="cp-label" x="{:.1}" y="{:.1}">{}</text><title>change in {}..{} {}: {slower} {}, p = {:.3}</title></g>"#,
        c.after,
        esc(&c.series),
        H - BOTTOM,
        x + 3.0,
        TOP + 10.0,
        short(&c.after),
        short(&c.before),
        short(&c.after),
        esc(c.subject.as_deref().unwrap_or("")),
        fmt_change_ci(c.ratio, c.ratio_ci),
        c.p_value
    );
}

/// Escapes text for HTML and SVG content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
