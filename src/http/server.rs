//! The accept loop: hyper with deadlines on every wait, so stalled clients cannot hold
//! pompier. Headers must arrive within `http.header_read_timeout_secs`, a whole request
//! within `http.request_timeout_secs` (the router's timeout layer), at most
//! `http.max_connections` are served at once, and shutdown waits for open connections
//! no longer than the grace time.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::Layer;

use crate::config::HttpSettings;
use crate::shutdown::until_set;

/// Serves `router` on `listener` until `stopping` turns true, then lets the requests
/// in flight finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    mut stopping: watch::Receiver<bool>,
    grace: Duration,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(settings.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_read_timeout_secs));
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            _ = until_set(&mut stopping) => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = until_set(&mut stopping) => break,
        };
        // Who is at the other end, for the sign-in's limit per client: added around the
        // router as it is (`Router::layer` would rebuild every route for each connection,
        // some 190 KiB each: a thousand live boards would hold 190 MiB).
        let service = TowerToHyperService::new(
            axum::Extension(axum::extract::ConnectInfo(remote)).layer(router.clone()),
        );
        let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs(), "connections still open after the grace time: closing them");
        }
    }
    Ok(())
}
