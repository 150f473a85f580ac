//! Verifying the signed tokens (JWT, OpenID Connect access tokens) every
//! call carries.
//!
//! One path for every deployment: the keys are a JWKS, fetched from the
//! issuer (`AUTH_JWKS_URL`), read from a file (`AUTH_JWKS_FILE`), or, at the
//! gateway when it runs the development identity provider, the provider's
//! own public key. Whatever their source, a token passes only when:
//! - its header names an asymmetric algorithm we accept (ES256, RS256);
//!   `alg: none` does not even parse, and HMAC is refused before any key is
//!   looked at, so a public key can never be used as an HMAC secret;
//! - its `kid` names a key of the set whose own `alg`/type agrees;
//! - the signature, `iss`, `aud`, `exp` and `nbf` check out (30 s leeway for
//!   clock skew);
//! - the `role` claim names a known role, and staff carry a `center_id`.

use super::{Principal, Role};
use crate::config::Env;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Algorithms a token may be signed with. Asymmetric only: the verifier
/// holds public keys and must never treat one as a shared secret.
pub const ACCEPTED_ALGORITHMS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::RS256];

/// Allowed clock skew between the issuer and us.
const LEEWAY_SECONDS: u64 = 30;

/// How often an unknown `kid` may trigger a JWKS re-fetch (key rotation),
/// so forged tokens cannot make us hammer the issuer.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// How long fetched keys are trusted before they are fetched again, so a key
/// the issuer withdraws stops working within this time (plus, for a token
/// already verified, the token's own short lifetime: see the cache).
const KEYS_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Verified tokens remembered, so a token is checked once, not on every hop.
const CACHE_CAPACITY: usize = 10_000;

/// The claims Bianmin reads. `sub`, `iss`, `aud`, `exp` are required.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// One of the roles in [`Role`] (`district_admin`, `supervisor`, …).
    pub role: String,
    /// The staff member's center; absent for district-wide roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center_id: Option<String>,
    /// A partner's granted centers (tokens minted by the partner edge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub centers: Vec<String>,
}

/// Token settings, the same for the gateway and every service.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Where the issuer publishes its keys: http only, on one machine or
    /// inside the cluster; an https issuer's JWKS is mounted as a file.
    pub jwks_url: Option<String>,
    /// A JWKS document on disk; wins over the URL.
    pub jwks_file: Option<PathBuf>,
}

pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_AUDIENCE: &str = "bianmin";

impl AuthSettings {
    pub fn read(env: &mut Env) -> Self {
        let issuer = env.string("AUTH_ISSUER", DEFAULT_ISSUER);
        let jwks_file = env.optional("AUTH_JWKS_FILE").map(PathBuf::from);
        // Locally the development identity provider is the gateway, which
        // serves its keys beside its API.
        let jwks_url = env.optional("AUTH_JWKS_URL").or_else(|| {
            (jwks_file.is_none() && issuer == DEFAULT_ISSUER)
                .then(|| format!("{DEFAULT_ISSUER}/.well-known/jwks.json"))
        });
        Self {
            audience: env.string("AUTH_AUDIENCE", DEFAULT_AUDIENCE),
            issuer,
            jwks_url,
            jwks_file,
        }
    }
}

/// Why a token was refused. Logged; the caller only hears "invalid
/// credentials", so a forger learns nothing.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token header: {0}")]
    Header(jsonwebtoken::errors::Error),
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    #[error("token has no kid")]
    NoKid,
    #[error("no key {0} in the issuer's key set")]
    UnknownKey(String),
    #[error("key {0} does not fit the token's algorithm")]
    KeyMismatch(String),
    #[error("rejected: {0}")]
    Rejected(jsonwebtoken::errors::Error),
    #[error("unknown role {0:?}")]
    Role(String),
    #[error("staff token without center_id")]
    NoCenter,
    #[error("key set unavailable: {0}")]
    Keys(String),
}

/// Whether a JWK can verify tokens signed with `alg` (and nothing else).
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if let Some(declared) = jwk.common.key_algorithm {
        // KeyAlgorithm and Algorithm print the same JOSE names.
        if declared.to_string() != format!("{alg:?}") {
            return false;
        }
    }
    matches!(
        (&jwk.algorithm, alg),
        (AlgorithmParameters::EllipticCurve(_), Algorithm::ES256)
            | (AlgorithmParameters::RSA(_), Algorithm::RS256)
    )
}

/// Turns verified claims into a principal, enforcing the role rules.
pub fn principal_of(claims: &Claims) -> Result<Principal, TokenError> {
    let role = Role::parse(&claims.role).ok_or_else(|| TokenError::Role(claims.role.clone()))?;
    let center_id = claims.center_id.clone().filter(|c| !c.trim().is_empty());
    let principal = Principal {
        subject: claims.sub.clone(),
        role,
        center_id,
        centers: claims.centers.clone(),
    };
    if principal.is_center_staff() && principal.center_id.is_none() {
        return Err(TokenError::NoCenter);
    }
    Ok(principal)
}

