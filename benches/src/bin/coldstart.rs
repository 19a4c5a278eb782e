//! `coldstart`: the cold-start, memory and cost-input bench of infra/bench.sh (see
//! `benches::coldstart`). Run from the repository root after the release builds and
//! `cargo build -p local-stack`:
//!
//! ```text
//! coldstart [--lambda-dir target/lambda] [--baselines-dir target/baselines/lambda]
//!           [--functions admin,credit-retry,...] [--rounds 30] [--memory-invocations 1000]
//!           [--local-stack target/debug/local-stack] [--template template.yaml]
//!           [--python .venv/bin/python] [--python-peer benches/baselines/python]
//!           [--moto-script infra/moto_server.py] [--out target/bench-report/coldstart.json]
//!           [--profile]
//! ```
//! (`--profile-child <fn>` is internal: one run of the in-process profile.)

use std::path::PathBuf;
use std::process::ExitCode;

use benches::coldstart::{self, Options};
use benches::stats::{format_ms, Summary};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--profile-child") {
        return match coldstart::profile::child_main(&arg(&args, "--profile-child", "redirect")) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("profile child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let positive = |name: &str, default: &str| match arg(&args, name, default).parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name} must be a positive integer")),
    };
    let (rounds, memory_invocations) = match (positive("--rounds", "30"), positive("--memory-invocations", "1000")) {
        (Ok(r), Ok(m)) => (r, m),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let lambda_dir = PathBuf::from(arg(&args, "--lambda-dir", "target/lambda"));
    let present: Vec<String> = std::fs::read_dir(&lambda_dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().join("bootstrap").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut present = present;
    // Ours right after the baselines: the redirect, the webhook, the dashboard, then the rest.
    let rank = |f: &str| ["redirect", "webhook", "dashboard"].iter().position(|x| *x == f).unwrap_or(3);
    present.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    let opts = Options {
        baselines_dir: PathBuf::from(arg(&args, "--baselines-dir", "target/baselines/lambda")),
        functions: arg(&args, "--functions", &present.join(","))
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        lambda_dir,
        rounds,
        memory_invocations,
        python_peer_dir: PathBuf::from(arg(&args, "--python-peer", "benches/baselines/python")),
        local_stack: PathBuf::from(arg(&args, "--local-stack", "target/debug/local-stack")),
        template: PathBuf::from(arg(&args, "--template", "template.yaml")),
        python: PathBuf::from(arg(&args, "--python", ".venv/bin/python")),
        moto_script: PathBuf::from(arg(&args, "--moto-script", "infra/moto_server.py")),
        out: PathBuf::from(arg(&args, "--out", "target/bench-report/coldstart.json")),
        profile: args.iter().any(|a| a == "--profile"),
    };
    match coldstart::run(&opts) {
        Ok(results) => {
            for r in &results.cold {
                println!("{} ({} runs)", r.function, r.runs);
                for m in &r.measurements {
                    if let Some(s) = Summary::of(&m.ms) {
                        println!(
                            "  {:<70} median {:>10}  min {:>10}  max {:>10}",
                            m.name,
                            format_ms(s.median),
                            format_ms(s.min),
                            format_ms(s.max)
                        );
                    }
                }
            }
            println!("wrote {}", opts.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coldstart: {e}");
            ExitCode::FAILURE
        }
    }
}
