//! Turns any error into what the user sees: `error:`, `caused by:` lines, a
//! `hint:` they can act on, and a documented exit status.

use std::io::Write;

use crate::artifact::characteristics::{NoCommit, COMMIT_VARS};
use crate::artifact::checked::CheckError;
use crate::artifact::publish::PublishError;
use crate::artifact::pull::PullError;
use crate::capabilities::container::swarm::SwarmError;
use crate::capabilities::container::trust::TrustError;
use crate::console::sanitize::sanitize;
use crate::docker::EngineError;
use crate::options::OptionError;
use crate::output_tree::OutputTreeError;
use crate::pipeline::{ArtifactRefused, UnsafeOutput};
use crate::project::config::PROJECT_FILE;
use crate::project::{ProjectError, SourceError};
use crate::registry::checked::ImageRefused;
use crate::registry::publish::RegistryError;
use crate::runtime::bindings::types::PluginError;
use crate::runtime::{CacheError, CallError, LoadError};
use crate::store::open::OpenError;
use crate::store::StoreError;

/// The exit statuses of `hostbuild`, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    Success = 0,
    /// A bug in hostbuild itself.
    Internal = 1,
    /// Bad command line: unknown flag, bad `--opt`, missing argument.
    Usage = 2,
    /// The plugin file does not exist or cannot be read.
    PluginNotFound = 3,
    /// The file is not a usable component (not wasm, core module, corrupt,
    /// another world).
    PluginInvalid = 4,
    /// The component targets an incompatible `hostbuild:platform` version.
    PluginIncompatible = 5,
    /// The plugin trapped, ran out of time or memory, returned malformed
    /// data or reported an error.
    PluginFailed = 6,
    /// A build step exited non-zero.
    StepFailed = 7,
    /// Something the host needs is missing: Docker engine, QEMU, a writable cache.
    Unavailable = 8,
    /// The artifact set already exists (or another process is publishing it).
    Conflict = 9,
    /// No such artifact set, or one whose files do not match its manifest.
    ArtifactMissing = 10,
    /// The project does not grant what the plugin declares.
    NotGranted = 11,
    /// What would run differs from hostbuild.lock, or is not in it.
    LockMismatch = 12,
    /// The plugin, or what its steps left behind, broke a sandbox rule: a
    /// path that leaves its tree, an unsafe file (setuid, device, FIFO,
    /// another owner), an image reference it may not tag.
    Refused = 13,
    /// Stopped by SIGINT (128 + 2); the run's containers were removed.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); the run's containers were removed.
    Terminated = 143,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error as shown to the user.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub status: ExitStatus,
    pub exit_code: u8,
}

/// The hint for a plugin that broke its contract.
const PLUGIN_BUG: &str = "this is a bug in the plugin; report it to its authors";

/// Classifies an error by the first typed error found in its chain.
pub fn report(err: &anyhow::Error) -> Report {
    // Messages may carry what a plugin or its build printed: shown safe.
    let clean = |s: String| sanitize(&s).into_owned();
    let mut chain = err.chain();
    let message = chain.next().map(|e| clean(e.to_string())).unwrap_or_default();
    let mut causes: Vec<String> = chain.map(|e| clean(e.to_string())).collect();
    causes.dedup();
    let (status, hint) = err.chain().find_map(classify).unwrap_or((ExitStatus::Internal, None));
    Report { message, causes, hint: hint.map(clean), status, exit_code: status.code() }
}

