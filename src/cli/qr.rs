//! Enrolment from the QR code a site shows when 2FA is set up: an image (PNG or JPEG, e.g. a
//! screenshot) holding an `otpauth://totp/` URI. The decoded text holds the secret, so it is
//! wiped after parsing and never printed, not even in an error.

use std::path::Path;

use anyhow::{bail, Context};
use image::{ImageReader, Limits};
use zeroize::Zeroizing;

use crate::domain::Seed;

/// Largest image side accepted: far above any screenshot, far below a memory bomb.
const MAX_SIDE: u32 = 8_192;

/// Reads the one QR code in the image at `path` and parses its seed.
pub fn read_seed(path: &Path) -> anyhow::Result<Seed> {
    let mut reader = ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let image = reader
        .decode()
        .with_context(|| {
            format!(
                "{} is not a PNG or JPEG image otpbot can read",
                path.display()
            )
        })?
        .into_luma8();
    let (width, height) = image.dimensions();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        usize::try_from(width)?,
        usize::try_from(height)?,
        |x, y| {
            // Within bounds: rqrr asks only for pixels of the size it was given.
            u32::try_from(x)
                .ok()
                .zip(u32::try_from(y).ok())
                .map_or(255, |(x, y)| image.get_pixel(x, y).0[0])
        },
    );
    let grids = prepared.detect_grids();
    let grid = match grids.as_slice() {
        [] => bail!("no QR code found in the image"),
        [one] => one,
        _ => bail!(
            "{} QR codes in the image; crop it to the one to enrol",
            grids.len()
        ),
    };
    let (_, text) = grid
        .decode()
        .map_err(|e| anyhow::anyhow!("the QR code cannot be read ({e})"))?;
    let text = Zeroizing::new(text);
    if !text.starts_with("otpauth://") {
        bail!("the QR code does not hold an otpauth:// URI");
    }
    // `SeedError` names what is wrong, never the value.
    Seed::parse(&text).context("the QR code's otpauth:// URI was rejected")
}
