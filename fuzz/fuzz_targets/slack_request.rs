//! The Slack request path before any state: the signature check over raw headers and body, and
//! the form body's decoding. A body signed with the secret must verify; a changed byte, a
//! stale timestamp or any other secret must not; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpbot::domain::Timestamp;
use otpbot::keys::SigningSecret;
use otpbot::slack::verify::{sign, verify};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_793_700_005;

fuzz_target!(|data: &[u8]| {
    // Input: "{timestamp}\n{signature}\n{body}".
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let timestamp = parts.next().map(String::from_utf8_lossy);
    let signature = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    let secret = SigningSecret::new(SECRET.into());
    let now = Timestamp::from_unix(NOW);

    let _ = verify(
        &secret,
        timestamp.as_deref(),
        signature.as_deref(),
        body,
        now,
    );
    let _ = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body);

    let good = sign(&secret, NOW, body);
    let ts = NOW.to_string();
    assert!(verify(&secret, Some(&ts), Some(&good), body, now).is_ok());
    let other = SigningSecret::new("another-secret-another-secret-00".into());
    assert!(verify(&other, Some(&ts), Some(&good), body, now).is_err());
    let stale = (NOW - 3_600).to_string();
    assert!(verify(
        &secret,
        Some(&stale),
        Some(&sign(&secret, NOW - 3_600, body)),
        body,
        now
    )
    .is_err());
    if !body.is_empty() {
        let mut changed = body.to_vec();
        changed[0] ^= 1;
        assert!(verify(&secret, Some(&ts), Some(&good), &changed, now).is_err());
    }
});
