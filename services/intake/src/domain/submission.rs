//! Validation of a submitted application: every field, every rule, all
//! problems reported together so the counter clerk fixes them in one go.

use super::{id_number, phone};
use bianmin_common::error::FieldViolation;
use bianmin_common::text::has_control_characters;
use chrono::NaiveDate;

/// Channels an application can arrive through.
pub const CHANNELS: [(&str, &str); 9] = [
    ("web", "网站"),
    ("wechat", "微信公众号"),
    ("app", "移动应用"),
    ("window", "服务窗口"),
    ("kiosk", "自助终端"),
    ("phone", "电话"),
    ("home_visit", "上门服务"),
    ("egov", "政务服务平台"),
    // A partner agency referring a resident (the partner edge sets it).
    ("partner_referral", "合作机构转介"),
];

/// Channels where a staff member receives the application in person or on
/// the line: the staff member is recorded as `received_by`, and only staff
/// may name them. A kiosk (自助终端) is self-service, open to anyone; when
/// staff submit through it (assisting a resident at the terminal) they are
/// recorded as the receiver too.
pub const STAFF_CHANNELS: [&str; 3] = ["window", "phone", "home_visit"];
pub const STAFF_ASSISTED_CHANNELS: [&str; 1] = ["kiosk"];

/// At most this many departments on one application.
pub const MAX_DEPARTMENTS: usize = 8;

pub fn channel_label(code: &str) -> &'static str {
    CHANNELS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
        .unwrap_or("其他")
}

pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_REASON_CHARS: usize = 1000;
pub const MAX_URGENT_REASON_CHARS: usize = 200;

/// Raw input, as it arrives. Its `Debug` withholds the applicant.
#[derive(Clone, Default)]
pub struct Draft<'a> {
    pub center_id: &'a str,
    pub service_type: &'a str,
    pub channel: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
    pub reason: &'a str,
    pub urgent: bool,
    pub urgent_reason: &'a str,
    pub departments: &'a [String],
    /// The submitting staff member's subject when the caller is staff
    /// (center staff or a district administrator); None for residents and
    /// partners.
    pub staff: Option<&'a str>,
}

/// Input that passed every rule, normalised. Its `Debug` withholds the
/// applicant.
#[derive(Clone, PartialEq, Eq)]
pub struct Valid {
    pub center_id: String,
    pub service_type: String,
    pub channel: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub reason: String,
    pub urgent: bool,
    /// Empty unless urgent.
    pub urgent_reason: String,
    /// Department codes, in the order given, without repeats. Whether they
    /// exist is checked by the store.
    pub departments: Vec<String>,
    /// Who received it, on a staff channel.
    pub received_by: Option<String>,
}

/// Name, ID number and phone never print: a `{:?}` of a submission in a
/// log line, an error or a panic must not carry them.
const WITHHELD: &str = "<withheld>";

impl std::fmt::Debug for Draft<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft")
            .field("center_id", &self.center_id)
            .field("service_type", &self.service_type)
            .field("channel", &self.channel)
            .field("name", &WITHHELD)
            .field("id_number", &WITHHELD)
            .field("phone", &WITHHELD)
            .field("urgent", &self.urgent)
            .field("departments", &self.departments)
            .field("staff", &self.staff)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Valid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Valid")
            .field("center_id", &self.center_id)
            .field("service_type", &self.service_type)
            .field("channel", &self.channel)
            .field("name", &WITHHELD)
            .field("id_number", &WITHHELD)
            .field("phone", &WITHHELD)
            .field("urgent", &self.urgent)
            .field("departments", &self.departments)
            .field("received_by", &self.received_by)
            .finish_non_exhaustive()
    }
}

/// Who received an application on `channel`, or why the caller may not
/// name that channel.
pub fn receiver(channel: &str, staff: Option<&str>) -> Result<Option<String>, FieldViolation> {
    let staff_channel = STAFF_CHANNELS.contains(&channel);
    match staff {
        Some(subject) if staff_channel || STAFF_ASSISTED_CHANNELS.contains(&channel) => {
            Ok(Some(subject.to_string()))
        }
        Some(_) => Ok(None),
        None if staff_channel => Err(FieldViolation::new(
            "channel",
            "channel_staff_only",
            format!(
                "{}渠道由工作人员受理，请选择网站、微信、移动应用、自助终端或政务服务平台 (channel {channel} is for staff; residents use web, wechat, app, kiosk or egov)",
                channel_label(channel)
            ),
        )),
        None => Ok(None),
    }
}

