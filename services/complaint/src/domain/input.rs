//! A filing's fields, checked all at once so the clerk fixes them in one
//! go; the bounds of every text field (`proto/bounds.rs` states the same,
//! and a test below holds them equal).

use super::complaint::{Kind, PartyKind};
use super::{id_number, phone};
use bianmin_common::error::FieldViolation;
use bianmin_common::text::has_control_characters;
use chrono::NaiveDate;

pub const NAME_CHARS: usize = 50;
pub const CONTENT_CHARS: usize = 2000;
pub const DEMAND_CHARS: usize = 1000;
pub const REASON_CHARS: usize = 500;
/// A staff account, a center or department code, an ID number or phone as typed.
pub const ID_CHARS: usize = 64;
pub const MAX_INVESTIGATORS: usize = 10;
/// Longest center code accepted.
pub const MAX_CENTER_ID: usize = 16;

/// Channels a resident files through online, and those where a staff
/// member records it on the resident's behalf (and owns it).
pub const RESIDENT_CHANNELS: [&str; 3] = ["web", "wechat", "app"];
pub const STAFF_CHANNELS: [&str; 3] = ["window", "phone", "home_visit"];

/// A filing as it arrives. Its `Debug` withholds the complainant.
#[derive(Clone, Default)]
pub struct Draft<'a> {
    pub center_id: &'a str,
    pub channel: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
    pub party_kind: &'a str,
    pub party_id: &'a str,
    pub kind: &'a str,
    pub content: &'a str,
    pub demand: &'a str,
    pub sensitive: bool,
    /// Whether the caller is center staff (records on a resident's behalf).
    pub by_staff: bool,
}

/// A filing that passed every rule, normalised.
#[derive(Clone, PartialEq, Eq)]
pub struct Valid {
    pub center_id: String,
    pub channel: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub party_kind: PartyKind,
    pub party_id: String,
    pub kind: Kind,
    pub content: String,
    pub demand: String,
    pub sensitive: bool,
}

impl std::fmt::Debug for Valid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Valid")
            .field("center_id", &self.center_id)
            .field("channel", &self.channel)
            .field("kind", &self.kind)
            .field("sensitive", &self.sensitive)
            .finish_non_exhaustive()
    }
}

fn violation(field: &str, rule: &str, message: impl Into<String>) -> FieldViolation {
    FieldViolation::new(field, rule, message)
}

/// A text field: required or not, at most `max` characters, no control
/// characters. Returns it trimmed when it passes.
pub fn text(
    v: &mut Vec<FieldViolation>,
    field: &str,
    raw: &str,
    max: usize,
    required: bool,
) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        if required {
            v.push(violation(
                field,
                "required",
                format!("{field} 为必填项 ({field} is required)"),
            ));
            return None;
        }
        return Some(String::new());
    }
    if t.chars().count() > max {
        v.push(violation(
            field,
            "too_long",
            format!("{field} 最多 {max} 个字符 (at most {max} characters)"),
        ));
        return None;
    }
    if has_control_characters(t) {
        v.push(violation(
            field,
            "control_characters",
            format!("{field} 不得含控制字符 (no control characters)"),
        ));
        return None;
    }
    Some(t.to_string())
}

/// The center a filing names, checked before anything else (its
/// authorization depends on it).
pub fn center_id(raw: &str) -> Result<&str, FieldViolation> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(violation(
            "center_id",
            "required",
            "请填写服务中心 (center_id is required)",
        ));
    }
    if id.len() > MAX_CENTER_ID || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(violation(
            "center_id",
            "center_id_format",
            "服务中心编码为字母和数字，如 C01 (a center code, e.g. C01)",
        ));
    }
    Ok(id)
}

/// A staff account belongs to a center by its prefix: `c01-specialist` is
/// C01's (the identity provider's convention, `deploy/seed/users.json`).
pub fn staff_of_center(
    field: &str,
    account: &str,
    center_id: &str,
) -> Result<String, FieldViolation> {
    let account = account.trim();
    let well_formed = account.chars().count() <= ID_CHARS
        && account.split_once('-').is_some_and(|(center, name)| {
            !center.is_empty()
                && center.chars().all(|c| c.is_ascii_alphanumeric())
                && !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        });
    if !well_formed {
        return Err(violation(
            field,
            "staff_id_format",
            format!(
                "{field} 须为工作人员账号，如 c01-specialist (a staff account such as c01-specialist)"
            ),
        ));
    }
    let prefix = account.split('-').next().unwrap_or_default();
    if !prefix.eq_ignore_ascii_case(center_id) {
        return Err(violation(
            field,
            "staff_of_center",
            format!("须为本中心 {center_id} 的工作人员 (a staff account of center {center_id})"),
        ));
    }
    Ok(account.to_string())
}

