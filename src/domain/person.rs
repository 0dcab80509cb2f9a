//! Who a principal is as a human being. Grants and roles are keyed by principal (a user in one
//! workspace); rules about people (nobody approves their own request, per-person limits)
//! compare persons.
//!
//! On Slack Enterprise Grid a user id (`W…`, and `U…` ids of users who joined the org with
//! them) is one person in every workspace of the org: Slack, "Enterprise Grid and the Slack
//! platform" (<https://docs.slack.dev/enterprise-grid/>) and the `enterprise_id` /
//! `enterprise.id` fields of slash commands and interaction payloads
//! (<https://docs.slack.dev/interactivity/implementing-slash-commands>,
//! <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>). There a
//! person is the enterprise id with the user id, written like a principal whose workspace is
//! the org: `slack:E0123:W0456`. Slack team ids start with `T` and enterprise ids with `E`, so
//! the two never collide. Everywhere else a person is the principal itself.

use std::fmt;

use super::principal::{Platform, Principal, PrincipalError};

/// One person, as far as otpbot can tell (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Person(Principal);

impl Person {
    /// The person `principal` is, given the Enterprise Grid org (`E…`) the request named, if
    /// any. An enterprise id is only taken for Slack principals, and only when well formed.
    pub fn of(principal: &Principal, enterprise: Option<&str>) -> Self {
        let org =
            enterprise.filter(|e| is_enterprise(e) && principal.platform() == Platform::Slack);
        match org.and_then(|org| Principal::new(Platform::Slack, org, principal.user()).ok()) {
            Some(person) => Self(person),
            None => Self(principal.clone()),
        }
    }

    /// Reads a stored person.
    pub fn parse(text: &str) -> Result<Self, PrincipalError> {
        Principal::parse(text).map(Self)
    }

    /// The stored form: `platform:org-or-workspace:user`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The Enterprise Grid org this person belongs to, when known.
    pub fn enterprise(&self) -> Option<&str> {
        let org = self.0.workspace();
        (self.0.platform() == Platform::Slack && is_enterprise(org)).then_some(org)
    }

    /// Whether `self` and `other` may be one human being: the same person, or two Slack
    /// principals with the same user id unless both name their Enterprise Grid org and the
    /// orgs differ. A request recorded before persons were (or from a workspace outside any
    /// org) names no org, so its user id alone decides: refusing a rare false match costs a
    /// second approver, letting a true one through costs the rule.
    pub fn may_be(&self, other: &Person) -> bool {
        if self == other {
            return true;
        }
        let (a, b) = (&self.0, &other.0);
        a.platform() == Platform::Slack
            && b.platform() == Platform::Slack
            && a.user() == b.user()
            && !(self.enterprise().is_some() && other.enterprise().is_some())
    }
}

/// Slack enterprise ids: `E` then upper-case letters and digits.
fn is_enterprise(id: &str) -> bool {
    id.len() >= 2
        && id.starts_with('E')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl From<&Principal> for Person {
    /// A principal whose org is not known: the person is the principal.
    fn from(principal: &Principal) -> Self {
        Self(principal.clone())
    }
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Principal {
        Principal::parse(text).expect("principal")
    }

    #[test]
    fn a_grid_user_is_one_person_in_every_workspace_of_the_org() {
        let t1 = Person::of(&p("slack:T1:W0SELF"), Some("E0ORG"));
        let t2 = Person::of(&p("slack:T2:W0SELF"), Some("E0ORG"));
        assert_eq!(t1, t2);
        assert_eq!(t1.as_str(), "slack:E0ORG:W0SELF");
        assert_eq!(t1.enterprise(), Some("E0ORG"));
        assert!(t1.may_be(&t2));
        let elsewhere = Person::of(&p("slack:T9:W0SELF"), Some("E0OTHER"));
        assert!(!t1.may_be(&elsewhere), "two known orgs are two people");
        let other_user = Person::of(&p("slack:T2:W0ELSE"), Some("E0ORG"));
        assert!(!t1.may_be(&other_user));
    }

    #[test]
    fn without_a_known_org_the_same_user_id_may_be_the_same_person() {
        let recorded_before = Person::from(&p("slack:T2:W0SELF"));
        let now = Person::of(&p("slack:T1:W0SELF"), Some("E0ORG"));
        assert_ne!(recorded_before, now);
        assert!(now.may_be(&recorded_before) && recorded_before.may_be(&now));
        assert!(!Person::from(&p("slack:T1:U1")).may_be(&Person::from(&p("slack:T1:U2"))));
    }

    #[test]
    fn an_enterprise_id_is_taken_only_where_it_means_one() {
        let teams =
            p("teams:72f988bf-86f1-41af-91ab-2d7cd011db47:0b8b7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(Person::of(&teams, Some("E0ORG")), Person::from(&teams));
        for bad in ["T0TEAM", "e0org", "E", "E0:X", ""] {
            assert_eq!(
                Person::of(&p("slack:T1:U1"), Some(bad)).as_str(),
                "slack:T1:U1",
                "{bad:?}"
            );
        }
        assert!(!Person::from(&teams).may_be(&Person::from(&p("slack:T1:U1"))));
    }
}
