//! Whether the benches lock secrets in RAM.

/// Where the mlock choice came from, recorded in the counters file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlockSetting {
    /// Whether secrets are locked.
    pub enabled: bool,
    /// Built with the `no-mlock` feature.
    pub feature_no_mlock: bool,
    /// `GATE_NO_MLOCK=1` was set.
    pub env_no_mlock: bool,
}

impl MlockSetting {
    /// Factory options matching the setting.
    pub fn options(&self) -> securememory::Options {
        securememory::Options::default().mlock(self.enabled)
    }

    /// The counters file's `features`: `no-mlock` when built with the
    /// feature, `env:GATE_NO_MLOCK` when the env var turned mlock off.
    pub fn features(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.feature_no_mlock {
            f.push("no-mlock".to_owned());
        }
        if self.env_no_mlock {
            f.push("env:GATE_NO_MLOCK".to_owned());
        }
        f
    }
}

/// The setting of this bench process: off when built with `no-mlock` or when
/// `GATE_NO_MLOCK` is `1` (or `true`).
pub fn mlock_setting() -> MlockSetting {
    let feature_no_mlock = cfg!(feature = "no-mlock");
    let env_no_mlock = std::env::var("GATE_NO_MLOCK")
        .map(|v| matches!(v.trim(), "1" | "true" | "yes"))
        .unwrap_or(false);
    MlockSetting {
        enabled: !feature_no_mlock && !env_no_mlock,
        feature_no_mlock,
        env_no_mlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench package's own `no-mlock` feature turns mlock off through the run-time option
    /// (the `securememory` library has no such feature).
    #[test]
    fn the_bench_feature_turns_mlock_off_at_run_time() {
        let setting = mlock_setting();
        assert_eq!(setting.feature_no_mlock, cfg!(feature = "no-mlock"));
        if cfg!(feature = "no-mlock") {
            assert!(!setting.enabled);
            assert!(!setting.options().mlock_enabled());
            assert!(setting.features().contains(&"no-mlock".to_owned()));
        } else if !setting.env_no_mlock {
            assert!(setting.options().mlock_enabled());
        }
    }
}
