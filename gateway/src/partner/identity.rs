//! Who a partner is: the DNS subject alternative name of the client
//! certificate it presented. The TLS handshake has already checked that
//! the certificate chains to the partner CA (`PARTNER_CLIENT_CA`), is in
//! its validity period and is meant for client authentication; a partner
//! without one never reaches this code.

use tonic::transport::CertificateDer;

/// The partner id a verified client certificate names: its first DNS
/// subject alternative name. `None` when there is no certificate or it
/// names none.
pub fn partner_id(certs: &[CertificateDer<'_>]) -> Option<String> {
    let leaf = certs.first()?;
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    cert.valid_dns_names().next().map(str::to_ascii_lowercase)
}
