//! The parts of a Bot Framework activity otpbot reads.

use serde::Deserialize;

/// An incoming activity (`type: message`, `conversationUpdate`, …).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// `message` for a user's message.
    #[serde(rename = "type")]
    pub kind: String,
    /// The activity id, replied to.
    pub id: Option<String>,
    /// `msteams` for Teams.
    pub channel_id: Option<String>,
    /// Where replies go; must equal the token's `serviceurl` claim.
    pub service_url: Option<String>,
    /// The sender.
    pub from: Option<Account>,
    /// The bot.
    pub recipient: Option<Account>,
    /// The conversation.
    pub conversation: Option<Conversation>,
    /// The message text, mentions as `<at>Name</at>`.
    pub text: Option<String>,
    /// Mentions and other entities.
    #[serde(default)]
    pub entities: Vec<Entity>,
    /// Teams-specific data, with the tenant.
    pub channel_data: Option<ChannelData>,
    /// For an `invoke`, the operation: `adaptiveCard/action` for a card's `Action.Execute`.
    pub name: Option<String>,
    /// For an `invoke`, its argument (for `adaptiveCard/action`, an `AdaptiveCardInvokeValue`).
    /// Read only by the card action handler, which trusts none of it unchecked.
    pub value: Option<serde_json::Value>,
    /// For an `invoke` from a card, the id of the message that holds the card.
    pub reply_to_id: Option<String>,
}

/// A user or bot account.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The channel account id (`29:…` for users, `28:…` for bots).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's Azure AD object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad_object_id: Option<String>,
}

/// The conversation an activity belongs to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Conversation id (may contain `:`, `;`, `@`).
    pub id: String,
    /// `personal`, `groupChat` or `channel`.
    pub conversation_type: Option<String>,
    /// The tenant, when Teams includes it here.
    pub tenant_id: Option<String>,
}

/// An entity attached to an activity; otpbot reads mentions.
#[derive(Debug, Deserialize)]
pub struct Entity {
    /// `mention` for @mentions.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who was mentioned.
    pub mentioned: Option<Account>,
    /// The mention as it appears in the text, e.g. `<at>Alice</at>`.
    pub text: Option<String>,
}

/// Teams channel data.
#[derive(Debug, Deserialize)]
pub struct ChannelData {
    /// The tenant.
    pub tenant: Option<TenantRef>,
}

/// A tenant reference.
#[derive(Debug, Deserialize)]
pub struct TenantRef {
    /// The tenant id.
    pub id: String,
}

impl Activity {
    /// The tenant id, from channel data or the conversation.
    pub fn tenant(&self) -> Option<&str> {
        self.channel_data
            .as_ref()
            .and_then(|d| d.tenant.as_ref())
            .map(|t| t.id.as_str())
            .or_else(|| {
                self.conversation
                    .as_ref()
                    .and_then(|c| c.tenant_id.as_deref())
            })
    }

    /// Whether this is a personal (1:1) chat with the bot.
    pub fn is_personal(&self) -> bool {
        self.conversation
            .as_ref()
            .and_then(|c| c.conversation_type.as_deref())
            == Some("personal")
    }
}
