//! Rate limits at the edge: one bucket per client IP (before anything
//! else, so password guessing and floods are slowed first) and one per
//! authenticated principal (so one account cannot starve the others, even
//! from many addresses), plus a much tighter per-IP bucket for login, where
//! every attempt is a password guess, and one for the public progress
//! look-up, where every attempt is a guess at a number and a phone. Over
//! the limit answers 429 with `Retry-After`. Partner agencies, machine
//! clients on the mutual-TLS edge, have a bucket each of their own
//! (RESOURCE_EXHAUSTED there), so one agency's batch job cannot crowd out
//! another's look-ups or the centers' staff.

use crate::error::HttpError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Requests per second and burst, per key.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    fn quota(self) -> Quota {
        let per_second = NonZeroU32::new(self.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst).unwrap_or(per_second);
        Quota::per_second(per_second).allow_burst(burst)
    }
}

#[derive(Clone)]
pub struct Limits {
    per_ip: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_principal: Arc<DefaultKeyedRateLimiter<String>>,
    per_partner: Arc<DefaultKeyedRateLimiter<String>>,
    login: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    public: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

fn too_many(wait: Duration) -> Response {
    let mut response = HttpError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "resource_exhausted",
        message: "请求过于频繁，请稍后再试 (too many requests, retry later)".into(),
        violations: Vec::new(),
    }
    .into_response();
    let seconds = wait.as_secs() + 1;
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

impl Limits {
    /// `logins_per_minute` and `public_per_minute` are also the bursts.
    pub fn new(
        per_ip: Rate,
        per_principal: Rate,
        per_partner: Rate,
        logins_per_minute: u32,
        public_per_minute: u32,
    ) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: Arc::new(RateLimiter::keyed(per_ip.quota())),
            per_principal: Arc::new(RateLimiter::keyed(per_principal.quota())),
            per_partner: Arc::new(RateLimiter::keyed(per_partner.quota())),
            login: Arc::new(RateLimiter::keyed(per_minute(logins_per_minute))),
            public: Arc::new(RateLimiter::keyed(per_minute(public_per_minute))),
        }
    }

    /// Ok, or the 429 answer to send.
    pub fn per_principal(&self, subject: &str) -> Result<(), Box<Response>> {
        self.per_principal
            .check_key(&subject.to_string())
            .map_err(|not_until| {
                Box::new(too_many(
                    not_until.wait_time_from(DefaultClock::default().now()),
                ))
            })
    }

    /// Ok, or how long the partner must wait.
    pub fn per_partner(&self, partner_id: &str) -> Result<(), Duration> {
        self.per_partner
            .check_key(&partner_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    fn check_ip(
        limiter: &DefaultKeyedRateLimiter<IpAddr>,
        ip: IpAddr,
    ) -> Result<(), Box<Response>> {
        limiter.check_key(&ip).map_err(|not_until| {
            Box::new(too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
            ))
        })
    }

    /// Forgets idle keys now and then, so the tables do not grow forever.
    pub async fn prune(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    self.per_ip.retain_recent();
                    self.per_principal.retain_recent();
                    self.per_partner.retain_recent();
                    self.login.retain_recent();
                    self.public.retain_recent();
                }
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// Middleware: the per-IP limit. The peer address is the TCP peer; behind a
/// proxy every client shares the proxy's bucket, so keep that bucket wide
/// there (the proxy limits per client).
pub async fn per_ip(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    guard(&limits.per_ip, request, next).await
}

/// Middleware for the login route: the login bucket of the client address.
pub async fn login(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    guard(&limits.login, request, next).await
}

/// Middleware for the public progress look-up: every try is a guess at an
/// application number and phone digits, so its bucket is tight.
pub async fn public(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    guard(&limits.public, request, next).await
}

async fn guard(
    limiter: &DefaultKeyedRateLimiter<IpAddr>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(response) = Limits::check_ip(limiter, peer.ip())
    {
        return *response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_bucket_refuses() {
        let limits = Limits::new(
            Rate {
                per_second: 1,
                burst: 3,
            },
            Rate {
                per_second: 1,
                burst: 2,
            },
            Rate {
                per_second: 1,
                burst: 1,
            },
            2,
            1,
        );
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..3).all(|_| Limits::check_ip(&limits.per_ip, ip).is_ok()));
        let refused = Limits::check_ip(&limits.per_ip, ip).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key(header::RETRY_AFTER));
        assert!(
            Limits::check_ip(&limits.per_ip, "10.0.0.1".parse().unwrap()).is_ok(),
            "another address has its own bucket"
        );
        assert!(limits.per_principal("a").is_ok() && limits.per_principal("a").is_ok());
        assert!(limits.per_principal("a").is_err());
        assert!(limits.per_principal("b").is_ok());
        assert!(
            Limits::check_ip(&limits.login, ip).is_ok()
                && Limits::check_ip(&limits.login, ip).is_ok()
        );
        assert!(
            Limits::check_ip(&limits.login, ip).is_err(),
            "the login bucket is its own, and tight"
        );
        assert!(Limits::check_ip(&limits.public, ip).is_ok());
        assert!(Limits::check_ip(&limits.public, ip).is_err());
        assert!(
            limits.per_partner("a").is_ok(),
            "partners are not principals' buckets"
        );
        let wait = limits.per_partner("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limits.per_partner("civil-affairs").is_ok());
    }
}
