//! A live plugin instance: its store (WASI closed, limits set), and typed
//! wrappers around each export that turn every failure into a [`CallError`].

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{Platform, PlatformPre};
use super::convert;
use super::limits::{GuestClock, Limits, MemoryLimitExceeded, MemoryLimiter, TimeLimitExceeded};
use super::load::{error_chain, LoadError, LoadedComponent, HOST_WIT_VERSION};
use crate::capabilities::artifacts::{self, ArtifactsCtxView, ArtifactsView};
use crate::capabilities::container::{self, ContainerCtxView, ContainerView};
use crate::capabilities::host_info::{self, HostInfoCtxView, HostInfoView};
use crate::capabilities::log::{self, LogCtxView, LogView};
use crate::capabilities::workspace::{self, WorkspaceCtxView, WorkspaceView};
use crate::capabilities::Lent;
use crate::model::{Artifact, BuildContext, BuildReport, Description, ImageRecipe, OptionValue, PluginError};

/// Most bytes of a plugin's stderr kept, to explain a trap.
const STDERR_CAPACITY: usize = 64 << 10;

/// The per-instance state every host function sees.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    clock: GuestClock,
    time_limit: Duration,
    stderr: MemoryOutputPipe,
    lent: Lent,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl super::bindings::types::Host for HostState {}

// Each capability's view is the lent part of the state.
impl LogView for HostState {
    fn log(&mut self) -> LogCtxView<'_> {
        self.lent.log()
    }
}

impl HostInfoView for HostState {
    fn host_info(&mut self) -> HostInfoCtxView<'_> {
        self.lent.host_info()
    }
}

impl WorkspaceView for HostState {
    fn workspace(&mut self) -> WorkspaceCtxView<'_> {
        self.lent.workspace()
    }
}

impl ContainerView for HostState {
    fn container(&mut self) -> ContainerCtxView<'_> {
        self.lent.container()
    }
}

impl ArtifactsView for HostState {
    fn artifacts(&mut self) -> ArtifactsCtxView<'_> {
        self.lent.artifacts()
    }
}