fn departments(v: &mut Vec<FieldViolation>, raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if raw.len() > MAX_DEPARTMENTS {
        v.push(FieldViolation::new(
            "departments",
            "too_many_departments",
            format!("涉及部门不超过 {MAX_DEPARTMENTS} 个 (at most {MAX_DEPARTMENTS} departments)"),
        ));
        return out;
    }
    for (i, d) in raw.iter().enumerate() {
        let d = d.trim();
        if !super::catalog::code_ok(d, 40) {
            v.push(FieldViolation::new(
                format!("departments[{i}]"),
                "department_format",
                "部门编码须为小写字母、数字、- 或 _ (department codes are lower-case letters, digits, - or _)",
            ));
        } else if !out.iter().any(|o| o == d) {
            out.push(d.to_string());
        }
    }
    out
}

fn required(violations: &mut Vec<FieldViolation>, field: &str, value: &str, label: &str) -> bool {
    if value.trim().is_empty() {
        violations.push(FieldViolation::new(
            field,
            "required",
            format!("请填写{label} ({field} is required)"),
        ));
        return false;
    }
    true
}

/// Longest center code accepted.
pub const MAX_CENTER_ID: usize = 16;

/// The center a submission names, checked before anything else (its
/// authorization depends on it): required, and a center code (letters and
/// digits, at most [`MAX_CENTER_ID`]). Whether it exists is the catalog's
/// question. Pure.
pub fn center_id(raw: &str) -> Result<&str, FieldViolation> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(FieldViolation::new(
            "center_id",
            "required",
            "请填写服务中心 (center_id is required)",
        ));
    }
    if id.len() > MAX_CENTER_ID || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldViolation::new(
            "center_id",
            "center_id_format",
            "服务中心编码为字母和数字，如 C01 (a center code, e.g. C01)",
        ));
    }
    Ok(id)
}

/// Checks the fields that need no database. Whether the center and service
/// type exist is checked by the store.
pub fn validate(draft: &Draft<'_>, today: NaiveDate) -> Result<Valid, Vec<FieldViolation>> {
    let mut v = Vec::new();
    required(&mut v, "center_id", draft.center_id, "服务中心");
    required(&mut v, "service_type", draft.service_type, "服务事项");

    if required(&mut v, "channel", draft.channel, "受理渠道")
        && !CHANNELS.iter().any(|(c, _)| *c == draft.channel)
    {
        let known: Vec<_> = CHANNELS.iter().map(|(c, _)| *c).collect();
        v.push(FieldViolation::new(
            "channel",
            "channel_unknown",
            format!(
                "受理渠道不在允许范围内 (channel must be one of {})",
                known.join(", ")
            ),
        ));
    }
    let received_by = match receiver(draft.channel, draft.staff) {
        Ok(r) => r,
        Err(e) => {
            v.push(e);
            None
        }
    };
    let departments = departments(&mut v, draft.departments);

    let name = draft.name.trim();
    if required(&mut v, "applicant.name", name, "申请人姓名")
        && (name.chars().count() > MAX_NAME_CHARS || has_control_characters(name))
    {
        v.push(FieldViolation::new(
            "applicant.name",
            "name_format",
            format!("姓名不超过 {MAX_NAME_CHARS} 个字且不含控制字符 (at most {MAX_NAME_CHARS} characters, no control characters)"),
        ));
    }

    let mut id = String::new();
    if required(&mut v, "applicant.id_number", draft.id_number, "身份证号") {
        match id_number::validate(draft.id_number, today) {
            Ok(ok) => id = ok,
            Err(e) => v.push(FieldViolation::new(
                "applicant.id_number",
                e.rule(),
                e.message(),
            )),
        }
    }

    let mut tel = String::new();
    if required(&mut v, "applicant.phone", draft.phone, "联系电话") {
        match phone::validate(draft.phone) {
            Some(ok) => tel = ok,
            None => v.push(FieldViolation::new(
                "applicant.phone",
                phone::RULE,
                phone::MESSAGE,
            )),
        }
    }

    let reason = draft.reason.trim();
    if required(&mut v, "reason", reason, "申请事由")
        && (reason.chars().count() > MAX_REASON_CHARS || has_control_characters(reason))
    {
        v.push(FieldViolation::new(
            "reason",
            "reason_format",
            format!("申请事由不超过 {MAX_REASON_CHARS} 个字且不含控制字符 (at most {MAX_REASON_CHARS} characters)"),
        ));
    }

    // Urgent cases jump the queue, so the record must say why.
    let urgent_reason = draft.urgent_reason.trim();
    if draft.urgent {
        if urgent_reason.is_empty() {
            v.push(FieldViolation::new(
                "urgent_reason",
                "required",
                "紧急件须写明紧急原因 (urgent_reason is required when urgent)",
            ));
        } else if urgent_reason.chars().count() > MAX_URGENT_REASON_CHARS
            || has_control_characters(urgent_reason)
        {
            v.push(FieldViolation::new(
                "urgent_reason",
                "urgent_reason_format",
                format!("紧急原因不超过 {MAX_URGENT_REASON_CHARS} 个字 (at most {MAX_URGENT_REASON_CHARS} characters)"),
            ));
        }
    }

    if !v.is_empty() {
        return Err(v);
    }
    Ok(Valid {
        center_id: draft.center_id.trim().to_string(),
        service_type: draft.service_type.trim().to_string(),
        channel: draft.channel.to_string(),
        name: name.to_string(),
        id_number: id,
        phone: tel,
        reason: reason.to_string(),
        urgent: draft.urgent,
        urgent_reason: if draft.urgent {
            urgent_reason.to_string()
        } else {
            String::new()
        },
        departments,
        received_by,
    })
}

