//! The words of a command and how they are read: the argument cursor ([`Args`]) and the
//! checked readings every command shares (tool names, user mentions, durations and reasons),
//! and how a principal is shown back to chat users.

use super::draft::Draft;
use super::error::{CommandError, CommandResult};
use super::group_mention::{parse_group_mention, show_group};
pub use super::text::shorten;
use crate::domain::{GrantDuration, Principal, Tool, ToolName};

/// The words of a command, consumed left to right.
pub struct Args<'a> {
    words: std::iter::Peekable<std::str::SplitWhitespace<'a>>,
}

impl<'a> Args<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            words: text.split_whitespace().peekable(),
        }
    }

    /// The next word, if any.
    pub fn word(&mut self) -> Option<&'a str> {
        self.words.next()
    }

    /// The next word without consuming it.
    pub fn peek(&mut self) -> Option<&'a str> {
        self.words.peek().copied()
    }

    /// The next word, or a usage error naming what was expected.
    pub fn require(&mut self, what: &str, usage: &str) -> CommandResult<&'a str> {
        self.word()
            .ok_or_else(|| CommandError::Usage(format!("Missing {what}. Usage: `{usage}`")))
    }

    /// Every remaining word, joined by single spaces.
    pub fn rest(&mut self) -> String {
        self.words.by_ref().collect::<Vec<_>>().join(" ")
    }

    /// `[for <dur>] [reason…]` at the end of a command: the duration, and the rest as the
    /// reason (backticks dropped, at most [`MAX_REASON`] characters).
    pub fn duration_and_reason(
        &mut self,
        usage: &str,
    ) -> CommandResult<(Option<GrantDuration>, Option<String>)> {
        let mut duration = None;
        if self.peek().is_some_and(|w| w.eq_ignore_ascii_case("for")) {
            self.word();
            let text = self.require("a duration", usage)?;
            duration = Some(GrantDuration::parse(text).ok_or_else(|| {
                CommandError::Usage(format!(
                    "`{}` is not a duration like 30m, 8h, 7d or 2w.",
                    shorten(text)
                ))
            })?);
        }
        let reason: String = self
            .rest()
            .chars()
            .filter(|c| *c != '`')
            .take(MAX_REASON)
            .collect();
        Ok((duration, (!reason.is_empty()).then_some(reason)))
    }

    pub(super) fn finish(mut self) -> CommandResult<()> {
        match self.word() {
            None => Ok(()),
            Some(extra) => Err(CommandError::Usage(format!(
                "Unexpected `{}`. Type `/otp help` for usage.",
                shorten(extra)
            ))),
        }
    }
}

/// Longest reason kept, in characters.
pub const MAX_REASON: usize = 200;

/// The grant length `asked` for `tool` (its default when absent), or the refusal when it is
/// over the tool's maximum, recorded with `draft`.
pub fn grant_length(
    tool: &Tool,
    asked: Option<GrantDuration>,
    draft: Draft,
) -> CommandResult<GrantDuration> {
    let duration = asked.unwrap_or(tool.default_grant);
    if duration > tool.max_grant {
        let msg = format!(
            "{} grants are at most {}; you asked for {duration}.",
            tool.display_name, tool.max_grant
        );
        return Err(CommandError::denied(
            draft.detail(format!("for {duration}: too long")),
            msg,
        ));
    }
    Ok(duration)
}

/// Parses a tool name, turning a bad one into a polite usage error.
pub fn parse_tool(word: &str) -> CommandResult<ToolName> {
    ToolName::parse(word)
        .map_err(|e| CommandError::Usage(format!("{e}. Type `/otp help` for usage.")))
}

/// Parses `<@U123>` or `<@U123|name>` into a principal in the caller's workspace, a Slack
/// group mention (`<!subteam^S123|@name>`) into a group of the caller's workspace, or a full
/// principal (`slack:T1:U2`, `teams:{tenant}:{id}`, `slack-group:T1:S2`,
/// `entra-group:{tenant}:{id}`) for users and groups elsewhere.
pub fn parse_user(word: &str, caller: &Principal) -> CommandResult<Principal> {
    let bad = || {
        CommandError::Usage(format!(
            "`{}` is not a user mention like @alice.",
            shorten(word)
        ))
    };
    if let Some(group) = parse_group_mention(word, caller) {
        return group;
    }
    if !word.starts_with('<') && word.contains(':') {
        return Principal::parse_input(word).map_err(|e| CommandError::Usage(e.to_string()));
    }
    let inner = word
        .strip_prefix("<@")
        .and_then(|w| w.strip_suffix('>'))
        .ok_or_else(bad)?;
    let id = inner.split('|').next().unwrap_or_default();
    caller.sibling(id).map_err(|_| bad())
}

/// Shows a person to chat users by the display name their platform gave (Teams cards cannot
/// show a user id by name), where it gave one; else as [`show_user`].
pub fn show_named(principal: &Principal, name: Option<&str>, viewer: &Principal) -> String {
    let same_workspace =
        principal.platform() == viewer.platform() && principal.workspace() == viewer.workspace();
    match name {
        Some(name) if same_workspace && !principal.is_group() => {
            crate::reply::mention_named(principal.user(), name)
        }
        _ => show_user(principal, viewer),
    }
}

/// Shows a principal to chat users: a mention in the same workspace, else the full principal
/// (a group always by its full principal).
pub fn show_user(principal: &Principal, viewer: &Principal) -> String {
    if principal.is_group() {
        show_group(principal)
    } else if principal.platform() == viewer.platform()
        && principal.workspace() == viewer.workspace()
    {
        crate::reply::mention(principal.user())
    } else {
        principal.to_string()
    }
}
