//! The one escaping rule for text that comes from a run or from a fork.
//!
//! Bench ids, Go benchmark names, environment keys and values, notes and
//! warnings are written by whoever produced the report, and in the
//! `workflow_run` pattern that is a fork's code. [`inert`] makes such text
//! safe wherever GitHub renders it as Markdown (the PR comment, the job
//! summary) and harmless in an annotation: it stays readable, but
//!
//! - no HTML: `<`, `>` and `&` become entities, so a tag or an HTML
//!   comment (the gate's own marker included) is shown, never parsed;
//! - no link: `[`, `]` are escaped (no `[x](url)`, image or reference),
//!   and a zero-width joiner breaks GitHub's bare-URL autolinks
//!   (`scheme://`, `www.`);
//! - no mention: a zero-width joiner after `@` stops `@user` and
//!   `@org/team` from notifying anyone, and after `#` stops `#123` from
//!   cross-referencing an issue;
//! - no structure: `|` cannot split a table cell, a line break becomes a
//!   space, a backslash cannot undo the escapes that follow it, `` ` ``
//!   cannot open a code span, `$` cannot start a math block, and a leading
//!   block marker (`#`, `-`, `1.`, ...) cannot start a heading or a list.
//!
//! Emphasis characters (`*`, `_`, `~`) are left alone: they hide nothing and
//! appear in real ids. The comment template applies [`inert`] itself to
//! every value it prints that is not marked as Markdown (see
//! `markdown.rs`), so a custom template cannot forget it.

/// Joins without showing; placed where it breaks a mention or an autolink.
const ZWJ: char = '\u{200d}';

/// Markdown the gate built itself (report text inside it already made
/// [`inert`]), marked safe so that a template prints it as it is.
pub fn markup(s: impl Into<String>) -> minijinja::value::Value {
    minijinja::value::Value::from_safe_string(s.into())
}

/// `s`, made inert for Markdown as the module documentation says.
pub fn inert(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    if starts_a_block(s) {
        out.push(ZWJ);
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        match c {
            '\\' | '|' | '[' | ']' | '`' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '@' if next.is_some_and(|n| n.is_alphanumeric()) => {
                out.push(c);
                out.push(ZWJ);
            }
            '#' if next.is_some_and(|n| n.is_ascii_digit()) => {
                out.push(c);
                out.push(ZWJ);
            }
            ':' if chars[i + 1..].starts_with(&['/', '/']) => {
                out.push(ZWJ);
                out.push(c);
            }
            '.' if i >= 3 && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w')) => {
                out.push(ZWJ);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text shown as inline code (bench ids): [`inert`] inside backticks, with
/// any backtick of `s` shown as `'` so that it cannot end the code span.
pub fn code(s: &str) -> String {
    format!("`{}`", inert(&s.replace('`', "'")))
}

/// A Markdown link with inert `text` to `url`, a location the gate was
/// given (the workflow run, the history page): only an `http(s)` URL
/// without spaces or control characters is linked, and the characters that
/// could end its destination or open HTML are percent-encoded. `None` for
/// any other URL.
pub fn link(text: &str, url: &str) -> Option<String> {
    let url = url.trim();
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    if !scheme || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let mut dest = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' => dest.push_str("%28"),
            ')' => dest.push_str("%29"),
            '<' => dest.push_str("%3C"),
            '>' => dest.push_str("%3E"),
            '"' => dest.push_str("%22"),
            '\\' => dest.push_str("%5C"),
            c => dest.push(c),
        }
    }
    Some(format!("[{}]({dest})", inert(text)))
}

/// Whether `s`, placed at the start of a line or of a list item, would open
/// a block: a heading, a list, a quote, a thematic break or a fence.
fn starts_a_block(s: &str) -> bool {
    let t = s.trim_start_matches([' ', '\t']);
    if t.starts_with(['#', '-', '+', '*', '=', '~', '_', '>', '`']) {
        return true;
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    (1..=9).contains(&digits)
        && t[digits..].starts_with(['.', ')'])
        && t[digits + 1..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_mentions_and_table_breakers_are_inert() {
        assert_eq!(
            inert("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            inert("[x](javascript:alert(1))"),
            "\\[x\\](javascript:alert(1))"
        );
        assert_eq!(inert("@org/team"), "@\u{200d}org/team");
        assert_eq!(inert("a|b\nc"), "a\\|b c");
        assert_eq!(
            inert("<!-- gate-comment: gate -->"),
            "&lt;!-- gate-comment: gate --&gt;"
        );
        assert_eq!(inert("\\|"), "\\\\\\|");
        assert_eq!(inert("fixes #12"), "fixes #\u{200d}12");
        assert_eq!(inert("https://x.example"), "https\u{200d}://x.example");
        assert_eq!(inert("see www.x.example"), "see www\u{200d}.x.example");
        assert_eq!(inert("&lt;"), "&amp;lt;");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for s in [
            "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz",
            "secret/with_bytes/parallel/t2",
            "rustc 1.89.0 (29483883e 2025-08-04)",
            "github.com/godaddy/asherah/go/securememory/memguard",
            "Quick mode: fewer, shorter samples; small changes may go unseen.",
            "6.8.0-1021-azure",
            "2",
        ] {
            assert_eq!(inert(s), s);
        }
    }

    #[test]
    fn a_leading_block_marker_cannot_open_a_block() {
        for s in ["# PASS", "- item", "1. one", "12) two", "> quote", "```"] {
            assert!(inert(s).starts_with(ZWJ), "{s}");
        }
        assert!(!inert("1.5 GHz").starts_with(ZWJ));
    }

    #[test]
    fn links_go_only_to_web_urls_and_cannot_be_ended_early() {
        assert_eq!(
            link("run", "https://github.com/o/r/actions/runs/1").unwrap(),
            "[run](https://github.com/o/r/actions/runs/1)"
        );
        assert_eq!(
            link("x", "https://h.example/a)b<c").unwrap(),
            "[x](https://h.example/a%29b%3Cc)"
        );
        assert!(link("x", "javascript:alert(1)").is_none());
        assert!(link("x", "https://h.example/a b").is_none());
    }

    #[test]
    fn code_spans_cannot_be_closed_or_split() {
        assert_eq!(code("a|`b`"), "`a\\|'b'`");
    }
}
