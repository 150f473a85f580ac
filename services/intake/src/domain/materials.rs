//! Uploaded materials: what a file is (from its content, never its name),
//! its size limit, and which checklist items are satisfied. Pure.

use super::catalog::ChecklistItem;
use bianmin_common::error::FieldViolation;

/// Default upper bound of one file (MATERIAL_MAX_BYTES).
pub const DEFAULT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Content types accepted, each recognised by its leading bytes.
const SIGNATURES: [(&[u8], &str); 3] = [
    (b"%PDF-", "application/pdf"),
    (&[0xFF, 0xD8, 0xFF], "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
];

/// The content type of `content` from its magic bytes, if it is one we
/// take (PDF, JPEG, PNG).
pub fn sniff(content: &[u8]) -> Option<&'static str> {
    SIGNATURES
        .iter()
        .find(|(magic, _)| content.starts_with(magic))
        .map(|(_, t)| *t)
}

/// Checks an upload before anything is stored; returns its content type.
pub fn check(content: &[u8], max_bytes: usize) -> Result<&'static str, FieldViolation> {
    if content.is_empty() {
        return Err(FieldViolation::new(
            "content",
            "material_empty",
            "文件为空 (the file is empty)",
        ));
    }
    if content.len() > max_bytes {
        return Err(FieldViolation::new(
            "content",
            "material_too_large",
            format!(
                "文件超过 {} 上限 (file is larger than {max_bytes} bytes)",
                human(max_bytes)
            ),
        ));
    }
    sniff(content).ok_or_else(|| {
        FieldViolation::new(
            "content",
            "material_type",
            "仅接受 PDF、JPEG、PNG 文件，按文件内容判断而非文件名 (only PDF, JPEG or PNG, judged by content, not by name)",
        )
    })
}

/// `10 MiB`, `512 KiB`, `300 B`.
pub fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} B"),
    }
}

/// File names as given, kept only for display: no path, no control
/// characters, at most 200 characters.
pub fn display_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    base.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The checklist's item an upload names (its code, trimmed), or the
/// codes it may name.
pub fn checklist_item<'a>(
    checklist: &'a [ChecklistItem],
    code: &str,
) -> Result<&'a ChecklistItem, FieldViolation> {
    if let Some(item) = checklist.iter().find(|i| i.code == code) {
        return Ok(item);
    }
    let known: Vec<_> = checklist.iter().map(|i| i.code.as_str()).collect();
    Err(FieldViolation::new(
        "item",
        if code.is_empty() {
            "required"
        } else {
            "material_item_unknown"
        },
        format!(
            "请指明材料清单中的一项 (item must be one of the checklist's codes: {})",
            known.join(", ")
        ),
    ))
}

/// Per checklist item, whether at least one material satisfies it.
pub fn satisfied<'a>(
    checklist: &'a [ChecklistItem],
    uploaded_items: &[String],
) -> Vec<(&'a ChecklistItem, bool)> {
    checklist
        .iter()
        .map(|item| (item, uploaded_items.contains(&item.code)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_content() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        // A text file called something.pdf is still text.
        assert_eq!(sniff(b"just text, named invoice.pdf"), None);
        assert_eq!(sniff(b"%PD"), None);
        assert_eq!(sniff(b"GIF89a"), None);
    }

    #[test]
    fn size_and_emptiness_are_checked_first() {
        assert_eq!(check(b"", 10).unwrap_err().rule, "material_empty");
        let big = [b'%', b'P', b'D', b'F', b'-', 0, 0];
        assert_eq!(check(&big, 6).unwrap_err().rule, "material_too_large");
        assert_eq!(check(&big, 7), Ok("application/pdf"));
        assert_eq!(check(b"hello", 10).unwrap_err().rule, "material_type");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(display_name("C:\\Users\\x\\证明.pdf"), "证明.pdf");
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("a\u{0}b.png"), "ab.png");
        assert_eq!(human(DEFAULT_MAX_BYTES), "10 MiB");
    }

    #[test]
    fn an_item_is_satisfied_by_any_upload_for_it() {
        let item = |code: &str| ChecklistItem {
            code: code.into(),
            name: code.into(),
            group: "proof".into(),
            required: true,
        };
        let list = [item("id_card"), item("income")];
        let got = satisfied(&list, &["income".into(), "income".into()]);
        assert!(!got[0].1);
        assert!(got[1].1);
    }

    #[test]
    fn an_upload_names_an_item_of_the_checklist() {
        let item = |code: &str| ChecklistItem {
            code: code.into(),
            name: code.into(),
            group: "proof".into(),
            required: true,
        };
        let list = [item("id_card"), item("income")];
        assert_eq!(checklist_item(&list, "income").unwrap().code, "income");
        assert_eq!(checklist_item(&list, "").unwrap_err().rule, "required");
        let unknown = checklist_item(&list, "photo").unwrap_err();
        assert_eq!(unknown.rule, "material_item_unknown");
        assert!(unknown.message.ends_with("codes: id_card, income)"));
    }
}