fn classify(e: &(dyn std::error::Error + 'static)) -> Option<(ExitStatus, Option<String>)> {
    if let Some(e) = e.downcast_ref::<LoadError>() {
        return Some(load_error(e));
    }
    if let Some(e) = e.downcast_ref::<CallError>() {
        return Some(call_error(e));
    }
    if let Some(e) = e.downcast_ref::<OptionError>() {
        let hint = match e {
            OptionError::Unknown { accepted, .. } => Some(accepted.clone()),
            OptionError::Syntax(_) => Some("write options as `--opt build-type=Debug`".into()),
            _ => Some("`hostbuild inspect PLUGIN` lists every option with its kind and default".into()),
        };
        return Some((ExitStatus::Usage, hint));
    }
    if let Some(e) = e.downcast_ref::<CacheError>() {
        let hint = match e {
            CacheError::Unwritable { dir, .. } => format!(
                "make {} writable, or point HOSTBUILD_CACHE_DIR (or --cache-dir) at a writable directory",
                dir.display()
            ),
            CacheError::NotPrivate { dir, .. } => format!(
                "compiled plugins are run from there, so only you may write it: `chmod 700 {}` if it is yours, \
                 or point HOSTBUILD_CACHE_DIR (or --cache-dir) at a directory of your own",
                dir.display()
            ),
            CacheError::NoDirectory => {
                "set HOSTBUILD_CACHE_DIR (or --cache-dir) to a directory of your own; hostbuild never falls back \
                 to a shared one such as /tmp"
                    .into()
            }
        };
        return Some((ExitStatus::Unavailable, Some(hint)));
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return Some(engine_error(e));
    }
    if let Some(e) = e.downcast_ref::<SwarmError>() {
        return Some(match e {
            SwarmError::NotAManager { .. } => (
                ExitStatus::Unavailable,
                Some(
                    "make this engine a swarm manager (`docker swarm init`), point DOCKER_HOST at one, or use \
                      --engine local"
                        .into(),
                ),
            ),
            SwarmError::NoRegistry => (
                ExitStatus::Usage,
                Some(
                    "pass --registry HOST:PORT (or `registry` under [engine]): a registry every node can pull \
                      from, e.g. Debian's docker-registry run as a swarm service (see the README)"
                        .into(),
                ),
            ),
            SwarmError::NoNode { .. } => (
                ExitStatus::Unavailable,
                Some("check --constraint and the nodes' labels (`docker node ls`, `docker node inspect`)".into()),
            ),
            SwarmError::Push { .. } => (
                ExitStatus::Unavailable,
                Some("check that the registry is up and that this machine's engine can push to it".into()),
            ),
            SwarmError::NoStaging { .. } => (
                ExitStatus::Usage,
                Some(
                    "pass --store s3://BUCKET/PREFIX (an S3 server the nodes reach), or constrain the platform to \
                      the manager"
                        .into(),
                ),
            ),
            SwarmError::Api(_) => (ExitStatus::Unavailable, Some("`hostbuild doctor --engine swarm`".into())),
            SwarmError::OnNode { .. } => (
                ExitStatus::Unavailable,
                Some(
                    "the node must pull hostbuild's helper image from --registry and lend it its engine socket \
                     (/var/run/docker.sock); `docker node ps` on the manager shows why a task failed"
                        .into(),
                ),
            ),
        });
    }
    if e.downcast_ref::<TrustError>().is_some() {
        let hint = "--ca-bundle (HOSTBUILD_CA_BUNDLE) names a PEM bundle such as /etc/ssl/certs/ca-certificates.crt";
        return Some((ExitStatus::Usage, Some(hint.into())));
    }
    if let Some(e) = e.downcast_ref::<crate::commands::Interrupted>() {
        let status = if e.signal == "SIGTERM" { ExitStatus::Terminated } else { ExitStatus::Interrupted };
        return Some((status, None));
    }
    if let Some(e) = e.downcast_ref::<PublishError>() {
        return Some(match e {
            PublishError::Exists { .. } => {
                (ExitStatus::Conflict, Some("a published set is never overwritten; pass --force to replace it".into()))
            }
            PublishError::Claimed { .. } => (
                ExitStatus::Conflict,
                Some("wait for the other publisher, or pass --force if an earlier publish died midway".into()),
            ),
            PublishError::Invalid(_) => (ExitStatus::Usage, None),
            PublishError::Check(c) => classify(c).unwrap_or((ExitStatus::Usage, None)),
            PublishError::Store { source, .. } => store_error(source),
        });
    }
    if let Some(e) = e.downcast_ref::<PullError>() {
        return Some(match e {
            PullError::NoSet { available, layout, .. } => (
                ExitStatus::ArtifactMissing,
                Some(if available.is_empty() {
                    format!(
                        "this commit has no sets in the {layout} layout; check --git-sha and --layout, \
                         or `hostbuild artifacts ls`"
                    )
                } else {
                    format!("sets of this commit (commit/{}): {}", layout.shape(), available.join(", "))
                }),
            ),
            PullError::Unverified { files, bytes, .. } => (
                ExitStatus::ArtifactMissing,
                Some(format!(
                    "it holds {files} file(s), {bytes} bytes, that nothing can check but their listed sizes; \
                     pass --allow-unverified to pull it anyway"
                )),
            ),
            PullError::Incomplete { .. } => {
                (ExitStatus::ArtifactMissing, Some("wait for the publisher, or republish the set with --force".into()))
            }
            PullError::Refused { .. } => (
                ExitStatus::ArtifactMissing,
                Some("the store's contents are not a set that can be pulled safely; ask whoever writes it".into()),
            ),
            PullError::NoSpace { .. } => (ExitStatus::Unavailable, Some("free some space, or pull elsewhere".into())),
            PullError::Corrupt { .. } => (
                ExitStatus::ArtifactMissing,
                Some("the stored object was changed after publishing; republish the set with --force".into()),
            ),
            PullError::DestinationExists(_) | PullError::Invalid(_) => (ExitStatus::Usage, None),
            PullError::Write { .. } => (ExitStatus::Unavailable, None),
            PullError::Store { source, .. } => store_error(source),
        });
    }
    if e.downcast_ref::<NoCommit>().is_some() {
        let hint = format!(
            "pass --git-sha SHA, set one of {}, or run inside a git checkout (--source DIR)",
            COMMIT_VARS.join(", ")
        );
        return Some((ExitStatus::Usage, Some(hint)));
    }
    if let Some(OpenError::Unknown(_)) = e.downcast_ref::<OpenError>() {
        return Some((
            ExitStatus::Usage,
            Some("pass --store DIR, --store file:///DIR or --store s3://BUCKET/PREFIX".into()),
        ));
    }
    if let Some(OpenError::Invalid(_)) = e.downcast_ref::<OpenError>() {
        return Some((ExitStatus::Usage, Some("part-size is 5M..5G, concurrency 1..64".into())));
    }
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return Some(store_error(e));
    }
    if let Some(found) = sandbox_error(e) {
        return Some(found);
    }
    if let Some(e) = e.downcast_ref::<RegistryError>() {
        return Some(match e {
            RegistryError::Tag { .. } => (ExitStatus::Unavailable, Some("`hostbuild doctor` checks the engine".into())),
            RegistryError::Push { .. } => (
                ExitStatus::Unavailable,
                Some("check that the registry is reachable from the Docker engine, and `docker login REGISTRY`".into()),
            ),
        });
    }
    if let Some(e) = e.downcast_ref::<ProjectError>() {
        return Some(project_error(e));
    }
    if let Some(e) = e.downcast_ref::<SourceError>() {
        return Some(source_error(e));
    }
    if let Some(e) = e.downcast_ref::<crate::commands::Usage>() {
        return Some((ExitStatus::Usage, Some(e.hint.clone())));
    }
    None
}

