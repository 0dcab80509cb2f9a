//! Slack request signatures (SPEC §3.1): `v0=` + hex HMAC-SHA256(signing secret,
//! `v0:{timestamp}:{raw body}`), compared in constant time, timestamp within 300 s of now.
//! Runs on the raw bytes before anything parses or logs the body.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Timestamp;
use crate::keys::SigningSecret;

/// How far a request timestamp may be from now, either way.
pub const MAX_AGE_SECS: i64 = 300;

/// Why a request failed verification. Shown to the sender as-is (it reveals nothing).
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum VerifyError {
    /// No `X-Slack-Request-Timestamp`.
    #[error("missing request timestamp")]
    MissingTimestamp,
    /// The timestamp is not an integer.
    #[error("malformed request timestamp")]
    BadTimestamp,
    /// More than 300 s from now.
    #[error("stale request timestamp")]
    Stale,
    /// No `X-Slack-Signature`.
    #[error("missing signature")]
    MissingSignature,
    /// Wrong format or wrong MAC.
    #[error("invalid signature")]
    BadSignature,
}

fn mac(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` value Slack would send for `body` at `timestamp`.
pub fn sign(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(
            mac(secret, &timestamp.to_string(), body)
                .finalize()
                .into_bytes()
        )
    )
}

/// A request that passed verification.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The request's timestamp.
    pub timestamp: i64,
    /// The MAC as bytes: the identity of the request for replay refusal (its hex spelling is
    /// not, since upper and lower case decode alike).
    pub mac: Vec<u8>,
}

/// Checks the headers against the raw body.
pub fn verify(
    secret: &SigningSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(VerifyError::BadTimestamp);
    }
    let ts: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now.unix() - ts).abs() > MAX_AGE_SECS {
        return Err(VerifyError::Stale);
    }
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let provided = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::BadSignature)?;
    // `verify_slice` compares in constant time (it uses `subtle`).
    mac(secret, timestamp, body)
        .verify_slice(&provided)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(Verified {
        timestamp: ts,
        mac: provided,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1531420618;
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    fn secret() -> SigningSecret {
        SigningSecret::new(SECRET.into())
    }

    #[test]
    fn slack_documented_example_signs_and_verifies() {
        assert_eq!(sign(&secret(), TS, BODY.as_bytes()), EXPECTED);
        let now = Timestamp::from_unix(TS + 10);
        assert_eq!(
            verify(
                &secret(),
                Some("1531420618"),
                Some(EXPECTED),
                BODY.as_bytes(),
                now
            ),
            Ok(Verified {
                timestamp: TS,
                mac: hex::decode(&EXPECTED[3..]).expect("hex")
            })
        );
        let upper = format!("v0={}", EXPECTED[3..].to_uppercase());
        let again = verify(
            &secret(),
            Some("1531420618"),
            Some(&upper),
            BODY.as_bytes(),
            now,
        )
        .expect("upper-case hex verifies");
        assert_eq!(
            again.mac,
            hex::decode(&EXPECTED[3..]).expect("hex"),
            "one identity however the hex is spelled"
        );
    }

    #[test]
    fn tampering_and_staleness_are_refused() {
        let now = Timestamp::from_unix(TS);
        let body = BODY.as_bytes();
        let mut flipped = EXPECTED.to_owned();
        flipped.replace_range(EXPECTED.len() - 1.., "4");
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [u8],
            Timestamp,
            VerifyError,
        );
        let cases: &[Case] = &[
            (
                "body changed",
                Some("1531420618"),
                Some(EXPECTED),
                b"token=x",
                now,
                VerifyError::BadSignature,
            ),
            (
                "signature changed",
                Some("1531420618"),
                Some(&flipped),
                body,
                now,
                VerifyError::BadSignature,
            ),
            (
                "timestamp changed",
                Some("1531420619"),
                Some(EXPECTED),
                body,
                now,
                VerifyError::BadSignature,
            ),
            (
                "no v0 prefix",
                Some("1531420618"),
                Some(&EXPECTED[3..]),
                body,
                now,
                VerifyError::BadSignature,
            ),
            (
                "not hex",
                Some("1531420618"),
                Some("v0=zz"),
                body,
                now,
                VerifyError::BadSignature,
            ),
            (
                "no signature",
                Some("1531420618"),
                None,
                body,
                now,
                VerifyError::MissingSignature,
            ),
            (
                "no timestamp",
                None,
                Some(EXPECTED),
                body,
                now,
                VerifyError::MissingTimestamp,
            ),
            (
                "bad timestamp",
                Some("-5"),
                Some(EXPECTED),
                body,
                now,
                VerifyError::BadTimestamp,
            ),
            (
                "301 s old",
                Some("1531420618"),
                Some(EXPECTED),
                body,
                now.plus_secs(301),
                VerifyError::Stale,
            ),
            (
                "301 s ahead",
                Some("1531420618"),
                Some(EXPECTED),
                body,
                now.plus_secs(-301),
                VerifyError::Stale,
            ),
        ];
        for (name, ts, sig, body, at, expected) in cases {
            assert_eq!(
                verify(&secret(), *ts, *sig, body, *at),
                Err(*expected),
                "{name}"
            );
        }
        assert!(
            verify(
                &secret(),
                Some("1531420618"),
                Some(EXPECTED),
                body,
                now.plus_secs(300)
            )
            .is_ok(),
            "300 s is allowed"
        );
    }
}
