//! What a platform's run produced, for the summary `run` prints (text, or
//! JSON with `--json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::artifact::checked::{CheckedArtifact, Role};
use crate::console::sanitize::sanitize;
use crate::model::BuildReport;
use crate::registry::publish::PublishedImage;

/// One platform's result.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformSummary {
    pub name: String,
    pub version: String,
    pub output: PathBuf,
    pub steps: Vec<String>,
    pub tests: Option<Tests>,
    pub notes: Vec<String>,
    /// Files (checked) first, then images.
    pub artifacts: Vec<ArtifactSummary>,
    /// Set directories published in the store.
    pub published: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tests {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// A checked file, or an image tagged (and maybe pushed).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ArtifactSummary {
    File { path: String, role: Role, size: u64, sha256: String, properties: BTreeMap<String, String> },
    Image(PublishedImage),
}

impl PlatformSummary {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        version: &str,
        output: &Path,
        report: BuildReport,
        files: &[CheckedArtifact],
        images: Vec<PublishedImage>,
        published: Vec<String>,
        took: Duration,
    ) -> Self {
        // Everything a plugin named or wrote is shown safe (file names too).
        let clean = |s: &str| sanitize(s).into_owned();
        let mut artifacts: Vec<ArtifactSummary> = files
            .iter()
            .map(|a| ArtifactSummary::File {
                path: clean(&a.path),
                role: a.role,
                size: a.size,
                sha256: a.sha256.clone(),
                properties: a.properties.iter().map(|(k, v)| (clean(k), clean(v))).collect(),
            })
            .collect();
        artifacts.extend(images.into_iter().map(ArtifactSummary::Image));
        Self {
            name: name.into(),
            version: version.into(),
            output: output.to_path_buf(),
            steps: report.steps.iter().map(|s| clean(s)).collect(),
            tests: report.tests.map(|t| Tests { passed: t.passed, failed: t.failed, skipped: t.skipped }),
            notes: report.notes.iter().map(|s| clean(s)).collect(),
            artifacts,
            published,
            duration_ms: took.as_millis() as u64,
        }
    }

    /// The text summary: one block per platform.
    pub fn print_text(&self) {
        println!("{} {}: done in {:.1}s", self.name, self.version, self.duration_ms as f64 / 1000.0);
        if let Some(t) = &self.tests {
            println!("  tests: {} passed, {} failed, {} skipped", t.passed, t.failed, t.skipped);
        }
        for n in &self.notes {
            println!("  {n}");
        }
        println!("  artifacts: {} in {}", self.artifacts.len(), self.output.display());
        for a in &self.artifacts {
            match a {
                ArtifactSummary::File { path, role, size, sha256, .. } => {
                    let role = serde_json::to_value(role).ok().and_then(|v| v.as_str().map(String::from));
                    println!(
                        "    {:<11} {path}  {size} bytes  sha256:{}",
                        role.unwrap_or_default(),
                        &sha256[..12.min(sha256.len())]
                    );
                }
                ArtifactSummary::Image(i) => {
                    let digest = i.digest.as_deref().unwrap_or("not pushed (--publish pushes)");
                    println!("    image       {}  {}  {digest}", i.path, i.platform);
                }
            }
        }
    }
}
