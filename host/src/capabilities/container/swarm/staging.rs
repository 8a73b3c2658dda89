//! Files of a platform placed on a node other than the manager travel
//! through the S3 store; no host path ever appears in a step's service.
//!
//! - The source is packed once per platform into a tar archive, stored under
//!   its sha256 (`staging/source-<sha256>.tar`: an unchanged source is never
//!   uploaded twice), and unpacked into a volume on the node by a helper.
//! - The output tree lives in another volume on the node. Around every
//!   step it is synchronised, so the plugin reads and writes it between
//!   steps as it would locally: before a step, if the tree here changed (or
//!   on the first step), it is packed, stored under its sha256 and unpacked
//!   there; after a step, a helper packs the volume and uploads it to a
//!   run-scoped key, and hostbuild unpacks it here, through the output
//!   tree's own handle, refusing what a tree must not hold.
//! - Helpers run in hostbuild's own image (`hostbuild/bookworm` with curl),
//!   pushed to the swarm's registry, as the invoking user (a first one, with
//!   only CAP_CHOWN, gives the volumes to that user). They reach the store
//!   through presigned URLs valid for one object and a short time: a node
//!   never holds a credential.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::SwarmEngine;
use crate::capabilities::container::spec::{ContainerSpec, Lent, SpecMount, User};
use crate::capabilities::container::{ContainerError, StepOutcome};
use crate::docker::images::BuiltImage;
use crate::output_tree::OutputTree;
use crate::store::s3::S3Store;
use crate::store::{HashingWriter, ObjectStore};

/// How long a presigned URL is valid.
const URL_TTL: Duration = Duration::from_secs(3600);
/// How long a node may take to release a volume after its services are gone.
const VOLUME_RELEASE: Duration = Duration::from_secs(30);
/// Largest output tree brought back (the artifact cap is checked later).
const OUTPUT_LIMIT: u64 = 256 << 30;

/// The store and the helper image staging uses.
pub struct Staging {
    store: Arc<S3Store>,
    /// hostbuild's helper image (curl and tar), built on the manager.
    helper: BuiltImage,
}

impl Staging {
    pub fn new(store: Arc<S3Store>, helper: BuiltImage) -> Self {
        Self { store, helper }
    }
}

