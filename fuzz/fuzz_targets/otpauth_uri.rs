//! Seeds as enrolled: `otpauth://` URIs and bare base32. Anything parses or is refused with an
//! error; a parsed seed yields codes of its stated length at any time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpbot::domain::{Seed, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(seed) = Seed::parse(input) else {
        return;
    };
    for at in [0, 1_793_700_005, i64::from(u32::MAX)] {
        let code = seed.code_at(Timestamp::from_unix(at));
        assert_eq!(code.expose().len(), seed.digits(), "code length");
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
    let issue = seed.issue(Timestamp::from_unix(1_793_700_005));
    assert!(issue.valid_for_secs <= seed.period());
});
