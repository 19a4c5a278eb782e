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

#[cfg(test)]
mod fixture_tests {
    /// The browser tests' stub (tests/browser/stub-server.mjs) serves these files as its QR
    /// codes: they must be exactly what this module renders for the stub's link, so the stub
    /// cannot drift from the real QR (`UPDATE_QR_FIXTURES=1` rewrites them).
    #[test]
    fn the_browser_stub_serves_the_real_qr_codes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/fixtures");
        let url = "https://www.example.com/?ref=K7M2XQ";
        let svg = super::svg(url).expect("svg");
        let png = super::png(url, super::DEFAULT_SIZE).expect("png");
        if std::env::var_os("UPDATE_QR_FIXTURES").is_some() {
            std::fs::write(dir.join("qr.svg"), &svg).expect("write qr.svg");
            std::fs::write(dir.join("qr.png"), &png).expect("write qr.png");
        }
        assert_eq!(std::fs::read_to_string(dir.join("qr.svg")).expect("qr.svg"), svg, "stub QR SVG drifted");
        assert_eq!(std::fs::read(dir.join("qr.png")).expect("qr.png"), png, "stub QR PNG drifted");
    }
}