enum Keys {
    Static(JwkSet),
    Remote {
        url: String,
        client: reqwest::Client,
        set: RwLock<JwkSet>,
        /// Last fetch attempt, for rate limiting.
        last_fetch: Mutex<Option<Instant>>,
        /// Last successful fetch, for freshness.
        fetched_at: Mutex<Option<Instant>>,
        /// Held during a fetch, so a token arriving meanwhile waits for
        /// its result instead of being refused for a key about to arrive.
        fetching: tokio::sync::Mutex<()>,
    },
}

/// A poisoned lock only means another thread panicked mid-update of an
/// `Option<Instant>`; the value is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Checks tokens against one issuer's keys. Cheap to share (`Arc`).
pub struct Verifier {
    validation: HashMap<Algorithm, Validation>,
    keys: Keys,
    cache: Mutex<HashMap<String, (Principal, u64)>>,
}

impl Verifier {
    fn with_keys(settings: &AuthSettings, keys: Keys) -> Self {
        let validation = ACCEPTED_ALGORITHMS
            .iter()
            .map(|alg| {
                let mut v = Validation::new(*alg);
                v.set_issuer(&[&settings.issuer]);
                v.set_audience(&[&settings.audience]);
                v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                v.validate_nbf = true;
                v.leeway = LEEWAY_SECONDS;
                (*alg, v)
            })
            .collect();
        Self {
            validation,
            keys,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A verifier over a fixed key set (a file, or the dev provider's key).
    pub fn with_key_set(settings: &AuthSettings, set: JwkSet) -> Self {
        Self::with_keys(settings, Keys::Static(set))
    }

    /// The verifier the settings describe: the JWKS file, else the URL
    /// (fetched lazily, so a service may start before its issuer).
    pub fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        if let Some(path) = &settings.jwks_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("AUTH_JWKS_FILE {}: {e}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("AUTH_JWKS_FILE {}: {e}", path.display()))?;
            return Ok(Self::with_key_set(settings, set));
        }
        let url = settings
            .jwks_url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("AUTH_JWKS_URL or AUTH_JWKS_FILE is required when AUTH_ISSUER is not the local default"))?;
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "AUTH_JWKS_URL={url}: an http:// or https:// URL is needed"
        );
        let client = crate::http_client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self::with_keys(
            settings,
            Keys::Remote {
                url,
                client,
                set: RwLock::new(JwkSet { keys: Vec::new() }),
                last_fetch: Mutex::new(None),
                fetched_at: Mutex::new(None),
                fetching: tokio::sync::Mutex::new(()),
            },
        ))
    }

    async fn find_key(&self, kid: &str) -> Result<Jwk, TokenError> {
        match &self.keys {
            Keys::Static(set) => set
                .find(kid)
                .cloned()
                .ok_or_else(|| TokenError::UnknownKey(kid.to_string())),
            Keys::Remote {
                url,
                client,
                set,
                last_fetch,
                fetched_at,
                fetching,
            } => {
                let fresh = lock(fetched_at).is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
                if fresh && let Some(jwk) = set.read().await.find(kid) {
                    return Ok(jwk.clone());
                }
                // Whoever holds the lock decides whether to fetch, and looks
                // again first: a token that waited here while another fetched
                // finds its key without a second fetch. Deciding before the
                // lock let a second token see "fetched just now" while the
                // first had not yet fetched, and refuse a valid key.
                let _in_flight = fetching.lock().await;
                let fresh = lock(fetched_at).is_some_and(|t| t.elapsed() < KEYS_MAX_AGE);
                if fresh && let Some(jwk) = set.read().await.find(kid) {
                    return Ok(jwk.clone());
                }
                // An unknown kid (the issuer rotated) or keys held too long (the
                // issuer may have withdrawn one): fetch again, at most every
                // REFETCH_AT_MOST_EVERY, so forged kids cannot flood the issuer.
                let may_fetch = {
                    let mut last = lock(last_fetch);
                    let may = !last.is_some_and(|t| t.elapsed() < REFETCH_AT_MOST_EVERY);
                    if may {
                        *last = Some(Instant::now());
                    }
                    may
                };
                if may_fetch {
                    match async {
                        client
                            .get(url)
                            .send()
                            .await?
                            .error_for_status()?
                            .json::<JwkSet>()
                            .await
                    }
                    .await
                    {
                        Ok(fetched) => {
                            tracing::info!(keys = fetched.keys.len(), %url, "fetched the issuer's key set");
                            *set.write().await = fetched;
                            *lock(fetched_at) = Some(Instant::now());
                        }
                        Err(e) => {
                            // Let the next token try again soon: the issuer may
                            // just be starting. Keys already held stay in use.
                            *lock(last_fetch) = None;
                            tracing::warn!(error = %e, %url, "fetching the issuer's key set failed");
                        }
                    }
                }
                set.read()
                    .await
                    .find(kid)
                    .cloned()
                    .ok_or_else(|| TokenError::UnknownKey(kid.to_string()))
            }
        }
    }

    /// The principal a token proves, or why it proves nothing.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        if let Some((p, exp)) = lock(&self.cache).get(token)
            && now < exp + LEEWAY_SECONDS
        {
            return Ok(p.clone());
        }
        let header = jsonwebtoken::decode_header(token).map_err(TokenError::Header)?;
        let validation = self
            .validation
            .get(&header.alg)
            .ok_or(TokenError::Algorithm(header.alg))?;
        let kid = header.kid.ok_or(TokenError::NoKid)?;
        let jwk = self.find_key(&kid).await?;
        if !key_fits(&jwk, header.alg) {
            return Err(TokenError::KeyMismatch(kid));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(TokenError::Rejected)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, validation)
            .map_err(TokenError::Rejected)?
            .claims;
        let principal = principal_of(&claims)?;
        let mut cache = lock(&self.cache);
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, (_, exp)| now < *exp);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (principal.clone(), claims.exp));
        Ok(principal)
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A signing key and its public half as a JWK: the development identity
/// provider's, and the tests'.
pub struct SigningKey {
    pub kid: String,
    pub encoding: jsonwebtoken::EncodingKey,
    pub public: Jwk,
}

