//! The webhook listener: an actix-web server whose every path goes to one handler, which looks
//! the endpoint up in the current configuration snapshot (so endpoints can come and go with a
//! reload, without re-registering routes). The server is what `HttpServer` would build, with
//! each connection wrapped so that the HTTP layer's own refusals answer JSON too.

pub mod body;
pub mod handler;
pub mod json_refusals;
pub mod pipeline;
pub mod provider_url;
pub mod response;

use crate::config::Config;
use crate::store::IngestStore;
use actix_http::error::DispatchError;
use actix_http::HttpService;
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};
use arc_swap::ArcSwap;
use json_refusals::JsonRefusals;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// What every ingress request needs: the live config, the store, and the metrics it counts in.
pub struct Ingress {
    pub config: Arc<ArcSwap<Config>>,
    pub store: Arc<dyn IngestStore>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

pub fn server(
    listener: TcpListener,
    ingress: Arc<Ingress>,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let timeout = ingress.config.load().server.request_timeout;
    let addr = listener.local_addr()?;
    let data = web::Data::from(ingress);
    // What `HttpServer` builds, with each connection wrapped so that actix's own body-less
    // refusals answer JSON like every other refusal (see `json_refusals`).
    let mut builder = actix_server::Server::build().shutdown_timeout(10);
    if let Some(w) = workers {
        builder = builder.workers(w);
    }
    // Keep-alive connections close when the server stops, as with `HttpServer`.
    let stopping = builder.graceful_shutdown_signal();
    let builder = builder.listen("ingress", listener, move || {
        let app = App::new()
            .app_data(data.clone())
            .default_service(web::to(handler::handle));
        let stopping = stopping.clone();
        let http = HttpService::build()
            .client_request_timeout(timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .local_addr(addr)
            .h1(map_config(app, |_| AppConfig::default()));
        fn_service(|io: TcpStream| {
            let peer = io.peer_addr().ok();
            std::future::ready(Ok::<_, DispatchError>((JsonRefusals::new(io), peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}
