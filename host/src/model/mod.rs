//! hostbuild's own model of what plugins say and are told: the host-side
//! twins of the WIT `types` records. The runtime converts at its boundary
//! (`runtime/convert.rs`), so everything past it is independent of the WIT
//! version a plugin was built for; a second WIT version is a second set of
//! conversions, not a change here.

mod build;
mod description;
mod image;

pub use build::{Artifact, ArtifactRole, BuildContext, BuildReport, PluginError, StepFailure, TestSummary};
pub use description::{Capabilities, Description, OptionKind, OptionSpec, OptionValue, TypedValue};
pub use image::{ContextFile, ImageRecipe};
