//! A Bot Framework activity as the Teams endpoint reads it: the JSON body, the tenant, the
//! conversation type and the mention entities. Nothing may panic on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otpbot::teams::activity::Activity;

fuzz_target!(|data: &[u8]| {
    let Ok(activity) = serde_json::from_slice::<Activity>(data) else {
        return;
    };
    let _ = activity.tenant();
    let _ = activity.is_personal();
    // The mention handling's pure part: each mention's shown text found in the message text.
    let text = activity
        .text
        .clone()
        .unwrap_or_default()
        .replace("&nbsp;", " ");
    for entity in activity.entities.iter().filter(|e| e.kind == "mention") {
        if let (Some(mentioned), Some(shown)) = (&entity.mentioned, &entity.text) {
            let _ = text.replacen(shown.as_str(), &format!(" <@{}> ", mentioned.id), 1);
        }
    }
});
