//! The outbound HTTP client every front end (and `otpbot slash`) calls its platform with.

use std::time::Duration;

/// An HTTP client for outbound calls (the Slack Web API and response URLs, the Bot Framework,
/// `otpbot slash`), TLS by rustls with the same aws-lc crypto provider the AWS SDK uses, and a
/// request timeout. It never follows a redirect: every host it reaches is one otpbot checked
/// (a Slack response URL, an activity's verified `serviceUrl`), and a `307` from there must
/// not carry a code, a card or a token anywhere else. A redirect is answered as the error it
/// is for these APIs.
/// Fails when the platform's CA certificates cannot be loaded (e.g. a broken `SSL_CERT_FILE`).
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    client_builder().timeout(timeout).build()
}

/// The builder of [`client`]: rustls with aws-lc, and no redirect ever followed.
pub fn client_builder() -> reqwest::ClientBuilder {
    // Installing fails only if a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}
