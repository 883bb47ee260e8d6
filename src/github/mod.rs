//! Publish to GitHub (being written).

/// `gate comment --results FILE`.
pub fn cmd_comment(_args: &crate::cli::CommentArgs) -> anyhow::Result<i32> {
    anyhow::bail!("gate comment is being written")
}
