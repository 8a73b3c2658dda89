//! The runtime boundary: the generated WIT types of `hostbuild:platform`
//! into hostbuild's own model ([`crate::model`]) and back. Nothing past the
//! runtime and the capability bindings sees a generated type, so hosting a
//! second WIT version is a second set of these conversions.

use super::bindings::types as wit;
use crate::model;

/// The name of an architecture in `architectures.tsv` (a new `cpu-arch`
/// case is named here, and the compiler points at this match).
pub fn arch_name(arch: wit::CpuArch) -> &'static str {
    match arch {
        wit::CpuArch::Amd64 => "amd64",
        wit::CpuArch::Arm => "arm",
        wit::CpuArch::Arm64 => "arm64",
    }
}

pub fn description(d: wit::Description) -> model::Description {
    model::Description {
        name: d.name,
        version: d.version,
        summary: d.summary,
        options: d.options.into_iter().map(option_spec).collect(),
        capabilities: capabilities(d.capabilities),
    }
}

fn option_spec(o: wit::OptionSpec) -> model::OptionSpec {
    let kind = match o.kind {
        wit::OptionKind::Text => model::OptionKind::Text,
        wit::OptionKind::Boolean => model::OptionKind::Boolean,
        wit::OptionKind::Integer => model::OptionKind::Integer,
        wit::OptionKind::Choice(c) => model::OptionKind::Choice(c),
    };
    model::OptionSpec { name: o.name, summary: o.summary, kind, default: o.default }
}

fn capabilities(c: wit::Capabilities) -> model::Capabilities {
    model::Capabilities {
        container: c.container,
        emulation: c.emulation.into_iter().map(|a| arch_name(a).to_string()).collect(),
        gpu: c.gpu,
        network_during_build: c.network_during_build,
        image_network: c.image_network,
        publish: c.publish,
        env_vars: c.env_vars,
    }
}

pub fn option_values(values: &[model::OptionValue]) -> Vec<wit::OptionValue> {
    values
        .iter()
        .map(|v| wit::OptionValue {
            name: v.name.clone(),
            value: match &v.value {
                model::TypedValue::Text(t) => wit::TypedValue::Text(t.clone()),
                model::TypedValue::Boolean(b) => wit::TypedValue::Boolean(*b),
                model::TypedValue::Integer(i) => wit::TypedValue::Integer(*i),
            },
        })
        .collect()
}

pub fn image_recipe(r: wit::ImageRecipe) -> model::ImageRecipe {
    model::ImageRecipe {
        name: r.name,
        dockerfile: r.dockerfile,
        context: r
            .context
            .into_iter()
            .map(|f| model::ContextFile { path: f.path, contents: f.contents, executable: f.executable })
            .collect(),
        build_args: r.build_args,
        platform: r.platform,
        base_image: r.base_image,
    }
}

pub fn build_context(c: &model::BuildContext) -> wit::BuildContext {
    wit::BuildContext { run_id: c.run_id.clone(), options: option_values(&c.options), images: c.images.clone() }
}

pub fn build_report(r: wit::BuildReport) -> model::BuildReport {
    model::BuildReport {
        steps: r.steps,
        tests: r.tests.map(|t| model::TestSummary { passed: t.passed, failed: t.failed, skipped: t.skipped }),
        notes: r.notes,
    }
}

pub fn artifact(a: wit::Artifact) -> model::Artifact {
    let role = match a.role {
        wit::ArtifactRole::Primary => model::ArtifactRole::Primary,
        wit::ArtifactRole::License => model::ArtifactRole::License,
        wit::ArtifactRole::Dependency => model::ArtifactRole::Dependency,
        wit::ArtifactRole::Wheel => model::ArtifactRole::Wheel,
        wit::ArtifactRole::Image => model::ArtifactRole::Image,
        wit::ArtifactRole::TestReport => model::ArtifactRole::TestReport,
    };
    model::Artifact { path: a.path, role, properties: a.properties }
}

pub fn plugin_error(e: wit::PluginError) -> model::PluginError {
    match e {
        wit::PluginError::InvalidOption(m) => model::PluginError::InvalidOption(m),
        wit::PluginError::StepFailed(f) => {
            model::PluginError::StepFailed(model::StepFailure { step: f.step, exit_code: f.exit_code, tail: f.tail })
        }
        wit::PluginError::Unsupported(m) => model::PluginError::Unsupported(m),
        wit::PluginError::Failed(m) => model::PluginError::Failed(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_arch_is_in_the_architecture_table() {
        for arch in [wit::CpuArch::Amd64, wit::CpuArch::Arm, wit::CpuArch::Arm64] {
            assert!(crate::arch::by_name(arch_name(arch)).is_some(), "{arch:?}");
        }
    }
}
