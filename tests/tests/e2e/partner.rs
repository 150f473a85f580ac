//! The partner agencies' gRPC edge over mutual TLS, and service-to-service
//! mutual TLS, on the real cluster. Every certificate is made here, at test
//! time (no key is committed).

use bianmin_e2e::{Cluster, Options, free_port, id_number};
use bianmin_proto::intake::v1::{self as intake_pb, intake_service_client::IntakeServiceClient};
use bianmin_proto::partner::v1::{self as pb, partner_service_client::PartnerServiceClient};
use chrono::NaiveDate;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A certificate authority of the test's own.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf certificate for `names` (DNS names or IP addresses): (cert
    /// PEM, key PEM).
    fn issue(&self, names: &[&str], usages: &[ExtendedKeyUsagePurpose]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = usages.to_vec();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn client(&self, name: &str) -> (String, String) {
        self.issue(&[name], &[ExtendedKeyUsagePurpose::ClientAuth])
    }
}

/// The partner edge's server certificate (from a CA of its own), the
/// district partner CA and the registry, written under a test directory.
struct Edge {
    ca: Ca,
    port: u16,
    env: Vec<(&'static str, String)>,
}

impl Edge {
    fn new(d: &Path, partner_ca: &Ca, registry: &Value) -> Self {
        let ca = Ca::new("bianmin edge test CA");
        let (server_cert, server_key) = ca.issue(
            &["localhost", "127.0.0.1"],
            &[ExtendedKeyUsagePurpose::ServerAuth],
        );
        let port = free_port();
        let env = vec![
            ("PARTNER_GRPC_ADDR", format!("127.0.0.1:{port}")),
            ("PARTNER_TLS_CERT", write(d, "edge.crt", &server_cert)),
            ("PARTNER_TLS_KEY", write(d, "edge.key", &server_key)),
            (
                "PARTNER_CLIENT_CA",
                write(d, "partners-ca.crt", &partner_ca.pem),
            ),
            (
                "PARTNER_REGISTRY",
                write(d, "partners.json", &registry.to_string()),
            ),
        ];
        Self { ca, port, env }
    }

    /// The gateway settings that turn the edge on, plus `extra`.
    fn gateway_env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        self.env
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(extra.iter().copied())
            .collect()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A partner's connection to the edge; `identity` is its client
/// certificate and key, if it has one.
async fn partner(
    port: u16,
    server_ca: &str,
    identity: Option<&(String, String)>,
) -> Result<PartnerServiceClient<Channel>, tonic::Status> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(server_ca))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{e:?}")))?;
    Ok(PartnerServiceClient::new(channel))
}

