//! Hole 12: the contents of an artifact store are untrusted. A set without
//! a manifest (the `mxnet-cd` layout, as MXNet CD's tool writes them) is
//! pulled by listing it, so its keys and listed sizes come from whoever
//! writes the store, or from a server that lies: keys that leave the
//! destination (`..`, absolute, very long), bodies larger than listed,
//! sizes larger than the disk, objects that are symlinks to host files.
//! Each pull is refused with a clear error (exit 10, or 8 for space), and
//! nothing is written outside the destination, or inside it.

use std::os::unix::fs::symlink;
use std::path::Path;

use hostbuild_tests::s3_proxy::ListingProxy;
use hostbuild_tests::{s3_env, s3s_fs, Hostbuild, Run};

use super::common::{files_containing, Marker};

const SET: &str = "c0ffee/dynamic/ubuntu20.04/cpu/";

/// What a lying store does to its listings.
type Lie = Box<dyn Fn(&str) -> String + Send + Sync>;

/// `hostbuild artifacts --layout mxnet-cd --store STORE pull ... --allow-unverified DEST`
/// in `work`, on the S3 server at `port` (or a directory store).
fn pull(hb: &Hostbuild, work: &Path, store: &str, port: Option<u16>, dest: &Path) -> Run {
    let mut cmd = hb.command();
    if let Some(port) = port {
        s3_env(&mut cmd, port);
    }
    cmd.current_dir(work)
        .env_remove("HOSTBUILD_STORE")
        .env_remove("HOSTBUILD_STORE_LAYOUT")
        .args(["artifacts", "--layout", "mxnet-cd", "--store", store, "pull", "--git-sha", "c0ffee"])
        .args(["--os", "ubuntu20.04", "--dynamic", "--allow-unverified"])
        .arg(dest);
    Run::from(cmd.output().expect("hostbuild runs"))
}

/// The listing with one more object, `key` of `size` bytes, before the others.
fn with_object(listing: &str, key: &str, size: u64) -> String {
    let planted = format!(
        "<Contents><Key>{key}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
         <ETag>\"0\"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
    );
    listing.replacen("<Contents>", &format!("{planted}<Contents>"), 1)
}

/// The listing with the size of `key` replaced by `size`.
fn with_size(listing: &str, key: &str, size: u64) -> String {
    let Some(at) = listing.find(&format!("<Key>{key}</Key>")) else { return listing.to_string() };
    let (head, tail) = listing.split_at(at);
    let start = tail.find("<Size>").expect("a size") + "<Size>".len();
    let end = tail.find("</Size>").expect("a size");
    format!("{head}{}{size}{}", &tail[..start], &tail[end..])
}

#[test]
fn keys_and_sizes_from_a_lying_store_are_refused_and_nothing_is_written() {
    let hb = Hostbuild::new();
    let marker = Marker::new("authorized_keys");
    let root = tempfile::tempdir().unwrap();
    let set = root.path().join("builds").join(SET);
    std::fs::create_dir_all(set.join("licenses")).unwrap();
    std::fs::write(set.join("libmxnet.so"), b"the real library").unwrap();
    std::fs::write(set.join("licenses/LICENSE"), b"Apache-2.0").unwrap();
    let server = s3s_fs(root.path());
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let dest = downloads.join("set");

    // The store as it is: pulled (the control).
    pull(&hb, work.path(), "s3://builds", Some(server.port), &dest).expect(0, &["NOTHING WAS VERIFIED"]);
    assert_eq!(std::fs::read(dest.join("libmxnet.so")).unwrap(), b"the real library");
    std::fs::remove_dir_all(&dest).unwrap();

    let up = "../".repeat(12);
    let target = marker.path.display().to_string();
    let attacks: Vec<(&str, Lie, i32, &str)> = vec![
        (
            "a key with `..` up to the marker",
            Box::new(move |l| with_object(l, &format!("{SET}{up}{}", target.trim_start_matches('/')), 33)),
            10,
            "has a `..` or `.` segment",
        ),
        (
            "an absolute-looking key",
            Box::new({
                let target = marker.path.display().to_string();
                move |l| with_object(l, &format!("{SET}/{target}"), 33)
            }),
            10,
            "is absolute",
        ),
        (
            "a name longer than 255 bytes",
            Box::new(|l| with_object(l, &format!("{SET}{}", "n".repeat(300)), 1)),
            10,
            "longer than 255",
        ),
        (
            "a path 40 directories deep",
            Box::new(|l| with_object(l, &format!("{SET}{}x", "d/".repeat(40)), 1)),
            10,
            "more than 32 directories deep",
        ),
        (
            "a body larger than listed",
            Box::new(|l| with_size(l, &format!("{SET}libmxnet.so"), 4)),
            10,
            "larger than its 4 bytes (as listed)",
        ),
        (
            "a listed size larger than the disk",
            Box::new(|l| with_size(l, &format!("{SET}libmxnet.so"), 1 << 60)),
            8,
            "bytes free in",
        ),
    ];
    for (attack, rewrite, code, message) in attacks {
        let proxy = ListingProxy::start(server.port, rewrite);
        let run = pull(&hb, work.path(), "s3://builds", Some(proxy.port), &dest);
        assert_eq!(run.code, code, "{attack}: exit code\n{}", run.stderr);
        assert!(run.stderr.contains(message), "{attack}: stderr lacks {message:?}:\n{}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{attack}: no hint:\n{}", run.stderr);
        assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0, "{attack}: files were left in the destination");
        marker.assert_untouched();
    }
}

#[test]
fn a_directory_store_never_reads_through_a_symlink() {
    let hb = Hostbuild::new();
    let marker = Marker::new("id_ed25519");
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("artifacts");
    let set = store.join(SET);
    std::fs::create_dir_all(set.join("licenses")).unwrap();
    std::fs::write(set.join("licenses/LICENSE"), b"Apache-2.0").unwrap();
    // A cloned project's artifacts/ may hold links to the user's secrets,
    // as objects and as directories.
    symlink(&marker.path, set.join("libmxnet.so")).unwrap();
    symlink(marker.dir(), set.join("dependencies")).unwrap();
    let dest = work.path().join("pulled");
    let run = pull(&hb, work.path(), store.to_str().unwrap(), None, &dest);
    run.expect(0, &["NOTHING WAS VERIFIED"]);
    assert!(files_containing(&dest, &marker.secret()).is_empty(), "a secret was pulled");
    assert!(!dest.join("libmxnet.so").exists() && !dest.join("dependencies").exists());

    // With a manifest that names the link (its sha256 that of the secret):
    // the object is refused, not read.
    let sha = hostbuild_tests::sha256sum(&marker.path);
    let size = std::fs::metadata(&marker.path).unwrap().len();
    let manifest = serde_json::json!({
        "format": 1, "commit": "c0ffee", "os": "ubuntu20.04", "variant": "cpu", "linkage": "dynamic",
        "platform": null, "plugin": null, "created": "2024-01-01T00:00:00Z",
        "files": [{ "path": "libmxnet.so", "role": "primary", "size": size, "sha256": sha }],
    });
    std::fs::write(set.join("manifest.json"), manifest.to_string()).unwrap();
    let dest = work.path().join("verified");
    let run = pull(&hb, work.path(), store.to_str().unwrap(), None, &dest);
    run.expect(10, &["object `c0ffee/dynamic/ubuntu20.04/cpu/libmxnet.so` is refused", "a symlink", "hint:"]);
    assert!(!dest.exists());
    assert!(files_containing(work.path(), &marker.secret()).is_empty(), "a secret was copied");
    marker.assert_untouched();
}
