//! An engine that keeps everything in memory, behind one lock: for fast tests of the consumers
//! (dispatcher, retention, admin) and as the reference the conformance suite checks the others
//! against. Not offered in routes.yaml: nothing it holds survives the process, so it can keep
//! none of the router's promises. Its semantics are the sled engine's: the dedup window, leases,
//! attempts counted only when recorded, retention that never touches a pending job.

use super::leases::Leases;
use super::model::*;
use super::traits::*;
use super::QueueError;
use futures_util::future::{ready, BoxFuture};
use futures_util::FutureExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Default)]
struct State {
    next_id: u64,
    /// `(endpoint, event id)` -> (seq, accepted at).
    dedup: HashMap<(String, String), (EventSeq, u64)>,
    events: BTreeMap<EventSeq, (Event, Vec<u8>)>,
    jobs: BTreeMap<JobId, Job>,
    /// (due at, job): the pending jobs in due order.
    due: BTreeSet<(u64, JobId)>,
    attempts: BTreeMap<JobId, Vec<Attempt>>,
    paused: BTreeSet<String>,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn jobs_of(&self, seq: EventSeq) -> Vec<(JobId, Job)> {
        self.jobs
            .iter()
            .filter(|(_, j)| j.event_seq == seq)
            .map(|(id, j)| (*id, j.clone()))
            .collect()
    }

    fn new_job(&mut self, seq: EventSeq, target: &str, key: Option<&str>, now_ms: u64) -> JobId {
        let id = self.next_id();
        self.jobs.insert(
            id,
            Job {
                event_seq: seq,
                target: target.to_string(),
                created_at_ms: now_ms,
                state: JobState::Pending,
                attempts: 0,
                next_attempt_at_ms: now_ms,
                ordering_key: key.map(str::to_string),
            },
        );
        self.due.insert((now_ms, id));
        id
    }
}

pub struct MemoryStore {
    state: Mutex<State>,
    leases: Leases,
    dedup_ttl_ms: u64,
    wake: Arc<tokio::sync::Notify>,
}

