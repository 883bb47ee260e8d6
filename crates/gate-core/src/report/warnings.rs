//! Row warnings grouped by kind for the comment: one line per kind with
//! how many benches it concerns and which, instead of one line per
//! warning. The kinds that change how a row should be read are shown; the
//! others are context, folded.

use std::collections::BTreeMap;

use super::inert::{code, inert};
use crate::verdict::{Row, WarningKind};

/// The warnings of one kind (of one text, for warnings without a kind).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub kind: WarningKind,
    /// The one sentence the warnings share, or the kind's summary when
    /// their texts differ (figures per bench stay in the JSON report).
    pub text: String,
    /// The benches concerned (display ids), in report order, once each.
    pub benches: Vec<String>,
    /// How many warnings the group holds (a bench may have several).
    pub count: usize,
}

impl Group {
    /// Whether the group changes how its rows should be read.
    pub fn shown(&self) -> bool {
        self.kind.changes_reading()
    }

    /// One Markdown line: `text: 3 benches (`a`, `b`, `c`)`, or
    /// `text: all 27 benches` when it concerns every bench of the report.
    pub fn line(&self, total: usize) -> String {
        let n = self.benches.len();
        let which = if n == total && n > 1 {
            format!("all {n} benches")
        } else {
            let ids: Vec<String> = self.benches.iter().map(|b| code(b)).collect();
            let noun = if n == 1 { "bench" } else { "benches" };
            format!("{n} {noun} ({})", ids.join(", "))
        };
        format!("{}: {which}", inert(&self.text))
    }
}

/// The lines of `groups` ([`Group::line`]); a group concerning the same
/// benches as the line before it says so instead of listing them again.
pub fn lines(groups: &[&Group], total: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let n = g.benches.len();
        let same = i > 0 && groups[i - 1].benches == g.benches && n > 1 && n < total;
        out.push(if same {
            format!("{}: the same {n} benches", inert(&g.text))
        } else {
            g.line(total)
        });
    }
    out
}

/// The groups of every row's warnings, in the order of [`WarningKind`]
/// (warnings without a kind by text, in report order).
pub fn groups(rows: &[Row]) -> Vec<Group> {
    // (kind, text slot) -> (the distinct texts, the benches, the warnings).
    type Texts<'a> = (Vec<&'a str>, Vec<String>, usize);
    let mut by_key: BTreeMap<(WarningKind, usize), Texts<'_>> = BTreeMap::new();
    let mut other_texts: Vec<&str> = Vec::new();
    for row in rows {
        let id = row.display_id();
        for (kind, text) in row.kinded_warnings() {
            // Warnings without a kind can only be grouped by their text.
            let slot = if kind == WarningKind::Other {
                match other_texts.iter().position(|t| *t == text) {
                    Some(i) => i,
                    None => {
                        other_texts.push(text);
                        other_texts.len() - 1
                    }
                }
            } else {
                0
            };
            let (texts, benches, count) = by_key.entry((kind, slot)).or_default();
            *count += 1;
            if !texts.contains(&text) {
                texts.push(text);
            }
            if !benches.contains(&id) {
                benches.push(id.clone());
            }
        }
    }
    by_key
        .into_iter()
        .map(|((kind, _), (texts, benches, count))| Group {
            kind,
            text: match texts.as_slice() {
                [one] => one.to_string(),
                _ => kind.summary().to_string(),
            },
            benches,
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Report;

    fn row(id: &str, warnings: &[(WarningKind, &str)]) -> Row {
        let mut row: Row = serde_json::from_value(serde_json::json!({
            "id": id, "kind": "rust-vs-rust", "mode": "sequential", "threads": 1,
            "old": null, "new": null, "ratio": null, "ratio_ci": null, "p_value": null,
            "verdict": "unchanged", "warnings": ["said before kinds"]
        }))
        .unwrap();
        for (kind, text) in warnings {
            row.warn(*kind, *text);
        }
        row
    }

    /// One group per kind (its one text, or its summary when the texts
    /// differ); warnings without a kind by text; a bench once per group.
    #[test]
    fn warnings_are_grouped_by_kind() {
        let rows = [
            row(
                "a",
                &[
                    (WarningKind::IntervalWidened, "widened 1%"),
                    (WarningKind::Paired, "paired: 4"),
                ],
            ),
            row(
                "b",
                &[
                    (WarningKind::IntervalWidened, "widened 2%"),
                    (WarningKind::Paired, "paired: 4"),
                ],
            ),
            row(
                "c",
                &[
                    (WarningKind::FloorScaled, "scaled"),
                    (WarningKind::FloorScaled, "scaled"),
                ],
            ),
        ];
        let report = Report {
            rows: rows.to_vec(),
            ..Report::error(&Default::default(), String::new())
        };
        let groups = groups(&rows);
        let summary: Vec<(WarningKind, &str, usize)> = groups
            .iter()
            .map(|g| (g.kind, g.text.as_str(), g.benches.len()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (WarningKind::FloorScaled, "scaled", 1),
                (
                    WarningKind::IntervalWidened,
                    WarningKind::IntervalWidened.summary(),
                    2
                ),
                (WarningKind::Paired, "paired: 4", 2),
                (WarningKind::Other, "said before kinds", 3),
            ]
        );
        let folded: Vec<&Group> = groups.iter().filter(|g| !g.shown()).collect();
        assert_eq!(
            lines(&folded, report.bench_count()),
            vec![
                "interval widened by the spread between whole baseline runs: 2 benches (`a`, `b`)",
                "paired: 4: the same 2 benches",
            ]
        );
        assert_eq!(groups[3].line(3), "said before kinds: all 3 benches");
    }
}
