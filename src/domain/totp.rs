//! TOTP seeds and codes (RFC 6238, computed by `totp-rs`).
//!
//! A [`Seed`] holds an `otpauth://totp/…` URI; an [`OtpCode`] holds one code. Neither can be
//! printed with `{:?}`, serialized, or outlives its use without being wiped from memory.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use totp_rs::{Algorithm, Secret, TOTP};
use zeroize::{Zeroize, Zeroizing};

use super::clock::Timestamp;

/// Seconds left below which a reply also shows the next code.
pub const NEXT_CODE_THRESHOLD_SECS: u64 = 10;

/// Shortest accepted secret: 80 bits, as used by many real services.
const MIN_SECRET_BYTES: usize = 10;

/// Why a seed was rejected. Messages never contain the seed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SeedError {
    /// Not an `otpauth://` URI and not a base32 secret.
    #[error("not an otpauth://totp/ URI or a base32 secret")]
    Unrecognised,
    /// An `otpauth://hotp/` or other kind.
    #[error("only otpauth://totp/ URIs are supported")]
    NotTotp,
    /// The `secret` parameter is missing.
    #[error("the URI has no secret parameter")]
    MissingSecret,
    /// The secret is not valid base32.
    #[error("the secret is not valid base32")]
    BadBase32,
    /// The secret decodes to fewer than 80 bits.
    #[error("the secret is shorter than 80 bits")]
    TooShort,
    /// An unsupported `algorithm`.
    #[error("algorithm must be SHA1, SHA256 or SHA512")]
    BadAlgorithm,
    /// `digits` other than 6 or 8.
    #[error("digits must be 6 or 8")]
    BadDigits,
    /// `period` outside 1..=3600 seconds.
    #[error("period must be between 1 and 3600 seconds")]
    BadPeriod,
}

/// A tool's TOTP seed as a canonical `otpauth://totp/` URI. Clones are wiped on drop too.
#[derive(Clone)]
pub struct Seed {
    uri: SecretString,
    totp: TOTP,
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed([REDACTED])")
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::SHA256 => "SHA256",
        Algorithm::SHA512 => "SHA512",
        _ => "SHA1",
    }
}

impl Seed {
    /// Accepts an `otpauth://totp/…` URI or a bare base32 secret (then SHA1, 6 digits, 30 s).
    /// Base32 is normalised: case, spaces, dashes and `=` padding do not matter.
    pub fn parse(input: &str) -> Result<Self, SeedError> {
        let input = Zeroizing::new(input.trim().to_owned());
        if input
            .get(..10)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("otpauth://"))
        {
            return Self::parse_uri(&input);
        }
        if input.is_empty() || input.contains(['/', '?', ':']) {
            return Err(SeedError::Unrecognised);
        }
        Self::build(&input, Algorithm::SHA1, 6, 30)
    }

    fn parse_uri(input: &str) -> Result<Self, SeedError> {
        let url = url::Url::parse(input).map_err(|_| SeedError::Unrecognised)?;
        if !url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("totp"))
        {
            return Err(SeedError::NotTotp);
        }
        let (mut secret, mut algorithm, mut digits, mut period) = (None, Algorithm::SHA1, 6, 30);
        for (key, value) in url.query_pairs() {
            match key.to_ascii_lowercase().as_str() {
                "secret" => secret = Some(Zeroizing::new(value.into_owned())),
                "algorithm" => {
                    algorithm = match value.to_ascii_uppercase().replace('-', "").as_str() {
                        "SHA1" => Algorithm::SHA1,
                        "SHA256" => Algorithm::SHA256,
                        "SHA512" => Algorithm::SHA512,
                        _ => return Err(SeedError::BadAlgorithm),
                    }
                }
                "digits" => digits = value.parse().map_err(|_| SeedError::BadDigits)?,
                "period" => period = value.parse().map_err(|_| SeedError::BadPeriod)?,
                _ => {}
            }
        }
        let secret = secret.ok_or(SeedError::MissingSecret)?;
        Self::build(&secret, algorithm, digits, period)
    }

    fn build(
        secret: &str,
        algorithm: Algorithm,
        digits: usize,
        period: u64,
    ) -> Result<Self, SeedError> {
        if digits != 6 && digits != 8 {
            return Err(SeedError::BadDigits);
        }
        if !(1..=3600).contains(&period) {
            return Err(SeedError::BadPeriod);
        }
        let normalised = Zeroizing::new(
            secret
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>(),
        );
        if normalised.is_empty()
            || !normalised
                .bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(SeedError::BadBase32);
        }
        let bytes = Secret::Encoded(normalised.to_string())
            .to_bytes()
            .map_err(|_| SeedError::BadBase32)?;
        if bytes.len() < MIN_SECRET_BYTES {
            let mut bytes = bytes;
            bytes.zeroize();
            return Err(SeedError::TooShort);
        }
        let uri = format!(
            "otpauth://totp/otpbot?secret={}&algorithm={}&digits={digits}&period={period}",
            normalised.as_str(),
            algorithm_name(algorithm)
        );
        let totp = TOTP::new_unchecked(algorithm, digits, 0, period, bytes);
        Ok(Self {
            uri: SecretString::from(uri),
            totp,
        })
    }

    /// The canonical URI, for the secret store only.
    pub fn expose_uri(&self) -> &str {
        self.uri.expose_secret()
    }

    /// Digits per code.
    pub fn digits(&self) -> usize {
        self.totp.digits
    }

    /// Seconds per code.
    pub fn period(&self) -> u64 {
        self.totp.step
    }

    /// The code valid at `at`.
    pub fn code_at(&self, at: Timestamp) -> OtpCode {
        OtpCode(Zeroizing::new(self.totp.generate(at.unix().max(0) as u64)))
    }

    /// The code at `now`, how long it stays valid, and the next code when that is short.
    pub fn issue(&self, now: Timestamp) -> TotpIssue {
        let t = now.unix().max(0) as u64;
        let valid_for = self.totp.step - t % self.totp.step;
        let next = (valid_for < NEXT_CODE_THRESHOLD_SECS)
            .then(|| self.code_at(now.plus_secs(valid_for as i64)));
        TotpIssue {
            code: self.code_at(now),
            valid_for_secs: valid_for,
            next,
        }
    }
}

