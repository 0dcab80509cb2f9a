//! An independent RFC 4226/6238 computation (HMAC-SHA1), to check the codes otpbot hands out.

use hmac::{Hmac, Mac};

/// The TOTP code for `secret` at Unix time `t`.
pub fn totp_sha1(secret: &[u8], t: u64, period: u64, digits: u32) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("any key length");
    mac.update(&(t / period).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

#[test]
fn matches_rfc6238_sha1_vector() {
    assert_eq!(totp_sha1(b"12345678901234567890", 59, 30, 8), "94287082");
}
