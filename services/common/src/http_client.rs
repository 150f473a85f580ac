//! Outgoing HTTP(S) clients: token keys (JWKS), notification webhooks, the
//! materials object store, OTLP over HTTP.
//!
//! reqwest is built with rustls but without a crypto provider of its own
//! (`rustls-no-provider`): the process uses ring, the provider tonic and
//! sqlx already use, so no second crypto library (aws-lc, compiled from C)
//! enters the build. reqwest looks the process-wide provider up whenever a
//! client is built and panics when there is none, so every client is built
//! through [`builder`], and code that builds clients inside a library
//! (object_store, the OTLP exporter) calls [`install_crypto_provider`] first.

use std::sync::Once;

/// Makes ring rustls's process-wide provider. Idempotent; cheap after the
/// first call.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder whose TLS works.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// A client with reqwest's defaults.
pub fn client() -> reqwest::Client {
    builder()
        .build()
        .expect("an HTTP client with default settings builds")
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_build_after_any_number_of_installs() {
        super::install_crypto_provider();
        let _ = super::client();
        super::install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