/// Where the submission's service type stands in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeStanding {
    Unknown,
    Retired,
    Active,
}

/// What the catalog says about a valid submission: read by the store in
/// the submission's first statement.
#[derive(Clone, Copy, Debug)]
pub struct CatalogFacts<'a> {
    pub center_known: bool,
    pub service_type: TypeStanding,
    /// The named departments the directory does not know.
    pub unknown_departments: &'a [String],
}

/// The rules a submission breaks against the catalog: an unknown center,
/// an unknown or retired type, departments not in the directory. Empty
/// when it may be stored.
pub fn against_catalog(v: &Valid, facts: CatalogFacts<'_>) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if !facts.center_known {
        violations.push(FieldViolation::new(
            "center_id",
            "center_unknown",
            format!("服务中心 {} 不存在 (no such center)", v.center_id),
        ));
    }
    match facts.service_type {
        TypeStanding::Unknown => violations.push(FieldViolation::new(
            "service_type",
            "service_type_unknown",
            format!("服务事项 {} 不存在 (no such service type)", v.service_type),
        )),
        TypeStanding::Retired => violations.push(FieldViolation::new(
            "service_type",
            "service_type_retired",
            format!(
                "服务事项 {} 已停止受理 (service type is retired)",
                v.service_type
            ),
        )),
        TypeStanding::Active => {}
    }
    for unknown in facts.unknown_departments {
        let i = v.departments.iter().position(|d| d == unknown).unwrap_or(0);
        violations.push(FieldViolation::new(
            format!("departments[{i}]"),
            "department_unknown",
            format!("部门 {unknown} 不在部门目录中 (unknown department; see GET /api/v1/catalog/services)"),
        ));
    }
    violations
}

/// The request in a canonical form, hashed (keyed) to tell a retry (same
/// body) from a reused idempotency key (different body) without keeping
/// the body in clear.
pub fn canonical(v: &Valid) -> String {
    let mut fields = vec![
        serde_json::json!(v.center_id),
        serde_json::json!(v.service_type),
        serde_json::json!(v.channel),
        serde_json::json!(v.name),
        serde_json::json!(v.id_number),
        serde_json::json!(v.phone),
        serde_json::json!(v.reason),
    ];
    // Only urgent requests carry the flag, so a plain request hashes as it
    // did before urgency existed (a retry across an upgrade still replays).
    if v.urgent {
        fields.extend([serde_json::json!(true), serde_json::json!(v.urgent_reason)]);
    }
    // Only when named, so a retry of a request from before departments
    // existed still matches its first answer.
    if !v.departments.is_empty() {
        fields.push(serde_json::json!(v.departments));
    }
    serde_json::Value::Array(fields).to_string()
}

