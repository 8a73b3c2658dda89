//! Hole 3: image artifacts. A plugin may tag (and push) only images its own
//! recipes built in this run, only under a prefix the user allowed, only
//! with `publish` declared and granted; never a `hostbuild/` image, a base
//! image, or a tag that names an image someone else made.

use std::time::Duration;

use hostbuild_tests::{docker, Hostbuild};

use super::common::{image_id, run_guest};

const LIMIT: Duration = Duration::from_secs(180);

fn report(hb: &Hostbuild, guest: &str, attack: &str, reference: &str, extra: &[&str]) -> hostbuild_tests::Run {
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let attack = format!("attack={attack}");
    let reference = format!("reference={reference}");
    let mut args = vec!["--opt", &attack, "--opt", &reference];
    args.extend_from_slice(extra);
    run_guest(hb, guest, src.path(), out.path(), &args, &[], LIMIT)
}

#[test]
fn base_and_hostbuild_images_are_never_retagged() {
    let hb = Hostbuild::new();
    let base = image_id("hostbuild/bookworm:amd64").expect("the base image exists");
    for reference in ["hostbuild/bookworm:amd64", "hostbuild/bookworm"] {
        let run = report(&hb, "hostile-files", "image-base", reference, &["--allow-push", "hostbuild/"]);
        run.expect(13, &["is reserved", "nothing was tagged"]);
    }
    assert_eq!(image_id("hostbuild/bookworm:amd64").as_deref(), Some(base.as_str()), "the base image was retagged");
    assert!(image_id("hostbuild/bookworm:latest").is_none());
}

#[test]
fn a_tag_naming_someone_elses_image_is_never_overwritten() {
    let hb = Hostbuild::new();
    let victim = format!("hostile-victim-{}:latest", std::process::id());
    docker(&["tag", "hostbuild/bookworm:armv7", &victim]);
    let before = image_id(&victim).unwrap();
    let run = report(&hb, "hostile-files", "image-foreign", &victim, &["--allow-push", &victim]);
    run.expect(13, &["already names an image no plugin of this name built", "never overwritten"]);
    assert_eq!(image_id(&victim), Some(before));
    docker(&["rmi", &victim]);
}

#[test]
fn images_need_an_allowed_prefix_and_publish() {
    let hb = Hostbuild::new();
    let reference = format!("hostile-allowed-{}/env:1", std::process::id());
    // No prefix allowed: not granted, nothing tagged.
    let run = report(&hb, "hostile-files", "image-allowed", &reference, &[]);
    run.expect(11, &["is not under a prefix the user allowed", "--allow-push"]);
    assert!(image_id(&reference).is_none());
    // A prefix that only looks alike does not cover it.
    let lookalike = format!("hostile-allowed-{}", std::process::id() / 10);
    let run = report(&hb, "hostile-files", "image-allowed", &reference, &["--allow-push", &lookalike]);
    run.expect(11, &["is not under a prefix"]);
    // Allowed: tagged, to the image the recipe built.
    let prefix = format!("hostile-allowed-{}/", std::process::id());
    let run = report(&hb, "hostile-files", "image-allowed", &reference, &["--allow-push", &prefix, "--json"]);
    run.expect(0, &[]);
    let made = run.json()["platforms"][0]["artifacts"][0]["image"].as_str().unwrap().to_string();
    assert_eq!(image_id(&reference), image_id(&made));
    // Again: the tag now names this plugin's own image, which may be replaced.
    report(&hb, "hostile-files", "image-allowed", &reference, &["--allow-push", &prefix]).expect(0, &[]);
    docker(&["rmi", &reference]);
    // A plugin that did not declare `publish` tags nothing at all.
    let run = report(&hb, "hostile-minimal", "image-artifact", &reference, &["--allow-push", &prefix]);
    run.expect(13, &["needs the `publish` capability"]);
    assert!(image_id(&reference).is_none());
}