/// Checks every field of a filing; all problems together.
pub fn validate(d: &Draft<'_>, today: NaiveDate) -> Result<Valid, Vec<FieldViolation>> {
    let mut v = Vec::new();
    let center = match center_id(d.center_id) {
        Ok(c) => c.to_string(),
        Err(e) => {
            v.push(e);
            String::new()
        }
    };
    let channel = d.channel.trim();
    let allowed: &[&str] = if d.by_staff {
        &STAFF_CHANNELS
    } else {
        &RESIDENT_CHANNELS
    };
    if channel.is_empty() {
        v.push(violation(
            "channel",
            "required",
            "请填写渠道 (channel is required)",
        ));
    } else if !allowed.contains(&channel) {
        v.push(violation(
            "channel",
            "channel_for_caller",
            format!(
                "渠道须为 {} 之一 (channel must be one of {} for your role)",
                allowed.join(", "),
                allowed.join(", ")
            ),
        ));
    }
    let name = text(&mut v, "complainant.name", d.name, NAME_CHARS, true);
    let id = match text(&mut v, "complainant.id_number", d.id_number, ID_CHARS, true) {
        Some(raw) => match id_number::validate(&raw, today) {
            Ok(id) => Some(id),
            Err(e) => {
                v.push(violation("complainant.id_number", e.rule(), e.message()));
                None
            }
        },
        None => None,
    };
    let phone = match text(&mut v, "complainant.phone", d.phone, ID_CHARS, true) {
        Some(raw) => match phone::validate(&raw) {
            Some(p) => Some(p),
            None => {
                v.push(violation("complainant.phone", phone::RULE, phone::MESSAGE));
                None
            }
        },
        None => None,
    };
    let party_kind = match PartyKind::parse(d.party_kind.trim()) {
        Some(k) => Some(k),
        None => {
            v.push(violation(
                "party.kind",
                "party_kind",
                "被投诉对象须为 staff, center 或 department (party.kind: staff, center or department)",
            ));
            None
        }
    };
    let party_id = text(&mut v, "party.id", d.party_id, ID_CHARS, true);
    if let (Some(PartyKind::Staff), Some(id)) = (party_kind, &party_id)
        && !center.is_empty()
        && let Err(e) = staff_of_center("party.id", id, &center)
    {
        v.push(e);
    }
    if let (Some(PartyKind::Center | PartyKind::Department), Some(id)) = (party_kind, &party_id)
        && !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        v.push(violation(
            "party.id",
            "code_format",
            "编码为字母、数字、- 或 _ (a code of letters, digits, - or _)",
        ));
    }
    let kind = match Kind::parse(d.kind.trim()) {
        Some(k) => Some(k),
        None => {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            v.push(violation(
                "type",
                "complaint_type",
                format!(
                    "类型须为 {} 之一 (type must be one of them)",
                    known.join(", ")
                ),
            ));
            None
        }
    };
    let content = text(&mut v, "content", d.content, CONTENT_CHARS, true);
    let demand = text(&mut v, "demand", d.demand, DEMAND_CHARS, false);
    match (name, id, phone, party_kind, party_id, kind, content, demand) {
        (
            Some(name),
            Some(id_number),
            Some(phone),
            Some(party_kind),
            Some(party_id),
            Some(kind),
            Some(content),
            Some(demand),
        ) if v.is_empty() => Ok(Valid {
            center_id: center,
            channel: channel.to_string(),
            name,
            id_number,
            phone,
            party_kind,
            party_id,
            kind,
            content,
            demand,
            sensitive: d.sensitive,
        }),
        _ => Err(v),
    }
}

/// The filing in a canonical form, hashed (keyed) to tell a retry (same
/// body) from a reused key (another body) without keeping the body in clear.
pub fn canonical(v: &Valid) -> String {
    serde_json::json!([
        v.center_id,
        v.channel,
        v.name,
        v.id_number,
        v.phone,
        v.party_kind.as_str(),
        v.party_id,
        v.kind.as_str(),
        v.content,
        v.demand,
        v.sensitive
    ])
    .to_string()
}

