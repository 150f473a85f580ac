//! The gRPC server layer that turns `authorization` metadata into a
//! verified [`Principal`] before any handler runs.
//!
//! A call without a valid token is refused UNAUTHENTICATED here, except the
//! open methods (health, reflection, and what the service's policy marks
//! public). A token that is present is always checked, even on an open
//! method: a bad credential is never silently ignored.
//!
//! The verifier is installed once per process ([`install`], done by
//! `cli::service_main` from the `AUTH_*` settings). If none was installed,
//! every protected call is refused: the layer fails closed.

use super::policy::Policy;
use super::token::{Verifier, bearer_token};
use super::{BearerToken, unauthenticated};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

static VERIFIER: OnceLock<Arc<Verifier>> = OnceLock::new();

/// Sets the process's verifier (the first call wins).
pub fn install(verifier: Arc<Verifier>) {
    if VERIFIER.set(verifier).is_err() {
        tracing::warn!("token verifier installed twice; keeping the first");
    }
}

/// The layer, knowing which methods the service's policy leaves open.
#[derive(Clone, Copy, Debug)]
pub struct AuthLayer {
    pub policy: &'static Policy,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            policy: self.policy,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    policy: &'static Policy,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The ready service answers this call; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path().to_string();
        let policy = self.policy;
        let token = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().ok().and_then(bearer_token).map(str::to_string));
        Box::pin(async move {
            let refuse = |why: &str| {
                tracing::info!(method = %path, reason = why, "call refused: unauthenticated");
                Ok(unauthenticated().into_http())
            };
            match token {
                None if policy.is_open_method(&path) => {}
                None => return refuse("no credentials"),
                Some(None) => return refuse("authorization is not a bearer token"),
                Some(Some(token)) => {
                    let Some(verifier) = VERIFIER.get() else {
                        return refuse("no token verifier configured");
                    };
                    match verifier.verify(&token).await {
                        Ok(principal) => {
                            request.extensions_mut().insert(principal);
                            request.extensions_mut().insert(BearerToken(token));
                        }
                        Err(e) => return refuse(&e.to_string()),
                    }
                }
            }
            inner.call(request).await
        })
    }
}
