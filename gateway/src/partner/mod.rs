//! The partner agencies' gRPC edge (`bianmin.partner.v1`), over mutual TLS.
//!
//! On only when `PARTNER_GRPC_ADDR` is set. It then needs:
//! - `PARTNER_TLS_CERT`, `PARTNER_TLS_KEY`: the edge's server certificate
//!   and key (PEM);
//! - `PARTNER_CLIENT_CA`: the CA bundle (PEM) partner client certificates
//!   must chain to. A caller without a certificate, or with one from
//!   another CA, fails the TLS handshake; one that chains but names no
//!   registered partner is refused UNAUTHENTICATED;
//! - `PARTNER_REGISTRY`: the partner registry (default
//!   `deploy/seed/partners.json`, one demo partner);
//! - `PARTNER_SIGNING_KEY_FILE`: the P-256 key (PKCS#8 PEM) the edge signs
//!   its forwarding tokens with; defaults to the development identity
//!   provider's key (`AUTH_SIGNING_KEY_FILE`), whose JWKS the services
//!   already trust. In production the services' `AUTH_JWKS_FILE` holds the
//!   district IdP's keys plus this key's public half
//!   (`bianmin-gateway auth jwks < edge-key.pem`).

pub mod api;
pub mod identity;
pub mod registry;

use bianmin_common::auth::token::{AuthSettings, SigningKey};
use bianmin_common::config::Env;
use bianmin_proto::partner::v1::partner_service_server::PartnerServiceServer;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: String,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: PathBuf,
    pub registry: PathBuf,
    pub signing_key_file: PathBuf,
}

impl Settings {
    /// `None` when the edge is off (no `PARTNER_GRPC_ADDR`); an error
    /// naming every missing setting when it is on but incomplete.
    pub fn read(env: &mut Env, idp_key: Option<&PathBuf>) -> anyhow::Result<Option<Self>> {
        let addr = env.optional("PARTNER_GRPC_ADDR");
        let cert = env.optional("PARTNER_TLS_CERT");
        let key = env.optional("PARTNER_TLS_KEY");
        let ca = env.optional("PARTNER_CLIENT_CA");
        let registry = env.path("PARTNER_REGISTRY", "deploy/seed/partners.json");
        let signing = env
            .optional("PARTNER_SIGNING_KEY_FILE")
            .map(PathBuf::from)
            .or_else(|| idp_key.cloned());
        let Some(addr) = addr else {
            return Ok(None);
        };
        let mut missing = Vec::new();
        for (name, value) in [
            ("PARTNER_TLS_CERT", &cert),
            ("PARTNER_TLS_KEY", &key),
            ("PARTNER_CLIENT_CA", &ca),
        ] {
            if value.is_none() {
                missing.push(name);
            }
        }
        if signing.is_none() {
            missing.push("PARTNER_SIGNING_KEY_FILE (or AUTH_SIGNING_KEY_FILE)");
        }
        anyhow::ensure!(
            missing.is_empty(),
            "PARTNER_GRPC_ADDR={addr} turns the partner edge on, which needs {}",
            missing.join(", ")
        );
        Ok(Some(Self {
            addr,
            tls_cert: cert.unwrap_or_default().into(),
            tls_key: key.unwrap_or_default().into(),
            client_ca: ca.unwrap_or_default().into(),
            registry,
            signing_key_file: signing.unwrap_or_default(),
        }))
    }
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))
}

/// Everything the edge needs, loaded and checked before anything listens.
pub struct Edge {
    tls: ServerTlsConfig,
    api: api::PartnerApi,
}

impl Edge {
    pub fn load(
        settings: &Settings,
        auth: &AuthSettings,
        intake: crate::intake::Client,
        limits: crate::limits::Limits,
        grpc_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let identity = Identity::from_pem(
            read(&settings.tls_cert, "PARTNER_TLS_CERT")?,
            read(&settings.tls_key, "PARTNER_TLS_KEY")?,
        );
        let tls = ServerTlsConfig::new()
            .identity(identity)
            // Required, not optional: no certificate, no connection.
            .client_ca_root(Certificate::from_pem(read(
                &settings.client_ca,
                "PARTNER_CLIENT_CA",
            )?))
            .client_auth_optional(false);
        let registry = registry::Registry::load(&settings.registry)?;
        let key = SigningKey::from_ec_pem(&read(
            &settings.signing_key_file,
            "PARTNER_SIGNING_KEY_FILE",
        )?)?;
        tracing::info!(partners = registry.len(), "partner registry loaded");
        Ok(Self {
            tls,
            api: api::PartnerApi {
                registry: Arc::new(registry),
                key: Arc::new(key),
                auth: auth.clone(),
                intake,
                limits,
                grpc_timeout,
            },
        })
    }

    /// Serves the partner API on `listener` until `shutdown`. Health is
    /// served too (behind the same mutual TLS); reflection is not, so the
    /// internal schemas stay internal.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_serving::<PartnerServiceServer<api::PartnerApi>>()
            .await;
        tracing::info!(addr = %listener.local_addr()?, "partner edge listening (mutual TLS)");
        tonic::transport::Server::builder()
            .tls_config(self.tls)?
            // Partner calls count in the gateway's gRPC figures, by method
            // and code, like every service's (bianmin_common::metrics).
            .layer(bianmin_common::metrics::GrpcMetricsLayer)
            .layer(bianmin_common::deadline::DeadlineLayer)
            .add_service(health)
            .add_service(PartnerServiceServer::new(self.api))
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown.cancelled(),
            )
            .await?;
        Ok(())
    }
}
