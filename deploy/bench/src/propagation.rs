//! Event propagation, measured without adding load: every submission's
//! `201` is matched with the `ReviewCaseOpened` event review publishes once
//! its case is committed (intake transaction → outbox relay → JetStream →
//! review's consumer transaction → review's relay → JetStream). The watch is
//! a plain NATS subscription beside the cluster, so the measurement sends
//! no requests of its own (polling the gateway would itself be load, and
//! queue behind the very work it measures).

use crate::stats::Kind;
use bianmin_proto::events::v1::ReviewCaseOpened;
use bianmin_proto::subjects;
use futures::StreamExt as _;
use prost::Message as _;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a submission may take to show up before it counts as lost.
pub const GIVE_UP: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Book {
    /// Submissions answered `201`, waiting for their case.
    waiting: HashMap<String, Instant>,
    /// Cases seen before their submission's answer was read (the event can
    /// overtake the HTTP response on a busy machine).
    early: HashMap<String, Instant>,
    latency: Kind,
    /// Cases opened at the reviewer's center, not yet taken for review.
    to_review: VecDeque<String>,
}

/// Cases waiting for the load's reviewer at most; older ones are dropped.
const TO_REVIEW_MAX: usize = 10_000;

#[derive(Clone)]
pub struct Watch {
    book: Arc<Mutex<Book>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Watch {
    /// Watches `nats_url`; cases opened at `review_center` are offered to
    /// the load's reviewer ([`Watch::case_to_review`]).
    pub async fn start(nats_url: &str, review_center: &str) -> anyhow::Result<Self> {
        let review_center = review_center.to_string();
        let client = async_nats::connect(nats_url)
            .await
            .map_err(|e| anyhow::anyhow!("{nats_url}: {e} (the cluster's NATS)"))?;
        let mut events = client.subscribe(subjects::REVIEW_CASE_OPENED).await?;
        // The subscription is registered with the server once this returns.
        client.flush().await?;
        let book: Arc<Mutex<Book>> = Arc::default();
        let task = {
            let book = book.clone();
            tokio::spawn(async move {
                let _client = client;
                while let Some(message) = events.next().await {
                    let seen = Instant::now();
                    let Ok(opened) = ReviewCaseOpened::decode(message.payload.as_ref()) else {
                        continue;
                    };
                    let center = opened.envelope.unwrap_or_default().center_id;
                    let case = opened.case_ref.unwrap_or_default();
                    let mut book = book.lock().expect("propagation book");
                    if center == review_center {
                        if book.to_review.len() == TO_REVIEW_MAX {
                            book.to_review.pop_front();
                        }
                        book.to_review.push_back(case.case_id.clone());
                    }
                    match book.waiting.remove(&case.application_id) {
                        Some(answered) => book.latency.ok(seen.duration_since(answered)),
                        None => {
                            book.early.insert(case.application_id, seen);
                        }
                    }
                }
            })
        };
        Ok(Self {
            book,
            task: Arc::new(task),
        })
    }

    /// A submission was answered `201` at `answered`.
    pub fn submitted(&self, application_id: String, answered: Instant) {
        let mut book = self.book.lock().expect("propagation book");
        match book.early.remove(&application_id) {
            Some(seen) => book.latency.ok(seen.saturating_duration_since(answered)),
            None => {
                book.waiting.insert(application_id, answered);
            }
        }
    }

    /// A case opened at the reviewer's center that nobody has taken yet.
    pub fn case_to_review(&self) -> Option<String> {
        self.book
            .lock()
            .expect("propagation book")
            .to_review
            .pop_front()
    }

    pub fn waiting(&self) -> usize {
        self.book.lock().expect("propagation book").waiting.len()
    }

    /// Waits for the submissions still on their way (at most [`GIVE_UP`]
    /// after each answer), counts the rest as errors, and hands over the
    /// figures, starting a fresh book for the next run.
    pub async fn finish(&self) -> Kind {
        loop {
            let oldest = {
                let book = self.book.lock().expect("propagation book");
                book.waiting.values().min().copied()
            };
            match oldest {
                Some(t) if t.elapsed() < GIVE_UP => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => break,
            }
        }
        let mut book = self.book.lock().expect("propagation book");
        for _ in book.waiting.drain().collect::<Vec<_>>() {
            book.latency.error("not visible within 30 s");
        }
        book.early.clear();
        std::mem::take(&mut book.latency)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}
