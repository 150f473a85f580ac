//! Real files for the upload tests: a PDF with pages, a PNG and a JPEG that
//! decode whole, as a resident's scan or photo would. Each differs by its
//! `seed`, so tests can upload several without one being a retry of
//! another (materials are idempotent on their SHA-256).

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A PDF of `pages` pages, each showing `text` (ASCII is drawn; any text
/// is kept in the document's title) and the seed.
pub fn pdf(text: &str, seed: u32, pages: usize) -> Vec<u8> {
    pdf_with(text, seed, pages, 0)
}

/// A one-page PDF of at least `bytes` bytes (a large scan): the page's
/// picture is `bytes` of noise in an embedded stream.
pub fn pdf_of_size(text: &str, seed: u32, bytes: usize) -> Vec<u8> {
    pdf_with(text, seed, 1, bytes)
}

fn pdf_with(text: &str, seed: u32, pages: usize, padding: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    if padding > 0 {
        doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image" },
            noise(padding, seed),
        ));
    }
    let drawn: String = text.chars().filter(char::is_ascii_graphic).collect();
    let mut kids = Vec::new();
    for page in 0..pages.max(1) {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 24.into()]),
                Operation::new("Td", vec![72.into(), 720.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!("{drawn} #{seed} p{page}"))],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().expect("a page's content encodes"),
        ));
        kids.push(
            doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
            })
            .into(),
        );
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    doc.trailer.set("Root", catalog_id);
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::string_literal(text.as_bytes().to_vec()),
    });
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("a PDF saves");
    out
}

/// `n` bytes that do not compress, the same for the same seed.
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut state = u64::from(seed).wrapping_mul(6364136223846793005) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

/// Pixels of a `width` × `height` RGB picture that differs by `seed`: noise,
/// so a file's size follows its dimensions (a photo compresses little).
fn pixels(width: u32, height: u32, seed: u32) -> Vec<u8> {
    noise(width as usize * height as usize * 3, seed)
}

/// A PNG of `width` × `height` pixels.
pub fn png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("a PNG header writes");
    writer
        .write_image_data(&pixels(width, height, seed))
        .expect("PNG pixels write");
    writer.finish().expect("a PNG finishes");
    out
}

/// A JPEG of `width` × `height` pixels.
pub fn jpeg(width: u16, height: u16, seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(
            &pixels(width.into(), height.into(), seed),
            width,
            height,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("a JPEG encodes");
    out
}
