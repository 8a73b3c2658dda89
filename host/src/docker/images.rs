//! Building a plugin's image recipes through the Engine API.
//!
//! The tag is a content hash of everything that goes into the image (the
//! Dockerfile, each context file, the build args, the platform, the base
//! image's id), so an unchanged recipe is never rebuilt. The inputs are kept
//! as an image label, which is how `--explain` tells what changed.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bollard::query_parameters::{BuildImageOptionsBuilder, ListImagesOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EngineError;
use crate::capabilities::container::trust::Trust;
use crate::capabilities::log::{Level, LogSink};
use crate::model::ImageRecipe;

const LABEL_RECIPE: &str = "hostbuild.recipe";
const LABEL_INPUTS: &str = "hostbuild.inputs";

/// The plugin key a recipe image was built for (what `build` got as
/// `owner`: the plugin's name and identity, `naming::plugin_key`), read
/// from the image's labels; `None` for images hostbuild did not build.
pub fn recipe_owner(labels: &HashMap<String, String>) -> Option<&str> {
    labels.get(LABEL_RECIPE)?.rsplit_once('/').map(|(owner, _)| owner)
}

/// How a plugin's images are built.
#[derive(Debug, Clone, Copy)]
pub struct ImageBuild<'a> {
    /// Say which input changed when an image is rebuilt.
    pub explain: bool,
    /// GPU platforms need the NVIDIA runtime (false with `--no-gpu`).
    pub gpu: bool,
    /// `RUN` lines have network (the `image-network` grant); else none.
    pub network: bool,
    /// The CA bundle and proxies lent to every image.
    pub trust: &'a Trust,
    /// The plugin's key (name and identity) its images are tagged under.
    pub owner: &'a str,
}

/// An image ready for steps.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub tag: String,
    pub platform: String,
    /// True when an identical image already existed.
    pub reused: bool,
}

/// What an image is made of, each part as a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Inputs {
    dockerfile: String,
    context: BTreeMap<String, String>,
    build_args: BTreeMap<String, String>,
    platform: String,
    base_image: String,
    base_image_id: String,
}

impl Inputs {
    fn of(recipe: &ImageRecipe, base_image_id: &str) -> Self {
        let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
        Self {
            dockerfile: sha(recipe.dockerfile.as_bytes()),
            context: recipe
                .context
                .iter()
                .map(|f| (f.path.clone(), format!("{}{}", sha(&f.contents), if f.executable { "+x" } else { "" })))
                .collect(),
            build_args: recipe.build_args.iter().cloned().collect(),
            platform: recipe.platform.clone(),
            base_image: recipe.base_image.clone(),
            base_image_id: base_image_id.to_string(),
        }
    }

    fn digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))[..16].to_string()
    }

    /// Which inputs differ from `older`, in words.
    fn changes_since(&self, older: &Inputs) -> Vec<String> {
        let mut changes = Vec::new();
        if self.dockerfile != older.dockerfile {
            changes.push("the Dockerfile changed".to_string());
        }
        for (path, digest) in &self.context {
            match older.context.get(path) {
                None => changes.push(format!("context file `{path}` was added")),
                Some(d) if d != digest => changes.push(format!("context file `{path}` changed")),
                _ => {}
            }
        }
        for path in older.context.keys().filter(|p| !self.context.contains_key(*p)) {
            changes.push(format!("context file `{path}` was removed"));
        }
        if self.build_args != older.build_args {
            changes.push("the build args changed".into());
        }
        if self.platform != older.platform {
            changes.push(format!("the platform changed from {} to {}", older.platform, self.platform));
        }
        if self.base_image != older.base_image {
            changes.push(format!("the base image changed from {} to {}", older.base_image, self.base_image));
        } else if self.base_image_id != older.base_image_id {
            changes.push(format!("base image {} was rebuilt (new id)", self.base_image));
        }
        changes
    }
}

/// The engine's id of each recipe's base image (`absent` when it has none):
/// what hostbuild.lock pins.
pub async fn base_image_ids(docker: &Docker, recipes: &[ImageRecipe]) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for r in recipes {
        let id = docker.inspect_image(&r.base_image).await.ok().and_then(|i| i.id).unwrap_or_else(|| "absent".into());
        ids.insert(r.base_image.clone(), id);
    }
    ids
}

