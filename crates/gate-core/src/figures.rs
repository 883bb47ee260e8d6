//! How the gate writes its figures: times, changes, values in a unit,
//! detectable slowdowns, commit ids and subjects. One copy, for every
//! renderer and message.

/// Formats nanoseconds with a unit that keeps three significant digits.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".into();
    }
    let (v, unit) = if ns.abs() >= 1e9 {
        (ns / 1e9, "s")
    } else if ns.abs() >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns.abs() >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// A relative slowdown a row could detect (`min_detectable`): a percentage
/// below 100%, a factor above (`6.5%`, `42x`).
pub fn fmt_slowdown(m: f64) -> String {
    if m < 1.0 {
        format!("{:.1}%", m * 100.0)
    } else {
        format!("{:.0}x", 1.0 + m)
    }
}

/// A median in its row's unit: a time (`None`: ns per op), or the value
/// and the unit (`0 allocs/op`, `337.785 MB/s`).
pub fn fmt_median(unit: Option<&str>, v: f64) -> String {
    match unit {
        Some(unit) => format!("{} {unit}", fmt_count(v)),
        None => fmt_ns(v),
    }
}

/// A count or a value in a unit: whole numbers without decimals, others
/// with three.
pub fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.3}")
    }
}

/// Formats a ratio new/old as a signed percentage change (`+4.1%`).
pub fn fmt_change(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

/// A change with its interval: `+12.3% [+8.1%, +16.0%]`.
pub fn fmt_change_ci(ratio: f64, ci: [f64; 2]) -> String {
    format!("{} {}", fmt_change(ratio), fmt_ci(ci))
}

/// The interval of a change alone, for a column of its own: `[+8.1%, +16.0%]`.
pub fn fmt_ci([lo, hi]: [f64; 2]) -> String {
    format!("[{}, {}]", fmt_change(lo), fmt_change(hi))
}

/// The first 10 characters of a commit id.
pub fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// A commit subject cut to 90 characters for tables and lists (tooltips
/// keep it whole).
pub fn brief(subject: &str) -> String {
    match subject.char_indices().nth(90) {
        Some((at, _)) => format!("{}…", subject[..at].trim_end()),
        None => subject.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_changes() {
        assert_eq!(fmt_slowdown(0.065), "6.5%");
        assert_eq!(fmt_slowdown(41.0), "42x");
        assert_eq!(fmt_ns(98.123), "98.1 ns");
        assert_eq!(fmt_ns(2134.0), "2.13 µs");
        assert_eq!(fmt_ns(312_000.0), "312 µs");
        assert_eq!(fmt_change(1.041), "+4.1%");
        assert_eq!(fmt_change(0.5), "-50.0%");
        assert_eq!(
            fmt_change_ci(1.123, [1.081, 1.16]),
            "+12.3% [+8.1%, +16.0%]"
        );
    }
}
