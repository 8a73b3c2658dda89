//! Hole 7: the compile cache runs what it holds, so it must be the user's
//! alone, and an entry is used only for the `.wasm` it was compiled from.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;

use hostbuild_tests::{guest, Hostbuild, Run};

fn inspect(hb: &Hostbuild, name: &str) -> serde_json::Value {
    let run = hb.run([OsStr::new("inspect"), guest(name).as_os_str(), OsStr::new("--json")]);
    run.expect(0, &[]);
    run.json()
}

#[test]
fn an_entry_copied_over_another_plugins_key_is_never_run_for_it() {
    let hb = Hostbuild::new();
    assert_eq!(inspect(&hb, "well-behaved")["compile_cache"], "compiled");
    assert_eq!(inspect(&hb, "greedy")["compile_cache"], "compiled");
    let dir = hb.cache.path().join("components");
    let entry_of = |name: &str| {
        let sha = hostbuild_tests::sha256sum(&guest(name));
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
            .unwrap()
    };
    // An attacker with write access swaps greedy's entry for well-behaved's
    // (a valid entry, with an intact checksum of its own payload).
    std::fs::copy(entry_of("well-behaved"), entry_of("greedy")).unwrap();
    let v = inspect(&hb, "greedy");
    assert_eq!(v["compile_cache"], "recompiled", "the swapped entry was used");
    assert_eq!(v["name"], "greedy");
}

#[test]
fn a_cache_others_can_write_or_own_is_refused() {
    let hb = Hostbuild::new();
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let cmd = |dir: &std::path::Path| {
        let mut cmd = hb.command();
        cmd.args([OsStr::new("inspect"), guest("well-behaved").as_os_str()]).env("HOSTBUILD_CACHE_DIR", dir);
        Run::from(cmd.output().unwrap())
    };
    cmd(shared.path()).expect(8, &["is not private to you", "others can write in it (mode 777)", "chmod 700"]);
    assert!(
        std::fs::read_dir(shared.path()).unwrap().flatten().all(|e| e.file_name() != "components")
            || std::fs::read_dir(shared.path().join("components")).unwrap().next().is_none(),
        "something was cached"
    );

    let theirs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(theirs.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(std::process::Command::new("chown").args(["4321:4322"]).arg(theirs.path()).status().unwrap().success());
    cmd(theirs.path()).expect(8, &["is not private to you", "belongs to uid 4321"]);
}

#[test]
fn without_a_home_there_is_no_shared_fallback() {
    let hb = Hostbuild::new();
    let fallback = std::env::temp_dir().join("hostbuild-cache");
    let existed = fallback.exists();
    let mut cmd = hb.command();
    cmd.args([OsStr::new("inspect"), guest("well-behaved").as_os_str()])
        .env_remove("HOSTBUILD_CACHE_DIR")
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME");
    Run::from(cmd.output().unwrap()).expect(8, &["no directory for the compile cache", "HOSTBUILD_CACHE_DIR"]);
    assert_eq!(fallback.exists(), existed, "{} was used", fallback.display());
}

#[test]
fn group_writable_or_shared_subdirectories_are_refused_and_new_ones_are_private() {
    use std::os::unix::fs::MetadataExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("new/cache");
    let inspect = |dir: &std::path::Path, tmp: &std::path::Path| {
        let mut cmd = Hostbuild::new().command();
        cmd.args([OsStr::new("inspect"), guest("well-behaved").as_os_str()])
            .env("HOSTBUILD_CACHE_DIR", dir)
            .env("TMPDIR", tmp);
        Run::from(cmd.output().unwrap())
    };
    let tmp = tempfile::tempdir().unwrap();
    inspect(&dir, tmp.path()).expect(0, &[]);
    for d in [dir.clone(), dir.join("components")] {
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700, "{} is not 0700", d.display());
    }
    // Writable by the group only is shared too.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
    inspect(&dir, tmp.path()).expect(8, &["is not private to you", "(mode 770)"]);
    // A private root with a shared components directory inside.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(dir.join("components"), std::fs::Permissions::from_mode(0o777)).unwrap();
    inspect(&dir, tmp.path()).expect(8, &["components is not private to you", "(mode 777)"]);
    // Readable by others is fine: they cannot replace an entry.
    std::fs::set_permissions(dir.join("components"), std::fs::Permissions::from_mode(0o755)).unwrap();
    inspect(&dir, tmp.path()).expect(0, &[]);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "something went to TMPDIR");
}
