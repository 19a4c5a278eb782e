//! `bench-report`: rewrites the generated section of docs/BENCHMARKS.md from the outputs of
//! infra/bench.sh (see `benches::report`). Every other section of the file is kept as is.
//!
//! ```text
//! bench-report --dir target/bench-report [--markdown docs/BENCHMARKS.md]
//! ```
//! reads `<dir>/criterion/`, `<dir>/machine.txt`, `<dir>/sizes.tsv`, `<dir>/sizes-arm64.tsv`,
//! `<dir>/arm64.txt`, `<dir>/coldstart.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use benches::report::{self, Inputs};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(arg(&args, "--dir", "target/bench-report"));
    let markdown = PathBuf::from(arg(&args, "--markdown", "docs/BENCHMARKS.md"));
    let inputs = Inputs {
        criterion_dir: dir.join("criterion"),
        machine: dir.join("machine.txt"),
        sizes: dir.join("sizes.tsv"),
        arm64: dir.join("arm64.txt"),
        sizes_arm64: dir.join("sizes-arm64.tsv"),
        coldstart: dir.join("coldstart.json"),
        template: PathBuf::from(arg(&args, "--template", "template.yaml")),
    };
    let section = match report::render(&inputs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-report: {e}");
            return ExitCode::FAILURE;
        }
    };
    let current = std::fs::read_to_string(&markdown).unwrap_or_default();
    if let Err(e) = std::fs::write(&markdown, report::splice(&current, &section)) {
        eprintln!("bench-report: cannot write {}: {e}", markdown.display());
        return ExitCode::FAILURE;
    }
    println!("{section}");
    eprintln!("bench-report: rewrote the generated section of {}", markdown.display());
    ExitCode::SUCCESS
}
