//! A store written by the v1 layout (tests/fixtures/store_v1: pending, delivered and
//! dead-lettered jobs, a chunked body) opens under layout v2 with nothing lost: every event with
//! its body, every job in its state with its attempts, the dedup markers, the queue. The copy is
//! migrated at open; opening it again is a no-op.

use hookroute::store::{AcceptOutcome, ClaimRequest, JobState, NewEvent, SledStore, Stores};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const TTL: Duration = Duration::from_secs(7 * 24 * 3600);

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn check(store: &Stores) {
    let find = |id: &'static str| async move {
        store
            .events
            .find_event("stripe", id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} lost"))
    };
    assert_eq!(store.events.counts().await.unwrap().events, 4);

    let detail = |seq| async move { store.events.event_detail(seq).await.unwrap().unwrap() };
    let pending = detail(find("evt_pending").await).await;
    assert_eq!(pending.jobs.len(), 1);
    assert_eq!(pending.jobs[0].job.state, JobState::Pending);
    assert_eq!(pending.jobs[0].attempts.len(), 1);
    assert_eq!(pending.jobs[0].attempts[0].status, Some(500));
    assert_eq!(pending.jobs[0].attempts[0].response_body, b"answer");

    let delivered = detail(find("evt_delivered").await).await;
    assert!(matches!(
        delivered.jobs[0].job.state,
        JobState::Delivered { .. }
    ));

    let dead_seq = find("evt_dead").await;
    let letters = store.events.dead_letters(None, 10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].1.event_seq, dead_seq);
    assert!(
        matches!(&letters[0].1.state, JobState::Dead { reason, .. } if reason == "HTTP 400 Bad Request")
    );

    let big_seq = find("evt_big").await;
    let big = detail(big_seq).await;
    let mut states: Vec<(String, bool)> = big
        .jobs
        .iter()
        .map(|j| (j.job.target.clone(), j.job.state == JobState::Pending))
        .collect();
    states.sort();
    assert_eq!(states, [("audit".into(), false), ("payments".into(), true)]);
    let body = store.events.body(big_seq).await.unwrap();
    assert_eq!(body.len(), big.event.body_len as usize);
    assert!(body.starts_with(br#"{"id":"evt_big","pad":"xxx"#) && body.ends_with(br#"xx"}"#));
    assert_eq!(body.len(), 80_000 + 25);

    // The two pending jobs are in the queue, claimable.
    let claimed = store
        .queue
        .claim_due(ClaimRequest {
            now_ms: u64::MAX / 4,
            lease: Duration::from_secs(60),
            free: [(Arc::from("payments"), 10), (Arc::from("audit"), 10)].into(),
            limit: 100,
        })
        .await
        .unwrap();
    let mut due: Vec<u64> = claimed.jobs.iter().map(|c| c.job.event_seq).collect();
    due.sort();
    let mut want = vec![find("evt_pending").await, big_seq];
    want.sort();
    assert_eq!(due, want);
    for c in claimed.jobs {
        store.queue.release(c).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_store_opens_under_v2_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store_v1/data"),
        &data,
    );
    {
        let store = SledStore::open(&data, TTL).expect("the v1 store opens");
        let stores = Stores::of(Arc::new(store));
        check(&stores).await;
        // Dedup markers came along: the same id is a duplicate.
        let seq = stores
            .events
            .find_event("stripe", "evt_dead")
            .await
            .unwrap()
            .unwrap();
        let again = stores
            .ingest
            .accept_durable(NewEvent {
                endpoint: "stripe",
                event_id: "evt_dead",
                event_type: None,
                received_at_ms: 1_765_000_000_000 + 1000,
                headers: vec![],
                body: b"{}",
                targets: &[Arc::from("payments")],
                ordering_keys: &[],
            })
            .await
            .unwrap();
        assert_eq!(again, AcceptOutcome::Duplicate { event_seq: seq });
    }
    // Opened again: already v2, the same data, and new events numbered after the old ones.
    let store = open_again(&data);
    let stores = Stores::of(Arc::new(store));
    check(&stores).await;
    let new = stores
        .ingest
        .accept_durable(NewEvent {
            endpoint: "stripe",
            event_id: "evt_new",
            event_type: None,
            received_at_ms: 1_765_000_000_000 + 2000,
            headers: vec![],
            body: b"{}",
            targets: &[Arc::from("payments")],
            ordering_keys: &[],
        })
        .await
        .unwrap();
    let big = stores
        .events
        .find_event("stripe", "evt_big")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(new, AcceptOutcome::Accepted { event_seq, .. } if event_seq > big));
}

/// Opens the store again once the previous handle's threads have let go of sled's lock.
fn open_again(dir: &Path) -> SledStore {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match SledStore::open(dir, TTL) {
            Ok(store) => return store,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}