async fn status(
    port: u16,
    server_ca: &str,
    identity: Option<&(String, String)>,
    application_no: &str,
    purpose: &str,
) -> Result<pb::ApplicationStatus, tonic::Status> {
    partner(port, server_ca, identity)
        .await?
        .get_application_status(pb::GetApplicationStatusRequest {
            application_no: application_no.into(),
            purpose: purpose.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn resident(seq: u32) -> pb::Resident {
    pb::Resident {
        name: "王秀英".into(),
        id_number: id_number("110105", NaiveDate::from_ymd_opt(1948, 6, 1).unwrap(), seq),
        phone: "13900001111".into(),
    }
}

fn referral(center: &str, reference: &str, seq: u32) -> pb::SubmitReferralRequest {
    pb::SubmitReferralRequest {
        center_id: center.into(),
        service_type: "elderly-care-subsidy".into(),
        applicant: Some(resident(seq)),
        reason: "独居老人，申请居家养老服务补贴".into(),
        referral_ref: reference.into(),
        purpose: "转介辖区独居老人申请养老补贴".into(),
    }
}

const PURPOSE: &str = "核实养老补贴申请进度";

/// An application submitted by C01/C02 staff through the REST API.
async fn staff_application(cluster: &Cluster, user: &str, center: &str, seq: u32) -> Value {
    let r = cluster
        .client_as(user)
        .await
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&json!({
            "center_id": center,
            "service_type": "elderly-care-subsidy",
            "channel": "window",
            "applicant": {"name": "李建国", "id_number": id_number("110105", NaiveDate::from_ymd_opt(1950, 3, 1).unwrap(), seq), "phone": "13812345678"},
            "reason": "申请居家养老服务补贴"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

fn audit_verify(cluster: &Cluster) -> std::process::Output {
    std::process::Command::new(bianmin_e2e::bin_dir().join("bianmin-intake"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", cluster.database_url("intake"))
        .env("RUST_LOG", "warn")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the intake binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_reach_only_what_their_certificate_and_grant_allow_and_all_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The district partner CA, and a stranger's.
    let partner_ca = Ca::new("bianmin partner test CA");
    let rogue_ca = Ca::new("somebody else's CA");
    let civil = partner_ca.client("civil-affairs");
    let status_only = partner_ca.client("status-only");
    let stranger = partner_ca.client("stranger");
    let impostor = rogue_ca.client("civil-affairs");
    let registry = json!({"partners": [
        {"id": "civil-affairs", "name": "区民政局", "methods": ["GetApplicationStatus", "SubmitReferral"], "centers": ["C01"]},
        {"id": "status-only", "name": "区残联", "methods": ["GetApplicationStatus"], "centers": ["C01", "C02"]}
    ]});
    let edge = Edge::new(d, &partner_ca, &registry);
    let cluster = Cluster::start_with(Options { otlp: false }, &edge.gateway_env(&[]))
        .await
        .expect("cluster starts with the partner edge");
    let port = edge.port;
    let ca = edge.ca.pem.as_str();

    let c01 = staff_application(&cluster, "c01-specialist", "C01", 1).await;
    let c02 = staff_application(&cluster, "c02-specialist", "C02", 2).await;
    let c01_no = c01["application_no"].as_str().unwrap();
    let c02_no = c02["application_no"].as_str().unwrap();

    // ---- Allowed: a status query answers the minimum, masked.
    let s = status(port, ca, Some(&civil), c01_no, PURPOSE)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", cluster.logs()));
    assert_eq!(s.application_no, c01_no);
    assert_eq!(s.center_id, "C01");
    assert_eq!(s.service_type, "elderly-care-subsidy");
    // Review opens its case asynchronously: either is current.
    assert!(
        ["submitted", "in_review"].contains(&s.status.as_str()),
        "{}",
        s.status
    );
    assert_eq!(s.applicant_name_masked, "李**");
    assert!(!s.timeline.is_empty() && !s.timeline[0].title.is_empty());
    let shown = format!("{s:?}");
    for secret in ["李建国", "13812345678", "申请居家养老服务补贴", "110105"] {
        assert!(
            !shown.contains(secret),
            "{secret} reached a partner: {shown}"
        );
    }

    // ---- Referral: one application; the retry replays it.
    let mut client = partner(port, ca, Some(&civil)).await.unwrap();
    let first = client
        .submit_referral(referral("C01", "MZ-2026-0001", 7))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    let referred = first.application.unwrap();
    assert_eq!(referred.center_id, "C01");
    assert_eq!(referred.applicant_name_masked, "王**");
    let again = client
        .submit_referral(referral("C01", "MZ-2026-0001", 7))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(
        again.application.unwrap().application_no,
        referred.application_no
    );
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let (count, channel): (i64, String) = sqlx::query_as(
        "SELECT count(*), min(channel) FROM applications WHERE submitted_by = 'partner:civil-affairs'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((count, channel.as_str()), (1, "partner_referral"));

    // ---- A center not on the list: reads look missing, referrals are refused.
    let hidden = status(port, ca, Some(&civil), c02_no, PURPOSE)
        .await
        .unwrap_err();
    let missing = status(port, ca, Some(&civil), "C02-20260101-999999", PURPOSE)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    assert_eq!(
        hidden.message().replace(c02_no, "<no>"),
        missing.message().replace("C02-20260101-999999", "<no>"),
        "a hidden application must read exactly like a missing one"
    );
    let refused = client
        .submit_referral(referral("C02", "MZ-2026-0002", 8))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // ---- A method not on the list.
    let refused = partner(port, ca, Some(&status_only))
        .await
        .unwrap()
        .submit_referral(referral("C01", "CL-1", 9))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    // ... while its granted method works, in both its centers.
    assert_eq!(
        status(port, ca, Some(&status_only), c02_no, PURPOSE)
            .await
            .unwrap()
            .center_id,
        "C02"
    );

    // ---- No purpose: refused at the edge, specifically.
    let invalid = status(port, ca, Some(&civil), c01_no, "  ")
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
    assert!(invalid.message().contains("purpose"), "{invalid:?}");

    // ---- Certificates: none, a stranger's CA, valid but unregistered.
    let none = status(port, ca, None, c01_no, PURPOSE).await.unwrap_err();
    assert_ne!(none.code(), tonic::Code::Ok);
    let rogue = status(port, ca, Some(&impostor), c01_no, PURPOSE)
        .await
        .unwrap_err();
    assert_ne!(rogue.code(), tonic::Code::Ok);
    let unregistered = status(port, ca, Some(&stranger), c01_no, PURPOSE)
        .await
        .unwrap_err();
    assert_eq!(unregistered.code(), tonic::Code::Unauthenticated);

    // Still exactly one referral: nothing refused wrote an application.
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM applications WHERE submitted_by LIKE 'partner:%'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(count, 1);

    // ---- Every exchange is in intake's audit log, with its purpose.
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT actor, action, record, outcome, detail FROM audit_log
         WHERE actor LIKE 'partner:%' ORDER BY seq",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let c01_id = c01["id"].as_str().unwrap();
    let c02_id = c02["id"].as_str().unwrap();
    let referral_purpose = "转介辖区独居老人申请养老补贴";
    let expected: &[(&str, &str, String, &str, &str)] = &[
        (
            "partner:civil-affairs",
            "read_application",
            format!("application:{c01_id}"),
            "allowed",
            PURPOSE,
        ),
        (
            "partner:civil-affairs",
            "submit_application",
            "center:C01".into(),
            "allowed",
            referral_purpose,
        ),
        (
            "partner:civil-affairs",
            "submit_application",
            "center:C01".into(),
            "allowed",
            referral_purpose,
        ),
        (
            "partner:civil-affairs",
            "read_application",
            format!("application:{c02_id}"),
            "hidden",
            PURPOSE,
        ),
        (
            "partner:civil-affairs",
            "read_application",
            "application_no:C02-20260101-999999".into(),
            "missing",
            PURPOSE,
        ),
        (
            "partner:civil-affairs",
            "submit_application",
            "center:C02".into(),
            "denied",
            referral_purpose,
        ),
        (
            "partner:status-only",
            "submit_application",
            "center:C01".into(),
            "denied",
            referral_purpose,
        ),
        (
            "partner:status-only",
            "read_application",
            format!("application:{c02_id}"),
            "allowed",
            PURPOSE,
        ),
    ];
    for (actor, action, record, outcome, detail) in expected {
        assert!(
            rows.iter().any(
                |r| (r.0.as_str(), r.1.as_str(), &r.2, r.3.as_str(), r.4.as_str())
                    == (*actor, *action, record, *outcome, *detail)
            ),
            "no audit row {actor} {action} {record} {outcome} {detail:?} in\n{rows:#?}"
        );
    }
    let outcomes: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "submitted").count(),
        1,
        "{rows:#?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "replayed").count(),
        1,
        "{rows:#?}"
    );
    let verified = audit_verify(&cluster);
    assert!(
        verified.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // The partner edge's calls are in the gateway's gRPC figures, by
    // method, and its certificate's expiry is reported.
    let gateway = cluster.scrape("gateway").await.unwrap();
    assert!(
        gateway
            .samples
            .iter()
            .any(|(n, l, v)| n == "bianmin_grpc_server_requests_total"
                && l.get("method")
                    .is_some_and(|m| m.starts_with("/bianmin.partner.v1.PartnerService/"))
                && *v >= 1.0),
        "{}",
        gateway.text
    );
    assert!(
        gateway.sum(
            "bianmin_certificate_expiry_timestamp_seconds",
            &[("certificate", "partner_edge")]
        ) > chrono::Utc::now().timestamp() as f64,
        "{}",
        gateway.text
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_service_mtls_on_submissions_flow_and_plaintext_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let service_ca = Ca::new("bianmin service test CA");
    // One certificate for every process here; in a cluster each service
    // has its own, naming its service host.
    let (cert, key) = service_ca.issue(
        &["localhost", "127.0.0.1"],
        &[
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    );
    let (cert_path, key_path, ca_path) = (
        write(d, "service.crt", &cert),
        write(d, "service.key", &key),
        write(d, "service-ca.crt", &service_ca.pem),
    );
    let cluster = Cluster::start_with_all(
        Options { otlp: false },
        &[],
        &[
            ("GRPC_TLS_CERT", &cert_path),
            ("GRPC_TLS_KEY", &key_path),
            ("GRPC_TLS_CA", &ca_path),
        ],
    )
    .await
    .expect("cluster starts with service mTLS");

    // End to end through the gateway, over mutual TLS to intake.
    let created = staff_application(&cluster, "c01-specialist", "C01", 3).await;
    let id = created["id"].as_str().unwrap();
    let read = cluster
        .client_as("c01-specialist")
        .await
        .get(format!("{}/api/v1/applications/{id}", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    let port = cluster.intake_grpc.rsplit(':').next().unwrap().to_string();
    let list = |channel: Channel| async move {
        IntakeServiceClient::new(channel)
            .list_centers(intake_pb::ListCentersRequest {})
            .await
    };
    // Plaintext straight to intake's port: refused.
    let plaintext = Channel::from_shared(cluster.intake_grpc.clone())
        .unwrap()
        .connect_lazy();
    assert!(list(plaintext).await.is_err(), "intake answered plaintext");
    // TLS without a client certificate: refused too.
    let tls = |identity: bool| {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&service_ca.pem))
            .domain_name("localhost");
        if identity {
            tls = tls.identity(Identity::from_pem(&cert, &key));
        }
        Channel::from_shared(format!("https://127.0.0.1:{port}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy()
    };
    assert!(
        list(tls(false)).await.is_err(),
        "intake answered without a client certificate"
    );
    // With the service certificate the same (public) call is answered:
    // it is the certificate that made the difference.
    assert!(
        !list(tls(true))
            .await
            .unwrap()
            .into_inner()
            .centers
            .is_empty()
    );

    // Probes speak no TLS: GRPC_HEALTH_ADDR answers health alone, in plaintext.
    let mut cluster = cluster;
    let health_port = free_port();
    cluster.set_env(
        "intake",
        "GRPC_HEALTH_ADDR",
        &format!("127.0.0.1:{health_port}"),
    );
    cluster.terminate("intake").await;
    cluster.restart("intake").unwrap();
    let probe = Channel::from_shared(format!("http://127.0.0.1:{health_port}"))
        .unwrap()
        .connect_lazy();
    let mut health = tonic_health::pb::health_client::HealthClient::new(probe.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "bianmin.intake.v1.IntakeService".into(),
            })
            .await;
        match answer {
            Ok(r) if r.get_ref().status == 1 => break,
            _ if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => panic!(
                "intake's probe port never said SERVING: {other:?}\n{}",
                cluster.logs()
            ),
        }
    }
    assert_eq!(
        list(probe).await.unwrap_err().code(),
        tonic::Code::Unimplemented,
        "the probe port serves health only"
    );
    // Every process reports when its service certificate and CA expire
    // (what the certificate-expiry alert watches).
    let now = chrono::Utc::now().timestamp() as f64;
    for name in ["gateway", "intake", "review"] {
        let scrape = cluster.scrape(name).await.unwrap();
        for certificate in ["service", "service_ca"] {
            let at = scrape.sum(
                "bianmin_certificate_expiry_timestamp_seconds",
                &[("certificate", certificate)],
            );
            assert!(at > now, "{name} {certificate}: {at}\n{}", scrape.text);
        }
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_over_its_rate_is_slowed_and_the_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let partner_ca = Ca::new("bianmin partner test CA");
    let (busy, other) = (
        partner_ca.client("civil-affairs"),
        partner_ca.client("status-only"),
    );
    let registry = json!({"partners": [
        {"id": "civil-affairs", "name": "区民政局", "methods": ["GetApplicationStatus"], "centers": ["C01"]},
        {"id": "status-only", "name": "区残联", "methods": ["GetApplicationStatus"], "centers": ["C01"]}
    ]});
    let edge = Edge::new(dir.path(), &partner_ca, &registry);
    // Three calls at once, then one a second.
    let limits = [
        ("RATE_LIMIT_PER_PARTNER", "1"),
        ("RATE_LIMIT_PER_PARTNER_BURST", "3"),
    ];
    let cluster = Cluster::start_with(Options { otlp: false }, &edge.gateway_env(&limits))
        .await
        .expect("cluster starts with the partner edge");
    let app = staff_application(&cluster, "c01-specialist", "C01", 21).await;
    let no = app["application_no"].as_str().unwrap();
    let ca = edge.ca.pem.as_str();

    for call in 1..=3 {
        let answer = status(edge.port, ca, Some(&busy), no, PURPOSE).await;
        assert!(answer.is_ok(), "call {call}: {answer:?}");
    }
    let refused = status(edge.port, ca, Some(&busy), no, PURPOSE)
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(refused.message().contains("请求过于频繁"), "{refused:?}");
    // Another agency has its own bucket.
    status(edge.port, ca, Some(&other), no, PURPOSE)
        .await
        .expect("another partner is not slowed");
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    status(edge.port, ca, Some(&busy), no, PURPOSE)
        .await
        .expect("a token again after a second");
    cluster.stop().await;
}
