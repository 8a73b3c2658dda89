//! Write hostbuild platform plugins in plain Rust.
//!
//! A platform is a type implementing [`Platform`], exported once with
//! [`export_platform!`] and compiled with `cargo build --target wasm32-wasip2`.
//! The builders here ([`Description`], [`ImageRecipe`], [`Step`],
//! [`Artifact`]) produce the `hostbuild:platform` WIT types; the generated
//! bindings stay out of sight.
//!
//! ```ignore
//! use hostbuild_sdk::*;
//!
//! struct Hello;
//!
//! impl Platform for Hello {
//!     fn describe() -> Description {
//!         Description::new("hello", "0.1.0", "Prints a greeting in a container")
//!             .needs_container()
//!     }
//!     fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
//!         Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64")])
//!     }
//!     fn build(_: &Context) -> Result<BuildReport> {
//!         Step::new("greet", "main", ["echo", "hello"]).run_checked()?;
//!         Ok(BuildReport::new().step("greet"))
//!     }
//! }
//!
//! export_platform!(Hello);
//! ```
//!
//! # Versions
//!
//! The crate's major.minor is the `hostbuild:platform` WIT version it is
//! generated from ([`WIT_VERSION`]); the WIT files are part of the crate
//! (`wit/`). Depend on `hostbuild-sdk = "0.2"`, or, before it is published,
//! on a tag of the hostbuild repository:
//! `hostbuild-sdk = { git = "https://YOUR-GIT-HOST/hostbuild.git", tag = "hostbuild-sdk-v0.2.0" }`.

mod artifact;
mod description;
mod error;
pub mod host;
mod options;
mod recipe;
mod report;
mod step;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "platform",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_platform_bindings",
        default_bindings_module: "hostbuild_sdk::bindings",
    });
}

pub use artifact::{Artifact, ArtifactRole};
pub use description::{Capabilities, CpuArch, Description, OptionKind, OptionSpec};
pub use error::{Error, Result};
pub use options::{Context, Options, Value};
pub use recipe::ImageRecipe;
pub use report::{BuildReport, TestSummary};
pub use step::{GpuRequest, Step, StepOutcome, Volume};

/// Version of the `hostbuild:platform` WIT package this SDK builds against.
pub const WIT_VERSION: &str = "0.2.0";

#[cfg(test)]
mod tests {
    /// The WIT the bindings come from (`wit/`, a link to the repository's
    /// `wit/`), [`WIT_VERSION`] and the crate's version stay one version.
    #[test]
    fn sdk_version_follows_the_wit_version() {
        let world = include_str!("../wit/world.wit");
        let package = world.lines().find_map(|l| l.strip_prefix("package hostbuild:platform@")).expect("package line");
        assert_eq!(package.trim_end_matches(';'), super::WIT_VERSION);
        let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        assert_eq!(major_minor(env!("CARGO_PKG_VERSION")), major_minor(super::WIT_VERSION));
    }
}

/// A build platform. Implement it on a unit struct and export it with
/// [`export_platform!`].
pub trait Platform {
    /// Who the platform is, its options and the capabilities it needs.
    /// Runs before any grant is checked, so it must not call the host.
    fn describe() -> Description;

    /// The images the steps run in, for the given options.
    fn image(options: &Options) -> Result<Vec<ImageRecipe>>;

    /// Runs the build's steps with [`Step::run`]. The images exist by now.
    fn build(ctx: &Context) -> Result<BuildReport> {
        let _ = ctx;
        Ok(BuildReport::new())
    }

    /// Lists the artifacts in the output tree; see [`host::workspace`].
    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        let _ = ctx;
        Ok(Vec::new())
    }
}

#[doc(hidden)]
pub mod __private {
    use crate::bindings::exports::hostbuild::platform::plugin as wit;
    use crate::bindings::hostbuild::platform::types as t;
    use crate::{Context, Options, Platform};

    pub use crate::bindings::exports::hostbuild::platform::plugin::Guest;

    pub fn describe<P: Platform>() -> t::Description {
        P::describe().into_wit()
    }

    pub fn image<P: Platform>(options: Vec<t::OptionValue>) -> Result<Vec<t::ImageRecipe>, t::PluginError> {
        let options = Options::from_wit(options);
        P::image(&options).map(|recipes| recipes.into_iter().map(|r| r.into_wit()).collect()).map_err(|e| e.into_wit())
    }

    pub fn build<P: Platform>(ctx: wit::BuildContext) -> Result<t::BuildReport, t::PluginError> {
        P::build(&Context::from_wit(ctx)).map(|r| r.into_wit()).map_err(|e| e.into_wit())
    }

    pub fn detect_artifacts<P: Platform>(ctx: wit::BuildContext) -> Result<Vec<t::Artifact>, t::PluginError> {
        P::detect_artifacts(&Context::from_wit(ctx))
            .map(|list| list.into_iter().map(|a| a.into_wit()).collect())
            .map_err(|e| e.into_wit())
    }
}

/// Exports a [`Platform`] implementation as the plugin's `hostbuild:platform`
/// world. Use it exactly once, at the crate root.
#[macro_export]
macro_rules! export_platform {
    ($platform:ty) => {
        struct __HostbuildPlatformExport;

        impl $crate::__private::Guest for __HostbuildPlatformExport {
            fn describe() -> $crate::bindings::hostbuild::platform::types::Description {
                $crate::__private::describe::<$platform>()
            }
            fn image(
                options: ::std::vec::Vec<$crate::bindings::hostbuild::platform::types::OptionValue>,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::bindings::hostbuild::platform::types::ImageRecipe>,
                $crate::bindings::hostbuild::platform::types::PluginError,
            > {
                $crate::__private::image::<$platform>(options)
            }
            fn build(
                ctx: $crate::bindings::hostbuild::platform::types::BuildContext,
            ) -> ::std::result::Result<
                $crate::bindings::hostbuild::platform::types::BuildReport,
                $crate::bindings::hostbuild::platform::types::PluginError,
            > {
                $crate::__private::build::<$platform>(ctx)
            }
            fn detect_artifacts(
                ctx: $crate::bindings::hostbuild::platform::types::BuildContext,
            ) -> ::std::result::Result<
                ::std::vec::Vec<$crate::bindings::hostbuild::platform::types::Artifact>,
                $crate::bindings::hostbuild::platform::types::PluginError,
            > {
                $crate::__private::detect_artifacts::<$platform>(ctx)
            }
        }

        $crate::bindings::__export_platform_bindings!(
            __HostbuildPlatformExport with_types_in $crate::bindings
        );
    };
}
