//! Authentication at the edge: every protected route needs a verified
//! bearer token, which is then forwarded to the services (they verify it
//! again and apply the permission table; the gateway decides nothing about
//! roles, so no rule lives in two places).

pub mod idp;

use crate::AppState;
use crate::error::HttpError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bianmin_common::auth::Principal;
use bianmin_common::auth::token::bearer_token;

/// The verified caller of a protected route.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    /// The token as received, forwarded to the services.
    pub token: String,
}

fn unauthorized(message: &str) -> Response {
    let mut response = HttpError {
        status: StatusCode::UNAUTHORIZED,
        code: "unauthenticated",
        message: message.to_string(),
        violations: Vec::new(),
    }
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"bianmin\""),
    );
    response
}

/// Middleware for protected routes: verifies the bearer token, applies the
/// per-principal rate limit, and hands the handler a [`Caller`].
pub async fn require(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return unauthorized(
            "请先登录 (authentication required: send Authorization: Bearer <token>)",
        );
    };
    let Some(token) = value
        .to_str()
        .ok()
        .and_then(bearer_token)
        .map(str::to_string)
    else {
        return unauthorized("凭证格式不正确 (Authorization must be Bearer <token>)");
    };
    let principal = match state.verifier.verify(&token).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(reason = %e, "token refused");
            return unauthorized("凭证无效或已过期 (invalid or expired token)");
        }
    };
    if let Err(response) = state.limits.per_principal(&principal.subject) {
        return *response;
    }
    request.extensions_mut().insert(Caller { principal, token });
    next.run(request).await
}
