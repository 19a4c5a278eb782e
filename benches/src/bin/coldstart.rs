//! `coldstart`: the cold-start proxy of infra/bench.sh (see `benches::coldstart`). Run from the
//! repository root after `cargo lambda build --release` and `cargo build -p local-stack`:
//!
//! ```text
//! coldstart [--lambda-dir target/lambda] [--functions redirect,webhook] [--runs 20]
//!           [--local-stack target/debug/local-stack] [--template template.yaml]
//!           [--python .venv/bin/python] [--moto-script infra/moto_server.py]
//!           [--out target/bench-report/coldstart.json] [--no-profile]
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
    let runs = match arg(&args, "--runs", "20").parse::<usize>() {
        Ok(n) if n > 0 => n,
        _ => {
            eprintln!("--runs must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let opts = Options {
        lambda_dir: PathBuf::from(arg(&args, "--lambda-dir", "target/lambda")),
        functions: arg(&args, "--functions", "redirect,webhook")
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        runs,
        local_stack: PathBuf::from(arg(&args, "--local-stack", "target/debug/local-stack")),
        template: PathBuf::from(arg(&args, "--template", "template.yaml")),
        python: PathBuf::from(arg(&args, "--python", ".venv/bin/python")),
        moto_script: PathBuf::from(arg(&args, "--moto-script", "infra/moto_server.py")),
        out: PathBuf::from(arg(&args, "--out", "target/bench-report/coldstart.json")),
        profile: !args.iter().any(|a| a == "--no-profile"),
    };
    match coldstart::run(&opts) {
        Ok(reports) => {
            for r in &reports {
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
