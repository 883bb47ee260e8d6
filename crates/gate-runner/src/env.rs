//! Where we are measuring: CPU, cores, kernel, virtualisation,
//! `RLIMIT_MEMLOCK`, toolchains, and the floor figures measured here.
//!
//! Ratios across machines are only meaningful when both sides are known
//! (DESIGN.md, "Machine differences"), so every result set carries an
//! [`Environment`] and `gate env` shows the same facts to a person. Every
//! probe is best effort: a fact that cannot be read is `None` ("unknown"),
//! never a guess, and never an error that stops a run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use gate_core::model::Environment;

/// Below this `RLIMIT_MEMLOCK` the subject's mlock-ed secrets run out of
/// lockable memory after a handful of pages, so `gate env` advises.
pub const SMALL_MEMLOCK: u64 = 1 << 20;

/// Bench id of the raw `mprotect(READ)` + `mprotect(NONE)` pair.
pub const FLOOR_MPROTECT_PAIR: &str = "floor/mprotect_pair/sequential";
/// Bench id of a plain syscall.
pub const FLOOR_SYSCALL: &str = "floor/syscall/sequential";

/// Detects the environment of this machine, with the toolchains found from
/// the current folder.
pub fn detect() -> Environment {
    detect_in(Path::new("."))
}

/// Detects the environment of this machine; `rustc` and `go` are run in
/// `dir` so that a `rust-toolchain.toml` of the measured workspace picks
/// the same compiler that builds its benches.
///
/// `features` and `flags` stay empty: they describe a build, which the
/// caller knows (see `run::RunSummary::features`).
pub fn detect_in(dir: &Path) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default();
    let dmi = |f: &str| std::fs::read_to_string(format!("/sys/class/dmi/id/{f}")).ok();
    let (vendor, product) = (dmi("sys_vendor"), dmi("product_name"));
    let mut virtualized = virtualization(&cpuinfo, vendor.as_deref(), product.as_deref());
    let mut cpu_model = cpuinfo.model;
    if cfg!(target_os = "macos") {
        // No /proc on macOS; sysctl answers both questions cheaply.
        cpu_model =
            cpu_model.or_else(|| command_line(dir, "sysctl", &["-n", "machdep.cpu.brand_string"]));
        virtualized = virtualized.or_else(|| {
            command_line(dir, "sysctl", &["-n", "kern.hv_vm_active"]).map(|v| v.trim() == "1")
        });
    }
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism()
            .ok()
            .and_then(|n| u32::try_from(n.get()).ok()),
        os: Some(std::env::consts::OS.to_string()),
        arch: Some(std::env::consts::ARCH.to_string()),
        kernel: kernel_release(),
        virtualized,
        rlimit_memlock: memlock_limit(),
        rustc: command_line(dir, &rustc_command(), &["--version"]),
        go: command_line(dir, "go", &["version"]),
        ..Environment::default()
    }
}

/// What `/proc/cpuinfo` says about the CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    /// The first processor's model (`model name`; on ARM kernels, which
    /// have none, `Hardware` or `Processor`).
    pub model: Option<String>,
    /// `Some(true)` when the `flags` line has `hypervisor`, `Some(false)`
    /// when there is a `flags` line without it, `None` when there is no
    /// `flags` line (ARM lists `Features`, which never says).
    pub hypervisor_flag: Option<bool>,
}

/// Parses the text of `/proc/cpuinfo`. Only the first processor block is
/// read: all processors of one machine report the same model and flags.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut fallback_model = None;
    for line in text.lines() {
        if line.trim().is_empty() && (info.model.is_some() || info.hypervisor_flag.is_some()) {
            break; // end of the first processor block
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "model name" if info.model.is_none() && !value.is_empty() => {
                info.model = Some(value.to_string());
            }
            "Hardware" | "Processor" if fallback_model.is_none() && !value.is_empty() => {
                fallback_model = Some(value.to_string());
            }
            "flags" if info.hypervisor_flag.is_none() => {
                info.hypervisor_flag = Some(value.split_whitespace().any(|f| f == "hypervisor"));
            }
            _ => {}
        }
    }
    // `Hardware` usually sits after the processor blocks on ARM.
    if info.model.is_none() {
        info.model = fallback_model.or_else(|| {
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, v)| matches!(k.trim(), "Hardware" | "Processor") && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
        });
    }
    info
}

/// Substrings of `/sys/class/dmi/id/sys_vendor` or `product_name` that
/// name a hypervisor. Matched case-insensitively.
const VM_HINTS: &[&str] = &[
    "kvm",
    "qemu",
    "vmware",
    "virtualbox",
    "innotek",
    "xen",
    "bochs",
    "parallels",
    "bhyve",
    "openstack",
    "google compute engine",
    "virtual machine", // Hyper-V: product "Virtual Machine"
];

/// Decides whether we run under a hypervisor: yes when the CPU flags say
/// `hypervisor` or the DMI vendor/product name one; no when x86 flags are
/// present without `hypervisor` and DMI names none; otherwise unknown. A
/// machine whose flags we cannot see is not declared bare metal.
pub fn virtualization(
    cpu: &CpuInfo,
    dmi_vendor: Option<&str>,
    dmi_product: Option<&str>,
) -> Option<bool> {
    let dmi_says_vm = [dmi_vendor, dmi_product].into_iter().flatten().any(|s| {
        let s = s.trim().to_ascii_lowercase();
        VM_HINTS.iter().any(|h| s.contains(h))
    });
    if cpu.hypervisor_flag == Some(true) || dmi_says_vm {
        Some(true)
    } else {
        cpu.hypervisor_flag
    }
}