/// The number on the resident's receipt: center, local date of submission
/// and the sequence number, as in `C01-20261123-000042`.
pub fn application_no(center_id: &str, on: NaiveDate, seq: i64) -> String {
    format!("{center_id}-{}-{seq:06}", on.format("%Y%m%d"))
}

#[cfg(test)]
mod center_tests {
    use super::*;

    #[test]
    fn a_center_is_named_by_its_code() {
        assert_eq!(center_id(" C01 ").unwrap(), "C01");
        assert_eq!(center_id("").unwrap_err().rule, "required");
        assert_eq!(center_id("C01; DROP").unwrap_err().rule, "center_id_format");
        assert_eq!(
            center_id(&"C".repeat(17)).unwrap_err().rule,
            "center_id_format"
        );
        assert_eq!(center_id("Ｃ０１").unwrap_err().rule, "center_id_format");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn good() -> Draft<'static> {
        Draft {
            center_id: "C01",
            service_type: "elderly-care-subsidy",
            channel: "window",
            name: "张秀兰",
            id_number: "11010519491231002X",
            phone: "13812345678",
            reason: "独居老人，申请居家养老服务补贴",
            urgent: false,
            urgent_reason: "",
            departments: &[],
            staff: Some("c01-specialist"),
        }
    }

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        use super::super::{answers, catalog};
        let documented = |field: &str, table: &[(&str, usize)]| {
            table
                .iter()
                .find(|(f, _)| *f == format!(".bianmin.intake.v1.{field}"))
                .map(|(_, n)| *n)
                .unwrap_or_else(|| panic!("{field} is not documented"))
        };
        let lengths = bianmin_proto::bounds::MAX_LENGTH;
        let items = bianmin_proto::bounds::MAX_ITEMS;
        assert_eq!(documented("Applicant.name", lengths), MAX_NAME_CHARS);
        assert_eq!(
            documented("SubmitApplicationRequest.reason", lengths),
            MAX_REASON_CHARS
        );
        assert_eq!(
            documented("SubmitApplicationRequest.urgent_reason", lengths),
            MAX_URGENT_REASON_CHARS
        );
        assert_eq!(
            documented("SubmitApplicationRequest.departments", items),
            MAX_DEPARTMENTS
        );
        assert_eq!(
            documented("SupplementApplicationRequest.note", lengths),
            answers::MAX_NOTE_CHARS
        );
        assert_eq!(
            documented("WithdrawApplicationRequest.reason", lengths),
            answers::MAX_NOTE_CHARS
        );
        assert_eq!(
            documented("SupplementApplicationRequest.supplied_items", items),
            answers::MAX_ITEMS
        );
        assert_eq!(
            documented("CatalogChecklistItem.name", lengths),
            catalog::MAX_NAME_CHARS
        );
    }

    #[test]
    fn debug_withholds_the_applicant() {
        let draft = good();
        let valid = validate(&draft, today()).unwrap();
        let printed = format!("{draft:?} {valid:?} {valid:#?}");
        for secret in [
            "张秀兰",
            "11010519491231002X",
            "1231002X",
            "13812345678",
            "5678",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("elderly-care-subsidy"), "{printed}");
    }

    #[test]
    fn an_urgent_case_needs_its_reason() {
        let d = Draft {
            urgent: true,
            ..good()
        };
        assert_eq!(validate(&d, today()).unwrap_err()[0].field, "urgent_reason");
        let d = Draft {
            urgent: true,
            urgent_reason: "照料人突发疾病住院",
            ..good()
        };
        assert!(validate(&d, today()).unwrap().urgent);
        let d = Draft {
            urgent_reason: "ignored",
            ..good()
        };
        assert_eq!(validate(&d, today()).unwrap().urgent_reason, "");
    }

    #[test]
    fn a_complete_draft_passes_normalised() {
        let mut d = good();
        d.id_number = "11010519491231002x";
        let v = validate(&d, today()).unwrap();
        assert_eq!(v.id_number, "11010519491231002X");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let d = Draft {
            channel: "fax",
            id_number: "123",
            phone: "abc",
            ..Default::default()
        };
        let fields: Vec<_> = validate(&d, today())
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.rule))
            .collect();
        for expected in [
            ("center_id", "required"),
            ("service_type", "required"),
            ("channel", "channel_unknown"),
            ("applicant.name", "required"),
            ("applicant.id_number", "id_number_length"),
            ("applicant.phone", "phone_format"),
            ("reason", "required"),
        ] {
            assert!(
                fields
                    .iter()
                    .any(|(f, r)| f == expected.0 && r == expected.1),
                "{expected:?} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn overlong_reason_is_refused() {
        let long = "很".repeat(MAX_REASON_CHARS + 1);
        let d = Draft {
            reason: &long,
            ..good()
        };
        let errs = validate(&d, today()).unwrap_err();
        assert_eq!(errs[0].rule, "reason_format");
    }

    #[test]
    fn staff_channels_record_the_receiver_and_residents_may_not_claim_them() {
        let v = validate(&good(), today()).unwrap();
        assert_eq!(v.received_by.as_deref(), Some("c01-specialist"));
        let resident = Draft {
            staff: None,
            ..good()
        };
        let errs = validate(&resident, today()).unwrap_err();
        assert_eq!(errs[0].rule, "channel_staff_only");
        for (channel, staff, want) in [
            ("kiosk", None, None),
            ("kiosk", Some("c01-specialist"), Some("c01-specialist")),
            ("web", Some("admin"), None),
            ("home_visit", Some("c01-supervisor"), Some("c01-supervisor")),
        ] {
            assert_eq!(
                receiver(channel, staff).unwrap().as_deref(),
                want,
                "{channel}"
            );
        }
    }

    #[test]
    fn departments_are_deduplicated_and_checked_for_form() {
        let deps = vec![
            "civil_affairs".to_string(),
            "health".into(),
            "civil_affairs".into(),
        ];
        let d = Draft {
            departments: &deps,
            ..good()
        };
        assert_eq!(
            validate(&d, today()).unwrap().departments,
            ["civil_affairs", "health"]
        );
        let bad = vec!["民政".to_string()];
        let d = Draft {
            departments: &bad,
            ..good()
        };
        assert_eq!(
            validate(&d, today()).unwrap_err()[0].field,
            "departments[0]"
        );
    }
    fn valid() -> Valid {
        validate(&good(), today()).unwrap()
    }

    #[test]
    fn the_catalog_rules_are_reported_together() {
        let mut v = valid();
        v.departments = vec!["civil-affairs".into(), "nowhere".into()];
        let unknown = vec!["nowhere".to_string()];
        let broken = against_catalog(
            &v,
            CatalogFacts {
                center_known: false,
                service_type: TypeStanding::Retired,
                unknown_departments: &unknown,
            },
        );
        let found: Vec<_> = broken
            .iter()
            .map(|f| (f.field.as_str(), f.rule.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("center_id", "center_unknown"),
                ("service_type", "service_type_retired"),
                ("departments[1]", "department_unknown"),
            ]
        );
        let fine = CatalogFacts {
            center_known: true,
            service_type: TypeStanding::Active,
            unknown_departments: &[],
        };
        assert!(against_catalog(&v, fine).is_empty());
        let unknown_type = CatalogFacts {
            service_type: TypeStanding::Unknown,
            ..fine
        };
        assert_eq!(
            against_catalog(&v, unknown_type)[0].rule,
            "service_type_unknown"
        );
    }

    #[test]
    fn the_canonical_form_names_urgency_and_departments_only_when_given() {
        let plain = valid();
        let text = canonical(&plain);
        assert!(text.starts_with('[') && !text.contains("true"));
        let mut urgent = plain.clone();
        urgent.urgent = true;
        urgent.urgent_reason = "独居老人".into();
        assert!(canonical(&urgent).ends_with(",true,\"独居老人\"]"));
        let mut with_departments = plain.clone();
        with_departments.departments = vec!["civil-affairs".into()];
        assert!(canonical(&with_departments).ends_with(",[\"civil-affairs\"]]"));
    }

    #[test]
    fn application_numbers_carry_center_date_and_sequence() {
        assert_eq!(application_no("C01", today(), 42), "C01-20261123-000042");
    }
}
