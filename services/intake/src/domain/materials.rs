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
    let content_type = sniff(content).ok_or_else(|| {
        FieldViolation::new(
            "content",
            "material_type",
            "仅接受 PDF、JPEG、PNG 文件，按文件内容判断而非文件名 (only PDF, JPEG or PNG, judged by content, not by name)",
        )
    })?;
    decodes(content, content_type)?;
    Ok(content_type)
}

/// Smallest and largest side of an image a scan or a photo of a document
/// plausibly has, in pixels, and the most pixels in all (a decompression
/// bomb declares far more).
pub const IMAGE_MIN_SIDE: usize = 16;
pub const IMAGE_MAX_SIDE: usize = 20_000;
pub const IMAGE_MAX_PIXELS: usize = 100_000_000;
/// Most pages of one material.
pub const PDF_MAX_PAGES: usize = 500;

fn not_decodable(what: &str) -> FieldViolation {
    FieldViolation::new(
        "content",
        "not_decodable",
        format!("文件无法读取：{what} (the file cannot be read as what it claims to be)"),
    )
}

fn plausible_image(width: usize, height: usize) -> Result<(), FieldViolation> {
    let sides = IMAGE_MIN_SIDE..=IMAGE_MAX_SIDE;
    if !sides.contains(&width)
        || !sides.contains(&height)
        || width.saturating_mul(height) > IMAGE_MAX_PIXELS
    {
        return Err(FieldViolation::new(
            "content",
            "implausible_dimensions",
            format!(
                "图片尺寸 {width}×{height} 不合理，每边须为 {IMAGE_MIN_SIDE} 至 {IMAGE_MAX_SIDE} 像素 (each side {IMAGE_MIN_SIDE} to {IMAGE_MAX_SIDE} pixels)"
            ),
        ));
    }
    Ok(())
}

/// Whether `content` decodes whole as `content_type`: a signature is a
/// few bytes anyone can type, and a required checklist item must be met
/// by a document someone can read. Each format by its own well-kept
/// decoder, with the image's dimensions checked from its header before a
/// pixel is decoded.
pub fn decodes(content: &[u8], content_type: &str) -> Result<(), FieldViolation> {
    match content_type {
        "image/png" => {
            let mut limits = png::Limits::default();
            limits.bytes = IMAGE_MAX_PIXELS * 8;
            let decoder = png::Decoder::new_with_limits(std::io::Cursor::new(content), limits);
            let mut reader = decoder
                .read_info()
                .map_err(|_| not_decodable("PNG 文件头损坏 (PNG header)"))?;
            let (w, h) = (reader.info().width as usize, reader.info().height as usize);
            plausible_image(w, h)?;
            let size = reader
                .output_buffer_size()
                .ok_or_else(|| not_decodable("PNG 尺寸 (PNG size)"))?;
            let mut pixels = vec![0; size];
            reader
                .next_frame(&mut pixels)
                .map_err(|_| not_decodable("PNG 图像数据不完整 (PNG image data)"))?;
            Ok(())
        }
        "image/jpeg" => {
            let options = zune_core::options::DecoderOptions::default()
                .set_max_width(IMAGE_MAX_SIDE)
                .set_max_height(IMAGE_MAX_SIDE)
                // Strict: a cut file is an error, not a picture whose
                // missing half is painted grey.
                .set_strict_mode(true);
            let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
                zune_core::bytestream::ZCursor::new(content),
                options,
            );
            decoder
                .decode_headers()
                .map_err(|_| not_decodable("JPEG 文件头损坏 (JPEG header)"))?;
            let (w, h) = decoder
                .dimensions()
                .ok_or_else(|| not_decodable("JPEG 尺寸 (JPEG size)"))?;
            plausible_image(w, h)?;
            decoder
                .decode()
                .map_err(|_| not_decodable("JPEG 图像数据不完整 (JPEG image data)"))?;
            Ok(())
        }
        "application/pdf" => {
            // The end-of-file marker is near the end of every whole PDF
            // (ISO 32000-1, 7.5.5); the loader alone would rebuild a cut
            // file from the objects it still finds.
            let tail = &content[content.len().saturating_sub(1024)..];
            if !tail.windows(5).any(|w| w == b"%%EOF") {
                return Err(not_decodable("PDF 文件不完整 (PDF cut short)"));
            }
            let document = lopdf::Document::load_mem(content)
                .map_err(|_| not_decodable("PDF 结构损坏 (PDF structure)"))?;
            let pages = document.get_pages().len();
            if pages == 0 || pages > PDF_MAX_PAGES {
                return Err(FieldViolation::new(
                    "content",
                    "implausible_pages",
                    format!(
                        "PDF 页数 {pages} 不合理，须为 1 至 {PDF_MAX_PAGES} 页 (1 to {PDF_MAX_PAGES} pages)"
                    ),
                ));
            }
            Ok(())
        }
        _ => Err(not_decodable(content_type)),
    }
}

