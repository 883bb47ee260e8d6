//! The job summary: Markdown appended to `GITHUB_STEP_SUMMARY`.
//!
//! GitHub refuses a step summary over 1 MiB (and then shows none), so the
//! text is cut to fit what is left of that budget in the file, which
//! earlier commands of the same step may have started.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::comment::fit;

/// The most a step summary may hold, in bytes.
pub const MAX_SUMMARY_BYTES: usize = 1024 * 1024;

/// Appends `markdown` to the summary file at `path`, cut to fit.
pub fn append(path: &Path, markdown: &str) -> Result<()> {
    let used = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let room = MAX_SUMMARY_BYTES.saturating_sub(used);
    let text = fit(
        markdown,
        room,
        str::len,
        "_The report was cut to fit GitHub's 1 MiB job summary limit; the full report is the JSON file of `gate check --json` (output `report-path`)._",
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the job summary {}", path.display()))?;
    let sep = if used > 0 { "\n" } else { "" };
    write!(file, "{sep}{text}")
        .with_context(|| format!("cannot write the job summary {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_stays_under_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "earlier\n").unwrap();
        append(&path, "# ours\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "earlier\n\n# ours\n"
        );

        let huge = "| row |\n".repeat(300_000);
        append(&path, &huge).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len < MAX_SUMMARY_BYTES, "{len}");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("1 MiB job summary limit")
        );
    }
}
