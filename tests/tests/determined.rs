//! Determined environment images: built for linux/amd64 and linux/arm64
//! (under QEMU), tagged by commit and version, pushed with `--publish` to a
//! real registry on loopback (Debian's docker-registry) with an OCI index
//! naming both, then pulled by digest and run on each architecture.

use std::process::Command;

use hostbuild_tests::{docker, docker_registry, inspect_images, registry_get, root, run_plugin, Hostbuild};
use sha2::{Digest, Sha256};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[test]
fn builds_both_platforms_pushes_them_and_an_index_then_each_runs() {
    let storage = tempfile::tempdir().unwrap();
    let registry = docker_registry(storage.path());
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let registry_path = format!("127.0.0.1:{}/determinedai", registry.port);
    let run = run_plugin(
        &hb,
        "determined",
        &root().join("examples/cmake-hello"),
        out.path(),
        &[
            "--json",
            "--publish",
            "--allow-push",
            &format!("{registry_path}/"),
            "--store",
            out.path().join("artifacts").to_str().unwrap(),
            "--git-sha",
            "0123456789abcdef",
            "--opt",
            &format!("registry={registry_path}"),
            "--opt",
            "platforms=linux/amd64,linux/arm64",
            "--opt",
            "version=0.1.0",
        ],
    );
    run.expect(0, &["python 3.11", "on aarch64", "pushed index"]);
    // Each push reports its layers as progress, ending at all of them.
    let pushes: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "progress" && e["task"].as_str().is_some_and(|t| t.starts_with("push 127.0.0.1:")))
        .collect();
    let last = pushes.last().unwrap_or_else(|| panic!("no push progress in {}", run.stderr));
    assert!(last["total"].as_u64().unwrap() > 0 && last["done"] == last["total"], "{last}");
    let p = &run.json()["platforms"][0];
    let notes = p["notes"].to_string();
    assert!(notes.contains("linux/arm64: python 3.11") && notes.contains("on aarch64"), "{notes}");
    let images = p["artifacts"].as_array().unwrap();
    let base = format!("{registry_path}/environments:py-3.11-base-cpu");
    let digest_of = |path: &str| {
        let a = images.iter().find(|a| a["path"] == path).unwrap_or_else(|| panic!("no {path}: {images:?}"));
        a["digest"].as_str().unwrap().to_string()
    };
    for tag in ["0123456", "0.1.0"] {
        let amd64 = digest_of(&format!("{base}-{tag}-amd64"));
        let arm64 = digest_of(&format!("{base}-{tag}-arm64"));
        let index = digest_of(&format!("{base}-{tag}"));

        // The registry's own view: the index names both manifests, with the
        // digests the per-architecture tags resolve to.
        let repo = "/v2/determinedai/environments/manifests";
        let (body, served) = registry_get(registry.port, &format!("{repo}/py-3.11-base-cpu-{tag}"), INDEX);
        assert_eq!(served, index, "the index digest");
        assert_eq!(format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes()))), index);
        let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(listed["mediaType"], INDEX);
        let entries = listed["manifests"].as_array().unwrap();
        let entry = |arch: &str| entries.iter().find(|m| m["platform"]["architecture"] == arch).cloned().unwrap();
        assert_eq!(entry("amd64")["digest"], amd64.as_str());
        assert_eq!(entry("arm64")["digest"], arm64.as_str());
        for (arch, digest) in [("amd64", &amd64), ("arm64", &arm64)] {
            let (manifest, served) =
                registry_get(registry.port, &format!("{repo}/py-3.11-base-cpu-{tag}-{arch}"), DOCKER_MANIFEST);
            assert_eq!(&served, digest);
            assert_eq!(entry(arch)["size"], manifest.len());
        }
    }

    // Pull each architecture's image by digest and run it there.
    for (arch, machine) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let by_digest = format!("{registry_path}/environments@{}", digest_of(&format!("{base}-0123456-{arch}")));
        docker(&["pull", "-q", &by_digest]);
        let out = docker(&["run", "--rm", "--platform", &format!("linux/{arch}"), &by_digest, "uname", "-m"]);
        assert_eq!(out.trim(), machine);
        let _ = Command::new("docker").args(["rmi", "-f", &by_digest]).output();
    }
    // And the index tag picks the architecture asked for.
    let index_tag = format!("{base}-0.1.0");
    docker(&["pull", "-q", "--platform", "linux/arm64", &index_tag]);
    let machine = docker(&[
        "run",
        "--rm",
        "--platform",
        "linux/arm64",
        &index_tag,
        "python",
        "-c",
        "import platform; print(platform.machine())",
    ]);
    assert_eq!(machine.trim(), "aarch64");
    let tags =
        docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", &format!("{registry_path}/environments")]);
    for tag in tags.lines() {
        let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
    }
}

#[test]
fn without_publish_images_are_tagged_not_pushed() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // A source outside any git checkout: no commit, so only the version tag.
    let bare = tempfile::tempdir().unwrap();
    let reference = format!("hostbuild-test/env-{}", std::process::id());
    let run = run_plugin(
        &hb,
        "determined",
        bare.path(),
        out.path(),
        &[
            "--json",
            "--allow-push",
            &format!("{reference}/"),
            "--opt",
            &format!("registry={reference}"),
            "--opt",
            "version=9.9",
            "--opt",
            "name=env",
        ],
    );
    run.expect(0, &[]);
    let images = run.json()["platforms"][0]["artifacts"].clone();
    assert_eq!(images[0]["path"], format!("{reference}/env-9.9"));
    assert!(images[0]["digest"].is_null(), "{images}");
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", &format!("{reference}/env-9.9")]);
    assert!(id.starts_with("sha256:"));
    let _ = Command::new("docker").args(["rmi", &format!("{reference}/env-9.9")]).output();

    // No commit and no version: nothing to tag with.
    let out = tempfile::tempdir().unwrap();
    let run = run_plugin(&hb, "determined", bare.path(), out.path(), &[]);
    run.expect(2, &["nothing to tag the images with"]);
}

#[test]
fn the_gpu_flavor_starts_from_the_cuda_image() {
    let hb = Hostbuild::new();
    let image =
        inspect_images(&hb, "determined", &["flavor=gpu", "cuda=12.1", "pytorch-version=2.4.0"])["images"][0].clone();
    assert_eq!(image["name"], "gpu-amd64");
    assert_eq!(image["base_image"], "nvidia/cuda:12.1.1-devel-ubuntu22.04");
    assert_eq!(image["build_args"]["TORCH_VERSION"], "2.4.0");
    assert_eq!(image["build_args"]["BASE_IMAGE"], "nvidia/cuda:12.1.1-devel-ubuntu22.04");
}
