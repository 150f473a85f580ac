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

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: Vec<String>) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "civil-affairs");
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_partner_is_the_dns_name_its_certificate_names() {
        assert_eq!(
            partner_id(&[cert(vec!["Civil-Affairs".into()])]).as_deref(),
            Some("civil-affairs")
        );
        // A common name alone names nobody: only the SAN counts.
        assert_eq!(partner_id(&[cert(Vec::new())]), None);
        assert_eq!(partner_id(&[]), None);
    }
}