/// One TOTP code. Redacted in `Debug`, wiped on drop, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(Zeroizing<String>);

impl OtpCode {
    /// The digits, for the reply to the caller and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([REDACTED])")
    }
}

/// What a caller receives for `/otp <tool>`.
#[derive(Debug)]
pub struct TotpIssue {
    /// The current code.
    pub code: OtpCode,
    /// Seconds until it rolls over.
    pub valid_for_secs: u64,
    /// The following code, when fewer than 10 s remain.
    pub next: Option<OtpCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the test secrets are the ASCII strings below, 20/32/64 bytes long.
    const SHA1_SEED: &[u8] = b"12345678901234567890";
    const SHA256_SEED: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SEED: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    fn uri(seed: &[u8], algorithm: &str) -> String {
        let secret = totp_rs::Secret::Raw(seed.to_vec()).to_encoded().to_string();
        format!("otpauth://totp/rfc?secret={secret}&algorithm={algorithm}&digits=8&period=30")
    }

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: &[(i64, &str, &str, &str)] = &[
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let sha1 = Seed::parse(&uri(SHA1_SEED, "SHA1")).expect("sha1 seed");
        let sha256 = Seed::parse(&uri(SHA256_SEED, "SHA256")).expect("sha256 seed");
        let sha512 = Seed::parse(&uri(SHA512_SEED, "SHA512")).expect("sha512 seed");
        for &(t, c1, c256, c512) in table {
            let at = Timestamp::from_unix(t);
            assert_eq!(sha1.code_at(at).expose(), c1, "SHA1 at {t}");
            assert_eq!(sha256.code_at(at).expose(), c256, "SHA256 at {t}");
            assert_eq!(sha512.code_at(at).expose(), c512, "SHA512 at {t}");
        }
    }

    #[test]
    fn eighty_bit_seed_gives_six_digit_codes() {
        // 16 base32 characters = 80 bits, written as a phone app shows it.
        let seed = Seed::parse("jbsw y3dp ehpk 3pxp").expect("80-bit seed is accepted");
        let code = seed.code_at(Timestamp::from_unix(59));
        assert_eq!(code.expose().len(), 6);
        // Independent value: HOTP(key = "Hello!\xde\xad\xbe\xef", counter 1) = 996554.
        assert_eq!(code.expose(), "996554");
    }

    #[test]
    fn base32_normalisation_is_equivalent() {
        let at = Timestamp::from_unix(1_700_000_000);
        let a = Seed::parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").expect("upper");
        let b = Seed::parse("otpauth://totp/x?secret=jbswy3dpehpk3pxp%3D%3D%3D%3D")
            .expect("lower, padded");
        let c = Seed::parse("JBSW-Y3DP EHPK 3PXP").expect("bare, grouped");
        assert_eq!(a.code_at(at), b.code_at(at));
        assert_eq!(a.code_at(at), c.code_at(at));
    }

    #[test]
    fn issue_shows_next_code_near_rollover() {
        let seed = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
        let early = seed.issue(Timestamp::from_unix(1_700_000_000)); // 1_700_000_000 % 30 == 20
        assert_eq!(early.valid_for_secs, 10);
        assert!(early.next.is_none(), "10 s left: no next code yet");
        let late = seed.issue(Timestamp::from_unix(1_700_000_005));
        assert_eq!(late.valid_for_secs, 5);
        let next = late.next.expect("5 s left: next code shown");
        assert_eq!(next, seed.code_at(Timestamp::from_unix(1_700_000_010)));
        assert_ne!(next, late.code);
    }

    #[test]
    fn rejects_bad_seeds() {
        let cases: &[(&str, SeedError)] = &[
            (
                "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP",
                SeedError::NotTotp,
            ),
            ("otpauth://totp/x?digits=6", SeedError::MissingSecret),
            ("otpauth://totp/x?secret=JBSWY3DP", SeedError::TooShort),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=7",
                SeedError::BadDigits,
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
                SeedError::BadAlgorithm,
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0",
                SeedError::BadPeriod,
            ),
            ("not base32 1!", SeedError::BadBase32),
            ("https://example.com/", SeedError::Unrecognised),
            ("aaaaaaaaaé/x", SeedError::Unrecognised),
            ("ééééééééééé", SeedError::BadBase32),
        ];
        for (input, expected) in cases {
            assert_eq!(Seed::parse(input).unwrap_err(), *expected, "{input}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let seed = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
        let code = seed.code_at(Timestamp::from_unix(59));
        let shown = format!("{seed:?} {code:?}");
        assert!(
            !shown.contains("JBSW") && !shown.contains(code.expose()),
            "{shown}"
        );
    }
}