/// Builds (or reuses) the image of one recipe.
pub async fn build(
    docker: &Docker,
    plugin: &str,
    recipe: &ImageRecipe,
    log: &dyn LogSink,
    how: &ImageBuild<'_>,
) -> Result<BuiltImage, EngineError> {
    let ImageBuild { explain, network, trust, owner, .. } = *how;
    // The recipe as built: the CA bundle lent, if any, is part of it (and of
    // its content hash).
    let recipe = &trust.apply(recipe);
    let source = format!("{plugin}:image:{}", recipe.name);
    let base_id = match docker.inspect_image(&recipe.base_image).await {
        Ok(image) => image.id.unwrap_or_default(),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            return Err(EngineError::MissingBaseImage { image: recipe.base_image.clone() })
        }
        Err(e) => return Err(EngineError::Api(e.to_string())),
    };
    let inputs = Inputs::of(recipe, &base_id);
    // Keyed by the plugin's identity too: a same-named plugin from
    // elsewhere never reuses (or replaces) this plugin's images.
    let tag = format!("hostbuild/{owner}-{}:{}", recipe.name, inputs.digest());
    if docker.inspect_image(&tag).await.is_ok() {
        let why = if explain { ": no input changed" } else { "" };
        log.line(&source, Level::Info, &format!("reusing {tag}{why}"));
        return Ok(BuiltImage { tag, platform: recipe.platform.clone(), reused: true });
    }
    if explain {
        let reason = match previous_inputs(docker, owner, &recipe.name).await {
            Some(older) => inputs.changes_since(&older).join("; "),
            None => "no earlier image of this recipe exists".into(),
        };
        log.line(&source, Level::Info, &format!("rebuilding: {reason}"));
    }
    log.line(&source, Level::Info, &format!("building {tag} for {}", recipe.platform));

    let context =
        context_tar(recipe).map_err(|e| EngineError::InvalidRecipe { image: recipe.name.clone(), reason: e })?;
    let labels = HashMap::from([
        (LABEL_RECIPE.to_string(), format!("{owner}/{}", recipe.name)),
        (LABEL_INPUTS.to_string(), serde_json::to_string(&inputs).unwrap_or_default()),
    ]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .platform(&recipe.platform)
        // No network unless the plugin declared `image-network` and it was
        // granted: a recipe may carry source files, and a networked RUN
        // line could send them anywhere.
        .networkmode(if network { "default" } else { "none" })
        // Docker's predefined proxy args stay out of the image and of its
        // cache key; they are not recipe inputs either.
        .buildargs(
            &recipe
                .build_args
                .iter()
                .cloned()
                .chain(network.then(|| trust.proxies().to_vec()).into_iter().flatten())
                .collect(),
        )
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut tail: VecDeque<String> = VecDeque::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| EngineError::ImageBuild {
            image: recipe.name.clone(),
            message: e.to_string(),
            tail: tail.iter().cloned().collect(),
        })?;
        if let Some(text) = info.stream {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if let Some((n, m)) = step_counter(line) {
                    log.progress(&source, "image build steps", n, Some(m));
                }
                log.line(&source, Level::Debug, line);
                tail.push_back(line.to_string());
                if tail.len() > 30 {
                    tail.pop_front();
                }
            }
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(EngineError::ImageBuild {
                image: recipe.name.clone(),
                message: error,
                tail: tail.into_iter().collect(),
            });
        }
    }
    if docker.inspect_image(&tag).await.is_err() {
        return Err(EngineError::ImageBuild {
            image: recipe.name.clone(),
            message: "the engine finished without producing the image".into(),
            tail: tail.into_iter().collect(),
        });
    }
    Ok(BuiltImage { tag, platform: recipe.platform.clone(), reused: false })
}

/// `Step 3/7 : RUN ...` → (3, 7), from the classic builder's output.
fn step_counter(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, _) = rest.split_once(' ')?;
    let (n, m) = counts.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// The inputs of the newest earlier image of this recipe.
async fn previous_inputs(docker: &Docker, owner: &str, recipe: &str) -> Option<Inputs> {
    let filter = format!("{LABEL_RECIPE}={owner}/{recipe}");
    let options =
        ListImagesOptionsBuilder::default().filters(&HashMap::from([("label", vec![filter.as_str()])])).build();
    let images = docker.list_images(Some(options)).await.ok()?;
    let newest = images.into_iter().max_by_key(|i| i.created)?;
    serde_json::from_str(newest.labels.get(LABEL_INPUTS)?).ok()
}

/// The build context: `Dockerfile` plus the recipe's files, with fixed
/// owners and times so equal recipes give equal tarballs.
fn context_tar(recipe: &ImageRecipe) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8], mode: u32| -> Result<(), String> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes).map_err(|e| format!("context file `{path}`: {e}"))
    };
    add("Dockerfile", recipe.dockerfile.as_bytes(), 0o644)?;
    for f in &recipe.context {
        let p = std::path::Path::new(&f.path);
        let clean = p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if !clean || f.path == "Dockerfile" {
            return Err(format!("context file path `{}` must be relative, without `..`, and not `Dockerfile`", f.path));
        }
        add(&f.path, &f.contents, if f.executable { 0o755 } else { 0o644 })?;
    }
    tar.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContextFile;

    fn recipe() -> ImageRecipe {
        ImageRecipe {
            name: "build".into(),
            dockerfile: "FROM base\nRUN true\n".into(),
            context: vec![ContextFile { path: "a/tool.sh".into(), contents: b"echo".to_vec(), executable: true }],
            build_args: vec![("X".into(), "1".into())],
            platform: "linux/amd64".into(),
            base_image: "base".into(),
        }
    }

    #[test]
    fn tags_follow_content_and_changes_are_named() {
        let a = Inputs::of(&recipe(), "sha256:1");
        assert_eq!(a.digest(), Inputs::of(&recipe(), "sha256:1").digest());
        let mut r = recipe();
        r.context[0].contents = b"echo 2".to_vec();
        r.dockerfile.push_str("RUN false\n");
        let b = Inputs::of(&r, "sha256:2");
        assert_ne!(a.digest(), b.digest());
        assert_eq!(
            b.changes_since(&a),
            ["the Dockerfile changed", "context file `a/tool.sh` changed", "base image base was rebuilt (new id)"]
        );
    }

    #[test]
    fn context_is_deterministic_and_checked() {
        assert_eq!(context_tar(&recipe()).unwrap(), context_tar(&recipe()).unwrap());
        let mut r = recipe();
        r.context[0].path = "../escape".into();
        assert!(context_tar(&r).is_err());
        assert_eq!(step_counter("Step 3/7 : RUN x"), Some((3, 7)));
    }
}
