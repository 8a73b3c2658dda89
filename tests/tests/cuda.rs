//! The CUDA platform on a machine without a GPU: its options and recipes
//! per CUDA version, the clear stop without an NVIDIA runtime, and a real
//! `--no-gpu` build of the CMake example on a plain Debian base, where the
//! steps' GPU requests are shown instead of passed on.

use hostbuild_tests::{docker_build, elf_machine, inspect_images, plugin, root, run_plugin, Hostbuild};

#[test]
fn inspect_shows_the_gpu_capability_and_the_cuda_options() {
    let hb = Hostbuild::new();
    let cuda = plugin("cuda").display().to_string();
    let run = hb.run(["inspect", &cuda, "--json"]);
    run.expect(0, &[]);
    let v = run.json();
    assert_eq!(v["capabilities"], serde_json::json!(["container", "gpu", "image-network"]));
    let options = v["options"].as_array().unwrap();
    let choice = options.iter().find(|o| o["name"] == "cuda").unwrap();
    assert_eq!(choice["default"], "13.0");
    assert!(choice["choices"].as_array().unwrap().contains(&"12.1".into()), "{choice}");
    for name in ["base-image", "mkl", "gpus", "cuda-architectures", "build-type", "cmake-args", "skip-tests"] {
        assert!(options.iter().any(|o| o["name"] == name), "no option {name}");
    }
    // The text form says the same to a person.
    let text = hb.run(["inspect", &cuda]);
    text.expect(0, &[]);
    for line in ["capabilities  container, gpu", "cuda                one of 11.8|12.1|12.4|12.6|12.8|13.0"] {
        assert!(text.stdout.contains(line), "{}", text.stdout);
    }
}

#[test]
fn each_cuda_version_gets_its_nvidia_devel_image() {
    let hb = Hostbuild::new();
    for (version, base) in [
        ("11.8", "nvidia/cuda:11.8.0-devel-ubuntu22.04"),
        ("12.1", "nvidia/cuda:12.1.1-devel-ubuntu22.04"),
        ("12.8", "nvidia/cuda:12.8.1-devel-ubuntu24.04"),
        ("13.0", "nvidia/cuda:13.0.0-devel-ubuntu24.04"),
    ] {
        let v = inspect_images(&hb, "cuda", &[&format!("cuda={version}")]);
        let image = &v["images"][0];
        assert_eq!(image["base_image"], base);
        let dockerfile = image["dockerfile"].as_str().unwrap();
        assert!(dockerfile.starts_with(&format!("FROM {base}\n")), "{dockerfile}");
        for tool in ["build-essential", "cmake", "ninja-build", "ccache"] {
            assert!(dockerfile.contains(tool), "{tool} missing: {dockerfile}");
        }
        assert!(!dockerfile.contains("libmkl-dev"));
    }
    let mkl = inspect_images(&hb, "cuda", &["mkl=true", "base-image=registry.example/mirror/cuda:12.1"]);
    assert_eq!(mkl["images"][0]["base_image"], "registry.example/mirror/cuda:12.1");
    assert!(mkl["images"][0]["dockerfile"].as_str().unwrap().contains("libmkl-dev"));

    let bad = hb.run(["inspect", plugin("cuda").to_str().unwrap(), "--images", "--opt", "cuda=10.0"]);
    bad.expect(2, &["cuda", "10.0", "12.1"]);
    let bad = hb.run(["inspect", plugin("cuda").to_str().unwrap(), "--images", "--opt", "gpus=many"]);
    bad.expect(2, &["gpus=many: give `all` or a number"]);
}

/// Without an NVIDIA runtime the run stops before any image build; with
/// one (a GPU machine), it goes past that check to the build.
#[test]
fn without_an_nvidia_runtime_the_run_stops_before_any_image_build() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_plugin(&hb, "cuda", &root().join("examples/cmake-hello"), out.path(), &[]);
    if hostbuild_tests::nvidia_runtime() {
        assert!(!run.stderr.contains("has no NVIDIA runtime"), "{}", run.stderr);
        assert!(run.stderr.contains("building hostbuild/cuda-build"), "no image build began: {}", run.stderr);
        return;
    }
    run.expect(
        8,
        &["plugin `cuda` asks for GPUs, but the Docker engine has no NVIDIA runtime", "hostbuild run --no-gpu"],
    );
    assert!(!run.stderr.contains("building hostbuild/cuda-build"), "an image was built: {}", run.stderr);
    assert!(!out.path().join("build.cuda/build").exists());
}

