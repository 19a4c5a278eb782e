//! Accept loop: serves the router over HTTP/1 on each connection, and drops a connection
//! without any response when the fault gate triggers its `ConnectionKill` (mode `down`).

use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::faults::ConnectionKill;

/// Serves until `shutdown`'s sender is dropped; open connections are dropped then too.
pub(crate) async fn run(listener: TcpListener, app: Router, mut shutdown: watch::Receiver<()>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, _peer)) => {
                tokio::spawn(serve_connection(stream, app.clone(), shutdown.clone()));
            }
            Err(err) => {
                // Typically out of file descriptors: back off briefly instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, app: Router, mut shutdown: watch::Receiver<()>) {
    let kill = ConnectionKill::default();
    let router = TowerToHyperService::new(app);
    let request_kill = kill.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(request_kill.clone());
        router.call(request)
    });
    let connection = http1::Builder::new().timer(TokioTimer::new()).serve_connection(TokioIo::new(stream), service);

    // Returning drops `connection`, which closes the socket without writing anything more.
    tokio::select! {
        result = connection => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        () = kill.triggered() => tracing::debug!("connection dropped (fault mode down)"),
        _ = shutdown.changed() => {}
    }
}
