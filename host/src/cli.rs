//! The command line, as clap definitions only; `commands/` runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::options::RawOption;

/// Build every platform of your project in sandboxed WebAssembly plugins.
///
/// A platform (an armv7 cross-build, a CUDA builder, a wheel builder...) is
/// a `.wasm` component that says what to build; hostbuild lends it
/// containers, files and artifact storage, and nothing else.
#[derive(Debug, Parser)]
#[command(name = "hostbuild", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Examples:\n  \
    hostbuild inspect plugins/armv7.wasm\n  \
    hostbuild run plugins/armv7.wasm --source examples/cmake-hello --opt build-type=Debug\n  \
    hostbuild doctor\n  \
    hostbuild plugins add armv7 oci://registry.example/platforms/armv7:0.1.0 --grant-declared\n  \
    hostbuild run armv7 --locked --publish\n\n\
    Exit status: 0 ok, 1 internal error, 2 usage, 3 plugin not found, 4 plugin invalid,\n\
    5 plugin incompatible, 6 plugin failed, 7 step failed, 8 infrastructure unavailable,\n\
    9 conflict, 10 artifact missing or corrupt, 11 not granted, 12 differs from hostbuild.lock,\n\
    13 refused (the plugin broke a sandbox rule).")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Show debug lines from plugins and the host.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/hostbuild or ~/.cache/hostbuild].
    #[arg(long, global = true, env = "HOSTBUILD_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build with one or more platform plugins.
    ///
    /// For each plugin: load it, check its options, build its images, run
    /// its build steps, then detect its artifacts in `OUT/build.<platform>/`.
    Run(RunArgs),
    /// Show what a plugin is, needs and accepts, without running it.
    Inspect(InspectArgs),
    /// Check what hostbuild needs on this machine, with the fix for each gap.
    Doctor(DoctorArgs),
    /// Open an interactive shell in a platform's image, mounts included.
    ///
    /// The source is at /work/src (read-only), the output tree at /work/out,
    /// the platform's cache volume at /work/cache.
    Shell(ShellArgs),
    /// Remove containers left by hostbuild processes that are gone.
    Clean(CleanArgs),
    /// Show the cache volumes (ccache) and compiled plugins; `clear` empties them.
    Cache(CacheArgs),
    /// Push, pull and list sets in the artifact repository.
    ///
    /// Layout: <commit>/<os>/<variant>/<static|dynamic>/ with the primary
    /// files, their .meta, licenses/, dependencies/ and manifest.json; with
    /// --layout mxnet-cd, <commit>/<static|dynamic>/<os>/<variant>/ as MXNet
    /// CD's artifact_repository.py writes and reads it.
    Artifacts(ArtifactsArgs),
    /// Write hostbuild.lock: the exact bytes, version, WIT version and base
    /// images of every plugin in hostbuild.toml.
    ///
    /// Commit the lock; `hostbuild run --locked NAME` (or HOSTBUILD_LOCKED=1)
    /// then refuses anything that differs from it.
    Lock(LockArgs),
    /// Add, update, verify, list and publish a project's plugins.
    Plugins(PluginsArgs),
    /// Show the plugins you can run without a project: those installed with
    /// hostbuild and those downloaded into the cache.
    List(ListArgs),
    /// Write a new platform plugin crate, ready to build, inspect and run.
    ///
    /// The crate depends on hostbuild-sdk by version; its README says how to
    /// build it (`cargo build --release --target wasm32-wasip2`) and its
    /// test.sh builds, inspects and runs it on a project.
    New(NewArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    ///
    /// bash: `hostbuild completions bash > ~/.local/share/bash-completion/completions/hostbuild`
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a new plugin starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// Builds and tests a CMake project in a container (configure, compile, ctest).
    Cmake,
    /// Builds a Python package's wheel (C extensions too) and installs it in a fresh venv.
    Wheel,
    /// Makes a container image from the project's package list and tags it.
    Image,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The directory to create; its name is the platform's name unless --name.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// What the plugin does.
    #[arg(long, value_enum, default_value = "cmake")]
    pub template: Template,

    /// The platform's name (lowercase letters, digits and `-`) [default: PATH's last component].
    #[arg(long)]
    pub name: Option<String>,

    /// Take hostbuild-sdk from this git repository (at the SDK's release
    /// tag) until it is published: written as a [patch.crates-io] entry.
    #[arg(long, value_name = "URL", conflicts_with = "sdk_path")]
    pub sdk_git: Option<String>,

    /// Take hostbuild-sdk from a local checkout's sdk/ directory: written as
    /// a [patch.crates-io] entry.
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write hostbuild.1 and a page per subcommand (hostbuild-run.1, ...) into DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Print the lock as JSON on stdout too.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PluginsArgs {
    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: PluginsCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Add a plugin to hostbuild.toml (created if missing) and lock it.
    ///
    /// SOURCE is a path, an https:// URL, s3://bucket/key or
    /// oci://registry/repository:tag. Nothing is granted unless asked:
    /// --grant container --grant emulation:arm ..., or --grant-declared to
    /// grant exactly what the plugin declares (see `hostbuild inspect`).
    Add {
        /// The name to run it by; must be the name the plugin declares.
        name: String,
        source: String,
        /// Semver requirement on the plugin's version, e.g. ^0.1.
        #[arg(long, value_name = "REQ")]
        version_req: Option<String>,
        /// A grant: container, gpu, network, image-network, publish, write-source,
        /// emulation:ARCH, env:VAR, push:PREFIX (repeatable).
        #[arg(long = "grant", value_name = "GRANT")]
        grants: Vec<String>,
        /// Grant everything the plugin declares.
        #[arg(long, conflicts_with = "grants")]
        grant_declared: bool,
    },
    /// Fetch the plugins again and record what the sources now hold in hostbuild.lock.
    Update {
        /// Only these plugins [default: all].
        names: Vec<String>,
    },
    /// Check hostbuild.lock against the sources and the engine, running nothing.
    Verify,
    /// Show each plugin: name, version, WIT version, source, sha256, grants.
    List,
    /// Publish a plugin file to an OCI registry (wasm OCI artifact format).
    Publish {
        /// The plugin file.
        file: PathBuf,
        /// oci://registry/repository:tag
        target: String,
    },
}

#[derive(Debug, Args)]
pub struct ArtifactsArgs {
    /// The repository: a directory, file:///path or s3://bucket/prefix [default: [store] url in ./hostbuild.toml, else ./artifacts].
    #[arg(long, global = true, env = "HOSTBUILD_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// The repository's key layout: hostbuild (<commit>/<os>/<variant>/<linkage>/) or mxnet-cd
    /// (<commit>/<linkage>/<os>/<variant>/, MXNet CD's tool) [default: [store] layout, else hostbuild].
    #[arg(long, global = true, env = "HOSTBUILD_STORE_LAYOUT", value_name = "LAYOUT")]
    pub layout: Option<crate::artifact::layout::Layout>,

    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: ArtifactsCommand,
}

/// What names a set, each found automatically when not given.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// Commit [default: HOSTBUILD_SHA, MXNET_SHA, GIT_COMMIT, else `git rev-parse HEAD` in --source].
    #[arg(long, value_name = "SHA")]
    pub git_sha: Option<String>,

    /// Operating system, e.g. debian12 [default: ID+VERSION_ID of /etc/os-release].
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,

    /// Variant, e.g. cpu, mkl, cu121, cu121mkl [default: cpu].
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,

    /// The git checkout the commit is read from.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub source: PathBuf,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct LinkageArgs {
    /// The set is statically linked.
    #[arg(long = "static")]
    pub r#static: bool,
    /// The set is dynamically linked.
    #[arg(long)]
    pub dynamic: bool,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactsCommand {
    /// Publish files as one set; refuses to overwrite a set unless --force.
    Push {
        #[command(flatten)]
        set: SetArgs,
        #[command(flatten)]
        linkage: LinkageArgs,
        /// The primary files (libraries, executables).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// License files, published under licenses/.
        #[arg(long, num_args = 1.., value_name = "FILE")]
        licenses: Vec<PathBuf>,
        /// Runtime dependencies, published under dependencies/.
        #[arg(long, num_args = 1.., value_name = "FILE")]
        dependencies: Vec<PathBuf>,
        /// Replace an existing or half-published set.
        #[arg(long)]
        force: bool,
    },
    /// Download a set into a new directory, verifying every sha256.
    Pull {
        #[command(flatten)]
        set: SetArgs,
        #[command(flatten)]
        linkage: LinkageArgs,
        /// Where the set appears (must not exist, or be empty).
        #[arg(value_name = "DIR")]
        dest: PathBuf,
        /// Also pull a set that has no manifest (one MXNet CD's tool pushed):
        /// its files are checked only against the sizes the store lists.
        #[arg(long)]
        allow_unverified: bool,
    },
    /// List the sets (of one commit, or all); sets without a manifest are marked unverified.
    Ls {
        /// Only this commit [default: the current checkout's, if any].
        #[arg(long, value_name = "SHA")]
        git_sha: Option<String>,
        /// The git checkout the default commit is read from.
        #[arg(long, default_value = ".", value_name = "DIR")]
        source: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The plugin file, or a plugin name from ./hostbuild.toml.
    #[arg(value_name = "PLUGIN")]
    pub plugin: String,

    /// Which of the plugin's images [default: its first].
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// The project, mounted read-only at /work/src.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub source: PathBuf,

    /// Where `build.<platform>/` is, mounted at /work/out.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,

    /// A plugin option, KEY=VALUE (repeatable).
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub options: Vec<RawOption>,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Command to run instead of `bash`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub lend: LendArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: Option<CacheCommand>,

    /// `swarm`: the cache volumes of every ready node of the swarm this
    /// engine manages, each node's read through its own engine by
    /// hostbuild's helper image [default: local, or `kind` under [engine]].
    #[arg(long = "engine", env = "HOSTBUILD_ENGINE", value_name = "KIND", global = true)]
    pub kind: Option<EngineKind>,

    /// With --engine swarm: the registry the nodes pull the helper image
    /// from (as for `run`).
    #[arg(long, env = "HOSTBUILD_REGISTRY", value_name = "REGISTRY", global = true)]
    pub registry: Option<crate::capabilities::container::swarm::Registry>,

    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Remove the cache volumes of every platform, or of one.
    Clear {
        /// Only this platform's cache.
        #[arg(value_name = "PLATFORM")]
        platform: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plugin files (`.wasm` components), e.g. plugins/armv7.wasm, or names
    /// of plugins in ./hostbuild.toml, e.g. armv7.
    #[arg(required = true, value_name = "PLUGIN")]
    pub plugins: Vec<String>,

    /// Refuse to run anything that differs from hostbuild.lock (plugin
    /// bytes, version, WIT version, base images); plugins run by name only.
    #[arg(long, env = "HOSTBUILD_LOCKED", value_parser = clap::builder::FalseyValueParser::new())]
    pub locked: bool,

    /// The project to build; mounted read-only.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub source: PathBuf,

    /// Where the output trees `build.<platform>/` go.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,

    /// A plugin option, KEY=VALUE, or PLUGIN:KEY=VALUE for one plugin of
    /// several. Repeatable. `hostbuild inspect` lists the options.
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    pub options: Vec<RawOption>,

    /// Print the result as JSON on stdout (logs become JSON lines on stderr).
    #[arg(long)]
    pub json: bool,

    /// How progress shows on stderr: `tty` redraws one live line per
    /// platform (step, elapsed time, latest output), `plain` prints
    /// greppable lines for CI logs, `json` the versioned JSON-lines events;
    /// `auto` is tty on a terminal, plain otherwise.
    #[arg(long, env = "HOSTBUILD_PROGRESS", value_enum, default_value_t = crate::console::Progress::Auto, value_name = "MODE")]
    pub progress: crate::console::Progress,

    /// How many platforms run at once; each has its own output tree.
    #[arg(long, short = 'j', default_value_t = 1, value_name = "N")]
    pub jobs: usize,

    /// Say which input of an image recipe changed when an image is rebuilt
    /// (and that none did when it is reused).
    #[arg(long)]
    pub explain: bool,

    /// Publish each platform's artifacts to the repository (--store).
    #[arg(long)]
    pub publish: bool,

    /// The artifact repository for --publish: a directory, file:///path or s3://bucket/prefix
    /// [default: [store] url in ./hostbuild.toml, else ./artifacts].
    #[arg(long, env = "HOSTBUILD_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// The repository's key layout for --publish: hostbuild or mxnet-cd [default: [store] layout, else hostbuild].
    #[arg(long, env = "HOSTBUILD_STORE_LAYOUT", value_name = "LAYOUT")]
    pub layout: Option<crate::artifact::layout::Layout>,

    /// Commit the artifacts belong to [default: HOSTBUILD_SHA, MXNET_SHA, GIT_COMMIT, else git in --source].
    #[arg(long, value_name = "SHA")]
    pub git_sha: Option<String>,

    /// With --publish: replace sets that already exist.
    #[arg(long)]
    pub force: bool,

    /// Let image artifacts be tagged (and, with --publish, pushed) under
    /// this registry/repository prefix, e.g. registry.example:5000/team/
    /// (repeatable; a project grants the same with `push = [...]`).
    #[arg(long = "allow-push", value_name = "PREFIX")]
    pub allow_push: Vec<String>,

    /// Largest artifact file hostbuild checks, hashes, publishes or fetches
    /// for a plugin; a larger (or sparse, endless) file is refused.
    #[arg(long, env = "HOSTBUILD_MAX_ARTIFACT_SIZE", default_value = "64G", value_name = "SIZE")]
    pub max_artifact_size: crate::units::Size,

    #[command(flatten)]
    pub lend: LendArgs,

    /// Build GPU platforms without GPU access: no NVIDIA runtime needed, and
    /// steps' GPU requests are logged instead of passed to the engine.
    #[arg(long)]
    pub no_gpu: bool,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Longest a step may run, e.g. 90s, 30m, 2h or 1d (a bare number is
    /// seconds); a step over it is stopped and removed, and the run fails
    /// (exit 7) [default: no limit, or `step-timeout` under [engine]].
    #[arg(long, env = "HOSTBUILD_STEP_TIMEOUT", value_name = "DURATION")]
    pub step_timeout: Option<crate::units::Span>,

    #[command(flatten)]
    pub swarm: SwarmArgs,

    /// Size cap of each platform's ccache volume.
    #[arg(long, env = "HOSTBUILD_CCACHE_SIZE", default_value = "10G", value_name = "SIZE")]
    pub ccache_size: String,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin file, or a plugin name from ./hostbuild.toml.
    #[arg(value_name = "PLUGIN")]
    pub plugin: String,

    /// Also show the image recipes (Dockerfile, base image, platform, build
    /// args, context files) the plugin returns for these options; builds nothing.
    #[arg(long)]
    pub images: bool,

    /// A plugin option for --images, KEY=VALUE (repeatable).
    #[arg(long = "opt", value_name = "KEY=VALUE", requires = "images")]
    pub options: Vec<RawOption>,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Also check the swarm: `--engine swarm`.
    #[arg(long = "engine", env = "HOSTBUILD_ENGINE", value_name = "KIND")]
    pub engine: Option<EngineKind>,
}

/// What the user lends a plugin's containers besides the logical volumes
/// (`run` and `shell`).
#[derive(Debug, Args, Clone)]
pub struct LendArgs {
    /// Lend a host directory to the plugin's containers at /work/NAME
    /// (repeatable; `:ro` for read-only), e.g. --mount data=/srv/data:ro.
    #[arg(long = "mount", value_name = "NAME=DIR[:ro]")]
    pub mounts: Vec<String>,

    /// Mount the source read-write instead of read-only (what the
    /// `write-source` grant gives a project's plugin).
    #[arg(long)]
    pub write_source: bool,
}

/// How containers run (`run` and `shell`); each flag wins over the same key
/// of `[engine]` in ./hostbuild.toml.
#[derive(Debug, Args, Clone, Default)]
pub struct EngineArgs {
    /// Memory limit of every container hostbuild starts (no swap beyond it),
    /// e.g. 8G [default: 3/4 of this machine's memory].
    #[arg(long, env = "HOSTBUILD_MEMORY", value_name = "SIZE")]
    pub memory: Option<crate::units::Size>,

    /// Most processes in every container hostbuild starts [default: 4096].
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,

    /// A CA bundle (PEM, e.g. /etc/ssl/certs/ca-certificates.crt) every image
    /// trusts: put into each build and its trust store, and named by
    /// SSL_CERT_FILE, REQUESTS_CA_BUNDLE, PIP_CERT, CURL_CA_BUNDLE and conda's
    /// ssl_verify. For a proxy that re-signs TLS. Changing it rebuilds images.
    #[arg(long, env = "HOSTBUILD_CA_BUNDLE", value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
}

/// Which engine runs the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// Containers on the Docker engine DOCKER_HOST names (or the local socket).
    Local,
    /// Services on the Docker Swarm that engine manages.
    Swarm,
}

/// Where steps run (`run` and `doctor`); each flag wins over `[engine]`.
#[derive(Debug, Args, Clone, Default)]
pub struct SwarmArgs {
    /// Where steps run: `local` containers, or services on the `swarm` the
    /// Docker engine manages [default: local, or `kind` under [engine]].
    #[arg(long = "engine", env = "HOSTBUILD_ENGINE", value_name = "KIND")]
    pub kind: Option<EngineKind>,

    /// The registry swarm nodes pull the recipe images from (pushed there,
    /// pinned by digest): HOST:PORT[/PREFIX], or PUSH=PULL when the nodes
    /// reach it by another name than this machine.
    #[arg(long, env = "HOSTBUILD_REGISTRY", value_name = "REGISTRY")]
    pub registry: Option<crate::capabilities::container::swarm::Registry>,

    /// A placement constraint on the swarm node of every platform
    /// (repeatable), e.g. node.labels.pool==ci.
    #[arg(long = "constraint", value_name = "EXPR")]
    pub constraints: Vec<String>,

    /// Stage the source and output through the store (--store s3://...)
    /// even for platforms on the manager node.
    #[arg(long)]
    pub always_stage: bool,
}

/// Limits every plugin call runs under.
#[derive(Debug, Args, Clone, Copy)]
pub struct LimitArgs {
    /// Seconds a plugin may compute in one call (time in containers does not count).
    #[arg(long, env = "HOSTBUILD_PLUGIN_TIME_LIMIT", default_value_t = 60.0, value_name = "SECONDS")]
    pub plugin_time_limit: f64,

    /// MiB of memory a plugin may use.
    #[arg(long, env = "HOSTBUILD_PLUGIN_MEMORY_LIMIT", default_value_t = 512, value_name = "MIB")]
    pub plugin_memory_limit: usize,
}

impl Cli {
    /// Whether the command asked for JSON output.
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Run(a) => a.json || a.progress == crate::console::Progress::Json,
            Command::Inspect(a) => a.json,
            Command::Doctor(a) => a.json,
            Command::Clean(a) => a.json,
            Command::Cache(a) => a.json,
            Command::Shell(_) => false,
            Command::Artifacts(a) => a.json,
            Command::Lock(a) => a.json,
            Command::Plugins(a) => a.json,
            Command::List(a) => a.json,
            Command::New(_) | Command::Completions(_) | Command::Man(_) => false,
        }
    }
}