/// A base image whose `nvcc` prints CUDA 12.1's real banner: the variant
/// must come from what runs in the image, not from the `cuda` option.
fn base_with_nvcc_12_1() -> &'static str {
    const TAG: &str = "hostbuild-test/nvcc-banner:12.1";
    let dockerfile = "FROM hostbuild/bookworm:amd64\n\
        RUN printf '%s\\n' '#!/bin/sh' \
        'echo \"nvcc: NVIDIA (R) Cuda compiler driver\"' \
        'echo \"Copyright (c) 2005-2023 NVIDIA Corporation\"' \
        'echo \"Built on Mon_Apr__3_17:16:06_PDT_2023\"' \
        'echo \"Cuda compilation tools, release 12.1, V12.1.105\"' \
        'echo \"Build cuda_12.1.r12.1/compiler.32688072_0\"' > /usr/local/bin/nvcc && chmod +x /usr/local/bin/nvcc\n";
    docker_build(TAG, dockerfile);
    TAG
}

#[test]
fn no_gpu_builds_the_example_on_a_plain_base_and_names_the_variant() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let source = root().join("examples/cmake-hello");
    let run = run_plugin(
        &hb,
        "cuda",
        &source,
        out.path(),
        &["--no-gpu", "--json", "--opt", "base-image=hostbuild/bookworm:amd64", "--opt", "gpus=2"],
    );
    run.expect(0, &["step `configure` asks for 2 GPU(s) (compute,utility); not passed: --no-gpu"]);
    for step in ["compile", "test"] {
        assert!(run.stderr.contains(&format!("step `{step}` asks for 2 GPU(s)")), "{}", run.stderr);
    }
    let p = &run.json()["platforms"][0];
    assert_eq!(p["tests"], serde_json::json!({"passed": 3, "failed": 0, "skipped": 0}));
    let tree = out.path().join("build.cuda");
    let artifacts = p["artifacts"].as_array().unwrap();
    let lib = artifacts.iter().find(|a| a["path"] == "build/libhello.so.1.0.0").expect("the shared library");
    let props = &lib["properties"];
    assert_eq!(
        (props["variant"].as_str(), props["cuda"].as_str(), props["mkl"].as_str()),
        (Some("cpu"), Some("none"), Some("false"))
    );
    assert_eq!((props["os"].as_str(), props["arch"].as_str()), (Some("debian12"), Some("amd64")));
    assert_eq!(elf_machine(&tree.join("build/libhello.so.1.0.0")), 62, "x86-64");
    // The steps carried the CUDA requirement, as the configure step recorded it.
    let env = std::fs::read_to_string(tree.join("build-env/nvidia.env")).unwrap();
    assert!(env.contains("NVIDIA_REQUIRE_CUDA=cuda>=13.0"), "{env}");
    assert!(p["notes"].to_string().contains("no nvcc in the build image"), "{}", p["notes"]);

    // With nvcc in the image, the variant is nvcc's release; MKL from the CMake cache.
    let base = base_with_nvcc_12_1();
    let out = tempfile::tempdir().unwrap();
    let run = run_plugin(
        &hb,
        "cuda",
        &source,
        out.path(),
        &[
            "--no-gpu",
            "--json",
            "--opt",
            &format!("base-image={base}"),
            "--opt",
            "cmake-args=-DUSE_MKL=ON",
            "--opt",
            "skip-tests=true",
        ],
    );
    run.expect(0, &[]);
    let p = &run.json()["platforms"][0];
    let lib = p["artifacts"].as_array().unwrap().iter().find(|a| a["path"] == "build/libhello.so.1.0.0").cloned();
    let props = &lib.expect("the shared library")["properties"];
    assert_eq!((props["variant"].as_str(), props["cuda"].as_str()), (Some("cu121mkl"), Some("12.1")));
    // cuda= was left at its default, 13.0: the mismatch is said, not hidden.
    assert!(p["notes"].to_string().contains("the image has CUDA 12.1, not cuda=13.0 as asked"), "{}", p["notes"]);
}
