//! The contract every chat front end implements, and what front ends share. One trait in,
//! one trait out, as axum's `FromRequestParts` and `IntoResponse`:
//!
//! - in, [`Incoming`]: an arrival the front end verified (a Slack slash command or click, a
//!   Teams activity) becomes the platform-neutral [`Asked`], which [`answer`] runs through the
//!   engine;
//! - out, [`Deliver`]: a reply rendered in the platform's markup, and what follows it (notices,
//!   the updated request message, words for the caller) delivered by [`follow_up`] after the
//!   answer. Notices otpbot posts on its own go through the same trait ([`Outbox`]).
//!
//! Besides: the [`Front`] extractor (the engine, the [`Background`] and the platform's
//! settings, as sub-states of the application state), the [`ApiError`] a request ends with
//! before or around the engine, the body limit and the outbound HTTP [`client`].
//!
//! Below the front ends and above the engine: it names no platform (`slack`, `teams`) and no
//! layer under the engine (`command`, `store`); it reaches the core only through the engine's
//! API.

mod background;
mod client;
mod deliver;
mod error;
mod extract;
mod incoming;
mod outbox;

pub use self::background::Background;
pub use self::client::{client, client_builder};
pub use self::deliver::{follow_up, Deliver, DeliveryError};
pub use self::error::{ApiError, MAX_BODY};
pub use self::extract::Front;
pub use self::incoming::{answer, Ask, Asked, Incoming};
pub use self::outbox::Outbox;