/// The number residents quote: center, local date, the day's sequence.
pub fn complaint_no(center_id: &str, on: NaiveDate, seq: i64) -> String {
    format!("{center_id}-TS-{}-{seq:06}", on.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn draft() -> Draft<'static> {
        Draft {
            center_id: "C01",
            channel: "window",
            name: "王建国",
            id_number: "11010519491231002X",
            phone: "13912345678",
            party_kind: "staff",
            party_id: "c01-window-3",
            kind: "complaint",
            content: "窗口工作人员态度恶劣",
            demand: "道歉",
            sensitive: false,
            by_staff: true,
        }
    }

    fn rules(d: Draft<'_>) -> Vec<(String, String)> {
        validate(&d, today())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.field, v.rule))
            .collect()
    }

    fn pair(f: &str, r: &str) -> (String, String) {
        (f.into(), r.into())
    }

    #[test]
    fn a_good_filing_passes_normalised() {
        let v = validate(&draft(), today()).unwrap();
        assert_eq!(v.kind, Kind::Complaint);
        assert_eq!(v.party_kind, PartyKind::Staff);
        assert_eq!(v.phone, "13912345678");
    }

    #[test]
    fn every_field_is_named_with_its_rule() {
        let long = "长".repeat(CONTENT_CHARS + 1);
        assert_eq!(
            rules(Draft {
                content: &long,
                ..draft()
            }),
            [pair("content", "too_long")]
        );
        assert_eq!(
            rules(Draft {
                content: "a\u{0}b",
                ..draft()
            }),
            [pair("content", "control_characters")]
        );
        assert_eq!(
            rules(Draft {
                kind: "rant",
                ..draft()
            }),
            [pair("type", "complaint_type")]
        );
        assert_eq!(
            rules(Draft {
                id_number: "110105194912310021",
                ..draft()
            }),
            [pair("complainant.id_number", "id_number_check_digit")]
        );
        assert_eq!(
            rules(Draft {
                phone: "12345",
                ..draft()
            }),
            [pair("complainant.phone", "phone_format")]
        );
        assert_eq!(
            rules(Draft {
                party_id: "c02-window-3",
                ..draft()
            }),
            [pair("party.id", "staff_of_center")]
        );
        assert_eq!(
            rules(Draft {
                party_kind: "mayor",
                ..draft()
            }),
            [pair("party.kind", "party_kind")]
        );
        assert_eq!(
            rules(Draft {
                name: "",
                content: " ",
                ..draft()
            }),
            [
                pair("complainant.name", "required"),
                pair("content", "required")
            ]
        );
    }

    #[test]
    fn staff_record_on_staff_channels_and_residents_file_online() {
        assert_eq!(
            rules(Draft {
                channel: "web",
                ..draft()
            }),
            [pair("channel", "channel_for_caller")]
        );
        assert_eq!(
            rules(Draft {
                by_staff: false,
                ..draft()
            }),
            [pair("channel", "channel_for_caller")]
        );
        assert!(
            validate(
                &Draft {
                    by_staff: false,
                    channel: "web",
                    ..draft()
                },
                today()
            )
            .is_ok()
        );
    }

    #[test]
    fn the_number_is_per_center_and_day() {
        assert_eq!(complaint_no("C01", today(), 42), "C01-TS-20261207-000042");
    }

    /// The OpenAPI document states the bounds the domain enforces.
    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        let max = |field: &str| {
            bianmin_proto::bounds::MAX_LENGTH
                .iter()
                .find(|(f, _)| *f == format!(".bianmin.complaint.v1.{field}"))
                .map(|(_, n)| *n)
                .unwrap_or_else(|| panic!("{field} has no documented bound"))
        };
        assert_eq!(max("Complainant.name"), NAME_CHARS);
        assert_eq!(max("Complainant.id_number"), ID_CHARS);
        assert_eq!(max("Complainant.phone"), ID_CHARS);
        assert_eq!(max("Party.id"), ID_CHARS);
        assert_eq!(max("FileComplaintRequest.content"), CONTENT_CHARS);
        assert_eq!(max("FileComplaintRequest.demand"), DEMAND_CHARS);
        assert_eq!(max("HandOverComplaintRequest.to"), ID_CHARS);
        assert_eq!(max("HandOverComplaintRequest.reason"), REASON_CHARS);
        assert_eq!(max("RecordFindingRequest.cause"), CONTENT_CHARS);
        assert_eq!(max("AnswerComplaintRequest.answer"), CONTENT_CHARS);
        let items = bianmin_proto::bounds::MAX_ITEMS
            .iter()
            .find(|(f, _)| *f == ".bianmin.complaint.v1.AssignInvestigatorsRequest.investigators")
            .map(|(_, n)| *n);
        assert_eq!(items, Some(MAX_INVESTIGATORS));
    }
}
