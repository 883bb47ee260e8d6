//! The header every file the gate writes carries: `schema` (the format
//! version) and `kind` (what the file holds). Readers look at the header
//! before anything else, so that a file from a newer gate is refused with
//! "upgrade" rather than with a confusing field error.

use anyhow::{Result, bail};
use serde::Deserialize;

use crate::model::SCHEMA_VERSION;

/// `schema` and `kind`, whatever else the file holds.
#[derive(Debug, Deserialize)]
pub(crate) struct Header {
    pub schema: Option<u32>,
    pub kind: Option<String>,
}

/// Checks a header: the schema must be present and not newer than ours,
/// the kind one of `kinds`. Returns the kind.
pub(crate) fn check(file: &str, header: &Header, kinds: &[&str]) -> Result<String> {
    let Some(schema) = header.schema else {
        bail!("{file}: no `schema` field; is this a file written by gate?");
    };
    if schema > SCHEMA_VERSION {
        bail!(
            "{file}: written with schema {schema}, but this gate reads schema {SCHEMA_VERSION} \
             at most; upgrade gate to read it"
        );
    }
    if schema == 0 {
        bail!("{file}: `schema: 0` is not a schema version");
    }
    match header.kind.as_deref() {
        Some(kind) if kinds.contains(&kind) => Ok(kind.to_string()),
        Some(kind) => bail!(
            "{file}: `kind` is `{kind}`, expected {}",
            kinds
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        None => bail!("{file}: no `kind` field"),
    }
}
