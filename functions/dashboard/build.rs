//! Converts the hand-written `infra/openapi.yaml` into the JSON served at `/openapi.json`
//! (at build time, so the Lambda carries no YAML parser).

fn main() {
    // Read at run time: a build script binary compiled in another checkout sharing the target
    // dir (worktrees) would otherwise embed that checkout's path via env!().
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let src = std::path::Path::new(&manifest_dir).join("../../infra/openapi.yaml");
    println!("cargo:rerun-if-changed={}", src.display());
    let yaml = std::fs::read_to_string(&src).expect("infra/openapi.yaml is readable");
    let doc: serde_json::Value = serde_yaml::from_str(&yaml).expect("infra/openapi.yaml is valid YAML");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&doc).expect("serialises")).expect("OUT_DIR is writable");
}
