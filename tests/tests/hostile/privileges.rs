//! Hole 4: steps cannot become root or gain privileges, whatever the
//! plugin's image holds (a setuid-root binary, a `chown` and an ENTRYPOINT
//! that act when run as root), cannot make devices or give files away, and
//! are bounded in processes and memory. The cache volume is prepared in
//! hostbuild's own image, never the plugin's.

use std::time::Duration;

use hostbuild_tests::{guest, Hostbuild, Run};

use super::common::run_guest;

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

const AS_USER: &[(&str, &str)] = &[("SUDO_UID", "4321"), ("SUDO_GID", "4322")];

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
    let (run, out) = attack(&hb, "mknod", &[], &[]);
    run.expect(0, &[]);
    assert!(notes(&run).iter().any(|n| n.starts_with("mknod=") && n != "mknod=0"), "{:?}", notes(&run));
    assert!(!out.path().join("build.hostile-root/disk").exists());
    let (run, out) = attack(&hb, "chown", &[], &[]);
    run.expect(0, &[]);
    assert!(notes(&run).iter().any(|n| n.starts_with("chown=") && n != "chown=0"), "{:?}", notes(&run));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(out.path().join("build.hostile-root/mine")).unwrap().uid(), 0);
}

#[test]
fn a_fork_bomb_stops_at_the_process_limit_and_the_step_timeout() {
    let hb = Hostbuild::new();
    let started = std::time::Instant::now();
    let (run, _out) = attack(&hb, "forkbomb", &["--pids-limit", "64", "--step-timeout", "20s"], &[]);
    run.expect(0, &["--step-timeout 20s"]);
    assert!(notes(&run).contains(&"exit=124".to_string()), "{:?}", notes(&run));
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}

#[test]
fn a_memory_hog_is_killed_at_the_memory_limit() {
    let hb = Hostbuild::new();
    let (run, _out) = attack(&hb, "oom", &["--memory", "64M"], &[]);
    run.expect(0, &["used more than its memory limit of 64M"]);
    let notes = notes(&run);
    assert!(!notes.contains(&"survived".to_string()) && notes.contains(&"exit=137".to_string()), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("used more than its memory limit of 64M")), "{notes:?}");
}

#[test]
fn every_container_is_created_confined() {
    // The shape of a step's container, as the engine records it.
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut child = hb
        .command()
        .args(["run", "--opt", "attack=sleep", "--memory", "256M", "--pids-limit", "99"])
        .arg(guest("hostile-root"))
        .args(["--source", out.path().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let label = format!("hostbuild.owner-pid={}", child.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let id = loop {
        if let Some(id) = hostbuild_tests::containers_with(&label).into_iter().next() {
            break id;
        }
        assert!(std::time::Instant::now() < deadline, "no step container appeared");
        std::thread::sleep(Duration::from_millis(200));
    };
    let format = "{{json .HostConfig.SecurityOpt}} {{json .HostConfig.CapDrop}} {{.HostConfig.PidsLimit}} \
                  {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.Config.User}}";
    let shape = hostbuild_tests::docker(&["inspect", "--format", format, &id]);
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert_eq!(shape.trim(), format!("[\"no-new-privileges\"] [\"ALL\"] 99 {} {} 0:0", 256 << 20, 256 << 20));
}

#[test]
fn the_cache_volume_is_prepared_in_hostbuilds_image_not_the_plugins() {
    let _volumes = super::common::HOSTILE_ROOT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let hb = Hostbuild::new();
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
    let (run, _out) = attack(&hb, "cache", &[], AS_USER);
    run.expect(0, &[]);
    let notes = notes(&run);
    // The plugin's chown and ENTRYPOINT plant a marker when run as root:
    // nothing ran the plugin's image as root.
    assert!(notes.contains(&"cache=".to_string()) || notes.iter().any(|n| n == "cache= "), "{notes:?}");
    assert!(!notes.iter().any(|n| n.contains("marker")), "{notes:?}");
    assert!(notes.contains(&"owner=4321".to_string()), "{notes:?}");
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
}
