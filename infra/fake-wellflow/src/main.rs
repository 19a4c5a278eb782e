//! `fake-wellflow` binary: serves the fake Wellflow API on 127.0.0.1 for local runs.
//! Port from `--port N` / `--port=N`, else `PORT`, else 9100; API key from `WELLFLOW_API_KEY`
//! (default `local-dev-key`). JSON logs go to stderr; stdout gets one "listening" line.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use tokio::net::TcpListener;

const DEFAULT_PORT: u16 = 9100;
const DEFAULT_API_KEY: &str = "local-dev-key";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().json().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).init();

    let port = match port(std::env::args().skip(1), std::env::var("PORT").ok()) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("fake-wellflow: {message}\nusage: fake-wellflow [--port N]  (env: PORT, WELLFLOW_API_KEY)");
            return ExitCode::from(2);
        }
    };
    let api_key = std::env::var("WELLFLOW_API_KEY")
        .ok()
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| DEFAULT_API_KEY.to_owned());

    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("fake-wellflow: cannot bind 127.0.0.1:{port}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    println!("fake-wellflow listening on http://127.0.0.1:{port}");
    tracing::info!(port, "fake-wellflow started");

    tokio::select! {
        () = fake_wellflow::serve(listener, api_key) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    ExitCode::SUCCESS
}

/// `--port N` or `--port=N` wins over `PORT`; default 9100.
fn port(mut args: impl Iterator<Item = String>, env_port: Option<String>) -> Result<u16, String> {
    let mut raw = None;
    while let Some(arg) = args.next() {
        if arg == "--port" {
            raw = Some(args.next().ok_or("--port needs a value")?);
        } else if let Some(value) = arg.strip_prefix("--port=") {
            raw = Some(value.to_owned());
        } else {
            return Err(format!("unknown argument {arg:?}"));
        }
    }
    match raw.or(env_port) {
        Some(raw) => raw.parse().map_err(|_| format!("invalid port {raw:?}")),
        None => Ok(DEFAULT_PORT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<u16, String> {
        port(args.iter().map(|arg| (*arg).to_owned()), env.map(str::to_owned))
    }

    #[test]
    fn port_from_flag_env_or_default() {
        assert_eq!(parse(&[], None), Ok(9100));
        assert_eq!(parse(&[], Some("9200")), Ok(9200));
        assert_eq!(parse(&["--port", "9300"], Some("9200")), Ok(9300));
        assert_eq!(parse(&["--port=9400"], None), Ok(9400));
        assert!(parse(&["--port"], None).is_err());
        assert!(parse(&["--port", "x"], None).is_err());
        assert!(parse(&["--verbose"], None).is_err());
    }
}