impl SigningKey {
    /// From a PKCS#8 PEM P-256 private key (`openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256`). The key id is the JWK thumbprint,
    /// so a new key is a new kid without anyone choosing one.
    pub fn from_ec_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let encoding = jsonwebtoken::EncodingKey::from_ec_pem(pem)
            .map_err(|e| anyhow::anyhow!("not a P-256 PKCS#8 PEM key: {e}"))?;
        let mut public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)?;
        let kid = public.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(Self {
            kid,
            encoding,
            public,
        })
    }

    /// A fresh P-256 key as PKCS#8 PEM.
    pub fn generate_pem() -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        loop {
            let bytes: [u8; 32] = rand::random();
            // A random 32-byte string is a valid scalar except with
            // probability ~2^-32; draw again in that case.
            if let Ok(key) = p256::SecretKey::from_slice(&bytes)
                && let Ok(pem) = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            {
                return pem.to_string();
            }
        }
    }

    pub fn key_set(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public.clone()],
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::sync::Arc;

    fn settings() -> AuthSettings {
        AuthSettings {
            issuer: "https://idp.test".into(),
            audience: "bianmin".into(),
            jwks_url: None,
            jwks_file: None,
        }
    }

    fn claims(role: &str, center: Option<&str>) -> Claims {
        let now = jsonwebtoken::get_current_timestamp();
        Claims {
            sub: "c01-specialist".into(),
            iss: "https://idp.test".into(),
            aud: "bianmin".into(),
            exp: now + 300,
            nbf: Some(now - 1),
            iat: Some(now),
            role: role.into(),
            center_id: center.map(str::to_string),
            centers: Vec::new(),
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn setup() -> (SigningKey, Verifier) {
        let key = SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).unwrap();
        let verifier = Verifier::with_key_set(&settings(), key.key_set());
        (key, verifier)
    }

    /// An issuer's key endpoint that answers slowly, refuses its first
    /// `unready` fetches with a 503 (an issuer still starting) and counts
    /// its fetches.
    async fn slow_issuer(
        set: JwkSet,
        unready: usize,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = fetches.clone();
        let body = serde_json::to_string(&set).unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (count, body) = (count.clone(), body.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let nth = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let answer = if nth < unready {
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, fetches)
    }

    // Many threads, so that tokens really race: the refusal this guards
    // against needed one token to be between deciding to fetch and taking
    // the fetch lock while another took it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn tokens_arriving_together_before_the_first_fetch_are_all_let_in() {
        let key = SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).unwrap();
        let (url, fetches) = slow_issuer(key.key_set(), 0).await;
        for round in 0..40 {
            let verifier = Arc::new(
                Verifier::from_settings(&AuthSettings {
                    jwks_url: Some(url.clone()),
                    ..settings()
                })
                .unwrap(),
            );
            let before = fetches.load(std::sync::atomic::Ordering::SeqCst);
            let tokens = (0..16).map(|i| {
                let mut c = claims("specialist", Some("C01"));
                c.sub = format!("c01-specialist-{i}");
                key.sign(&c).unwrap()
            });
            let answers = futures::future::join_all(tokens.map(|token| {
                let verifier = verifier.clone();
                tokio::spawn(async move { verifier.verify(&token).await })
            }))
            .await;
            for (i, answer) in answers.into_iter().map(Result::unwrap).enumerate() {
                assert!(answer.is_ok(), "round {round}, token {i}: {answer:?}");
            }
            assert_eq!(
                fetches.load(std::sync::atomic::Ordering::SeqCst) - before,
                1,
                "round {round}: one fetch per verifier"
            );
        }
    }

    #[tokio::test]
    async fn tokens_waiting_on_a_failed_fetch_fetch_again_rather_than_refuse() {
        let key = SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).unwrap();
        let (url, fetches) = slow_issuer(key.key_set(), 1).await;
        let verifier = Verifier::from_settings(&AuthSettings {
            jwks_url: Some(url),
            ..settings()
        })
        .unwrap();
        let tokens: Vec<String> = (0..4)
            .map(|_| key.sign(&claims("specialist", Some("C01"))).unwrap())
            .collect();
        let answers =
            futures::future::join_all(tokens.iter().map(|token| verifier.verify(token))).await;
        // The first token's own fetch failed, so it has no key to be checked
        // against; the ones that waited for it must not share that fate.
        assert!(answers[0].is_err());
        for (i, answer) in answers.iter().enumerate().skip(1) {
            assert!(answer.is_ok(), "token {i}: {answer:?}");
        }
        assert_eq!(
            fetches.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "a failed fetch, then one that worked"
        );
    }

    #[tokio::test]
    async fn a_good_token_proves_its_principal() {
        let (key, verifier) = setup();
        let p = verifier
            .verify(&key.sign(&claims("specialist", Some("C01"))).unwrap())
            .await
            .unwrap();
        assert_eq!(
            p,
            Principal {
                subject: "c01-specialist".into(),
                role: Role::Specialist,
                center_id: Some("C01".into()),
                centers: Vec::new(),
            }
        );
    }

    #[tokio::test]
    async fn expired_early_wrong_audience_or_issuer_are_refused() {
        let (key, verifier) = setup();
        let now = jsonwebtoken::get_current_timestamp();
        let mut expired = claims("specialist", Some("C01"));
        expired.exp = now - 120;
        let mut early = claims("specialist", Some("C01"));
        early.nbf = Some(now + 600);
        let mut audience = claims("specialist", Some("C01"));
        audience.aud = "another-app".into();
        let mut issuer = claims("specialist", Some("C01"));
        issuer.iss = "https://evil.test".into();
        for c in [expired, early, audience, issuer] {
            assert!(
                verifier.verify(&key.sign(&c).unwrap()).await.is_err(),
                "{c:?}"
            );
        }
    }

    #[tokio::test]
    async fn forged_none_hmac_and_resigned_tokens_are_refused() {
        let (key, verifier) = setup();
        let good = key.sign(&claims("specialist", Some("C01"))).unwrap();
        let body = b64(&serde_json::to_value(claims("district_admin", None)).unwrap());
        // alg: none, no signature.
        let none = format!(
            "{}.{body}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": key.kid}))
        );
        assert!(verifier.verify(&none).await.is_err());
        // HMAC keyed with the public key's bytes.
        let secret = serde_json::to_vec(&key.public).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let hmac = jsonwebtoken::encode(
            &header,
            &claims("district_admin", None),
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify(&hmac).await,
            Err(TokenError::Algorithm(_))
        ));
        // The claims of a good token swapped for an admin's.
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{body}.{}", parts[0], parts[2]);
        assert!(verifier.verify(&tampered).await.is_err());
        // Signed by another key with the same kid.
        let other = SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let resigned =
            jsonwebtoken::encode(&header, &claims("district_admin", None), &other.encoding)
                .unwrap();
        assert!(verifier.verify(&resigned).await.is_err());
        assert!(verifier.verify("garbage").await.is_err());
    }

    #[tokio::test]
    async fn roles_must_be_known_and_staff_need_a_center() {
        let (key, verifier) = setup();
        assert!(matches!(
            verifier
                .verify(&key.sign(&claims("root", None)).unwrap())
                .await,
            Err(TokenError::Role(_))
        ));
        assert!(matches!(
            verifier
                .verify(&key.sign(&claims("supervisor", None)).unwrap())
                .await,
            Err(TokenError::NoCenter)
        ));
        assert!(
            verifier
                .verify(&key.sign(&claims("district_admin", None)).unwrap())
                .await
                .is_ok()
        );
    }

    #[test]
    fn bearer_values_parse() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn local_defaults_point_at_the_gateway() {
        let mut env = Env::from_map(HashMap::new());
        let s = AuthSettings::read(&mut env);
        assert_eq!(
            s.jwks_url.as_deref(),
            Some("http://127.0.0.1:8080/.well-known/jwks.json")
        );
        assert_eq!(s.audience, "bianmin");
    }
}
