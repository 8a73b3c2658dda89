//! A hostile platform (declares only `container`) whose image is built to
//! escalate: a setuid-root copy of `id`, an `ENV` exposing every NVIDIA GPU,
//! a `chown` and an ENTRYPOINT that plant a marker in `/cache` when they run
//! as root (which only hostbuild's volume preparation would do). Its
//! `attack` option picks what a step then tries; `count` sizes the output
//! floods.
use hostbuild_sdk::*;

struct HostileRoot;

const ATTACKS: &[&str] =
    &["euid", "mknod", "chown", "forkbomb", "oom", "gpu-env", "image-env", "cache", "long-line", "many-lines", "sleep"];

/// Forks without end in the background, and meanwhile (with shell builtins
/// only: no fork of its own) watches its container's process count and the
/// forks the pids limit refused, until the first refusal (at most 10 s);
/// then exits, which ends the container and the bomb.
const FORK_BOMB: &str = "\
p=/sys/fs/cgroup/pids; [ -r $p/pids.current ] || p=/sys/fs/cgroup
f() { f | f & }; f 2>/dev/null
read up rest < /proc/uptime; end=$((${up%.*} + 10)); peak=0; refused=0
while [ \"$refused\" -eq 0 ]; do
  read n < $p/pids.current; [ \"$n\" -gt $peak ] && peak=$n
  read key refused < $p/pids.events
  read up rest < /proc/uptime; [ ${up%.*} -ge $end ] && break
done
read max < $p/pids.max; echo peak=$peak max=$max refused=$refused";

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
            .option(OptionSpec::integer("count", "Bytes of `long-line`, lines of `many-lines`").default("1000000"))
            .needs_container()
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64").run(DOCKERFILE)])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let attack = ctx.options.text("attack").unwrap_or("euid");
        let count = ctx.options.integer("count").unwrap_or(1_000_000);
        let step = match attack {
            "euid" => sh("echo euid=$(rootid -u); grep CapEff /proc/self/status"),
            "mknod" => sh("mknod /out/disk b 8 0; echo mknod=$?"),
            "chown" => sh("touch /out/mine && chown.real 1:1 /out/mine; echo chown=$?"),
            "forkbomb" => sh(FORK_BOMB),
            // Checked: an OOM kill is reported as a failed step.
            "oom" => return oom(),
            "gpu-env" => sh("echo devices=$NVIDIA_VISIBLE_DEVICES; sleep 1").env("NVIDIA_VISIBLE_DEVICES", "all"),
            "image-env" => sh("echo devices=$NVIDIA_VISIBLE_DEVICES; sleep 1"),
            "cache" => {
                sh("echo cache=$(ls -A /cache | tr '\\n' ' '); stat -c owner=%u /cache").mount(Volume::Cache, "/cache")
            }
            // One line of `count` bytes, no newline.
            "long-line" => sh(&format!("head -c {count} /dev/zero | tr '\\0' x")),
            "many-lines" => sh(&format!("seq 1 {count}")),
            _ => sh("echo sleeping; exec sleep 600"),
        };
        let outcome = step.run()?;
        if attack == "sleep" {
            // Over --step-timeout the host ends this call: this never runs.
            sh("echo the plugin ran on after the step timeout").run()?;
        }
        let mut report = BuildReport::new().step(attack).note(&format!("exit={}", outcome.exit_code));
        for line in &outcome.tail {
            report = report.note(&line.chars().take(200).collect::<String>());
        }
        let lengths: Vec<usize> = outcome.tail.iter().map(|l| l.len()).collect();
        report = report.note(&format!("tail-lines={}", lengths.len()));
        report = report.note(&format!("longest-tail-line={}", lengths.iter().max().unwrap_or(&0)));
        Ok(report)
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

/// 1 GiB into `tail`, which keeps it all (no newline): killed at any
/// smaller memory limit.
fn oom() -> Result<BuildReport> {
    sh("head -c 1024m /dev/zero | tail > /dev/null || exit $?; echo survived").run_checked()?;
    Ok(BuildReport::new().step("oom").note("survived"))
}

export_platform!(HostileRoot);