/// `uname -r`, through libc so that no `uname` binary is needed.
fn kernel_release() -> Option<String> {
    // SAFETY: utsname is plain old data; uname fills it or fails.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    // SAFETY: uname NUL-terminates every field it fills.
    let release = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) };
    Some(release.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

/// The soft `RLIMIT_MEMLOCK` in bytes: what the benches may lock before
/// `mlock` fails; unlimited is `u64::MAX`.
fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
        return None;
    }
    // `rlim_t` is 32 bits wide on 32-bit Linux, hence the cast.
    #[allow(clippy::unnecessary_cast)]
    Some(if lim.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        lim.rlim_cur as u64
    })
}

/// The compiler cargo would use: `$RUSTC`, else `rustc`.
fn rustc_command() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string())
}

/// First line of a command's stdout, or `None` when the command is missing
/// or fails (a missing `go` just means no Go toolchain here).
fn command_line(dir: &Path, program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// What to tell a user whose `RLIMIT_MEMLOCK` is too small for the
/// mlock-ed secrets, or `None` when it is large enough or unknown.
pub fn memlock_advice(limit: Option<u64>, os: &str) -> Option<String> {
    let limit = limit?;
    if limit >= SMALL_MEMLOCK {
        return None;
    }
    let raise = if os == "macos" {
        "macOS does not let a process raise it".to_string()
    } else {
        "raise it with `ulimit -l unlimited` (needs privileges), a `memlock` line in \
         /etc/security/limits.conf, `LimitMEMLOCK=infinity` for a systemd service, or \
         `docker run --ulimit memlock=-1:-1`"
            .to_string()
    };
    Some(format!(
        "RLIMIT_MEMLOCK is {} (< 1 MiB): secrets may fail to mlock. Either {raise}, or run \
         with `--no-mlock` (builds the benches with feature `no-mlock`; the report records it)",
        format_bytes(limit)
    ))
}

/// Human form of a byte count, `unlimited` for `u64::MAX`.
pub fn format_bytes(n: u64) -> String {
    if n == u64::MAX {
        return "unlimited".to_string();
    }
    const KIB: u64 = 1024;
    match n {
        n if n >= KIB * KIB * KIB && n.is_multiple_of(KIB * KIB * KIB) => {
            format!("{} GiB", n / (KIB * KIB * KIB))
        }
        n if n >= KIB * KIB && n.is_multiple_of(KIB * KIB) => format!("{} MiB", n / (KIB * KIB)),
        n if n >= KIB && n.is_multiple_of(KIB) => format!("{} KiB", n / KIB),
        n => format!("{n} bytes"),
    }
}

/// The floor figures found in a criterion folder: medians of per-sample
/// ns/op of the floor benches, when they have run there.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Floor {
    /// The folder searched.
    pub criterion_home: PathBuf,
    /// Median ns of one `mprotect(READ)` + `mprotect(NONE)` pair.
    pub mprotect_pair_ns: Option<f64>,
    /// Median ns of one plain syscall.
    pub syscall_ns: Option<f64>,
}

/// Reads the floor figures from `criterion_home` through the criterion
/// reader. A missing result is `None`; an unreadable one is an error that
/// names the file.
pub fn read_floor(criterion_home: &Path) -> anyhow::Result<Floor> {
    let mut floor = Floor {
        criterion_home: criterion_home.to_path_buf(),
        ..Floor::default()
    };
    // Criterion keeps a group's results in a folder named after the group.
    if !criterion_home.join("floor").is_dir() {
        return Ok(floor);
    }
    let only_floor = regex::Regex::new("^floor/").expect("a valid expression");
    let parsed = gate_core::formats::read_criterion(criterion_home, Some(&only_floor))?;
    let median_of = |id: &str| {
        parsed
            .set
            .find(gate_core::model::Lang::Rust, id, 1)
            .and_then(|b| gate_core::stats::median(&b.samples))
    };
    floor.mprotect_pair_ns = median_of(FLOOR_MPROTECT_PAIR);
    floor.syscall_ns = median_of(FLOOR_SYSCALL);
    Ok(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_benchmark_json(new: &Path, id: &str) {
        let parts: Vec<&str> = id.split('/').collect();
        std::fs::write(
            new.join("benchmark.json"),
            format!(
                r#"{{"group_id":"{}","function_id":"{}","value_str":"{}","throughput":null,"full_id":"{id}","directory_name":"{id}","title":"{id}"}}"#,
                parts[0], parts[1], parts[2]
            ),
        )
        .unwrap();
    }

    #[test]
    fn floor_is_read_from_sample_json() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join(FLOOR_MPROTECT_PAIR).join("new");
        std::fs::create_dir_all(&new).unwrap();
        write_benchmark_json(&new, FLOOR_MPROTECT_PAIR);
        std::fs::write(
            new.join("sample.json"),
            r#"{"sampling_mode":"Linear","iters":[10.0,20.0,30.0],"times":[21000.0,42000.0,66000.0]}"#,
        )
        .unwrap();
        let floor = read_floor(dir.path()).unwrap();
        assert_eq!(floor.mprotect_pair_ns, Some(2100.0));
        assert_eq!(floor.syscall_ns, None);
    }

    #[test]
    fn broken_sample_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join(FLOOR_SYSCALL).join("new");
        std::fs::create_dir_all(&new).unwrap();
        write_benchmark_json(&new, FLOOR_SYSCALL);
        std::fs::write(new.join("sample.json"), r#"{"iters":[1.0],"times":[]}"#).unwrap();
        let err = format!("{:#}", read_floor(dir.path()).unwrap_err());
        assert!(err.contains("sample.json"), "{err}");
    }
}
