//! Checked domain types. Nothing past a chat front end or the CLI handles a raw `String` where
//! one of these exists: a value of these types has already been validated.

mod access_request;
mod approval;
mod audit_event;
mod break_glass;
mod clock;
mod duration;
mod grant;
mod ids;
mod person;
mod principal;
mod rate;
mod role;
mod sweep;
mod tool;
mod tool_rules;
mod totp;

pub use access_request::{AccessRequest, AccessRequestId, RequestState};
pub use approval::Approval;
pub use audit_event::{Action, AuditEvent, AuditQuery, Outcome};
pub use break_glass::{BreakGlass, Review};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use duration::GrantDuration;
pub use grant::Grant;
pub use ids::{EventId, RequestId};
pub use person::Person;
pub use principal::{Platform, Principal, PrincipalError};
pub use rate::{Quota, QuotaLog, RateLimit, RingHead, LATE_SECS};
pub use role::{Role, Roles};
pub use sweep::{MessageRef, SweepMark};
pub use tool::{Tool, ToolName, ToolNameError};
pub use tool_rules::{ToolRules, MAX_APPROVALS};
pub use totp::{OtpCode, Seed, SeedError, TotpIssue};