/// The helper recipe: the offline base image, curl (staging through
/// presigned URLs, a node's engine socket) and jq (its answers).
pub fn helper_dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\nRUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates jq \
         && rm -rf /var/lib/apt/lists/*\n"
    )
}

/// Builds (or reuses) hostbuild's helper image, which runs on the nodes.
pub async fn helper_image(
    docker: &bollard::Docker,
    trust: &crate::capabilities::container::trust::Trust,
    log: &dyn crate::capabilities::log::LogSink,
) -> Result<BuiltImage, crate::docker::EngineError> {
    use crate::docker::images::{self, ImageBuild};
    use crate::docker::naming::HELPER_IMAGE;
    let recipe = crate::model::ImageRecipe {
        name: "helper".into(),
        dockerfile: helper_dockerfile(HELPER_IMAGE),
        context: vec![],
        build_args: vec![],
        platform: "linux/amd64".into(),
        base_image: HELPER_IMAGE.into(),
    };
    let how = ImageBuild { explain: false, gpu: false, network: true, trust, owner: "hostbuild" };
    images::build(docker, "hostbuild", &recipe, log, &how).await
}

#[derive(Default)]
struct State {
    prepared: bool,
    source_staged: bool,
    /// sha256 of the output tree's archive as the node has it.
    output_digest: Option<String>,
    syncs: usize,
}

/// One platform's staged files.
pub struct StagedPlatform {
    staging: Arc<Staging>,
    run_id: String,
    plugin: String,
    source: PathBuf,
    output: Arc<OutputTree>,
    state: Mutex<State>,
    /// A step's spec, to model helpers on (limits, labels).
    last_spec: Mutex<Option<ContainerSpec>>,
}

impl StagedPlatform {
    pub fn new(staging: Arc<Staging>, run_id: &str, plugin: &str, source: PathBuf, output: Arc<OutputTree>) -> Self {
        Self {
            staging,
            run_id: run_id.into(),
            plugin: plugin.into(),
            source,
            output,
            state: Mutex::default(),
            last_spec: Mutex::default(),
        }
    }

    pub fn source_volume(&self) -> String {
        format!("hostbuild-stage-{}-{}-src", self.run_id, self.plugin)
    }

    pub fn output_volume(&self) -> String {
        format!("hostbuild-stage-{}-{}-out", self.run_id, self.plugin)
    }

    /// A helper's spec: hostbuild's image, `script`, the staged volumes (and
    /// `extra`) mounted, network to reach the store.
    fn helper_spec(
        &self,
        like: &ContainerSpec,
        name: &str,
        script: String,
        user: User,
        extra: &[String],
    ) -> ContainerSpec {
        let mut mounts = vec![
            SpecMount { target: "/stage/src".into(), lent: Lent::Volume(self.source_volume()), read_only: false },
            SpecMount { target: "/stage/out".into(), lent: Lent::Volume(self.output_volume()), read_only: false },
        ];
        for (i, volume) in extra.iter().enumerate() {
            mounts.push(SpecMount {
                target: format!("/stage/extra{i}"),
                lent: Lent::Cache(volume.clone()),
                read_only: false,
            });
        }
        ContainerSpec {
            name: name.into(),
            image: self.staging.helper.clone(),
            argv: vec!["sh".into(), "-c".into(), script],
            env: vec!["HOME=/tmp".into()],
            workdir: None,
            user,
            mounts,
            network: true,
            gpus: None,
            limits: like.limits,
            labels: like.labels.clone(),
            timeout: None,
        }
    }

    async fn run_helper(&self, engine: &SwarmEngine, spec: ContainerSpec, caps: &[&str]) -> Result<(), ContainerError> {
        let outcome: StepOutcome = engine.helper(&spec, caps).await?;
        if outcome.exit_code != 0 {
            return Err(ContainerError::Failed(format!(
                "staging ({}) failed with status {}: {}",
                spec.name,
                outcome.exit_code,
                outcome.tail.join(" | ")
            )));
        }
        Ok(())
    }

    /// Before a step: volumes given to the user, the source there once, the
    /// output tree there when it changed here.
    pub async fn before_step(&self, engine: &SwarmEngine, spec: &ContainerSpec) -> Result<(), ContainerError> {
        *self.last_spec.lock().await = Some(spec.clone());
        let mut state = self.state.lock().await;
        if !state.prepared {
            let caches: Vec<String> = spec
                .mounts
                .iter()
                .filter_map(|m| match &m.lent {
                    Lent::Cache(v) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            let mut script = format!("chown {} /stage/src /stage/out", spec.user);
            for i in 0..caches.len() {
                script.push_str(&format!(" /stage/extra{i}"));
            }
            let prep = self.helper_spec(spec, "stage: prepare", script, User { uid: 0, gid: 0 }, &caches);
            self.run_helper(engine, prep, &["CHOWN"]).await?;
            state.prepared = true;
        }
        if !state.source_staged {
            let (file, sha) = pack(&self.source).await?;
            let key = format!("staging/source-{sha}.tar");
            let url = self.upload(&key, &file).await?;
            let script = format!("set -e; cd /tmp; curl -fsS -o s.tar '{url}'; tar -C /stage/src -xf s.tar; rm s.tar");
            self.run_helper(engine, self.helper_spec(spec, "stage: source in", script, spec.user, &[]), &[]).await?;
            state.source_staged = true;
        }
        let (file, sha) = pack(self.output.host_path()).await?;
        if state.output_digest.as_deref() != Some(sha.as_str()) {
            let key = format!("staging/output-{sha}.tar");
            let url = self.upload(&key, &file).await?;
            let script = format!(
                "set -e; cd /tmp; curl -fsS -o o.tar '{url}'; find /stage/out -mindepth 1 -delete; \
                 tar -C /stage/out -xf o.tar; rm o.tar"
            );
            self.run_helper(engine, self.helper_spec(spec, "stage: output in", script, spec.user, &[]), &[]).await?;
            state.output_digest = Some(sha);
        }
        Ok(())
    }

    /// After a step: the node's output tree comes back here.
    pub async fn after_step(&self, engine: &SwarmEngine, spec: &ContainerSpec) -> Result<(), ContainerError> {
        let mut state = self.state.lock().await;
        state.syncs += 1;
        let key = format!("staging/{}/{}/output-{}.tar", self.run_id, self.plugin, state.syncs);
        let store = &self.staging.store;
        let url = store.presign_put(&key, URL_TTL).await.map_err(staging_error)?;
        let script = format!("set -e; cd /tmp; tar -C /stage/out -cf o.tar .; curl -fsS -T o.tar '{url}'; rm o.tar");
        self.run_helper(engine, self.helper_spec(spec, "stage: output out", script, spec.user, &[]), &[]).await?;
        let local = tempfile::tempfile().map_err(|e| ContainerError::Failed(format!("staging: {e}")))?;
        store.get(&key, &local, OUTPUT_LIMIT).await.map_err(staging_error)?;
        let _ = store.delete(&key).await;
        let tree = self.output.clone();
        let unpacked = tokio::task::spawn_blocking(move || -> Result<(), String> {
            let mut local = local;
            local.rewind().map_err(|e| e.to_string())?;
            tree.unpack(std::io::BufReader::new(local), OUTPUT_LIMIT).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ContainerError::Failed(e.to_string()))?;
        unpacked
            .map_err(|e| ContainerError::Failed(format!("the output tree sent back by the node is refused: {e}")))?;
        // What the node has is what is here now.
        state.output_digest = Some(pack(self.output.host_path()).await?.1);
        Ok(())
    }

    /// Removes the staging volumes from the node (through the engine on the
    /// manager; elsewhere a helper, given that node's engine socket, does).
    /// A volume stays in use until the node has removed the containers of
    /// the step services just deleted, so removal is retried for a while.
    pub async fn remove_volumes(&self, engine: &SwarmEngine) -> Result<(), ContainerError> {
        let volumes = [self.source_volume(), self.output_volume()];
        if engine.on_manager() {
            let docker = &engine.swarm.docker;
            for v in &volumes {
                let deadline = tokio::time::Instant::now() + VOLUME_RELEASE;
                loop {
                    match docker.remove_volume(v, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
                        Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                            break
                        }
                        Err(e) if tokio::time::Instant::now() > deadline => {
                            return Err(ContainerError::Failed(format!("cannot remove the staging volume {v}: {e}")))
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
            }
            return Ok(());
        }
        let tries = VOLUME_RELEASE.as_millis() / 500;
        let script = format!(
            "for v in {}; do i=0; while :; do \
             code=$(curl -sS -o /dev/null -w '%{{http_code}}' --unix-socket /var/run/docker.sock -X DELETE http://engine/volumes/$v); \
             case $code in 204|404) break;; esac; i=$((i+1)); \
             if [ $i -ge {tries} ]; then echo \"cannot remove the staging volume $v: the engine answered $code\" >&2; exit 1; fi; \
             sleep 0.5; done; done",
            volumes.join(" ")
        );
        let like = self.last_spec.lock().await.clone();
        let Some(like) = like else { return Ok(()) };
        let mut spec = self.helper_spec(&like, "stage: remove volumes", script, User { uid: 0, gid: 0 }, &[]);
        spec.mounts = vec![SpecMount {
            target: "/var/run/docker.sock".into(),
            lent: Lent::Dir("/var/run/docker.sock".into()),
            read_only: false,
        }];
        spec.network = false;
        self.run_helper(engine, spec, &[]).await
    }

    /// Stores `file` under `key` unless it is there; a URL to fetch it.
    async fn upload(&self, key: &str, file: &File) -> Result<String, ContainerError> {
        let store = &self.staging.store;
        if !store.exists(key).await.map_err(staging_error)? {
            store.put(key, file, false).await.map_err(staging_error)?;
        }
        store.presign_get(key, URL_TTL).await.map_err(staging_error)
    }
}

fn staging_error(e: crate::store::StoreError) -> ContainerError {
    ContainerError::Unavailable(format!("staging through the store failed: {e}"))
}

/// Packs a directory of this machine (links stored as links, never
/// followed; special files skipped) into a temporary file; returns it and
/// the archive's sha256.
pub async fn pack(dir: &Path) -> Result<(File, String), ContainerError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || pack_blocking(&dir))
        .await
        .map_err(|e| ContainerError::Failed(e.to_string()))?
        .map_err(|e| ContainerError::Failed(format!("packing a tree for staging: {e}")))
}

fn pack_blocking(dir: &Path) -> std::io::Result<(File, String)> {
    let file = tempfile::tempfile()?;
    let mut sink = HashingWriter::new(std::io::BufWriter::new(file));
    {
        let mut tar = tar::Builder::new(&mut sink);
        tar.follow_symlinks(false);
        let mut pending = vec![PathBuf::new()];
        let mut seen: HashMap<PathBuf, ()> = HashMap::new();
        while let Some(rel) = pending.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(dir.join(&rel))?.collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = rel.join(entry.file_name());
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    tar.append_dir(&path, entry.path())?;
                    if seen.insert(path.clone(), ()).is_none() {
                        pending.push(path);
                    }
                } else if kind.is_file() || kind.is_symlink() {
                    tar.append_path_with_name(entry.path(), &path)?;
                }
            }
        }
        tar.finish()?;
    }
    sink.flush()?;
    use sha2::Digest;
    let HashingWriter { inner, hasher, .. } = sink;
    let mut file = inner.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    Ok((file, hex::encode(hasher.finalize())))
}
