//! What every acted-on activity (a message or a card action) must carry, checked: the caller,
//! the tenant, the conversation, the service URL, the bot and the activity id. In, the activity
//! becomes the engine's platform-neutral request (`front::Incoming`); a tenant off the
//! allow-list is refused through the engine, which audits it.

use super::activity::{Account, Activity};
use super::config::TeamsConfig;
use crate::domain::{Person, Platform, Principal, RequestId};
use crate::engine::{Arrival, ChatRequest};
use crate::front::{answer, ApiError, Ask, Asked, Front, Incoming};

/// How long an activity id is remembered: a Bot Framework token's lifetime plus the skew allowed.
const TOKEN_LIFETIME_SECS: i64 = 3_600 + 300;

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

impl Incoming for Activity {
    type Platform = TeamsConfig;

    /// The sender as the caller, in the tenant and conversation the activity names; its text is
    /// read later (mentions may need the Connector), and a click's button by the invoke handler.
    fn asked(&self, teams: &TeamsConfig) -> Result<Asked, ApiError> {
        let tenant = self
            .tenant()
            .ok_or_else(|| bad("the activity names no tenant"))?;
        let from = self
            .from
            .as_ref()
            .ok_or_else(|| bad("the activity has no sender"))?;
        let aad = from
            .aad_object_id
            .as_deref()
            .ok_or_else(|| bad("the sender has no AAD object id"))?;
        let principal = Principal::new(Platform::Teams, tenant, aad)
            .map_err(|_| bad("tenant or sender id is malformed"))?;
        let conversation = self
            .conversation
            .as_ref()
            .ok_or_else(|| bad("the activity has no conversation"))?;
        let request = ChatRequest {
            request_id: RequestId::new(),
            person: Person::from(&principal),
            principal,
            // The Connector reaches every Teams user and conversation of a served tenant.
            reaches_others: true,
            channel: Some(conversation.id.chars().take(128).collect()),
            text: String::new(),
            delivery: None,
            name: from.name.clone(),
        };
        Ok(Asked {
            request,
            ask: Ask::Text,
            served: teams.allowed_tenants.contains(tenant),
        })
    }
}

/// A checked activity of a served tenant: the request it makes (its text still empty), its
/// arrival, and where its answer goes.
pub(super) struct Turn<'a> {
    /// The served tenant.
    pub tenant: &'a str,
    /// The sender.
    pub from: &'a Account,
    /// The conversation the activity came from.
    pub conversation: &'a str,
    /// The verified service URL every answer goes through.
    pub service_url: &'a str,
    /// The bot, as the activity named it.
    pub bot: &'a Account,
    /// The activity answered.
    pub activity_id: &'a str,
    /// Its one clock reading and replay marker.
    pub arrival: Arrival,
    /// The request it makes, and what it asks.
    pub asked: Asked,
}

impl<'a> Turn<'a> {
    /// The turn of `activity`; `None` when it is a redelivery already acted on. A tenant off
    /// the allow-list is refused (and audited) here.
    pub(super) async fn of(
        front: &Front<TeamsConfig>,
        activity: &'a Activity,
    ) -> Result<Option<Turn<'a>>, ApiError> {
        let asked = activity.asked(&front.config)?;
        let (Some(tenant), Some(from), Some(conversation)) = (
            activity.tenant(),
            activity.from.as_ref(),
            activity.conversation.as_ref(),
        ) else {
            return Err(bad("the activity is incomplete"));
        };
        let (service_url, bot, activity_id) = answered_at(activity)?;
        // Bot Framework may redeliver, and a captured request stays valid as long as its token:
        // each activity is acted on once. The marker is recorded in the request's own decision
        // transaction (SPEC §3.2, §3.5).
        let now = front.engine.clock().now();
        let arrival = Arrival::once(
            now,
            format!("replay:teams:{}:{activity_id}", conversation.id),
            now.plus_secs(TOKEN_LIFETIME_SECS),
        );
        if !asked.served {
            if answer(&front.engine, &asked, arrival).await.is_err() {
                tracing::warn!(reason = "duplicate activity", "teams request ignored");
                return Ok(None);
            }
            return Err(ApiError::Forbidden("tenant not allowed".into()));
        }
        Ok(Some(Turn {
            tenant,
            from,
            conversation: &conversation.id,
            service_url,
            bot,
            activity_id,
            arrival,
            asked,
        }))
    }
}

/// Where the answer to `activity` goes: its service URL, the bot it was sent to, and the
/// activity it answers.
fn answered_at(activity: &Activity) -> Result<(&str, &Account, &str), ApiError> {
    let service_url = activity
        .service_url
        .as_deref()
        .ok_or_else(|| bad("the activity has no serviceUrl"))?;
    let bot = activity
        .recipient
        .as_ref()
        .ok_or_else(|| bad("the activity has no recipient"))?;
    let activity_id = activity
        .id
        .as_deref()
        .ok_or_else(|| bad("the activity has no id"))?;
    Ok((service_url, bot, activity_id))
}