/// Why an export call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` exceeded its time limit of {}s in `{call}`", .limit.as_secs_f64())]
    TimeLimit { plugin: String, call: &'static str, limit: Duration },
    #[error("plugin `{plugin}` exceeded its memory limit of {} MiB in `{call}`", .limit_bytes >> 20)]
    MemoryLimit { plugin: String, call: &'static str, limit_bytes: usize },
    #[error("plugin `{plugin}` crashed (trapped) in `{call}`: {message}")]
    Trap {
        plugin: String,
        call: &'static str,
        message: String,
        #[source]
        printed: Option<PluginPrinted>,
    },
    #[error("plugin `{plugin}` returned malformed data from `{call}`: {problem}")]
    Malformed { plugin: String, call: &'static str, problem: String },
    #[error("plugin `{plugin}` could not finish `{call}`: {reason}")]
    Unavailable { plugin: String, call: &'static str, reason: String, hint: String },
    #[error("plugin `{plugin}` failed in `{call}`: {error}")]
    Reported { plugin: String, call: &'static str, error: PluginError },
    /// The host stopped one of its steps (over the step timeout).
    #[error("plugin `{plugin}` failed in `{call}`: {stopped}")]
    StepStopped { plugin: String, call: &'static str, stopped: crate::capabilities::container::StepStopped },
}

/// What a crashed plugin printed last (a Rust panic message, usually).
#[derive(Debug, thiserror::Error)]
#[error("the plugin printed: {0}")]
pub struct PluginPrinted(pub String);

impl PluginPrinted {
    /// The panic message if there is one, else the last lines, or `None`.
    fn from_stderr(stderr: &str) -> Option<Self> {
        let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let text = match lines.iter().rposition(|l| l.contains("panicked at")) {
            Some(i) => lines[i..].iter().take_while(|l| !l.starts_with("note:")).copied().collect::<Vec<_>>().join(" "),
            None => lines[lines.len().saturating_sub(3)..].join(" | "),
        };
        let text = text.find("panicked at").map_or(text.clone(), |i| text[i..].to_string());
        (!text.is_empty()).then_some(Self(text))
    }
}

/// An instantiated plugin.
pub struct Plugin {
    store: Store<HostState>,
    bindings: Platform,
    name: String,
}

impl Plugin {
    /// Instantiates `loaded` with closed WASI and the given limits and lent
    /// capabilities.
    pub async fn instantiate(loaded: &LoadedComponent, limits: Limits, lent: Lent) -> Result<Self, LoadError> {
        let engine = super::engine();
        let mismatch = |e: wasmtime::Error| LoadError::Mismatch {
            path: loaded.path.clone(),
            host: HOST_WIT_VERSION,
            reason: error_chain(&e),
        };
        let mut linker: Linker<HostState> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(mismatch)?;
        // The world's interfaces, each linked by its own capability.
        super::bindings::types::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s).map_err(mismatch)?;
        log::add_to_linker(&mut linker).map_err(mismatch)?;
        host_info::add_to_linker(&mut linker).map_err(mismatch)?;
        workspace::add_to_linker(&mut linker).map_err(mismatch)?;
        container::add_to_linker(&mut linker).map_err(mismatch)?;
        artifacts::add_to_linker(&mut linker).map_err(mismatch)?;
        let pre = linker.instantiate_pre(&loaded.component).map_err(mismatch)?;
        let pre = PlatformPre::new(pre).map_err(mismatch)?;

        // WASI closed by default: no preopens, no env, no args, no sockets.
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let name = lent.gate.plugin().to_string();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            clock: GuestClock::default(),
            time_limit: limits.time,
            stderr,
            lent,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            if state.clock.guest_time(state.lent.gate.host_time()) > state.time_limit {
                return Err(wasmtime::Error::new(TimeLimitExceeded { limit: state.time_limit }));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let bindings = pre.instantiate_async(&mut store).await.map_err(|e| {
            // Its memories may already be over the limit (several core
            // instances count together), or a start function may trap.
            match e.downcast_ref::<MemoryLimitExceeded>() {
                Some(m) => LoadError::MemoryLimit { path: loaded.path.clone(), limit_bytes: m.limit_bytes },
                None => LoadError::Invalid { path: loaded.path.clone(), reason: error_chain(&e) },
            }
        })?;
        Ok(Self { store, bindings, name })
    }

    /// The lent capabilities, to update them between calls (e.g. once the
    /// plugin has described itself).
    pub fn lent_mut(&mut self) -> &mut Lent {
        &mut self.store.data_mut().lent
    }

    /// Renames the plugin in messages (from file stem to declared name).
    pub fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
        self.store.data_mut().lent.gate.set_plugin(name);
    }

    pub async fn describe(&mut self) -> Result<Description, CallError> {
        self.begin();
        let r = self.bindings.hostbuild_platform_plugin().call_describe(&mut self.store).await;
        self.finish("describe", r).map(convert::description)
    }

    pub async fn image(&mut self, options: &[OptionValue]) -> Result<Vec<ImageRecipe>, CallError> {
        self.begin();
        let options = convert::option_values(options);
        let r = self.bindings.hostbuild_platform_plugin().call_image(&mut self.store, &options).await;
        Ok(self.finish_reported("image", r)?.into_iter().map(convert::image_recipe).collect())
    }

    pub async fn build(&mut self, ctx: &BuildContext) -> Result<BuildReport, CallError> {
        self.begin();
        let ctx = convert::build_context(ctx);
        let r = self.bindings.hostbuild_platform_plugin().call_build(&mut self.store, &ctx).await;
        self.finish_reported("build", r).map(convert::build_report)
    }

    pub async fn detect_artifacts(&mut self, ctx: &BuildContext) -> Result<Vec<Artifact>, CallError> {
        self.begin();
        let ctx = convert::build_context(ctx);
        let r = self.bindings.hostbuild_platform_plugin().call_detect_artifacts(&mut self.store, &ctx).await;
        Ok(self.finish_reported("detect-artifacts", r)?.into_iter().map(convert::artifact).collect())
    }

    fn begin(&mut self) {
        self.store.data_mut().clock.restart();
        self.store.data_mut().lent.gate.begin_call();
    }

    fn finish_reported<T>(
        &mut self,
        call: &'static str,
        r: wasmtime::Result<Result<T, super::bindings::types::PluginError>>,
    ) -> Result<T, CallError> {
        let plugin = self.name.clone();
        let result = self.finish(call, r)?;
        if let (Err(_), Some(u)) = (&result, self.store.data_mut().lent.gate.take_unavailable()) {
            return Err(CallError::Unavailable { plugin, call, reason: u.reason, hint: u.hint });
        }
        result.map_err(|error| CallError::Reported { plugin, call, error: convert::plugin_error(error) })
    }

    fn finish<T>(&mut self, call: &'static str, r: wasmtime::Result<T>) -> Result<T, CallError> {
        let e = match r {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let plugin = self.name.clone();
        if let Some(t) = e.downcast_ref::<TimeLimitExceeded>() {
            return Err(CallError::TimeLimit { plugin, call, limit: t.limit });
        }
        if let Some(m) = e.downcast_ref::<MemoryLimitExceeded>() {
            return Err(CallError::MemoryLimit { plugin, call, limit_bytes: m.limit_bytes });
        }
        if let Some(stopped) = e.downcast_ref::<crate::capabilities::container::StepStopped>() {
            return Err(CallError::StepStopped { plugin, call, stopped: stopped.clone() });
        }
        let stderr = String::from_utf8_lossy(&self.store.data().stderr.contents()).into_owned();
        let message = match e.downcast_ref::<wasmtime::Trap>() {
            Some(trap) => trap.to_string(),
            None => error_chain(&e),
        };
        // A value the canonical ABI cannot lift (bad UTF-8, out-of-range
        // enum...) is malformed data rather than a crash.
        if e.downcast_ref::<wasmtime::Trap>().is_none() && !message.contains("wasm trap") {
            return Err(CallError::Malformed { plugin, call, problem: message });
        }
        Err(CallError::Trap { plugin, call, message, printed: PluginPrinted::from_stderr(&stderr) })
    }
}

impl crate::diagnostics::Diagnose for CallError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::{ExitStatus, PLUGIN_BUG};
        match self {
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
}
