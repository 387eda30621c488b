//! Fills a store with a backlog for `bench/drain.sh`: N accepted events of 1 KiB, each with one
//! job for target `sink`, all due now, written straight through the sled engine (no HTTP) and
//! made durable once at the end. The router started on that store then drains it.
//!
//! Usage: `cargo run --release --example bench_fill -- DATA_DIR N`

use hookroute::store::{NewEvent, SledStore};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: bench_fill DATA_DIR N");
    let n: usize = args.next().and_then(|v| v.parse().ok()).expect("N events");
    let store = SledStore::open(dir.as_ref(), Duration::from_secs(3600)).expect("store opens");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let targets: Vec<Arc<str>> = vec![Arc::from("sink")];
    let padding = "x".repeat(1000);
    for i in 0..n {
        let id = format!("evt_fill_{i}");
        let body = format!(r#"{{"id":"{id}","type":"payment_intent.created","pad":"{padding}"}}"#);
        store
            .accept(NewEvent {
                endpoint: "stripe",
                event_id: &id,
                event_type: Some("payment_intent.created"),
                received_at_ms: now,
                headers: vec![("content-type".into(), b"application/json".to_vec())],
                body: body.as_bytes(),
                targets: &targets,
                ordering_keys: &[],
            })
            .expect("accept");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(store.durable()).expect("durable");
    println!("{n} events written to {dir}");
}
