//! Where we are measuring (being written).

/// `gate env`.
pub fn cmd_env(_args: &crate::cli::EnvArgs) -> anyhow::Result<i32> {
    anyhow::bail!("gate env is being written")
}
