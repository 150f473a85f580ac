//! The development identity provider, for the one-machine default only.
//!
//! It signs ES256 tokens for the accounts in `AUTH_USERS_FILE` with the key
//! in `AUTH_SIGNING_KEY_FILE`, and publishes the public key as a JWKS at
//! `/.well-known/jwks.json`. Everything that checks tokens (this gateway
//! and every service) uses that JWKS exactly as it would use a district
//! IdP's, so the local verification path is the production one. It is on
//! only when `AUTH_SIGNING_KEY_FILE` is set; the Kubernetes production
//! overlay never sets it.

use crate::AppState;
use crate::error::{AppJson, ErrorBody, HttpError};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bianmin_common::auth::token::{AuthSettings, Claims, SigningKey};
use bianmin_common::auth::{Principal, Role};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// One account of the users file.
#[derive(Clone, Debug, Deserialize)]
pub struct Account {
    pub username: String,
    /// PHC string (`$argon2id$…`), from `bianmin-gateway auth hash-password`.
    pub password_hash: String,
    pub role: String,
    #[serde(default)]
    pub center_id: Option<String>,
    /// Centers a partner account may touch (role `partner` only).
    #[serde(default)]
    pub centers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct UsersFile {
    users: Vec<Account>,
}

pub struct DevIdp {
    key: SigningKey,
    issuer: String,
    audience: String,
    ttl: Duration,
    users: HashMap<String, (Account, Principal)>,
    /// Checked for unknown names too, so timing does not tell which
    /// usernames exist.
    dummy_hash: String,
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl DevIdp {
    pub fn load(
        key_file: &Path,
        users_file: &Path,
        auth: &AuthSettings,
        ttl: Duration,
    ) -> anyhow::Result<Self> {
        let pem = std::fs::read(key_file)
            .map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEY_FILE {}: {e}", key_file.display()))?;
        let key = SigningKey::from_ec_pem(&pem)
            .map_err(|e| anyhow::anyhow!("AUTH_SIGNING_KEY_FILE {}: {e}", key_file.display()))?;
        let text = std::fs::read_to_string(users_file)
            .map_err(|e| anyhow::anyhow!("AUTH_USERS_FILE {}: {e}", users_file.display()))?;
        let file: UsersFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("AUTH_USERS_FILE {}: {e}", users_file.display()))?;
        let mut users = HashMap::new();
        for account in file.users {
            let claims = Self::claims_of(&account, &auth.issuer, &auth.audience, 0);
            let principal = bianmin_common::auth::token::principal_of(&claims).map_err(|e| {
                anyhow::anyhow!("AUTH_USERS_FILE: account {}: {e}", account.username)
            })?;
            PasswordHash::new(&account.password_hash).map_err(|e| {
                anyhow::anyhow!(
                    "AUTH_USERS_FILE: account {}: password_hash: {e}",
                    account.username
                )
            })?;
            users.insert(account.username.clone(), (account, principal));
        }
        Ok(Self {
            key,
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            ttl,
            users,
            dummy_hash: hash_password(&uuid::Uuid::new_v4().to_string())?,
        })
    }

    fn claims_of(account: &Account, issuer: &str, audience: &str, now: u64) -> Claims {
        Claims {
            sub: account.username.clone(),
            iss: issuer.to_string(),
            aud: audience.to_string(),
            exp: now,
            nbf: Some(now),
            iat: Some(now),
            role: account.role.clone(),
            center_id: account.center_id.clone(),
            centers: account.centers.clone(),
        }
    }

    pub fn key_set(&self) -> JwkSet {
        self.key.key_set()
    }

    /// A token for the account, if the password is right.
    fn login(&self, username: &str, password: &str) -> Option<(String, Principal)> {
        let found = self.users.get(username);
        let hash = found.map_or(self.dummy_hash.as_str(), |(a, _)| a.password_hash.as_str());
        let ok = password_matches(hash, password);
        let (account, principal) = found.filter(|_| ok)?;
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = Self::claims_of(account, &self.issuer, &self.audience, now);
        claims.exp = now + self.ttl.as_secs();
        match self.key.sign(&claims) {
            Ok(token) => Some((token, principal.clone())),
            Err(e) => {
                tracing::error!(error = %e, "signing a token failed");
                None
            }
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct LoginRequest {
    #[schema(example = "c01-specialist")]
    pub username: String,
    #[schema(example = "bianmin-demo")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    #[schema(value_type = String, example = "specialist")]
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center_id: Option<String>,
}

/// Log in with a demo account (development identity provider only).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginAnswer),
        (status = 400, description = "username or password missing", body = ErrorBody),
        (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 429, description = "too many attempts", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<LoginAnswer>, HttpError> {
    let idp = state.idp.clone().ok_or_else(|| HttpError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "本部署未启用内置登录，请使用所在区的统一身份认证 (this deployment uses the district's identity provider)".into(),
        violations: Vec::new(),
    })?;
    let mut violations = Vec::new();
    if body.username.trim().is_empty() {
        violations.push(bianmin_common::error::FieldViolation::new(
            "username",
            "required",
            "请填写用户名 (username is required)",
        ));
    }
    if body.password.is_empty() {
        violations.push(bianmin_common::error::FieldViolation::new(
            "password",
            "required",
            "请填写密码 (password is required)",
        ));
    }
    if !violations.is_empty() {
        return Err(HttpError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_argument",
            message: "登录信息不完整 (username and password are required)".into(),
            violations,
        });
    }
    let ttl = idp.ttl.as_secs();
    // argon2 is deliberately slow: keep it off the async workers.
    let username = body.username.trim().to_string();
    let answer = tokio::task::spawn_blocking(move || idp.login(&username, &body.password))
        .await
        .map_err(|e| HttpError::from(tonic::Status::internal(e.to_string())))?;
    let Some((access_token, principal)) = answer else {
        return Err(HttpError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: "用户名或密码错误 (wrong username or password)".into(),
            violations: Vec::new(),
        });
    };
    tracing::info!(subject = %principal.subject, role = principal.role.as_str(), "logged in");
    Ok(Json(LoginAnswer {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        role: principal.role,
        center_id: principal.center_id,
    }))
}

/// The public keys tokens are verified with (JWKS, RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, description = "JWK set")))]
pub async fn jwks(State(state): State<AppState>) -> Result<Json<JwkSet>, HttpError> {
    match &state.idp {
        Some(idp) => Ok(Json(idp.key_set())),
        None => Err(HttpError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: "本部署的公钥由所在区的身份认证服务发布 (keys are published by the district's identity provider)".into(),
            violations: Vec::new(),
        }),
    }
}

/// Shared by the state.
pub type SharedIdp = Option<Arc<DevIdp>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("bianmin-demo").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches(&h, "bianmin-demo"));
        assert!(!password_matches(&h, "bianmin-demo2"));
        assert!(!password_matches("not a hash", "x"));
    }
}
