//! Step outputs, written to `GITHUB_OUTPUT`.
//!
//! Every value is written with the multi-line form `name<<DELIM` ...
//! `DELIM`, with a random delimiter checked not to occur in the value: a
//! fixed delimiter would let a value (a bench id, a URL) end the block
//! early and set outputs of its own.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rand::Rng;

/// Appends `name=value` pairs to the output file at `path`.
pub fn write(path: &Path, outputs: &[(&str, String)]) -> Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        if name.is_empty() || name.contains(['\n', '\r', '<', '=']) {
            bail!("invalid step output name `{name}`");
        }
        let delim = delimiter(value);
        text.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open GITHUB_OUTPUT {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write GITHUB_OUTPUT {}", path.display()))
}

/// A random delimiter that does not occur in `value`.
fn delimiter(value: &str) -> String {
    let mut rng = rand::rng();
    loop {
        let d = format!("ghadelimiter_{:032x}", rng.random::<u128>());
        if !value.contains(&d) {
            return d;
        }
    }
}

/// Reads an output file back (the runner's parser, for tests and checks):
/// `name=value` lines and `name<<DELIM` blocks.
pub fn parse(text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                match lines.next() {
                    Some(l) if l == delim => break,
                    Some(l) => value.push(l),
                    None => bail!("output `{name}`: delimiter `{delim}` never closes"),
                }
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        } else {
            bail!("malformed output line `{line}`");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_random_delimiters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let tricky = "two\nlines\nghadelimiter_x\nverdict=pass".to_string();
        write(
            &path,
            &[("verdict", "regression".into()), ("tricky", tricky.clone())],
        )
        .unwrap();
        write(&path, &[("verdict", "again".into())]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed[0], ("earlier".into(), "1".into()));
        assert_eq!(parsed[1], ("verdict".into(), "regression".into()));
        assert_eq!(parsed[2], ("tricky".into(), tricky));
        assert_eq!(parsed[3], ("verdict".into(), "again".into()));
        // Two writes use two different delimiters.
        let delims: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("<<").map(|x| x.1))
            .collect();
        assert_eq!(delims.len(), 3);
        assert_ne!(delims[0], delims[2]);
    }
}
