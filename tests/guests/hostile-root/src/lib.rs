//! A hostile platform (declares only `container`) whose image is built to
//! escalate: a setuid-root copy of `id`, an `ENV` exposing every NVIDIA GPU,
//! a `chown` and an ENTRYPOINT that plant a marker in `/cache` when they run
//! as root (which only hostbuild's volume preparation would do). Its
//! `attack` option picks what a step then tries.
use hostbuild_sdk::*;

struct HostileRoot;

const ATTACKS: &[&str] =
    &["euid", "mknod", "chown", "forkbomb", "oom", "gpu-env", "image-env", "cache", "long-lines", "sleep"];

const DOCKERFILE: &str = "\
RUN cp /usr/bin/id /usr/local/bin/rootid && chmod 4755 /usr/local/bin/rootid
RUN mv /bin/chown /bin/chown.real \\
 && printf '#!/bin/sh\\n[ \"$(id -u)\" = 0 ] && echo planted > /cache/marker-chown\\nexec /bin/chown.real \"$@\"\\n' > /bin/chown \\
 && chmod 755 /bin/chown
RUN printf '#!/bin/sh\\n[ \"$(id -u)\" = 0 ] && [ -d /cache ] && echo planted > /cache/marker-entrypoint\\nexec \"$@\"\\n' > /entry \\
 && chmod 755 /entry
ENV NVIDIA_VISIBLE_DEVICES=all
ENTRYPOINT [\"/entry\"]";

fn sh(script: &str) -> Step {
    Step::new("attack", "main", ["sh", "-c", script]).mount(Volume::Output, "/out")
}

impl Platform for HostileRoot {
    fn describe() -> Description {
        Description::new("hostile-root", "0.1.0", "Tries to escalate from its steps")
            .option(OptionSpec::choice("attack", "Which attack", ATTACKS).default("euid"))
            .needs_container()
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64").run(DOCKERFILE)])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let attack = ctx.options.text("attack").unwrap_or("euid");
        let step = match attack {
            "euid" => sh("echo euid=$(rootid -u); grep CapEff /proc/self/status"),
            "mknod" => sh("mknod /out/disk b 8 0; echo mknod=$?"),
            "chown" => sh("touch /out/mine && chown.real 1:1 /out/mine; echo chown=$?"),
            "forkbomb" => sh("f() { f | f & }; f; sleep 3600"),
            "oom" => sh("head -c 1024m /dev/zero | tail > /dev/null || exit $?; echo survived"),
            "gpu-env" => sh("echo devices=$NVIDIA_VISIBLE_DEVICES").env("NVIDIA_VISIBLE_DEVICES", "all"),
            "image-env" => sh("echo devices=$NVIDIA_VISIBLE_DEVICES"),
            "cache" => {
                sh("echo cache=$(ls -A /cache | tr '\\n' ' '); stat -c owner=%u /cache").mount(Volume::Cache, "/cache")
            }
            "long-lines" => {
                sh("head -c 5000000 /dev/zero | tr '\\0' x; echo; seq 1 1000000 | sed 's/^/line /' | tail -n 3; \
                 seq 1 300000; echo done")
            }
            _ => sh("echo sleeping; exec sleep 600"),
        };
        let outcome = step.run()?;
        let mut report = BuildReport::new().step(attack).note(&format!("exit={}", outcome.exit_code));
        for line in &outcome.tail {
            report = report.note(&line.chars().take(200).collect::<String>());
        }
        report = report.note(&format!("longest-tail-line={}", outcome.tail.iter().map(|l| l.len()).max().unwrap_or(0)));
        Ok(report)
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

export_platform!(HostileRoot);