/// What the sandbox refused: unsafe output, artifacts and images a plugin
/// may not hand over, an output tree that is not a real directory.
fn sandbox_error(e: &(dyn std::error::Error + 'static)) -> Option<(ExitStatus, Option<String>)> {
    let untrusted = "the plugin (or what its steps ran) did this, not hostbuild; see SECURITY.md. \
                     Check where the plugin comes from before running it again";
    if let Some(e) = e.downcast_ref::<UnsafeOutput>() {
        let hint = format!(
            "nothing was published; inspect and remove them ({}), and {untrusted}",
            e.files.iter().take(3).map(|u| u.path.as_str()).collect::<Vec<_>>().join(", ")
        );
        return Some((ExitStatus::Refused, Some(hint)));
    }
    if e.downcast_ref::<ArtifactRefused>().is_some() {
        let hint = format!(
            "artifacts must be regular files inside the output tree (no symlinks, no `..`), \
             at most --max-artifact-size; nothing was published; {untrusted}"
        );
        return Some((ExitStatus::Refused, Some(hint)));
    }
    if let Some(e) = e.downcast_ref::<ImageRefused>() {
        return Some(match e {
            ImageRefused::InvalidReference { .. } | ImageRefused::UnknownImage { .. } => {
                (ExitStatus::PluginFailed, Some(PLUGIN_BUG.into()))
            }
            ImageRefused::NotAllowed { reference, .. } => {
                let prefix = reference.rsplit_once(['/', ':']).map_or(reference.as_str(), |(p, _)| p);
                (
                    ExitStatus::NotGranted,
                    Some(format!(
                        "if you trust the plugin with it, pass --allow-push {prefix}/ (or grant \
                         `push = [\"{prefix}/\"]` in hostbuild.toml); nothing was tagged or pushed"
                    )),
                )
            }
            ImageRefused::NoPublish { .. } | ImageRefused::Reserved { .. } | ImageRefused::WouldOverwrite { .. } => {
                (ExitStatus::Refused, Some(format!("nothing was tagged or pushed; {untrusted}")))
            }
        });
    }
    if let Some(e) = e.downcast_ref::<OutputTreeError>() {
        return Some(match e {
            OutputTreeError::Symlink { path, .. } | OutputTreeError::NotADirectory { path } => (
                ExitStatus::Refused,
                Some(format!(
                    "a project may ship {} to redirect the build's writes; remove it (or pass another --out)",
                    path.display()
                )),
            ),
            OutputTreeError::Io { .. } => (ExitStatus::Unavailable, Some("check the directory's permissions".into())),
        });
    }
    if let Some(CheckError::Interrupted(_)) = e.downcast_ref::<CheckError>() {
        return Some((ExitStatus::Interrupted, None));
    }
    if let Some(CheckError::Changed { .. }) = e.downcast_ref::<CheckError>() {
        return Some((
            ExitStatus::Usage,
            Some("the file was written to while it was read; retry once it is complete".into()),
        ));
    }
    if e.downcast_ref::<CheckError>().is_some() {
        return Some((ExitStatus::Usage, Some("check the file paths".into())));
    }
    None
}

fn project_error(e: &ProjectError) -> (ExitStatus, Option<String>) {
    match e {
        ProjectError::Io { .. } => (ExitStatus::Unavailable, Some("check the file's permissions".into())),
        ProjectError::Invalid { .. } => {
            (ExitStatus::Usage, Some(format!("fix the file; the README's \"CI\" section shows {PROJECT_FILE}")))
        }
        ProjectError::NoProject { name, .. } => (
            ExitStatus::Usage,
            Some(format!(
                "pass a plugin file (plugins/{name}.wasm), or add it to the project: \
                 `hostbuild plugins add {name} SOURCE --grant-declared`; `hostbuild list` shows the installed ones"
            )),
        ),
        ProjectError::UnknownPlugin { name, known, .. } => (
            ExitStatus::Usage,
            Some(format!(
                "the project has: {}; add it with `hostbuild plugins add {name} SOURCE`",
                if known.is_empty() { "no plugins".into() } else { known.join(", ") }
            )),
        ),
        ProjectError::NotGranted { name, missing } => {
            let lines: Vec<&str> = missing.iter().map(|m| m.grant.as_str()).collect();
            (
                ExitStatus::NotGranted,
                Some(format!(
                    "if you trust it with that, grant it in {PROJECT_FILE} under [plugins.{name}.grants]: {}",
                    lines.join("; ")
                )),
            )
        }
        ProjectError::NotLocked { name } => (
            ExitStatus::LockMismatch,
            Some(format!(
                "--locked runs plugins by name from hostbuild.lock; lock `{name}` with `hostbuild lock` and commit the lock"
            )),
        ),
        ProjectError::LockMismatch { name, .. } => (
            ExitStatus::LockMismatch,
            Some(
                format!("if the change is intended, run `hostbuild plugins update {name}` and commit hostbuild.lock")
            ),
        ),
        ProjectError::VersionMismatch { .. } => (
            ExitStatus::PluginIncompatible,
            Some(format!("point the source at a matching release, or change the version requirement in {PROJECT_FILE}")),
        ),
        ProjectError::Fetch { source, .. } => source_error(source),
    }
}

fn source_error(e: &SourceError) -> (ExitStatus, Option<String>) {
    match e {
        SourceError::Invalid(_) => (
            ExitStatus::Usage,
            Some("a source is a path, https://..., s3://bucket/key or oci://registry/repository:tag".into()),
        ),
        SourceError::NotFound(_) => (ExitStatus::PluginNotFound, Some("check the source's address and tag".into())),
        SourceError::Denied(_) => (
            ExitStatus::Unavailable,
            Some("log in (`docker login REGISTRY` for OCI; AWS credentials for s3://) and try again".into()),
        ),
        SourceError::Unreachable(_) | SourceError::Failed(_) => (
            ExitStatus::Unavailable,
            Some("nothing was kept of a failed download; check the network and run again".into()),
        ),
        SourceError::Cache(_) => (ExitStatus::Unavailable, Some("pass a writable --cache-dir".into())),
        SourceError::Insecure(_) => (
            ExitStatus::Refused,
            Some("serve the plugin over https:// (or from this machine), or use an oci:// or s3:// source".into()),
        ),
        SourceError::TooLarge { .. } => (
            ExitStatus::Refused,
            Some(
                "raise HOSTBUILD_PLUGIN_MAX_SIZE (e.g. 1G) if the plugin is really that large; nothing was kept".into(),
            ),
        ),
        SourceError::Store(_) => (
            ExitStatus::Unavailable,
            Some("check the AWS configuration (AWS_PROFILE, AWS_ENDPOINT_URL, credentials)".into()),
        ),
    }
}

fn load_error(e: &LoadError) -> (ExitStatus, Option<String>) {
    let build_hint =
        "build plugins with `cargo xtask plugins`, or `cargo build --target wasm32-wasip2` in the plugin's crate";
    match e {
        LoadError::NotFound(_) => (
            ExitStatus::PluginNotFound,
            Some("check the path; bundled plugins are built into plugins/ by `cargo xtask plugins`".into()),
        ),
        LoadError::Unreadable { .. } => (ExitStatus::PluginNotFound, Some("check the file's permissions".into())),
        LoadError::NotWasm { .. } => {
            (ExitStatus::PluginInvalid, Some(format!("pass the compiled `.wasm` component; {build_hint}")))
        }
        LoadError::CoreModule(_) => (
            ExitStatus::PluginInvalid,
            Some(format!(
                "hostbuild runs components: {build_hint} (wasm32-wasip2 makes components), \
                 or wrap a core module with `wasm-tools component new`"
            )),
        ),
        LoadError::Invalid { .. } => (
            ExitStatus::PluginInvalid,
            Some(format!("the file may be truncated or corrupt; rebuild it ({build_hint})")),
        ),
        LoadError::NotAPlatform { .. } => (
            ExitStatus::PluginInvalid,
            Some("a platform implements the `hostbuild:platform/platform` world; see the plugin author guide in the README".into()),
        ),
        LoadError::IncompatibleWit { plugin, host, .. } => (
            ExitStatus::PluginIncompatible,
            Some(if plugin > host {
                format!("upgrade hostbuild to one implementing hostbuild:platform@{plugin}, or rebuild the plugin against {host}")
            } else {
                format!("rebuild the plugin against hostbuild:platform@{host} (update its hostbuild-sdk)")
            }),
        ),
        LoadError::Mismatch { .. } => (
            ExitStatus::PluginIncompatible,
            Some("plugins may import only the hostbuild:platform interfaces and WASI 0.2; rebuild it with hostbuild-sdk".into()),
        ),
        LoadError::Cache(c) => classify(c).unwrap_or((ExitStatus::Unavailable, None)),
        LoadError::MemoryLimit { .. } => (
            ExitStatus::PluginFailed,
            Some("its memories together exceed the limit; raise it with --plugin-memory-limit MIB if you trust it".into()),
        ),
        LoadError::TooLarge { .. } => (ExitStatus::PluginInvalid, Some("a plugin component is a few MiB at most; check the file".into())),
    }
}

fn store_error(e: &StoreError) -> (ExitStatus, Option<String>) {
    match e {
        StoreError::NotFound(_) => (ExitStatus::ArtifactMissing, None),
        StoreError::AlreadyExists(_) => (ExitStatus::Conflict, None),
        StoreError::InvalidKey(_) => (ExitStatus::Usage, None),
        StoreError::TooLarge { .. } => {
            (ExitStatus::ArtifactMissing, Some("the stored object is larger than expected; it was not used".into()))
        }
        StoreError::Refused { .. } => (
            ExitStatus::ArtifactMissing,
            Some("the store holds something that is no object (a symlink, a special file); it was not read".into()),
        ),
        StoreError::Denied(_) => (
            ExitStatus::Unavailable,
            Some(
                "check the bucket and the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
                 or the directory's permissions"
                    .into(),
            ),
        ),
        StoreError::Unreachable(_) => (
            ExitStatus::Unavailable,
            Some("check AWS_ENDPOINT_URL (or the profile's endpoint) and that the server is up".into()),
        ),
        StoreError::Io(_) => (ExitStatus::Unavailable, None),
    }
}

fn engine_error(e: &EngineError) -> (ExitStatus, Option<String>) {
    let prereqs = "run `bash scripts/prereqs.sh` as root, then `hostbuild doctor`";
    match e {
        EngineError::Unreachable(_) => (
            ExitStatus::Unavailable,
            Some(format!("start the engine (dockerd) or point DOCKER_HOST at one; {prereqs}")),
        ),
        EngineError::MissingBaseImage { .. } => (
            ExitStatus::Unavailable,
            Some("make the offline base images with `cargo xtask images` (scripts/prereqs.sh does)".into()),
        ),
        EngineError::ImageBuild { message, tail, .. } => {
            let shown: Vec<&str> = tail.iter().rev().take(15).rev().map(String::as_str).collect();
            let mut hint = format!("last lines of the image build:\n  {}", shown.join("\n  "));
            if tls_refused(message, tail) {
                hint.push_str(
                    "\n  the build could not verify a TLS certificate: behind a TLS-intercepting proxy, lend its \
                     CA to the images with --ca-bundle /etc/ssl/certs/ca-certificates.crt (or HOSTBUILD_CA_BUNDLE, \
                     or `ca-bundle` under [engine] in hostbuild.toml)",
                );
            }
            (ExitStatus::StepFailed, Some(hint))
        }
        EngineError::InvalidRecipe { .. } => (ExitStatus::PluginFailed, Some(PLUGIN_BUG.into())),
        EngineError::NoEmulation { handler, .. } => (
            ExitStatus::Unavailable,
            Some(format!(
                "apt-get install qemu-user-static binfmt-support && update-binfmts --enable {handler}; {prereqs}"
            )),
        ),
        EngineError::NoGpuRuntime { .. } => (
            ExitStatus::Unavailable,
            Some(
                "run on a machine with an NVIDIA GPU and nvidia-container-toolkit installed in the engine, \
                 or build without GPU access: `hostbuild run --no-gpu`"
                    .into(),
            ),
        ),
        EngineError::Api(_) => {
            (ExitStatus::Unavailable, Some(format!("`hostbuild doctor` checks the engine; {prereqs}")))
        }
    }
}

/// Whether an image build failed on a certificate it could not verify (pip,
/// curl, conda, apt and git each say it their way).
fn tls_refused(message: &str, tail: &[String]) -> bool {
    const SIGNS: &[&str] = &[
        "CERTIFICATE_VERIFY_FAILED",
        "certificate verify failed",
        "SSL certificate problem",
        "self-signed certificate in certificate chain",
        "self signed certificate in certificate chain",
        "unable to get local issuer certificate",
        "server certificate verification failed",
        "SSLCertVerificationError",
    ];
    std::iter::once(message).chain(tail.iter().map(String::as_str)).any(|l| SIGNS.iter().any(|s| l.contains(s)))
}

fn call_error(e: &CallError) -> (ExitStatus, Option<String>) {
    match e {
        CallError::TimeLimit { .. } => (
            ExitStatus::PluginFailed,
            Some("the plugin may be stuck in a loop; raise the limit with --plugin-time-limit SECONDS if it is just slow".into()),
        ),
        CallError::MemoryLimit { .. } => (
            ExitStatus::PluginFailed,
            Some("raise the limit with --plugin-memory-limit MIB if the plugin really needs more".into()),
        ),
        CallError::Trap { .. } => {
            (ExitStatus::PluginFailed, Some(PLUGIN_BUG.into()))
        }
        CallError::Malformed { .. } => {
            (ExitStatus::PluginFailed, Some(PLUGIN_BUG.into()))
        }
        CallError::Unavailable { hint, .. } => (ExitStatus::Unavailable, Some(hint.clone())),
        CallError::StepStopped { .. } => (
            ExitStatus::StepFailed,
            Some(
                "the step was stopped and removed; if it is just slow, raise the limit with --step-timeout DURATION \
                 (HOSTBUILD_STEP_TIMEOUT, or `step-timeout` under [engine] in hostbuild.toml)"
                    .into(),
            ),
        ),
        CallError::Reported { error, .. } => match error {
            PluginError::StepFailed(f) => {
                let tail = f.tail.iter().rev().take(20).rev().cloned().collect::<Vec<_>>().join("\n  ");
                (ExitStatus::StepFailed, Some(format!("last lines of `{}`:\n  {tail}", f.step)))
            }
            PluginError::InvalidOption(_) => (
                ExitStatus::Usage,
                Some("`hostbuild inspect PLUGIN` lists every option with its kind and default".into()),
            ),
            _ => (ExitStatus::PluginFailed, None),
        },
    }
}

/// Prints a report to stderr: text, or one JSON object with `--json`.
pub fn print(report: &Report, json: bool) {
    let mut err = std::io::stderr().lock();
    if json {
        let _ = writeln!(
            err,
            "{}",
            serde_json::json!({"v": crate::console::EVENTS_VERSION, "type": "error", "error": report})
        );
        return;
    }
    let _ = writeln!(err, "error: {}", report.message);
    for cause in &report.causes {
        let _ = writeln!(err, "  caused by: {cause}");
    }
    if let Some(hint) = &report.hint {
        let _ = writeln!(err, "  hint: {hint}");
    }
}
