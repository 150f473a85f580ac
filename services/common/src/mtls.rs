//! Service-to-service mutual TLS, as configuration.
//!
//! Off by default (one machine, loopback). On when all three are set:
//! - `GRPC_TLS_CERT`: this process's certificate (PEM; its subject
//!   alternative names must include the host names its callers use, e.g.
//!   `intake`, `review`, `127.0.0.1`), used both as server and as client
//!   certificate;
//! - `GRPC_TLS_KEY`: its private key (PEM);
//! - `GRPC_TLS_CA`: the CA bundle (PEM) of the cluster's service CA.
//!
//! Then every gRPC server ([`crate::grpc::serve`]) requires a client
//! certificate from that CA, and every client channel
//! ([`crate::grpc::channel`]) presents this certificate and checks the
//! server's, whatever scheme its URL names: with mTLS on there is no
//! plaintext path between services. Kubernetes' gRPC probes speak no TLS,
//! so `GRPC_HEALTH_ADDR` (optional) serves health alone, in plaintext, on a
//! second port for them.
//!
//! mTLS proves which workload connects; the bearer token still says on
//! whose behalf, and every service still checks it.

use std::path::PathBuf;
use std::sync::OnceLock;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

#[derive(Clone, Debug)]
pub struct Settings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// Plaintext, health-only listener for probes.
    pub health_addr: Option<String>,
}

impl Settings {
    /// `Ok(None)` when off; an error when only some of the three are set.
    pub fn read(env: &mut crate::config::Env) -> anyhow::Result<Option<Self>> {
        let names = ["GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA"];
        let values: Vec<Option<String>> = names.iter().map(|n| env.optional(n)).collect();
        let health_addr = env.optional("GRPC_HEALTH_ADDR");
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let missing: Vec<&str> = names
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "service mTLS needs GRPC_TLS_CERT, GRPC_TLS_KEY and GRPC_TLS_CA together; missing {}",
            missing.join(", ")
        );
        let mut v = values
            .into_iter()
            .map(|v| PathBuf::from(v.unwrap_or_default()));
        Ok(Some(Self {
            cert: v.next().unwrap_or_default(),
            key: v.next().unwrap_or_default(),
            ca: v.next().unwrap_or_default(),
            health_addr,
        }))
    }
}

/// The loaded configuration.
pub struct Mtls {
    pub server: ServerTlsConfig,
    pub client: ClientTlsConfig,
    pub health_addr: Option<String>,
}

static MTLS: OnceLock<Mtls> = OnceLock::new();

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))
}

/// Loads the certificates and makes them the process's service mTLS (the
/// first call wins). `None` leaves mTLS off.
pub fn install(settings: Option<&Settings>) -> anyhow::Result<()> {
    let Some(s) = settings else {
        return Ok(());
    };
    let cert = read(&s.cert, "GRPC_TLS_CERT")?;
    // Their expiry is a figure (read at each scrape, so a rotated secret
    // shows its new date): `bianmin_certificate_expiry_timestamp_seconds`.
    crate::metrics::certificates::register("service", s.cert.clone());
    crate::metrics::certificates::register("service_ca", s.ca.clone());
    let key = read(&s.key, "GRPC_TLS_KEY")?;
    let ca = Certificate::from_pem(read(&s.ca, "GRPC_TLS_CA")?);
    let identity = Identity::from_pem(cert, key);
    let mtls = Mtls {
        server: ServerTlsConfig::new()
            .identity(identity.clone())
            .client_ca_root(ca.clone())
            .client_auth_optional(false),
        client: ClientTlsConfig::new().ca_certificate(ca).identity(identity),
        health_addr: s.health_addr.clone(),
    };
    if MTLS.set(mtls).is_err() {
        tracing::warn!("service mTLS installed twice; keeping the first");
    } else {
        tracing::info!("service-to-service mutual TLS on");
    }
    Ok(())
}

/// The process's service mTLS, if on.
pub fn get() -> Option<&'static Mtls> {
    MTLS.get()
}

/// With mTLS on every channel is TLS: an `http://` URL is upgraded rather
/// than trusted to be plaintext on purpose. Pure.
pub fn upgrade_url(url: &str, tls: bool) -> String {
    match url.strip_prefix("http://") {
        Some(rest) if tls => format!("https://{rest}"),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> crate::config::Env {
        crate::config::Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn off_unless_configured_and_all_or_nothing() {
        assert!(Settings::read(&mut env(&[])).unwrap().is_none());
        let err = Settings::read(&mut env(&[("GRPC_TLS_CERT", "/c.pem")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GRPC_TLS_KEY") && err.contains("GRPC_TLS_CA"),
            "{err}"
        );
        let on = Settings::read(&mut env(&[
            ("GRPC_TLS_CERT", "/c.pem"),
            ("GRPC_TLS_KEY", "/k.pem"),
            ("GRPC_TLS_CA", "/ca.pem"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(on.ca, PathBuf::from("/ca.pem"));
    }

    #[test]
    fn urls_are_upgraded_only_when_tls_is_on() {
        assert_eq!(
            upgrade_url("http://intake:50061", true),
            "https://intake:50061"
        );
        assert_eq!(
            upgrade_url("http://intake:50061", false),
            "http://intake:50061"
        );
        assert_eq!(
            upgrade_url("https://intake:50061", true),
            "https://intake:50061"
        );
    }
}
