//! Entra ID groups on Teams: a grant or approver role held by a group, its members read from
//! a local fake of Microsoft Graph (`common::graph`) with an app-only token from the fake
//! identity platform (`common::teams`).

use crate::common;

use common::teams::*;
use otpbot::domain::{Action, Outcome, Principal};

/// The contractors' Entra ID group.
const GROUP: &str = "9f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
/// A group nested in it.
const NESTED: &str = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b";
/// Another tenant than the served one.
const OTHER_TENANT: &str = "0e0e0e0e-0000-4000-8000-00000000e0e0";

fn group() -> Principal {
    Principal::parse(&format!("entra-group:{TENANT}:{GROUP}")).expect("group")
}

/// The last card sent to the caller.
fn last_card(h: &Harness) -> String {
    let posts = h.posts();
    card_text(&posts.last().expect("a reply").2)
}

async fn grant_to(h: &Harness, group: &str) {
    assert_eq!(
        h.send_as(
            ADMIN_AAD,
            &format!("otp grant {group} github for 1h"),
            "personal"
        )
        .await,
        200
    );
    let said = last_card(h);
    assert!(said.contains("Granted"), "{said}");
}

#[tokio::test]
async fn an_entra_group_grant_serves_its_members_and_the_audit_names_both() {
    let h = Harness::start().await;
    h.fake.graph.lock().expect("graph").page_size = 1;
    h.fake
        .set_entra_group(GROUP, &[BOB_AAD, ALICE_AAD], &[NESTED]);
    grant_to(&h, &format!("entra-group:{TENANT}:{GROUP}")).await;
    h.send_as(ALICE_AAD, "otp github", "personal").await;
    let card = last_card(&h);
    assert!(card.contains(&h.app.expected_code(h.app.now())), "{card}");
    let issued = h.app.last_event().await;
    assert_eq!(
        (
            issued.action,
            issued.outcome,
            issued.actor.clone(),
            issued.subject.clone()
        ),
        (
            Action::Code,
            Outcome::Issued,
            teams_user(ALICE_AAD),
            Some(group())
        )
    );
    assert_eq!(
        h.fake.graph.lock().expect("graph").reads,
        3,
        "every page of members read, following @odata.nextLink"
    );
    h.send_as(ADMIN_AAD, "otp who github", "personal").await;
    let who = last_card(&h);
    assert!(who.contains(&group().to_string()), "{who}");
}

#[tokio::test]
async fn a_throttled_or_forbidden_graph_refuses_the_code() {
    let h = Harness::start().await;
    h.fake.set_entra_group(GROUP, &[ALICE_AAD], &[]);
    grant_to(&h, &format!("entra-group:{TENANT}:{GROUP}")).await;
    for (status, said) in [
        (429, "throttled"),
        (403, "GroupMember.Read.All"),
        (503, "HTTP 503"),
    ] {
        h.fake.graph.lock().expect("graph").fail = Some(status);
        h.send_as(ALICE_AAD, "otp github", "personal").await;
        let card = last_card(&h);
        assert!(
            card.contains("could not check your membership") && card.contains(said),
            "{status}: {card}"
        );
        assert!(
            !card.contains(&h.app.expected_code(h.app.now())),
            "{status}: no code"
        );
        let record = h.app.last_event().await;
        assert_eq!(
            (record.action, record.outcome, record.subject),
            (Action::Code, Outcome::Error, Some(group())),
            "{status}"
        );
    }
}

#[tokio::test]
async fn an_entra_group_of_another_tenant_does_not_match() {
    let h = Harness::start().await;
    h.fake.set_entra_group(GROUP, &[ALICE_AAD], &[]);
    grant_to(&h, &format!("entra-group:{OTHER_TENANT}:{GROUP}")).await;
    h.send_as(ALICE_AAD, "otp github", "personal").await;
    let card = last_card(&h);
    assert!(card.contains("You have no access to GitHub"), "{card}");
    assert_eq!(
        h.fake.graph.lock().expect("graph").reads,
        0,
        "never looked up"
    );
}

#[tokio::test]
async fn a_member_removed_from_an_entra_group_gets_no_code_once_the_cache_expired() {
    let h = Harness::start().await;
    h.fake.set_entra_group(GROUP, &[ALICE_AAD], &[]);
    grant_to(&h, &format!("entra-group:{TENANT}:{GROUP}")).await;
    h.send_as(ALICE_AAD, "otp github", "personal").await;
    assert!(last_card(&h).contains(&h.app.expected_code(h.app.now())));
    h.fake.set_entra_group(GROUP, &[BOB_AAD], &[]);
    h.app.clock.advance(60);
    h.send_as(ALICE_AAD, "otp github", "personal").await;
    let card = last_card(&h);
    assert!(card.contains("You have no access to GitHub"), "{card}");
}
