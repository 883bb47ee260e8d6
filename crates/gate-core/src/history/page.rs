//! The static trend page: one self-contained HTML file (inline style, SVG
//! charts, no script and nothing fetched at view time) with one chart per
//! series, grouped as benches, Rust/Go ratios and the machine's floor.

use std::fmt::Write;

use super::changes::Change;
use super::record::Record;
use super::series::{Kind, Series};
use super::svg::{self, Extras, esc};
use crate::figures::{brief, fmt_change, fmt_ci, short};

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:820px}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}\
figure{margin:18px 0}figcaption{font-weight:600;font-family:monospace}\
.frame{fill:#fff;stroke:#bbb}.grid{stroke:#eee}.tick{font-size:11px;fill:#555;font-family:monospace}\
.band{fill:#4a7bd0;opacity:.18}.series{fill:none;stroke:#2a5bb0;stroke-width:1.4}\
.point{fill:#2a5bb0}.point:hover{r:5}.machine{fill:none;stroke:#999;stroke-dasharray:5 3}\
.level{stroke:#e08a00;stroke-width:2}.cp{stroke:#c0202a;stroke-width:1.6}\
.cp-label{font-size:11px;fill:#c0202a;font-family:monospace}.host{stroke:#7a3;stroke-dasharray:2 3}\
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}\
.legend span{margin-right:14px}.sw{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:4px}";

/// The page of a history: its series and their change points.
pub fn render(records: &[Record], series: &[Series], changes: &[Change]) -> String {
    let machine = machine_index(series, records.len());
    let hosts = host_changes(records);
    let mut out = String::with_capacity(series.len() * (records.len() * 120 + 4096));
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        out,
        "<title>gate: performance history</title><style>{STYLE}</style></head><body>"
    );
    summary(&mut out, records, series, changes);
    for (kind, title) in [
        (Kind::Bench, "Benches"),
        (Kind::Ratio, "Rust / Go"),
        (Kind::Floor, "The machine (floor benches)"),
    ] {
        let group: Vec<&Series> = series.iter().filter(|s| s.kind == kind).collect();
        if group.is_empty() {
            continue;
        }
        let _ = write!(out, "<h2>{title}</h2>");
        for s in group {
            let own: Vec<&Change> = changes.iter().filter(|c| c.series == s.id).collect();
            figure(&mut out, s, records, &own, &machine, &hosts);
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn summary(out: &mut String, records: &[Record], series: &[Series], changes: &[Change]) {
    out.push_str("<h1>Performance history</h1><p>");
    match (records.first(), records.last()) {
        (Some(first), Some(last)) => {
            let _ = write!(
                out,
                "{} runs from {} ({}) to {} ({}); {} series; {} change points (E-divisive, seeded permutation test).",
                records.len(),
                short(&first.commit),
                esc(&first.time),
                short(&last.commit),
                esc(&last.time),
                series.len(),
                changes.len()
            );
        }
        _ => out.push_str("No runs stored yet."),
    }
    let quick = records.iter().filter(|r| r.quick).count();
    if quick > 0 {
        let _ = write!(
            out,
            " {quick} run(s) were measured with quick settings (backfill): wider intervals."
        );
    }
    out.push_str("</p><p class=\"legend\"><span><i class=\"sw\" style=\"background:#2a5bb0\"></i>median per run</span>\
<span><i class=\"sw\" style=\"background:#a9c0ea\"></i>its interval</span>\
<span><i class=\"sw\" style=\"background:#e08a00\"></i>level between changes</span>\
<span><i class=\"sw\" style=\"background:#c0202a\"></i>change point</span>\
<span><i class=\"sw\" style=\"background:#999\"></i>the machine (floor)</span>\
<span><i class=\"sw\" style=\"background:#7a3\"></i>host changed</span></p>");
}

fn figure(
    out: &mut String,
    s: &Series,
    records: &[Record],
    changes: &[&Change],
    machine: &[Option<f64>],
    hosts: &[usize],
) {
    let kind = match s.kind {
        Kind::Bench => "bench",
        Kind::Ratio => "ratio",
        Kind::Floor => "floor",
    };
    let _ = write!(
        out,
        r#"<figure class="series-chart" data-series="{}" data-kind="{kind}" data-changes="{}"><figcaption>{} <small>({}, {} runs)</small></figcaption>"#,
        esc(&s.id),
        changes.len(),
        esc(&s.id),
        s.unit(),
        s.points.len()
    );
    let extras = Extras {
        records,
        changes,
        machine,
        host_changes: hosts,
    };
    out.push_str(&svg::chart(s, &extras));
    if !changes.is_empty() {
        out.push_str("<table><tr><th>step</th><th>commit</th><th>change</th><th>95% interval</th><th>p</th></tr>");
        for c in changes {
            let _ = write!(
                out,
                "<tr><td>{}..{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td></tr>",
                short(&c.before),
                short(&c.after),
                esc(&brief(c.subject.as_deref().unwrap_or(""))),
                fmt_change(c.ratio),
                fmt_ci(c.ratio_ci),
                c.p_value
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</figure>");
}

/// Per run, the geometric mean of the floor benches each relative to its
/// own median; `None` where no floor bench was measured.
pub fn machine_index(series: &[Series], runs: usize) -> Vec<Option<f64>> {
    let mut sum = vec![0.0; runs];
    let mut count = vec![0usize; runs];
    for s in series.iter().filter(|s| s.kind == Kind::Floor) {
        let Some(m) = crate::stats::median(&s.values()) else {
            continue;
        };
        for p in &s.points {
            sum[p.run] += (p.value / m).ln();
            count[p.run] += 1;
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(s, &n)| (n > 0).then(|| (s / n as f64).exp()))
        .collect()
}

/// Runs measured on another kind of machine than the run before them.
pub fn host_changes(records: &[Record]) -> Vec<usize> {
    (1..records.len())
        .filter(|&i| {
            records[i].environment.fingerprint() != records[i - 1].environment.fingerprint()
        })
        .collect()
}