/// `10 MiB`, `512 KiB`, `300 B`.
pub fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} B"),
    }
}

/// Longest file name taken, in characters (what common file systems hold).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A file name as given, kept only for display: without its path, at most
/// `MAX_FILE_NAME_CHARS` characters and free of control characters, else
/// refused naming `filename` (as the upload's query names it).
pub fn file_name(raw: &str) -> Result<String, FieldViolation> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(FieldViolation::new(
            "filename",
            "too_long",
            format!(
                "文件名不超过 {MAX_FILE_NAME_CHARS} 个字 (at most {MAX_FILE_NAME_CHARS} characters)"
            ),
        ));
    }
    if base.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            "filename",
            "control_characters",
            "文件名不能含控制字符 (no control characters)",
        ));
    }
    Ok(base.to_string())
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
        assert_eq!(check(b"hello", 10).unwrap_err().rule, "material_type");
    }

    use bianmin_common::testfiles;

    #[test]
    fn real_documents_and_images_are_taken() {
        let max = DEFAULT_MAX_BYTES;
        assert_eq!(
            check(&testfiles::pdf("身份证", 1, 2), max),
            Ok("application/pdf")
        );
        assert_eq!(check(&testfiles::png(64, 48, 1), max), Ok("image/png"));
        assert_eq!(check(&testfiles::jpeg(64, 48, 1), max), Ok("image/jpeg"));
    }

    #[test]
    fn a_signature_alone_or_a_cut_file_is_not_a_document() {
        let max = DEFAULT_MAX_BYTES;
        for (what, bytes) in [
            ("bare JPEG marker", vec![0xFF, 0xD8, 0xFF]),
            ("bare PDF header", b"%PDF-".to_vec()),
            ("bare PNG signature", b"\x89PNG\r\n\x1a\n".to_vec()),
            (
                "PDF without pages",
                b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec(),
            ),
        ] {
            assert_eq!(
                check(&bytes, max).unwrap_err().rule,
                "not_decodable",
                "{what}"
            );
        }
        for (what, whole) in [
            ("PNG", testfiles::png(64, 48, 2)),
            ("JPEG", testfiles::jpeg(64, 48, 2)),
            ("PDF", testfiles::pdf("证明", 2, 1)),
        ] {
            let cut = &whole[..whole.len() * 2 / 3];
            assert_eq!(
                check(cut, max).unwrap_err().rule,
                "not_decodable",
                "cut {what}"
            );
        }
    }

    #[test]
    fn images_of_implausible_dimensions_are_refused() {
        let max = DEFAULT_MAX_BYTES;
        for bytes in [testfiles::png(4, 4, 3), testfiles::jpeg(8, 200, 3)] {
            assert_eq!(
                check(&bytes, max).unwrap_err().rule,
                "implausible_dimensions"
            );
        }
        // A PNG whose header declares 60000 × 60000 is refused before a
        // pixel is decoded.
        let mut bomb = testfiles::png(16, 16, 4);
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let rule = check(&bomb, max).unwrap_err().rule;
        assert!(
            rule == "implausible_dimensions" || rule == "not_decodable",
            "{rule}"
        );
    }

    proptest::proptest! {
        // Any bytes behind any accepted signature: an answer, never a panic.
        #[test]
        fn any_bytes_get_an_answer(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..512), kind in 0usize..3) {
            let head: &[u8] = [&b"%PDF-"[..], &[0xFF, 0xD8, 0xFF][..], &b"\x89PNG\r\n\x1a\n"[..]][kind];
            let bytes = [head, &tail].concat();
            let _ = check(&bytes, DEFAULT_MAX_BYTES);
        }
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(file_name("C:\\Users\\x\\证明.pdf").unwrap(), "证明.pdf");
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(
            file_name("a\u{0}b.png").unwrap_err().rule,
            "control_characters"
        );
        let long = format!("{}.pdf", "证".repeat(MAX_FILE_NAME_CHARS));
        assert_eq!(file_name(&long).unwrap_err().field, "filename");
        let fits = format!("{}.pdf", "证".repeat(MAX_FILE_NAME_CHARS - 4));
        assert_eq!(file_name(&format!("dir/{fits}")).unwrap(), fits);
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
