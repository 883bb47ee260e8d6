//! Workflow commands (`::error`, `::notice`, `::warning`) printed on stdout.
//!
//! The runner turns them into annotations on the run and the pull request.
//! Values are escaped as the runner expects (`%`, CR, LF; and `:` `,` in
//! properties), so a bench id cannot inject a command of its own; and the
//! report's text in them (ids, Go names) goes through the same
//! [`inert`] rule as the comment, so an annotation shown with Markdown
//! cannot carry HTML, links or mentions either.

use gate_core::report::inert::inert;
use gate_core::verdict::{Report, Row, RowKind, RowVerdict};

/// GitHub shows at most ten error annotations per step; we pick the worst.
pub const MAX_ERRORS: usize = 10;

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One workflow command line.
pub fn command(kind: &str, title: &str, message: &str) -> String {
    format!(
        "::{kind} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// How far past its limit a regressed row is: the lower bound of the ratio
/// over 1 (Rust baseline) or over the allowed Rust/Go ratio. Higher is worse.
fn severity(row: &Row) -> f64 {
    let lo = row
        .ratio_ci
        .map(|c| c[0])
        .or(row.ratio)
        .filter(|x| x.is_finite())
        .unwrap_or(1.0);
    let limit = match row.kind {
        RowKind::RustVsGo => row.max_ratio.unwrap_or(1.0),
        _ => 1.0,
    };
    lo / limit
}

/// `::error` lines for the worst regressions, worst first, at most [`MAX_ERRORS`].
pub fn regression_errors(report: &Report) -> Vec<String> {
    let mut rows: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.verdict == RowVerdict::Regressed)
        .collect();
    rows.sort_by(|a, b| severity(b).total_cmp(&severity(a)));
    rows.into_iter()
        .take(MAX_ERRORS)
        .map(|r| {
            let id = inert(&r.id);
            let against = match r.kind {
                RowKind::RustVsRust if r.is_paired() => {
                    "the base, measured in lockstep on this runner".to_string()
                }
                RowKind::RustVsRust => "the Rust baseline".to_string(),
                RowKind::RustVsGo => match &r.go {
                    Some(g) => format!("Go ({})", inert(g)),
                    None => "Go".to_string(),
                },
                RowKind::Compare => "the old results".to_string(),
            };
            let figure = match (r.ratio, r.ratio_ci) {
                (Some(x), Some([lo, hi])) => format!("ratio {x:.3} (CI {lo:.3} to {hi:.3})"),
                (Some(x), None) => format!("ratio {x:.3}"),
                _ => "ratio unknown".into(),
            };
            let limit = match (r.kind, r.max_ratio) {
                (RowKind::RustVsGo, Some(m)) => format!(", allowed {m}"),
                _ => String::new(),
            };
            command(
                "error",
                &format!("Performance regression: {id}"),
                &format!("{id} regressed against {against}: {figure}{limit}"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_commands_on_one_line() {
        let c = command("notice", "a: b, c", "50%\nnext::error::x");
        assert_eq!(c, "::notice title=a%3A b%2C c::50%25%0Anext::error::x");
        assert_eq!(c.lines().count(), 1);
    }
}
