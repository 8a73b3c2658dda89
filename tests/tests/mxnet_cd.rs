//! The `mxnet-cd` layout against the tool MXNet's CD pipelines ran
//! (`cd/utils/artifact_repository.py` in apache/mxnet), played by
//! `tests/mxnet_cd/artifact_repository_client.py` (boto3, from the venv
//! `scripts/prereqs.sh --test` makes), on a real S3 server on loopback: the
//! tool pulls what hostbuild pushed, and hostbuild pulls what the tool
//! pushed, only with `--allow-unverified`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hostbuild_tests::s3_proxy::ListingProxy;
use hostbuild_tests::{plugin, root, s3_env, s3s_fs, write_file, Daemon, Hostbuild, Run};

/// An s3s-fs with bucket `builds` (the tool's `--bucket`; hostbuild's
/// `--store s3://builds`), a work directory and the tool's Python.
struct Cd {
    daemon: Daemon,
    root: tempfile::TempDir,
    hb: Hostbuild,
    work: tempfile::TempDir,
}

fn python() -> PathBuf {
    let python =
        PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/hostbuild-dev/tools/boto3/bin/python");
    assert!(python.exists(), "{} is missing: run `bash scripts/prereqs.sh --test`", python.display());
    python
}

impl Cd {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("builds")).unwrap();
        let daemon = s3s_fs(root.path());
        Self { daemon, root, hb: Hostbuild::new(), work: tempfile::tempdir().unwrap() }
    }

    /// `hostbuild ARGS` in the work directory, on the server at `port`.
    fn hostbuild(&self, port: u16, args: &[&str]) -> Run {
        let mut cmd = self.hb.command();
        s3_env(&mut cmd, port);
        cmd.current_dir(self.work.path())
            .env_remove("HOSTBUILD_SHA")
            .env_remove("MXNET_SHA")
            .env_remove("GIT_COMMIT")
            .env_remove("HOSTBUILD_STORE")
            .env_remove("HOSTBUILD_STORE_LAYOUT")
            .args(args);
        Run::from(cmd.output().unwrap())
    }

    /// `hostbuild artifacts --store s3://builds --layout mxnet-cd ARGS`.
    fn artifacts(&self, port: u16, args: &[&str]) -> Run {
        let mut all = vec!["artifacts", "--store", "s3://builds", "--layout", "mxnet-cd"];
        all.extend(args);
        self.hostbuild(port, &all)
    }

    /// MXNet CD's tool with ARGS.
    fn tool(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(python());
        s3_env(&mut cmd, self.daemon.port);
        cmd.arg(root().join("tests/mxnet_cd/artifact_repository_client.py"))
            .args(args)
            .env("ARTIFACT_REPOSITORY_BUCKET", "builds")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .current_dir(self.work.path());
        Run::from(cmd.output().unwrap())
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        write_file(self.work.path(), name, contents)
    }

    fn path(&self, name: &str) -> String {
        self.work.path().join(name).display().to_string()
    }

    /// Every object s3s-fs holds under `prefix` of the bucket.
    fn objects(&self, prefix: &str) -> Vec<String> {
        let base = self.root.path().join("builds").join(prefix);
        let mut found = files(&base).into_keys().collect::<Vec<_>>();
        found.sort();
        found
    }
}

/// Every file under `dir` with its bytes, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().display().to_string();
                found.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    found
}

