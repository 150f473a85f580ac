//! The load: `concurrency` workers, each a closed loop choosing its next
//! request from the mix, for a fixed time. Every submission is handed to the
//! propagation watch, which times it until its review case is opened.

use crate::propagation::Watch;
use crate::resident::{self, Catalog};
use crate::stats::{Kind, Stats};
use rand::{Rng, SeedableRng as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Weights of each request kind.
#[derive(Clone, Debug)]
pub struct Mix {
    pub submit: u32,
    pub status: u32,
    /// A center specialist accepts a case the load submitted (review's
    /// write path: lock, state machine, timers, outbox).
    pub review: u32,
    pub catalog: u32,
}

impl Mix {
    /// `submit=60,status=20,review=15,catalog=5`
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let mut mix = Mix {
            submit: 0,
            status: 0,
            review: 0,
            catalog: 0,
        };
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("mix entry {part:?} is not kind=weight"))?;
            let v: u32 = v
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("mix weight {v:?} is not a whole number"))?;
            match k.trim() {
                "submit" => mix.submit = v,
                "status" => mix.status = v,
                "review" => mix.review = v,
                "catalog" => mix.catalog = v,
                other => {
                    anyhow::bail!(
                        "unknown request kind {other:?} in mix (submit, status, review, catalog)"
                    )
                }
            }
        }
        anyhow::ensure!(mix.total() > 0, "the mix has no weight");
        Ok(mix)
    }

    fn total(&self) -> u32 {
        self.submit + self.status + self.review + self.catalog
    }

    fn pick(&self, rng: &mut impl Rng) -> &'static str {
        let n = rng.random_range(0..self.total());
        [
            ("submit", self.submit),
            ("status", self.status),
            ("review", self.review),
        ]
        .iter()
        .scan(0, |upto, &(kind, weight)| {
            *upto += weight;
            Some((kind, *upto))
        })
        .find(|&(_, upto)| n < upto)
        .map_or("catalog", |(kind, _)| kind)
    }
}

/// The bearer token the load runs with, renewed when the gateway says it
/// has expired.
pub struct Session {
    target: String,
    user: String,
    password: String,
    token: tokio::sync::RwLock<String>,
}

impl Session {
    pub async fn login(target: &str, user: &str, password: &str) -> anyhow::Result<Self> {
        let session = Self {
            target: target.into(),
            user: user.into(),
            password: password.into(),
            token: Default::default(),
        };
        session.renew().await?;
        Ok(session)
    }

    async fn renew(&self) -> anyhow::Result<()> {
        let r = bianmin_common::http_client::client()
            .post(format!("{}/api/v1/auth/login", self.target))
            .json(&serde_json::json!({"username": self.user, "password": self.password}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "login as {} failed: {}",
            self.user,
            r.status()
        );
        let body: serde_json::Value = r.json().await?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login answered no access_token"))?;
        *self.token.write().await = format!("Bearer {token}");
        Ok(())
    }

    async fn header(&self) -> String {
        self.token.read().await.clone()
    }
}

pub struct Plan {
    pub session: Arc<Session>,
    /// The center specialist who accepts cases (the `review` kind).
    pub reviewer: Arc<Session>,
    pub target: String,
    pub concurrency: usize,
    pub duration: Duration,
    pub mix: Mix,
    pub watch: Watch,
    pub progress: bool,
}

pub struct Outcome {
    pub stats: Stats,
    pub propagation: Kind,
    pub seconds: f64,
}

/// Live counters for the progress line.
#[derive(Default)]
struct Live {
    submits: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

pub async fn run(plan: &Plan, catalog: Arc<Catalog>) -> anyhow::Result<Outcome> {
    let http = bianmin_common::http_client::builder()
        .pool_max_idle_per_host(plan.concurrency * 2)
        .timeout(Duration::from_secs(10))
        .build()?;
    let live = Arc::new(Live::default());
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let stop_at = started + plan.duration;

    let progress = plan.progress.then(|| {
        let live = live.clone();
        let watch = plan.watch.clone();
        tokio::spawn(async move {
            let mut last = (0, Instant::now());
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let submits = live.submits.load(Ordering::Relaxed);
                let now = Instant::now();
                let rate = (submits - last.0) as f64 / now.duration_since(last.1).as_secs_f64();
                last = (submits, now);
                eprint!(
                    "\r  {:>4.0}s  submits {:>7} ({:>6.0}/s)  requests {:>7}  errors {:>4}  in flight {:>5}   ",
                    started.elapsed().as_secs_f64(),
                    submits,
                    rate,
                    live.requests.load(Ordering::Relaxed),
                    live.errors.load(Ordering::Relaxed),
                    watch.waiting(),
                );
            }
        })
    });