impl MemoryStore {
    pub fn new(dedup_ttl: Duration) -> Self {
        Self {
            state: Mutex::default(),
            leases: Leases::default(),
            dedup_ttl_ms: dedup_ttl.as_millis() as u64,
            wake: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn done<T: Send + 'static, E: Send + 'static>(
    value: Result<T, E>,
) -> BoxFuture<'static, Result<T, E>> {
    ready(value).boxed()
}

impl IngestStore for MemoryStore {
    fn accept_durable(&self, ev: NewEvent<'_>) -> StoreFuture<AcceptOutcome> {
        let mut state = self.state();
        let key = (ev.endpoint.to_string(), ev.event_id.to_string());
        if let Some(&(seq, at)) = state.dedup.get(&key) {
            if at.saturating_add(self.dedup_ttl_ms) > ev.received_at_ms {
                return done(Ok(AcceptOutcome::Duplicate { event_seq: seq }));
            }
        }
        let seq = state.next_id();
        state.dedup.insert(key, (seq, ev.received_at_ms));
        let event = Event {
            endpoint: ev.endpoint.to_string(),
            event_id: ev.event_id.to_string(),
            event_type: ev.event_type.map(str::to_string),
            received_at_ms: ev.received_at_ms,
            headers: ev.headers,
            body_len: ev.body.len() as u64,
        };
        state.events.insert(seq, (event, ev.body.to_vec()));
        for (i, target) in ev.targets.iter().enumerate() {
            let key = ev.ordering_keys.get(i).and_then(|k| k.as_deref());
            state.new_job(seq, target, key, ev.received_at_ms);
        }
        drop(state);
        self.wake.notify_one();
        done(Ok(AcceptOutcome::Accepted {
            event_seq: seq,
            deliveries: ev.targets.len(),
        }))
    }
}

impl DeliveryQueue for MemoryStore {
    fn claim_due(&self, request: ClaimRequest) -> StoreFuture<Claimed> {
        let state = self.state();
        let now = request.now_ms;
        let until = now.saturating_add(request.lease.as_millis() as u64);
        let mut budget = SlotBudget::new(request.free);
        let mut claimed = Vec::new();
        if budget.exhausted() {
            return done(Ok(budget.into_claimed(claimed)));
        }
        // The earliest pending job of each (target, key): the only one of its key a claim takes.
        let mut first_of_key: HashMap<(&str, &str), JobId> = HashMap::new();
        for (_, id) in &state.due {
            let Some(job) = state.jobs.get(id) else {
                continue;
            };
            if let Some(key) = &job.ordering_key {
                let first = first_of_key.entry((&job.target, key)).or_insert(*id);
                *first = (*first).min(*id);
            }
        }
        let mut read = 0;
        for &(at, id) in state.due.range(..(now.saturating_add(1), 0)) {
            if self.leases.is_live(id, now) {
                continue;
            }
            if read == request.limit {
                break;
            }
            read += 1;
            let Some(job) = state.jobs.get(&id) else {
                continue;
            };
            let first = job
                .ordering_key
                .as_deref()
                .and_then(|key| first_of_key.get(&(job.target.as_str(), key)).copied());
            if !key_allows(id, first) {
                budget.hold(&job.target, at);
                continue;
            }
            let pick = budget.pick(&job.target, at);
            if pick == ScanPick::Leave {
                continue;
            }
            if let Some(lease) = self.leases.grant(id, now, until) {
                claimed.push(ClaimedJob {
                    id,
                    job: job.clone(),
                    lease,
                });
            }
            if pick == ScanPick::TakeLast {
                break;
            }
        }
        done(Ok(budget.into_claimed(claimed)))
    }

    fn renew(&self, claim: &ClaimedJob, until_ms: u64) -> StoreFuture<Option<Lease>> {
        done(Ok(self.leases.renew(claim.id, claim.lease.token, until_ms)))
    }

    fn record(
        &self,
        claim: ClaimedJob,
        attempt: Attempt,
        transition: JobTransition,
    ) -> StoreFuture<RecordOutcome> {
        if !self.leases.holds(claim.id, claim.lease.token) {
            return done(Ok(RecordOutcome::Stale));
        }
        let mut state = self.state();
        self.leases.end(claim.id, claim.lease.token);
        let Some(mut job) = state.jobs.get(&claim.id).cloned() else {
            return done(Ok(RecordOutcome::Stale));
        };
        if job.state != JobState::Pending || job.attempts != claim.job.attempts {
            return done(Ok(RecordOutcome::Stale));
        }
        job.attempts += 1;
        let at_ms = attempt.at_ms;
        state.attempts.entry(claim.id).or_default().push(Attempt {
            attempt: job.attempts,
            ..attempt
        });
        state.due.remove(&(job.next_attempt_at_ms, claim.id));
        match transition {
            JobTransition::Delivered => job.state = JobState::Delivered { at_ms },
            JobTransition::RetryAt { at_ms } => {
                job.next_attempt_at_ms = at_ms;
                state.due.insert((at_ms, claim.id));
            }
            JobTransition::Dead { reason } => job.state = JobState::Dead { at_ms, reason },
        }
        state.jobs.insert(claim.id, job.clone());
        done(Ok(RecordOutcome::Recorded(job)))
    }

    fn postpone(&self, claim: ClaimedJob, until_ms: u64) -> StoreFuture<()> {
        if !self.leases.holds(claim.id, claim.lease.token) {
            return done(Ok(()));
        }
        let mut state = self.state();
        self.leases.end(claim.id, claim.lease.token);
        let Some(job) = state.jobs.get(&claim.id).cloned() else {
            return done(Ok(()));
        };
        if job.state == JobState::Pending && state.due.remove(&(job.next_attempt_at_ms, claim.id)) {
            state.due.insert((until_ms, claim.id));
            if let Some(j) = state.jobs.get_mut(&claim.id) {
                j.next_attempt_at_ms = until_ms;
            }
        }
        done(Ok(()))
    }

    fn release(&self, claim: ClaimedJob) -> StoreFuture<()> {
        self.leases.end(claim.id, claim.lease.token);
        self.wake.notify_one();
        done(Ok(()))
    }

    fn next_due_after(&self, now_ms: u64) -> StoreFuture<Option<u64>> {
        let state = self.state();
        let next = state
            .due
            .range((now_ms.saturating_add(1), 0)..)
            .next()
            .map(|(at, _)| *at);
        done(Ok(next))
    }

    fn load_event(&self, seq: EventSeq) -> StoreFuture<Option<(Event, Vec<u8>)>> {
        done(Ok(self.state().events.get(&seq).cloned()))
    }

    fn retry_dead(&self, id: JobId, now_ms: u64) -> QueueFuture<Job> {
        let mut state = self.state();
        let Some(job) = state.jobs.get_mut(&id) else {
            return done(Err(QueueError::JobNotFound(id)));
        };
        if !matches!(job.state, JobState::Dead { .. }) {
            return done(Err(QueueError::NotDead(id)));
        }
        job.state = JobState::Pending;
        job.next_attempt_at_ms = now_ms;
        let job = job.clone();
        state.due.insert((now_ms, id));
        drop(state);
        self.wake.notify_one();
        done(Ok(job))
    }

    fn replay(
        &self,
        seq: EventSeq,
        targets: Vec<Arc<str>>,
        now_ms: u64,
    ) -> QueueFuture<Vec<JobId>> {
        let mut state = self.state();
        if !state.events.contains_key(&seq) {
            return done(Err(QueueError::EventNotFound(seq)));
        }
        let ids = targets
            .iter()
            .map(|t| state.new_job(seq, t, None, now_ms))
            .collect();
        drop(state);
        self.wake.notify_one();
        done(Ok(ids))
    }

    fn depths(&self) -> StoreFuture<Vec<(Arc<str>, TargetJobs)>> {
        let mut by_target: BTreeMap<Arc<str>, TargetJobs> = BTreeMap::new();
        for job in self.state().jobs.values() {
            let counts = by_target.entry(Arc::from(job.target.as_str())).or_default();
            match job.state {
                JobState::Pending => counts.pending += 1,
                JobState::Dead { .. } => counts.dead += 1,
                JobState::Delivered { .. } => {}
            }
        }
        done(Ok(by_target.into_iter().collect()))
    }

    fn wakeups(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    fn set_paused(&self, target: &str, paused: bool) -> StoreFuture<()> {
        let mut state = self.state();
        if paused {
            state.paused.insert(target.to_string());
        } else {
            state.paused.remove(target);
            drop(state);
            self.wake.notify_one();
        }
        done(Ok(()))
    }

    fn paused(&self) -> StoreFuture<Vec<String>> {
        done(Ok(self.state().paused.iter().cloned().collect()))
    }
}

impl EventReads for MemoryStore {
    fn events_page(&self, after: Option<EventSeq>, limit: usize) -> StoreFuture<Vec<EventSummary>> {
        let state = self.state();
        let start = after.map_or(0, |a| a.saturating_add(1));
        let page = state
            .events
            .range(start..)
            .take(limit)
            .map(|(seq, (event, _))| EventSummary {
                seq: *seq,
                event: event.clone(),
                jobs: state.jobs_of(*seq).into_iter().map(|(_, j)| j).collect(),
            })
            .collect();
        done(Ok(page))
    }

    fn find_event(&self, endpoint: &str, event_id: &str) -> StoreFuture<Option<EventSeq>> {
        let key = (endpoint.to_string(), event_id.to_string());
        done(Ok(self.state().dedup.get(&key).map(|(seq, _)| *seq)))
    }

    fn event(&self, seq: EventSeq) -> StoreFuture<Option<Event>> {
        done(Ok(self.state().events.get(&seq).map(|(e, _)| e.clone())))
    }

    fn body(&self, seq: EventSeq) -> StoreFuture<Vec<u8>> {
        let state = self.state();
        done(Ok(state
            .events
            .get(&seq)
            .map(|(_, b)| b.clone())
            .unwrap_or_default()))
    }

    fn event_detail(&self, seq: EventSeq) -> StoreFuture<Option<EventDetail>> {
        let state = self.state();
        let detail = state.events.get(&seq).map(|(event, _)| EventDetail {
            seq,
            event: event.clone(),
            jobs: state
                .jobs_of(seq)
                .into_iter()
                .map(|(id, job)| JobDetail {
                    id,
                    job,
                    attempts: state.attempts.get(&id).cloned().unwrap_or_default(),
                })
                .collect(),
        });
        done(Ok(detail))
    }

    fn job(&self, id: JobId) -> StoreFuture<Option<Job>> {
        done(Ok(self.state().jobs.get(&id).cloned()))
    }

    fn dead_letters(&self, after: Option<JobId>, limit: usize) -> StoreFuture<Vec<(JobId, Job)>> {
        let state = self.state();
        let start = after.map_or(0, |a| a.saturating_add(1));
        let page = state
            .jobs
            .range(start..)
            .filter(|(_, j)| matches!(j.state, JobState::Dead { .. }))
            .take(limit)
            .map(|(id, j)| (*id, j.clone()))
            .collect();
        done(Ok(page))
    }

    fn counts(&self) -> StoreFuture<StoreCounts> {
        let state = self.state();
        done(Ok(StoreCounts {
            events: state.events.len(),
            jobs: state.jobs.len(),
            queued: state.due.len(),
        }))
    }
}

impl Retention for MemoryStore {
    fn prune_finished(&self, cutoff_ms: u64, _batch: usize) -> StoreFuture<PruneReport> {
        let mut state = self.state();
        let mut report = PruneReport::default();
        let old: Vec<EventSeq> = state
            .events
            .iter()
            .filter(|(_, (e, _))| e.received_at_ms < cutoff_ms)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in old {
            let jobs = state.jobs_of(seq);
            if jobs.iter().any(|(_, j)| j.state == JobState::Pending) {
                report.kept_pending += 1;
                continue;
            }
            state.events.remove(&seq);
            report.events += 1;
            for (id, _) in jobs {
                state.jobs.remove(&id);
                report.jobs += 1;
                report.attempts += state.attempts.remove(&id).map_or(0, |a| a.len() as u64);
            }
        }
        done(Ok(report))
    }

    fn prune_dedup(&self, now_ms: u64) -> StoreFuture<usize> {
        let ttl = self.dedup_ttl_ms;
        let mut state = self.state();
        let before = state.dedup.len();
        state
            .dedup
            .retain(|_, (_, at)| at.saturating_add(ttl) > now_ms);
        done(Ok(before - state.dedup.len()))
    }
}
