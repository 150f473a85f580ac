//! Who may do what, on the real stack: the permission matrix over every
//! REST endpoint, refused tokens, direct gRPC calls without credentials,
//! injection strings kept verbatim, idempotency keys scoped to the caller,
//! rate limits, and the hash-chained audit log.

use base64::Engine as _;
use bianmin_common::auth::token::{Claims, SigningKey};
use bianmin_e2e::{Cluster, Options, id_number};
use bianmin_proto::intake::v1::{self as intake_pb, intake_service_client::IntakeServiceClient};
use bianmin_proto::review::v1::{self as review_pb, review_service_client::ReviewServiceClient};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn application(center: &str, n: u32) -> Value {
    json!({
        "center_id": center,
        "service_type": "elderly-care-subsidy",
        // Open to every caller (a resident at the terminal, or staff
        // assisting one); the staff-only channels are tested in
        // catalog_materials.rs.
        "channel": "kiosk",
        "applicant": {"name": "李建国", "id_number": id_number("110105", NaiveDate::from_ymd_opt(1950, 3, 1).unwrap(), n), "phone": "13812345678"},
        "reason": "申请居家养老服务补贴"
    })
}

async fn create(http: &reqwest::Client, cluster: &Cluster, center: &str, n: u32) -> String {
    let r = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .json(&application(center, n))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The review case opened for an application, once review has opened it.
async fn case_of(cluster: &Cluster, http: &reqwest::Client, application: &str) -> String {
    cluster.case_of(http, application).await
}

/// Who is asking. `Anonymous` sends no token.
const ROLES: [&str; 6] = [
    "anonymous",
    "admin",
    "c01-supervisor",
    "c01-specialist",
    "c02-specialist",
    "partner",
];

/// THE SPEC: each REST endpoint, and the status each caller gets, in the
/// order of [`ROLES`]. `{own}` is an application of center C01 (the first
/// center; "own" for C01 staff), `{other}` one of C02, `{partners}` one
/// the partner submitted at C01. The demo partner's grant covers C01 only.
const MATRIX: &[(&str, &str, [u16; 6])] = &[
    //                                                        anon admin c01sup c01spec c02spec partner
    ("GET", "/healthz", [200, 200, 200, 200, 200, 200]),
    ("GET", "/readyz", [200, 200, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/openapi.json",
        [200, 200, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/.well-known/jwks.json",
        [200, 200, 200, 200, 200, 200],
    ),
    ("GET", "/api/v1/centers", [200, 200, 200, 200, 200, 200]),
    (
        "GET",
        "/api/v1/catalog/services",
        [200, 200, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/calendar/add-working-days?from=2026-02-13&days=5",
        [200, 200, 200, 200, 200, 200],
    ),
    ("POST", "/api/v1/auth/login", [401, 401, 401, 401, 401, 401]),
    (
        "POST",
        "/api/v1/applications#C01",
        [401, 201, 201, 201, 403, 201],
    ),
    (
        "POST",
        "/api/v1/applications#C02",
        [401, 201, 403, 403, 201, 403],
    ),
    (
        "GET",
        "/api/v1/applications/{own}",
        [401, 200, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/applications/{other}",
        [401, 200, 404, 404, 200, 404],
    ),
    (
        "GET",
        "/api/v1/applications/{partners}",
        [401, 200, 200, 200, 404, 200],
    ),
    (
        "GET",
        "/api/v1/applications/{missing}",
        [401, 404, 404, 404, 404, 404],
    ),
    // Review: staff read their center's queue and cases, district admins
    // every center; residents and partners follow progress through intake.
    ("GET", "/api/v1/reviews", [401, 200, 200, 200, 200, 403]),
    (
        "GET",
        "/api/v1/reviews/measures",
        [401, 200, 200, 200, 200, 403],
    ),
    (
        "GET",
        "/api/v1/reviews/{own_case}",
        [401, 200, 200, 200, 404, 403],
    ),
    (
        "GET",
        "/api/v1/reviews/{other_case}",
        [401, 200, 404, 404, 200, 403],
    ),
    (
        "GET",
        "/api/v1/reviews/{missing}",
        [401, 404, 404, 404, 404, 403],
    ),
    // Acting: the center's own staff only (admins oversee, others may not).
    // Only a supervisor ever closes: a specialist is refused (403) before
    // the stage is looked at; for the supervisor a case still in
    // preliminary review cannot close yet (409).
    (
        "POST",
        "/api/v1/reviews/{own_case}/close",
        [401, 403, 409, 403, 404, 403],
    ),
    (
        "POST",
        "/api/v1/reviews/{other_case}/close",
        [401, 403, 404, 404, 403, 403],
    ),
    (
        "GET",
        "/api/v1/no-such-endpoint",
        [404, 404, 404, 404, 404, 404],
    ),
    // Catalog administration: district administrators only.
    (
        "POST",
        "/api/v1/catalog/services",
        [401, 201, 403, 403, 403, 403],
    ),
    (
        "PUT",
        "/api/v1/catalog/services/matrix-type",
        [401, 200, 403, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/catalog/services/matrix-type/history",
        [401, 200, 403, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/catalog/services/matrix-type/retire",
        [401, 200, 403, 403, 403, 403],
    ),
    // Materials: uploading and downloading follow the application's scope.
    (
        "POST",
        "/api/v1/applications/{own}/materials?item=id_card",
        [401, 201, 201, 201, 404, 404],
    ),
    (
        "POST",
        "/api/v1/applications/{other}/materials?item=id_card",
        [401, 201, 404, 404, 201, 404],
    ),
    (
        "POST",
        "/api/v1/applications/{partners}/materials?item=id_card",
        [401, 201, 201, 201, 404, 201],
    ),
    (
        "GET",
        "/api/v1/applications/{own}/materials/{material}",
        [401, 200, 200, 200, 404, 404],
    ),
    (
        "GET",
        "/api/v1/applications/{own}/materials/{missing}",
        [401, 404, 404, 404, 404, 404],
    ),
    // Personal data in full: the center's supervisors and admins only.
    (
        "GET",
        "/api/v1/applications/{own}/applicant?purpose=verify-identity",
        [401, 200, 200, 403, 403, 403],
    ),
    (
        "GET",
        "/api/v1/applications/{other}/applicant?purpose=verify-identity",
        [401, 200, 404, 403, 403, 403],
    ),
    (
        "POST",
        "/api/v1/applications/by-id-number",
        [401, 200, 200, 200, 200, 403],
    ),
    // Answering a supplement request: allowed callers learn none is awaited.
    (
        "POST",
        "/api/v1/applications/{own}/supplement",
        [401, 409, 409, 409, 404, 404],
    ),
    (
        "POST",
        "/api/v1/applications/{partners}/supplement",
        [401, 409, 409, 409, 404, 409],
    ),
    // The first allowed caller withdraws it; the next is told it is done.
    (
        "POST",
        "/api/v1/applications/{other}/withdraw",
        [401, 200, 404, 404, 409, 404],
    ),
    // Public, without a token; a wrong phone answers like a missing number.
    (
        "GET",
        "/api/v1/public/applications/{own_no}?phone_last4=5678",
        [200, 200, 200, 200, 200, 200],
    ),
    (
        "GET",
        "/api/v1/public/applications/{own_no}?phone_last4=0000",
        [404, 404, 404, 404, 404, 404],
    ),
];

/// The service type the matrix creates, changes and retires.
fn matrix_type() -> Value {
    json!({
        "code": "matrix-type", "name": "权限矩阵测试事项", "domain": "便民服务", "class": "辅助",
        "preliminary_review_days": 5, "extended_review_days": 10, "decision_days": 10,
        "materials": [{"code": "id_card", "name": "居民身份证复印件", "group": "basic_info"}]
    })
}

/// A distinct small PDF per request, so every allowed upload is new (201).
fn pdf(n: u32) -> Vec<u8> {
    bianmin_common::testfiles::pdf("matrix", n, 1)
}

/// The body each POST of the matrix sends.
fn body_for(path: &str, center: Option<&str>, n: u32) -> Value {
    if let Some(center) = center {
        return application(center, n);
    }
    if path.ends_with("/by-id-number") {
        return json!({"id_number": id_number("110105", NaiveDate::from_ymd_opt(1950, 3, 1).unwrap(), 1)});
    }
    if path.ends_with("/supplement") {
        return json!({"supplied_items": ["户口簿"]});
    }
    if path.starts_with("/api/v1/catalog/services") {
        return matrix_type();
    }
    if path.starts_with("/api/v1/reviews/") {
        return json!({"results": "服务已完成"});
    }
    if path.ends_with("/withdraw") {
        return json!({"reason": "申请人来电撤回"});
    }
    json!({"username": "admin", "password": "wrong"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_tokens_direct_grpc_injection_and_audit() {
    let cluster = Cluster::start(Options { otlp: false })
        .await
        .expect("cluster starts");
    let mut clients: HashMap<&str, reqwest::Client> =
        HashMap::from([("anonymous", bianmin_common::http_client::client())]);
    for role in &ROLES[1..] {
        clients.insert(role, cluster.client_as(role).await);
    }
    let own = create(&clients["admin"], &cluster, "C01", 1).await;
    let other = create(&clients["admin"], &cluster, "C02", 2).await;
    let partners = create(&clients["partner"], &cluster, "C01", 3).await;
    let missing = uuid::Uuid::new_v4().to_string();
    let own_case = case_of(&cluster, &clients["admin"], &own).await;
    let other_case = case_of(&cluster, &clients["admin"], &other).await;
    let own_no = clients["admin"]
        .get(format!("{}/api/v1/applications/{own}", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["application_no"]
        .as_str()
        .unwrap()
        .to_string();
    let uploaded: Value = clients["admin"]
        .post(format!(
            "{}/api/v1/applications/{own}/materials?item=id_card",
            cluster.gateway
        ))
        .body(pdf(0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let material = uploaded["id"].as_str().expect("a material").to_string();

    // ---- The matrix.
    let mut failures = Vec::new();
    let mut n = 100;
    for (method, path, expected) in MATRIX {
        for (role, want) in ROLES.iter().zip(expected) {
            let http = &clients[role];
            let (path, center) = path
                .split_once('#')
                .map_or((*path, None), |(p, c)| (p, Some(c)));
            let path = path
                .replace("{own}", &own)
                .replace("{other}", &other)
                .replace("{partners}", &partners)
                .replace("{own_case}", &own_case)
                .replace("{other_case}", &other_case)
                .replace("{missing}", &missing)
                .replace("{material}", &material)
                .replace("{own_no}", &own_no);
            let url = format!("{}{path}", cluster.gateway);
            n += 1;
            let response = match *method {
                "POST" if path.contains("/materials") => {
                    http.post(&url).body(pdf(n)).send().await.unwrap()
                }
                "POST" => http
                    .post(&url)
                    .json(&body_for(&path, center, n))
                    .send()
                    .await
                    .unwrap(),
                "PUT" => {
                    let mut changed = matrix_type();
                    changed["decision_days"] = json!(15);
                    http.put(&url).json(&changed).send().await.unwrap()
                }
                _ => http.get(&url).send().await.unwrap(),
            };
            if response.status().as_u16() != *want {
                failures.push(format!(
                    "{method} {path} as {role}: got {}, want {want}",
                    response.status()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix differs:\n{}",
        failures.join("\n")
    );

    // Hidden is indistinguishable from missing, message included.
    let body = |id: &str| {
        let (http, id) = (clients["c01-specialist"].clone(), id.to_string());
        let url = format!("{}/api/v1/applications/{id}", cluster.gateway);
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .replace(&id, "<id>")
        }
    };
    assert_eq!(body(&other).await, body(&missing).await);

    // An unauthenticated answer says how to authenticate.
    let r = clients["anonymous"]
        .get(format!("{}/api/v1/applications/{own}", cluster.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"bianmin\"");

    refused_tokens(&cluster, &own).await;
    direct_grpc(&cluster, &own).await;
    injection_verbatim(&cluster, &clients["c01-specialist"]).await;
    idempotency_is_per_caller(
        &cluster,
        &clients["c01-specialist"],
        &clients["c01-supervisor"],
    )
    .await;
    audit_chain(&cluster).await;
    cluster.stop().await;
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn claims(cluster: &Cluster, role: &str, center: Option<&str>) -> Claims {
    let now = jsonwebtoken::get_current_timestamp();
    Claims {
        sub: "admin".into(),
        iss: cluster.gateway.clone(),
        aud: "bianmin".into(),
        exp: now + 300,
        nbf: Some(now - 5),
        iat: Some(now),
        role: role.into(),
        center_id: center.map(str::to_string),
        centers: Vec::new(),
    }
}

/// Forged, expired, wrong-audience, `alg: none`, HMAC-with-public-key and
/// re-signed tokens are refused at the gateway and at intake's own port.
async fn refused_tokens(cluster: &Cluster, own: &str) {
    let key = cluster.signing_key();
    let admin = claims(cluster, "district_admin", None);
    let good = key.sign(&admin).unwrap();
    let now = jsonwebtoken::get_current_timestamp();

    let mut expired = admin.clone();
    expired.exp = now - 3600;
    expired.iat = Some(now - 7200);
    expired.nbf = Some(now - 7200);
    let mut audience = admin.clone();
    audience.aud = "another-system".into();
    let mut issuer = admin.clone();
    issuer.iss = "https://idp.evil.example".into();
    let mut not_yet = admin.clone();
    not_yet.nbf = Some(now + 3600);

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": key.kid})),
        b64(&serde_json::to_value(&admin).unwrap())
    );
    let public_jwk = serde_json::to_vec(&key.public).unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(key.kid.clone());
    let hmac = jsonwebtoken::encode(
        &hs,
        &admin,
        &jsonwebtoken::EncodingKey::from_secret(&public_jwk),
    )
    .unwrap();
    let stranger = SigningKey::from_ec_pem(SigningKey::generate_pem().as_bytes()).unwrap();
    let mut es = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    es.kid = Some(key.kid.clone());
    let resigned = jsonwebtoken::encode(&es, &admin, &stranger.encoding).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let mut escalated = claims(cluster, "district_admin", None);
    escalated.sub = "c02-specialist".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_value(&escalated).unwrap()),
        parts[2]
    );

    let bad: Vec<(&str, String)> = vec![
        ("expired", key.sign(&expired).unwrap()),
        ("wrong audience", key.sign(&audience).unwrap()),
        ("wrong issuer", key.sign(&issuer).unwrap()),
        ("not yet valid", key.sign(&not_yet).unwrap()),
        ("alg none", none),
        ("hmac with the public key", hmac),
        ("re-signed by another key", resigned),
        ("tampered claims", tampered),
        ("garbage", "not.a.token".into()),
    ];
    let url = format!("{}/api/v1/applications/{own}", cluster.gateway);
    let http = bianmin_common::http_client::client();
    // The control: the same claims, properly signed, pass.
    let r = http.get(&url).bearer_auth(&good).send().await.unwrap();
    assert_eq!(r.status(), 200, "a good token must pass");
    let mut intake = IntakeServiceClient::connect(cluster.intake_grpc.clone())
        .await
        .unwrap();
    for (what, token) in &bad {
        let r = http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status(), 401, "{what} token accepted by the gateway");
        let mut request = tonic::Request::new(intake_pb::GetApplicationRequest {
            id: own.to_string(),
        });
        bianmin_common::auth::attach_bearer(&mut request, token);
        let status = intake.get_application(request).await.unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::Unauthenticated,
            "{what} token accepted by intake"
        );
    }
    let r = http
        .get(&url)
        .header(
            "authorization",
            format!("Basic {}", b64(&json!("admin:bianmin-demo"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The service ports refuse callers without credentials (except health,
/// reflection and the public catalog), and apply center scope themselves.
async fn direct_grpc(cluster: &Cluster, own: &str) {
    let mut intake = IntakeServiceClient::connect(cluster.intake_grpc.clone())
        .await
        .unwrap();
    let status = intake
        .get_application(intake_pb::GetApplicationRequest {
            id: own.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let submit = intake_pb::SubmitApplicationRequest {
        center_id: "C01".into(),
        ..Default::default()
    };
    assert_eq!(
        intake.submit_application(submit).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // The applicant-facing RPCs need a token too, except the public page.
    let full = intake_pb::PiiGetApplicantRequest {
        id: own.to_string(),
        purpose: "verify".into(),
    };
    assert_eq!(
        intake.pii_get_applicant(full).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    let supplement = intake_pb::SupplementApplicationRequest {
        id: own.to_string(),
        ..Default::default()
    };
    assert_eq!(
        intake
            .supplement_application(supplement)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::Unauthenticated
    );
    let public = intake_pb::PublicGetProgressRequest {
        application_no: "C01-20000101-000000".into(),
        phone_last4: "5678".into(),
    };
    assert_eq!(
        intake.public_get_progress(public).await.unwrap_err().code(),
        tonic::Code::NotFound,
        "the public page answers without a token"
    );
    // The old unverified headers are just headers now.
    let mut request = tonic::Request::new(intake_pb::GetApplicationRequest {
        id: own.to_string(),
    });
    request
        .metadata_mut()
        .insert("x-bianmin-subject", "admin".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-bianmin-role", "district_admin".parse().unwrap());
    assert_eq!(
        intake.get_application(request).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    // Public: the catalog, and health.
    assert!(
        intake
            .list_centers(intake_pb::ListCentersRequest {})
            .await
            .is_ok()
    );
    let channel = tonic::transport::Endpoint::from_shared(cluster.review_grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    assert!(
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new()
            })
            .await
            .is_ok()
    );

    // Review: nothing without a token; another center's case is NOT_FOUND.
    let mut review = ReviewServiceClient::new(channel);
    let by = || review_pb::GetReviewCaseRequest {
        by: Some(review_pb::get_review_case_request::By::ApplicationId(
            own.to_string(),
        )),
    };
    assert_eq!(
        review.get_review_case(by()).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    let as_user = |token: &str| {
        let mut r = tonic::Request::new(by());
        bianmin_common::auth::attach_bearer(&mut r, token);
        r
    };
    let c01 = cluster.token_for("c01-supervisor").await.unwrap();
    let c02 = cluster.token_for("c02-supervisor").await.unwrap();
    let partner = cluster.token_for("partner").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match review.get_review_case(as_user(&c01)).await {
            Ok(case) => {
                assert_eq!(case.get_ref().center_id, "C01");
                break;
            }
            Err(s) if s.code() == tonic::Code::NotFound && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(s) => panic!("review case of {own} never readable by its center: {s:?}"),
        }
    }
    assert_eq!(
        review
            .get_review_case(as_user(&c02))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    assert_eq!(
        review
            .get_review_case(as_user(&partner))
            .await
            .unwrap_err()
            .code(),
        tonic::Code::PermissionDenied
    );
}

/// SQL and HTML in every text field are data: stored and returned as sent.
async fn injection_verbatim(cluster: &Cluster, http: &reqwest::Client) {
    let name = "Robert'); DROP TABLE applications;--";
    let reason = "<script>alert('x')</script> ' OR '1'='1'; -- \" <img src=x onerror=alert(1)> ${7*7} {{7*7}}";
    let mut body = application("C01", 900);
    body["applicant"]["name"] = json!(name);
    body["reason"] = json!(reason);
    let r = http
        .post(format!("{}/api/v1/applications", cluster.gateway))
        .header("Idempotency-Key", "k';DROP-TABLE--")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["applicant"]["name"], name);
    assert_eq!(created["reason"], reason);
    let id = created["id"].as_str().unwrap();
    let read: Value = http
        .get(format!("{}/api/v1/applications/{id}", cluster.gateway))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["applicant"]["name"], name);
    assert_eq!(read["reason"], reason);
    // Injected into a path and a query, too: a clean 400, nothing more.
    let r = http
        .get(format!(
            "{}/api/v1/applications/1'%20OR%20'1'='1",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = bianmin_common::http_client::client()
        .get(format!(
            "{}/api/v1/calendar/add-working-days?from=2026-01-01'--&days=1",
            cluster.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let stored: (String, String) =
        sqlx::query_as("SELECT applicant_name, reason FROM applications WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(stored, (name.to_string(), reason.to_string()));
}

/// One caller's Idempotency-Key never replays another caller's answer.
async fn idempotency_is_per_caller(
    cluster: &Cluster,
    first: &reqwest::Client,
    second: &reqwest::Client,
) {
    let url = format!("{}/api/v1/applications", cluster.gateway);
    let body = application("C01", 950);
    let a = first
        .post(&url)
        .header("Idempotency-Key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();
    let b = second
        .post(&url)
        .header("Idempotency-Key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(b.status(), 201);
    assert!(
        b.headers().get("idempotent-replayed").is_none(),
        "another caller's answer was replayed"
    );
    let b: Value = b.json().await.unwrap();
    assert_ne!(a["id"], b["id"]);
    // And the first caller still gets its own answer back.
    let again = first
        .post(&url)
        .header("Idempotency-Key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], a["id"]);
}

fn audit_verify(cluster: &Cluster, service: &str) -> std::process::Output {
    std::process::Command::new(bianmin_e2e::bin_dir().join(format!("bianmin-{service}")))
        .args(["audit", "verify"])
        .env("DATABASE_URL", cluster.database_url(service))
        .env("RUST_LOG", "warn")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("the service binary runs")
}

/// Denials are in the chain, masked reads are not; the chain verifies; a
/// tampered row is caught.
async fn audit_chain(cluster: &Cluster) {
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.database_url("intake"))
        .await
        .unwrap();
    let outcomes: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, outcome FROM audit_log ORDER BY seq")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let has = |actor: &str, action: &str, outcome: &str| {
        outcomes
            .iter()
            .any(|(a, b, c)| a == actor && b == action && c == outcome)
    };
    assert!(
        has("c02-specialist", "read_application", "hidden"),
        "{outcomes:?}"
    );
    assert!(
        has("c01-specialist", "submit_application", "denied"),
        "{outcomes:?}"
    );
    // Masked reads are no access to personal data: no row for them.
    assert!(!has("admin", "read_application", "allowed"), "{outcomes:?}");

    let ok = audit_verify(cluster, "intake");
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = audit_verify(cluster, "review");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // The table refuses edits outright…
    let refused = sqlx::query("UPDATE audit_log SET outcome = 'allowed' WHERE outcome = 'hidden'")
        .execute(&mut db)
        .await;
    assert!(refused.is_err(), "audit_log accepted an UPDATE");
    // …and whoever gets past that (a superuser) is caught by the chain.
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET outcome = 'allowed' WHERE seq = (SELECT min(seq) FROM audit_log WHERE outcome = 'hidden')")
        .execute(&mut db)
        .await
        .unwrap();
    let broken = audit_verify(cluster, "intake");
    assert!(!broken.status.success(), "a tampered audit log verified");
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("altered"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_per_principal_and_per_ip() {
    let cluster = Cluster::start_with(
        Options { otlp: false },
        &[
            ("RATE_LIMIT_PER_PRINCIPAL", "1"),
            ("RATE_LIMIT_PER_PRINCIPAL_BURST", "3"),
            ("RATE_LIMIT_PER_IP", "20"),
            ("RATE_LIMIT_PER_IP_BURST", "40"),
            ("RATE_LIMIT_LOGINS_PER_MINUTE", "4"),
        ],
    )
    .await
    .expect("cluster starts");
    let specialist = cluster.client_as("c01-specialist").await;
    let supervisor = cluster.client_as("c01-supervisor").await;
    let url = format!(
        "{}/api/v1/applications/{}",
        cluster.gateway,
        uuid::Uuid::new_v4()
    );
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(specialist.get(&url).send().await.unwrap());
    }
    assert!(
        statuses[..3].iter().all(|r| r.status() == 404),
        "the burst passes"
    );
    let limited = statuses.last().unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    // Another principal has its own bucket.
    assert_eq!(supervisor.get(&url).send().await.unwrap().status(), 404);

    // Password guessing: a few attempts per minute per address, then 429.
    let guesses = (0..4).map(|n| {
        bianmin_common::http_client::client()
            .post(format!("{}/api/v1/auth/login", cluster.gateway))
            .json(&json!({"username": "admin", "password": format!("guess-{n}")}))
            .send()
    });
    let guesses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(
        guesses.contains(&429),
        "unlimited password guessing: {guesses:?}"
    );

    // Anyone from one address, signed in or not, shares the per-IP bucket.
    let anonymous = bianmin_common::http_client::client();
    let sends = (0..80).map(|_| {
        anonymous
            .get(format!("{}/api/v1/centers", cluster.gateway))
            .send()
    });
    let answers = futures::future::join_all(sends).await;
    let limited = answers
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 429))
        .count();
    assert!(
        limited > 0,
        "80 requests at once from one address were all served"
    );
    cluster.stop().await;
}
