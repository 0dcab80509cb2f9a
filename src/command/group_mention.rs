//! A group as chat users see it, and a Slack user group as an admin types it: the mention Slack sends with escaping on,
//! `<!subteam^S0123ABC|@contractors>` or `<!subteam^S0123ABC>` (Slack, "Formatting text for
//! app surfaces", mentioning groups:
//! <https://api.slack.com/reference/surfaces/formatting#mentioning-groups>), which names a
//! group of the workspace the command was typed in.

use super::error::{CommandError, CommandResult};
use super::text::shorten;
use crate::domain::{Platform, Principal};

/// How a group is shown in replies: its full principal, which names its workspace.
pub fn show_group(group: &Principal) -> String {
    format!("group `{group}`")
}

/// Reads `word` as a Slack group mention typed by `caller`: `None` when it is not one of
/// Slack's special mentions (`<!…>`) at all, else the group or a clear refusal. Anything but
/// exactly `<!subteam^S…>` or `<!subteam^S…|label>` with Slack's upper-case id is refused, as
/// is a group mention from outside Slack, whose workspace it cannot name.
pub fn parse_group_mention(word: &str, caller: &Principal) -> Option<CommandResult<Principal>> {
    let inner = word.strip_prefix("<!")?;
    let bad = || {
        CommandError::Usage(format!(
            "`{}` is not a user or user group mention like @alice or @contractors.",
            shorten(word)
        ))
    };
    let Some(inner) = inner.strip_suffix('>').filter(|i| !i.contains(['<', '>'])) else {
        return Some(Err(bad()));
    };
    let Some(rest) = inner.strip_prefix("subteam^") else {
        return Some(Err(bad()));
    };
    let id = match rest.split_once('|') {
        Some((id, label)) if !label.is_empty() && !label.contains('|') => id,
        Some(_) => return Some(Err(bad())),
        None => rest,
    };
    let well_formed = id.len() >= 2
        && id.starts_with('S')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !well_formed {
        return Some(Err(bad()));
    }
    if caller.platform() != Platform::Slack {
        return Some(Err(CommandError::Usage(format!(
            "`{}` names a user group only inside Slack; write slack-group:T…:{id} with the \
             workspace's team id.",
            shorten(word)
        ))));
    }
    Some(Principal::new(Platform::SlackGroup, caller.workspace(), id).map_err(|_| bad()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack() -> Principal {
        Principal::parse("slack:T0123:U1").expect("caller")
    }

    #[test]
    fn slack_s_escaped_group_mentions_name_a_group_of_the_caller_s_workspace() {
        for word in ["<!subteam^S0123ABC|@contractors>", "<!subteam^S0123ABC>"] {
            let group = parse_group_mention(word, &slack())
                .expect("a special mention")
                .expect(word);
            assert_eq!(group.as_str(), "slack-group:T0123:S0123ABC", "{word}");
        }
        assert!(parse_group_mention("<@U1>", &slack()).is_none());
        assert!(parse_group_mention("github", &slack()).is_none());
    }

    #[test]
    fn a_crafted_group_mention_is_refused_with_a_clear_error() {
        for word in [
            "<!subteam^s0123abc>",
            "<!SUBTEAM^S0123ABC>",
            "<!subteam^U0123ABC>",
            "<!subteam^S0123ABC|@x",
            "<!subteam^S0123ABC|@x>>",
            "<!subteam^S0123ABC|>",
            "<!subteam^S01|@a|@b>",
            "<!subteam^S0123:T9>",
            "<!subteam^S1^S2>",
            "<!subteam^>",
            "<!here>",
            "<!channel>",
            "<!subteam^S0<@U1>>",
        ] {
            let err = parse_group_mention(word, &slack())
                .expect("a special mention")
                .expect_err(word);
            assert!(
                matches!(&err, CommandError::Usage(m) if m.contains("not a user or user group")),
                "{word}: {err}"
            );
        }
        let teams = Principal::parse("teams:t1:u1").expect("teams caller");
        let err = parse_group_mention("<!subteam^S0123ABC>", &teams)
            .expect("a special mention")
            .expect_err("no workspace to name");
        assert!(err.to_string().contains("slack-group:T…:S0123ABC"), "{err}");
    }
}
