//! QR codes of the referral link: SVG (scales freely) and PNG (`?size=` 128–1024 px,
//! default 512), both with the standard 4-module quiet zone so phones scan them reliably.

use image::{ImageFormat, Luma};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

pub const DEFAULT_SIZE: u32 = 512;
pub const MIN_SIZE: u32 = 128;
pub const MAX_SIZE: u32 = 1024;

fn code(url: &str) -> Result<QrCode, String> {
    // Medium error correction: survives print smudges and small logos, stays compact.
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(|e| e.to_string())
}

pub fn svg(url: &str) -> Result<String, String> {
    Ok(code(url)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

pub fn png(url: &str, size: u32) -> Result<Vec<u8>, String> {
    let image =
        code(url)?.render::<Luma<u8>>().min_dimensions(size, size).max_dimensions(size, size).quiet_zone(true).build();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}
