//! `gate env`: parsing of /proc/cpuinfo and DMI hints from sample text, and
//! the command end to end (JSON shape, floor figures read from a criterion
//! folder).

mod common;

use std::path::Path;

use common::{gate, run};
use gate_runner::env::{CpuInfo, format_bytes, memlock_advice, parse_cpuinfo, virtualization};

const X86_VM: &str = "processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm
bugs\t\t: sysret_ss_attrs

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm
";

const X86_METAL: &str = "processor\t: 0
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge hypervisorless_typo
";

const ARM: &str = "processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41

processor\t: 1
BogoMIPS\t: 108.00

Hardware\t: BCM2835
Revision\t: c03111
";

#[test]
fn x86_vm_has_model_and_hypervisor_flag() {
    let info = parse_cpuinfo(X86_VM);
    assert_eq!(info.model.as_deref(), Some("AMD EPYC 7B13"));
    assert_eq!(info.hypervisor_flag, Some(true));
    assert_eq!(virtualization(&info, None, None), Some(true));
}

#[test]
fn x86_without_the_flag_is_metal_unless_dmi_names_a_hypervisor() {
    let info = parse_cpuinfo(X86_METAL);
    assert_eq!(
        info.model.as_deref(),
        Some("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz")
    );
    assert_eq!(
        info.hypervisor_flag,
        Some(false),
        "a longer flag name is not `hypervisor`"
    );
    assert_eq!(
        virtualization(&info, Some("Dell Inc.\n"), Some("OptiPlex 7060\n")),
        Some(false)
    );
    assert_eq!(
        virtualization(
            &info,
            Some("QEMU\n"),
            Some("Standard PC (Q35 + ICH9, 2009)\n")
        ),
        Some(true)
    );
    assert_eq!(
        virtualization(
            &info,
            Some("Microsoft Corporation"),
            Some("Virtual Machine")
        ),
        Some(true)
    );
    assert_eq!(
        virtualization(&info, Some("VMware, Inc."), None),
        Some(true)
    );
}

#[test]
fn arm_without_flags_is_unknown_and_uses_hardware_as_model() {
    let info = parse_cpuinfo(ARM);
    assert_eq!(info.model.as_deref(), Some("BCM2835"));
    assert_eq!(info.hypervisor_flag, None);
    assert_eq!(
        virtualization(&info, None, None),
        None,
        "no flags: not declared bare metal"
    );
    assert_eq!(virtualization(&info, Some("KVM"), None), Some(true));
    assert_eq!(parse_cpuinfo(""), CpuInfo::default());
}

#[test]
fn small_memlock_gets_advice_large_or_unknown_does_not() {
    let linux = memlock_advice(Some(64 * 1024), "linux").expect("64 KiB is small");
    assert!(
        linux.contains("64 KiB") && linux.contains("ulimit -l") && linux.contains("--no-mlock"),
        "{linux}"
    );
    let mac = memlock_advice(Some(0), "macos").expect("0 is small");
    assert!(mac.contains("macOS") && mac.contains("--no-mlock"), "{mac}");
    assert_eq!(memlock_advice(Some(8 << 20), "linux"), None);
    assert_eq!(memlock_advice(Some(u64::MAX), "linux"), None);
    assert_eq!(memlock_advice(None, "linux"), None);
    assert_eq!(format_bytes(u64::MAX), "unlimited");
    assert_eq!(format_bytes(8 << 20), "8 MiB");
    assert_eq!(format_bytes(1000), "1000 bytes");
}

#[test]
fn detect_fills_what_every_machine_has() {
    let e = gate_runner::env::detect();
    assert_eq!(e.os.as_deref(), Some(std::env::consts::OS));
    assert_eq!(e.arch.as_deref(), Some(std::env::consts::ARCH));
    assert!(e.cores.is_some_and(|c| c >= 1));
    assert!(e.rlimit_memlock.is_some());
    assert!(
        e.rustc.as_deref().is_some_and(|r| r.starts_with("rustc ")),
        "{:?}",
        e.rustc
    );
    if cfg!(target_os = "linux") {
        assert!(e.kernel.is_some());
    }
}

fn write_sample(home: &Path, id: &str, iters: &[f64], times: &[f64]) {
    let dir = home.join(id).join("new");
    std::fs::create_dir_all(&dir).unwrap();
    let json = serde_json::json!({"sampling_mode": "Linear", "iters": iters, "times": times});
    std::fs::write(dir.join("sample.json"), json.to_string()).unwrap();
    // Criterion's own record of the id, as criterion 0.8 writes it.
    let parts: Vec<&str> = id.split('/').collect();
    let meta = serde_json::json!({
        "group_id": parts[0], "function_id": parts[1], "value_str": parts[2],
        "throughput": null, "full_id": id, "directory_name": id, "title": id,
    });
    std::fs::write(dir.join("benchmark.json"), meta.to_string()).unwrap();
}

#[test]
fn gate_env_json_reports_the_floor_found_in_the_criterion_folder() {
    let cwd = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let home = target.path().join("criterion");
    // Medians: 2100 ns per pair, 200 ns per syscall.
    write_sample(
        &home,
        "floor/mprotect_pair/sequential",
        &[1.0, 2.0, 3.0],
        &[2000.0, 4200.0, 6600.0],
    );
    write_sample(
        &home,
        "floor/syscall/sequential",
        &[10.0, 20.0],
        &[1900.0, 4200.0],
    );
    let ran = run(gate()
        .args(["env", "--json"])
        .current_dir(cwd.path())
        .env("CARGO_TARGET_DIR", target.path()));
    ran.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(v["floor"]["mprotect_pair_ns"], 2100.0);
    assert_eq!(v["floor"]["syscall_ns"], 200.0);
    assert_eq!(v["environment"]["os"], std::env::consts::OS);
    assert!(
        v["fingerprint"]
            .as_str()
            .unwrap()
            .contains(std::env::consts::ARCH)
    );

    let ran = run(gate()
        .arg("env")
        .current_dir(cwd.path())
        .env("CARGO_TARGET_DIR", target.path()));
    ran.expect_code(0);
    let text = &ran.stdout;
    assert!(text.contains("floor mprotect pair  2100 ns"), "{text}");
    assert!(text.contains("floor syscall        200 ns"), "{text}");
}
