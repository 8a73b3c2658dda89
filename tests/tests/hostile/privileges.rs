//! Hole 4: steps cannot become root or gain privileges, whatever the
//! plugin's image holds (a setuid-root binary, a `chown` and an ENTRYPOINT
//! that act when run as root), cannot make devices or give files away, and
//! are bounded in processes and memory; so is `hostbuild shell`. The cache
//! volume is prepared in hostbuild's own image, never the plugin's.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use hostbuild_tests::{docker, guest, Hostbuild, Run};

use super::common::{inspect_first_container, run_guest, run_guest_pid};

const LIMIT: Duration = Duration::from_secs(300);

fn attack(hb: &Hostbuild, attack: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Run, tempfile::TempDir) {
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let attack = format!("attack={attack}");
    let mut args = vec!["--json", "--opt", &attack];
    args.extend_from_slice(extra);
    (run_guest(hb, "hostile-root", src.path(), out.path(), &args, envs, LIMIT), out)
}

fn notes(run: &Run) -> Vec<String> {
    run.json()["platforms"][0]["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// The value of `key=` in a note like `peak=12 max=64`.
fn field(notes: &[String], key: &str) -> Option<u64> {
    notes.iter().flat_map(|n| n.split_whitespace()).find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

const AS_USER: &[(&str, &str)] = &[("SUDO_UID", "4321"), ("SUDO_GID", "4322")];

/// What the engine recorded of a container: the sandbox and the user.
const SHAPE: &str = "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}} {{json .HostConfig.CapAdd}} \
                     {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.Config.User}}";

#[test]
fn a_setuid_root_binary_in_the_image_gives_no_privilege() {
    let hb = Hostbuild::new();
    // Through sudo, steps run as the user: the setuid bit must not make them root.
    let (run, _out) = attack(&hb, "euid", &[], AS_USER);
    run.expect(0, &[]);
    let seen = notes(&run);
    assert!(seen.contains(&"euid=4321".to_string()), "{seen:?}");
    assert!(seen.iter().any(|n| n.starts_with("CapEff:") && n.ends_with("0000000000000000")), "{seen:?}");
    // As root (no sudo), steps run as root, with every capability dropped.
    let (run, _out) = attack(&hb, "euid", &[], &[]);
    run.expect(0, &[]);
    assert!(notes(&run).iter().any(|n| n.starts_with("CapEff:") && n.ends_with("0000000000000000")));
}

#[test]
fn steps_make_no_device_nodes_and_give_no_file_away() {
    let hb = Hostbuild::new();
    for envs in [&[][..], AS_USER] {
        let (run, out) = attack(&hb, "mknod", &[], envs);
        run.expect(0, &[]);
        assert!(notes(&run).iter().any(|n| n.starts_with("mknod=") && n != "mknod=0"), "{:?}", notes(&run));
        assert!(!out.path().join("build.hostile-root/disk").exists());
        let (run, out) = attack(&hb, "chown", &[], envs);
        run.expect(0, &[]);
        assert!(notes(&run).iter().any(|n| n.starts_with("chown=") && n != "chown=0"), "{:?}", notes(&run));
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(out.path().join("build.hostile-root/mine")).unwrap().uid();
        assert_eq!(owner, if envs.is_empty() { 0 } else { 4321 });
    }
}

#[test]
fn a_fork_bomb_stops_at_the_process_limit() {
    let hb = Hostbuild::new();
    let started = Instant::now();
    // The bomb forks while the step (forking nothing) watches its
    // container's process count and the forks the limit refused; at the
    // first refusal the step ends, and the bomb with it.
    let (run, _out) = attack(&hb, "forkbomb", &["--pids-limit", "64"], &[]);
    run.expect(0, &[]);
    let seen = notes(&run);
    let [peak, max, refused] =
        ["peak", "max", "refused"].map(|k| field(&seen, k).unwrap_or_else(|| panic!("{seen:?}")));
    eprintln!("fork bomb: {refused} fork(s) refused at --pids-limit {max} (peak seen {peak}), {:?}", started.elapsed());
    assert_eq!(max, 64, "{seen:?}");
    assert!(refused >= 1 && peak <= 64, "{seen:?}");
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}

#[test]
fn a_memory_hog_is_killed_at_the_memory_limit_and_fails_its_step() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--opt", "attack=oom", "--memory", "64M"];
    let run = run_guest(&hb, "hostile-root", src.path(), out.path(), &args, &[], LIMIT);
    run.expect(
        7,
        &[
            "step `attack` exited with status 137",
            "last lines of `attack`",
            "hostbuild: step `attack` was killed: it used more than its memory limit of 64M",
        ],
    );
    assert!(!run.stderr.contains("[hostile-root:attack] survived"), "{}", run.stderr);
}

#[test]
fn every_container_is_created_confined() {
    // The shape of a step's container, as the engine records it.
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = hb.command();
    cmd.args(["run", "--opt", "attack=sleep", "--memory", "256M", "--pids-limit", "99"])
        .arg(guest("hostile-root"))
        .args([OsStr::new("--source"), out.path().as_os_str(), OsStr::new("--out"), out.path().as_os_str()]);
    let (run, shape) = inspect_first_container(cmd, SHAPE, true);
    assert_eq!(run.code, 143, "{}", run.stderr);
    let memory = 256 << 20;
    assert_eq!(shape, format!("[\"no-new-privileges\"] [\"ALL\"] null 99 {memory} {memory} 0:0"));
}

#[test]
fn the_engine_table_applies_to_plugin_files_and_flags_win() {
    let hb = Hostbuild::new();
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("hostbuild.toml");
    std::fs::write(&project, "[engine]\nmemory = \"300M\"\npids-limit = 77\nstep-timeout = \"1h\"\n").unwrap();
    let shape = |extra: &[&str]| {
        let mut cmd = hb.command();
        cmd.current_dir(work.path()).args(["run", "--opt", "attack=sleep", "--out", "out"]).args(extra);
        cmd.arg(guest("hostile-root"));
        inspect_first_container(cmd, "{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}}", true).1
    };
    assert_eq!(shape(&[]), format!("77 {}", 300 << 20), "hostbuild.toml is read for a plugin file");
    assert_eq!(shape(&["--pids-limit", "88"]), format!("88 {}", 300 << 20), "the flag wins");
    let mut cmd = hb.command();
    cmd.current_dir(work.path()).args(["run", "--out", "out", "--memory", "5M"]).arg(guest("hostile-root"));
    Run::from(cmd.output().unwrap()).expect(2, &["limits too small", "at least 6M"]);
    std::fs::write(&project, "[engine]\nmemroy = \"1G\"\n").unwrap();
    let mut cmd = hb.command();
    cmd.current_dir(work.path()).args(["run", "--out", "out"]).arg(guest("hostile-root"));
    Run::from(cmd.output().unwrap()).expect(2, &["unknown field `memroy`"]);
}

#[test]
fn a_shell_is_confined_as_steps_are() {
    // A fresh cache volume: the shell prepares it for the sudo user.
    let _volumes = super::common::HOSTILE_ROOT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let hb = Hostbuild::new();
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
    let out = tempfile::tempdir().unwrap();
    let script = "rootid -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; \
                  cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                  echo devices=$NVIDIA_VISIBLE_DEVICES; touch /work/cache/x && stat -c cache=%u /work/cache; \
                  sleep 1";
    let mut cmd = hb.command();
    cmd.args(["shell", "--memory", "192M", "--pids-limit", "55"])
        .arg(guest("hostile-root"))
        .args([OsStr::new("--source"), out.path().as_os_str(), OsStr::new("--out"), out.path().as_os_str()])
        .args(["--", "sh", "-c", script])
        .envs(AS_USER.iter().copied());
    let (run, shape) = inspect_first_container(cmd, SHAPE, false);
    run.expect(0, &[]);
    let memory = 192 << 20;
    assert_eq!(shape, format!("[\"no-new-privileges\"] [\"ALL\"] null 55 {memory} {memory} 4321:4322"));
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    let expected = [
        "4321",
        "CapEff:\t0000000000000000",
        "NoNewPrivs:\t1",
        "55",
        &memory.to_string(),
        "devices=void",
        "cache=4321",
    ];
    assert_eq!(lines, expected, "{}", run.stderr);
    // `shell` has no step timeout to take.
    let mut cmd = hb.command();
    cmd.args(["shell", "--step-timeout", "1h"]).arg(guest("hostile-root"));
    Run::from(cmd.output().unwrap()).expect(2, &["--step-timeout"]);
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
}

#[test]
fn the_cache_volume_is_prepared_in_hostbuilds_image_not_the_plugins() {
    let _volumes = super::common::HOSTILE_ROOT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let hb = Hostbuild::new();
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--json", "--opt", "attack=cache"];
    let (run, pid) = run_guest_pid(&hb, "hostile-root", src.path(), out.path(), &args, AS_USER, LIMIT);
    run.expect(0, &[]);
    let notes = notes(&run);
    // The plugin's chown and ENTRYPOINT plant a marker when run as root:
    // nothing ran the plugin's image as root.
    assert!(notes.iter().any(|n| n.trim() == "cache="), "{notes:?}");
    assert!(!notes.iter().any(|n| n.contains("marker")), "{notes:?}");
    assert!(notes.contains(&"owner=4321".to_string()), "{notes:?}");
    // The engine's own record: the run created two containers, the
    // preparation from hostbuild's image and the step from the plugin's.
    let until = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 1;
    let created = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=create",
        "--filter",
        &format!("label=hostbuild.owner-pid={pid}"),
        "--format",
        "{{.From}}",
    ]);
    let images: Vec<&str> = created.lines().collect();
    assert_eq!(images.len(), 2, "{images:?}");
    assert_eq!(images[0], "hostbuild/bookworm:amd64", "{images:?}");
    assert!(images[1].starts_with("hostbuild/hostile-root-"), "{images:?}");
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
}
