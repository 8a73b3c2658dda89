//! Two checkouts sharing one CARGO_TARGET_DIR (as the scripts arrange, so a
//! clean clone reuses earlier builds) each act on their own tree. Cargo
//! reuses a binary built in one checkout for another whose sources are not
//! newer; anything that located the checkout through a path compiled in
//! (`env!("CARGO_MANIFEST_DIR")`) then worked on the first checkout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use hostbuild_tests::root;

/// Set by the outer test for the probe below, run in the second checkout.
const PROBE_OUT: &str = "HOSTBUILD_TESTS_ROOT_PROBE";

/// Not a test of its own: run by `a_second_checkout_acts_on_its_own_tree`
/// inside the other checkout, it records where the test helpers think the
/// repository is.
#[test]
fn root_probe() {
    if let Some(out) = std::env::var_os(PROBE_OUT) {
        std::fs::write(out, root().canonicalize().expect("root exists").display().to_string()).expect("probe written");
    }
}

#[test]
fn a_second_checkout_acts_on_its_own_tree() {
    let a = root().canonicalize().expect("this checkout");
    let target = target_dir();
    let b_dir = tempfile::tempdir().expect("temp dir");
    let b = b_dir.path().join("checkout");
    copy_checkout(&a, &b);
    // Older than everything built from A: cargo now reuses A's binaries
    // (xtask, the test helpers, the plugins) for B, which is the case
    // where a compiled-in path pointed at A.
    let status = Command::new("find").arg(&b).args(["-exec", "touch", "-h", "-d", "2001-01-01", "{}", "+"]).status();
    assert!(status.is_ok_and(|s| s.success()), "cannot age the copy");
    let before = modified(&a.join("plugins/armv7.wasm"));

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["xtask", "plugins"])
        .current_dir(&b)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo xtask plugins in B failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(b.join("plugins/armv7.wasm").is_file(), "B got no plugins:\n{stderr}");
    assert!(b.join("tests/guests/wasm/well-behaved.wasm").is_file(), "B got no test guests:\n{stderr}");
    assert_eq!(modified(&a.join("plugins/armv7.wasm")), before, "xtask run in B rewrote A's plugins:\n{stderr}");

    let probe = b_dir.path().join("probe");
    let out = Command::new(&cargo)
        .args(["test", "--locked", "-p", "hostbuild-tests", "--test", "clones", "--", "root_probe", "--exact"])
        .current_dir(&b)
        .env("CARGO_TARGET_DIR", &target)
        .env(PROBE_OUT, &probe)
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "the probe failed in B:\n{}", String::from_utf8_lossy(&out.stderr));
    let seen = std::fs::read_to_string(&probe).expect("the probe wrote its answer");
    assert_eq!(Path::new(&seen), b.canonicalize().expect("B exists"), "the test helpers run in B act on {seen}");
}

/// The CARGO_TARGET_DIR this test binary was built in
/// (`<target>/debug/deps/clones-<hash>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors().nth(3).expect("target dir above debug/deps").to_path_buf()
}

/// Copies the files git knows in `from` (tracked, and untracked but not
/// ignored: what a commit of this tree would hold) to `to`.
fn copy_checkout(from: &Path, to: &Path) {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(from)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files failed");
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = Path::new(std::str::from_utf8(name).expect("file names are UTF-8"));
        let src = from.join(rel);
        let dest = to.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&src) else {
            continue; // deleted in the work tree, not yet committed
        };
        std::fs::create_dir_all(dest.parent().expect("a file has a parent")).expect("dir created");
        if meta.file_type().is_symlink() {
            // A link git tracks (sdk/wit -> ../wit) stays a link.
            let target = std::fs::read_link(&src).expect("link read");
            std::os::unix::fs::symlink(target, &dest).expect("link copied");
        } else if meta.is_file() {
            std::fs::copy(&src, &dest).expect("file copied");
        }
    }
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).expect("file exists")
}
