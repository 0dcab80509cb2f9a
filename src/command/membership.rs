//! Who is in a group, as the platform last said, for at most the configured time: the
//! [`Membership`] each platform's client implements, and the [`Groups`] directory the core
//! asks, which keeps each answer for `OTPBOT_GROUP_CACHE` and never a failure.
//!
//! Every look-up happens before a decision's transaction and never inside it; the time an
//! answer is judged by is the request's one clock reading, so a member removed from a group
//! gets nothing once the answer read before the removal is older than the cache allows.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{Platform, Principal, Timestamp};

/// Why a group's members could not be read. The text is safe to show the caller: it names the
/// platform's reason, never a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// The platform refused for a lasting reason (no user groups on the workspace's plan, no
    /// such group, a missing scope or permission).
    #[error("{0}")]
    Refused(String),
    /// The platform did not answer in time, was unreachable or rate limited us.
    #[error("{0}")]
    Unavailable(String),
}

/// Reads the members of a group from its platform (Slack `usergroups.users.list`, Microsoft
/// Graph `transitiveMembers`). Implemented by each front end's client and handed to the core
/// at start-up.
#[async_trait]
pub trait Membership: Send + Sync {
    /// The user ids (Slack user ids, Entra object ids) of every member of `group`, which is
    /// a group principal of the platform this source serves.
    async fn members(&self, group: &Principal) -> Result<Vec<String>, GroupError>;
}

/// How long one look-up may take: a code must still be answered within Slack's 3 s.
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(1_500);

/// One group's members as read at `at`.
struct Cached {
    at: Timestamp,
    members: Arc<HashSet<String>>,
}

/// The groups the core can read, by platform, with their recent answers.
pub struct Groups {
    sources: RwLock<HashMap<&'static str, Arc<dyn Membership>>>,
    cache: Mutex<HashMap<Principal, Cached>>,
    ttl_secs: i64,
}

impl Groups {
    /// A directory that keeps answers `ttl_secs` (0: never kept) and reads no platform yet.
    pub fn new(ttl_secs: i64) -> Self {
        Self {
            sources: RwLock::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            ttl_secs: ttl_secs.max(0),
        }
    }

    /// Reads the groups of `platform` (`SlackGroup`, `EntraGroup`) through `source` from now on.
    pub fn serve(&self, platform: Platform, source: Arc<dyn Membership>) {
        if let Ok(mut sources) = self.sources.write() {
            sources.insert(platform.as_str(), source);
        }
    }

    /// The members of `group` at `now`: a kept answer younger than the cache allows, else a
    /// fresh one from the platform (kept only when it succeeded).
    pub async fn members(
        &self,
        group: &Principal,
        now: Timestamp,
    ) -> Result<Arc<HashSet<String>>, GroupError> {
        if let Some(members) = self.kept(group, now) {
            return Ok(members);
        }
        let source = self
            .sources
            .read()
            .ok()
            .and_then(|s| s.get(group.platform().as_str()).cloned())
            .ok_or_else(|| GroupError::Refused(unserved(group.platform())))?;
        let members = tokio::time::timeout(LOOKUP_TIMEOUT, source.members(group))
            .await
            .map_err(|_| GroupError::Unavailable("the look-up timed out".into()))??;
        let members = Arc::new(members.into_iter().collect::<HashSet<_>>());
        if self.ttl_secs > 0 {
            if let Ok(mut cache) = self.cache.lock() {
                let at = now;
                cache.insert(
                    group.clone(),
                    Cached {
                        at,
                        members: members.clone(),
                    },
                );
            }
        }
        Ok(members)
    }

    /// Whether `user` is a member of `group` at `now`: never for a user of another platform,
    /// workspace or tenant than the group's.
    pub async fn contains(
        &self,
        group: &Principal,
        user: &Principal,
        now: Timestamp,
    ) -> Result<bool, GroupError> {
        if !group.may_contain(user) {
            return Ok(false);
        }
        Ok(self.members(group, now).await?.contains(user.user()))
    }

    fn kept(&self, group: &Principal, now: Timestamp) -> Option<Arc<HashSet<String>>> {
        let cache = self.cache.lock().ok()?;
        let kept = cache.get(group)?;
        let age = now.unix() - kept.at.unix();
        (0..self.ttl_secs)
            .contains(&age)
            .then(|| kept.members.clone())
    }
}

/// Why a group of `platform` cannot be read here.
fn unserved(platform: Platform) -> String {
    match platform {
        Platform::SlackGroup => "otpbot has no Slack bot token to read user groups with".into(),
        Platform::EntraGroup => {
            "otpbot has no Teams app registration to read Entra ID groups with".into()
        }
        other => format!("{} is not a group", other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Listed(Mutex<Vec<String>>, AtomicUsize);

    #[async_trait]
    impl Membership for Listed {
        async fn members(&self, _group: &Principal) -> Result<Vec<String>, GroupError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(self.0.lock().expect("members").clone())
        }
    }

    fn p(text: &str) -> Principal {
        Principal::parse(text).expect("principal")
    }

    #[tokio::test]
    async fn a_removed_member_is_out_once_the_cache_expired() {
        let groups = Groups::new(60);
        let source = Arc::new(Listed(Mutex::new(vec!["U1".into()]), AtomicUsize::new(0)));
        groups.serve(Platform::SlackGroup, source.clone());
        let (group, user) = (p("slack-group:T1:S1"), p("slack:T1:U1"));
        let t0 = Timestamp::from_unix(1_000);
        assert_eq!(groups.contains(&group, &user, t0).await, Ok(true));
        source.0.lock().expect("members").clear();
        let within = Timestamp::from_unix(1_059);
        assert_eq!(groups.contains(&group, &user, within).await, Ok(true));
        assert_eq!(
            source.1.load(Ordering::SeqCst),
            1,
            "answered from the cache"
        );
        let after = Timestamp::from_unix(1_060);
        assert_eq!(groups.contains(&group, &user, after).await, Ok(false));
        let before = Timestamp::from_unix(999);
        assert_eq!(groups.contains(&group, &user, before).await, Ok(false));
        let elsewhere = p("slack:T2:U1");
        assert_eq!(groups.contains(&group, &elsewhere, after).await, Ok(false));
    }

    #[tokio::test]
    async fn an_unserved_platform_is_refused() {
        let groups = Groups::new(60);
        let err = groups
            .contains(
                &p("entra-group:t:g"),
                &p("teams:t:u"),
                Timestamp::from_unix(0),
            )
            .await
            .expect_err("no Graph client");
        assert!(matches!(err, GroupError::Refused(_)), "{err:?}");
    }
}