fn library() -> Vec<u8> {
    // 12 MiB: more than a part, so hostbuild uploads it in parts and
    // downloads it with ranged GETs.
    (0..12u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

#[test]
fn mxnet_cds_tool_pulls_what_hostbuild_pushed() {
    let cd = Cd::start();
    let port = cd.daemon.port;
    let lib = cd.file("in/libmxnet.so", &library());
    let lic = cd.file("in/LICENSE", b"Apache-2.0");
    let dep = cd.file("in/libopenblas.so.0", b"openblas");
    let set = ["--git-sha", "c1", "--os", "ubuntu20.04", "--variant", "cu121"];
    let push = |extra: &[&str]| {
        let mut args = vec!["push"];
        args.extend(set);
        args.extend(["--dynamic", &lib]);
        args.extend(extra);
        cd.artifacts(port, &args)
    };
    // The tool refuses sets without licenses; so does the mxnet-cd layout.
    push(&[]).expect(2, &["needs license files", "--licenses"]);
    push(&["--licenses", &lic, "--dependencies", &dep]).expect(0, &[]);
    assert_eq!(
        cd.objects("c1"),
        [
            "dynamic/ubuntu20.04/cu121/.publishing",
            "dynamic/ubuntu20.04/cu121/dependencies/libopenblas.so.0",
            "dynamic/ubuntu20.04/cu121/libmxnet.so",
            "dynamic/ubuntu20.04/cu121/libmxnet.so.meta",
            "dynamic/ubuntu20.04/cu121/licenses/LICENSE",
            "dynamic/ubuntu20.04/cu121/manifest.json",
        ]
    );
    let ls = cd.artifacts(port, &["ls", "--git-sha", "c1", "--json"]);
    assert_eq!(ls.json()["sets"], serde_json::json!(["c1/dynamic/ubuntu20.04/cu121"]));
    assert_eq!(ls.json()["layout"], "mxnet-cd");

    let by_tool = cd.path("by-tool");
    let pulled = cd.tool(&[
        "--pull",
        "--git-sha",
        "c1",
        "--os",
        "ubuntu20.04",
        "--variant",
        "cu121",
        "--libtype",
        "dynamic",
        "--destination",
        &by_tool,
    ]);
    pulled.expect(0, &[]);
    let got = files(Path::new(&by_tool));
    assert!(got["libmxnet.so"] == library(), "the tool got another libmxnet.so");
    assert_eq!(got["licenses/LICENSE"], b"Apache-2.0");
    assert_eq!(got["dependencies/libopenblas.so.0"], b"openblas");
    let meta = String::from_utf8(got["libmxnet.meta"].clone()).unwrap();
    assert_eq!(meta, "commit_id: c1\ndependency_linking: dynamic\nos: ubuntu20.04\nvariant: cu121\n");
    // hostbuild's own files are plain files to the tool.
    assert!(got.contains_key("manifest.json") && got.contains_key("libmxnet.so.meta"));

    // hostbuild's pull of the same set: verified, the same files (but the
    // claim and the manifest, which describe the set) and the same
    // libmxnet.meta.
    let by_hostbuild = cd.path("by-hostbuild");
    let mut args = vec!["pull"];
    args.extend(set);
    args.extend(["--dynamic", &by_hostbuild]);
    cd.artifacts(port, &args).expect(0, &[]);
    let mut theirs = got;
    theirs.remove(".publishing");
    theirs.remove("manifest.json");
    same_files(&files(Path::new(&by_hostbuild)), &theirs);
}

/// Asserts two pulled directories hold the same files with the same bytes.
fn same_files(mine: &BTreeMap<String, Vec<u8>>, theirs: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(mine.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
    for (path, bytes) in mine {
        assert!(*bytes == theirs[path], "`{path}` differs between hostbuild's pull and the tool's");
    }
}

/// Keys as S3 lists what the tool pushed: it joins its prefix (which ends
/// in `/`) and each name with one more `/`. s3s-fs keeps objects as files,
/// so its listings lose the double slash; the proxy puts it back.
fn as_the_tool_wrote_them(listing: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut rest = listing;
    while let Some(start) = rest.find("<Key>") {
        let (before, after) = rest.split_at(start + 5);
        out.push_str(before);
        let end = after.find("</Key>").unwrap();
        let key = &after[..end];
        let fixed = match key.strip_prefix(prefix) {
            Some(name) => match name.split_once('/') {
                Some((sub @ ("licenses" | "dependencies"), file)) => format!("{prefix}{sub}//{file}"),
                _ => format!("{prefix}/{name}"),
            },
            None => key.to_string(),
        };
        out.push_str(&fixed);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn hostbuild_pulls_what_mxnet_cds_tool_pushed_only_when_allowed() {
    let cd = Cd::start();
    let lib = cd.file("in/libmxnet.so", &library());
    let lic = cd.file("in/LICENSE", b"Apache-2.0");
    let dep = cd.file("in/libgfortran.so.5", b"gfortran");
    let set = ["--git-sha", "c2", "--os", "ubuntu20.04", "--variant", "cpu"];
    let mut args =
        vec!["--push", "--libtype", "static", "--libmxnet", &lib, "--licenses", &lic, "--dependencies", &dep];
    args.extend(set);
    cd.tool(&args).expect(0, &[]);

    let rewritten = Arc::new(AtomicUsize::new(0));
    let seen = rewritten.clone();
    let proxy = ListingProxy::start(cd.daemon.port, move |listing| {
        let fixed = as_the_tool_wrote_them(listing, "c2/static/ubuntu20.04/cpu/");
        if fixed != listing {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        fixed
    });
    let ls = cd.artifacts(proxy.port, &["ls", "--git-sha", "c2", "--json"]);
    assert_eq!(ls.json()["unverified"], serde_json::json!(["c2/static/ubuntu20.04/cpu"]));
    assert_eq!(ls.json()["sets"], serde_json::json!([]));
    assert!(cd.artifacts(proxy.port, &["ls", "--git-sha", "c2"]).stdout.contains("unverified"));

    let downloads = cd.work.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let dest = downloads.join("set").display().to_string();
    let mut pull = vec!["pull"];
    pull.extend(set);
    pull.extend(["--static", &dest]);
    cd.artifacts(proxy.port, &pull).expect(10, &["has no manifest.json", "pass --allow-unverified"]);
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0, "a refused pull left files");

    pull.push("--allow-unverified");
    let run = cd.artifacts(proxy.port, &pull);
    run.expect(0, &["NOTHING WAS VERIFIED", "no manifest.json"]);
    assert!(run.stdout.contains("UNVERIFIED"), "{}", run.stdout);
    assert!(rewritten.load(Ordering::SeqCst) > 0, "the listings never carried the tool's keys");

    // The same directory as the tool's own pull, libmxnet.meta included.
    let by_tool = cd.path("by-tool");
    let mut args = vec!["--pull", "--libtype", "static", "--destination", &by_tool];
    args.extend(set);
    cd.tool(&args).expect(0, &[]);
    let (mine, theirs) = (files(Path::new(&dest)), files(Path::new(&by_tool)));
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        ["dependencies/libgfortran.so.5", "libmxnet.meta", "libmxnet.so", "licenses/LICENSE"]
    );
    same_files(&mine, &theirs);
}

#[test]
fn run_publish_takes_the_layout_from_the_projects_store_table() {
    let cd = Cd::start();
    std::fs::write(cd.work.path().join("hostbuild.toml"), "[store]\nurl = \"s3://builds\"\nlayout = \"mxnet-cd\"\n")
        .unwrap();
    let out = cd.path("out");
    let source = root().join("examples/cmake-hello").display().to_string();
    let armv7 = plugin("armv7").display().to_string();
    let args = [
        "run",
        &armv7,
        "--source",
        &source,
        "--out",
        &out,
        "--publish",
        "--git-sha",
        "e2e",
        "--opt",
        "skip-tests=true",
        "--json",
    ];
    let run = cd.hostbuild(cd.daemon.port, &args);
    run.expect(0, &[]);
    assert_eq!(
        run.json()["platforms"][0]["published"],
        serde_json::json!(["e2e/static/debian12/cpu/", "e2e/dynamic/debian12/cpu/"])
    );
    let by_tool = cd.path("by-tool");
    let pulled =
        cd.tool(&["--pull", "--git-sha", "e2e", "--os", "debian12", "--libtype", "dynamic", "--destination", &by_tool]);
    pulled.expect(0, &[]);
    let got = files(Path::new(&by_tool));
    assert!(got.contains_key("libhello.so.1.0.0") && got.contains_key("licenses/LICENSE"), "{:?}", got.keys());
}