    let mut workers = Vec::new();
    for _ in 0..plan.concurrency {
        let (http, live, created, watch, catalog) = (
            http.clone(),
            live.clone(),
            created.clone(),
            plan.watch.clone(),
            catalog.clone(),
        );
        let (target, mix) = (plan.target.clone(), plan.mix.clone());
        let (session, reviewer) = (plan.session.clone(), plan.reviewer.clone());
        workers.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let mut stats = Stats::default();
            while Instant::now() < stop_at {
                let kind = mix.pick(&mut rng);
                let auth = session.header().await;
                let began = Instant::now();
                let result = match kind {
                    "submit" => {
                        let body = resident::application(&mut rng, &catalog);
                        http.post(format!("{target}/api/v1/applications"))
                            .header("Authorization", &auth)
                            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                            .json(&body)
                            .send()
                            .await
                    }
                    "status" => {
                        let id = {
                            let ids = created.lock().await;
                            (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())].clone())
                        };
                        let Some(id) = id else { continue };
                        http.get(format!("{target}/api/v1/applications/{id}"))
                            .header("Authorization", &auth)
                            .send()
                            .await
                    }
                    "review" => {
                        let Some(case) = watch.case_to_review() else {
                            continue;
                        };
                        http.post(format!("{target}/api/v1/reviews/{case}/accept"))
                            .header("Authorization", reviewer.header().await)
                            .header("Idempotency-Key", format!("bench-accept-{case}"))
                            .json(&serde_json::json!({"reason": "材料齐全，予以受理"}))
                            .send()
                            .await
                    }
                    _ => {
                        http.get(format!("{target}/api/v1/catalog/services"))
                            .send()
                            .await
                    }
                };
                live.requests.fetch_add(1, Ordering::Relaxed);
                let response = match result {
                    Ok(r) if r.status().is_success() => r,
                    Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
                        // The token expired: renew it and go on; the failed
                        // request still counts as an error.
                        stats.kind(kind).error("401");
                        live.errors.fetch_add(1, Ordering::Relaxed);
                        let _ = session.renew().await;
                        let _ = reviewer.renew().await;
                        continue;
                    }
                    Ok(r) => {
                        stats.kind(kind).error(r.status().as_u16().to_string());
                        live.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(e) => {
                        stats.kind(kind).error(if e.is_timeout() {
                            "timeout"
                        } else {
                            "transport"
                        });
                        live.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                if kind != "submit" {
                    // Read the body: a response is served when it is read.
                    let _ = response.bytes().await;
                    stats.kind(kind).ok(began.elapsed());
                    continue;
                }
                let answered = Instant::now();
                let body: serde_json::Value = match response.json().await {
                    Ok(b) => b,
                    Err(_) => {
                        stats.kind(kind).error("bad body");
                        continue;
                    }
                };
                stats.kind(kind).ok(answered.duration_since(began));
                live.submits.fetch_add(1, Ordering::Relaxed);
                let Some(id) = body["id"].as_str().map(str::to_string) else {
                    continue;
                };
                watch.submitted(id.clone(), answered);
                created.lock().await.push(id);
            }
            stats
        }));
    }
    let mut stats = Stats::default();
    for w in workers {
        stats.merge(&w.await?);
    }
    let seconds = plan.duration.as_secs_f64();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let propagation = plan.watch.finish().await;
    Ok(Outcome {
        stats,
        propagation,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_refuses_nonsense() {
        let m = Mix::parse("submit=60,status=20,review=15,catalog=5").unwrap();
        assert_eq!((m.submit, m.status, m.review, m.catalog), (60, 20, 15, 5));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashMap::new();
        for _ in 0..10_000 {
            *seen.entry(m.pick(&mut rng)).or_insert(0) += 1;
        }
        assert!((5_700..6_300).contains(&seen["submit"]), "{seen:?}");
        assert!((1_300..1_700).contains(&seen["review"]), "{seen:?}");
        assert!((350..650).contains(&seen["catalog"]), "{seen:?}");
        assert!(Mix::parse("submit=x").is_err());
        assert!(Mix::parse("delete=1").is_err());
        assert!(Mix::parse("submit=0").is_err());
    }
}
