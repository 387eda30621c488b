//! The webhook listener: an actix-web server whose every path goes to one handler, which looks
//! the endpoint up in the current configuration snapshot (so endpoints can come and go with a
//! reload, without re-registering routes).

pub mod body;
pub mod handler;
pub mod pipeline;
pub mod provider_url;
pub mod response;

use crate::config::Config;
use crate::store::IngestStore;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use arc_swap::ArcSwap;
use std::net::TcpListener;
use std::sync::Arc;

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
    let data = web::Data::from(ingress);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(handler::handle))
    })
    .client_request_timeout(timeout)
    .shutdown_timeout(10)
    .listen(listener)?;
    if let Some(w) = workers {
        server = server.workers(w);
    }
    Ok(server.run())
}
