//! Access held by groups on the SQLite backend: Slack user groups as subjects of grants and
//! approver roles, with their members read from the fake Slack Web API (the same attacks run on
//! DynamoDB in `tests/aws_e2e.rs`).

use crate::common;

use common::groups::{self, options};
use common::slack::FakeWebApi;
use common::TestApp;

async fn app() -> (TestApp, FakeWebApi) {
    let fake = FakeWebApi::start().await;
    let app = TestApp::spawn_with(options(&fake)).await;
    (app, fake)
}

#[tokio::test]
async fn a_group_grant_serves_its_members_and_the_audit_names_both() {
    let (app, fake) = app().await;
    groups::a_group_grant_serves_its_members_and_the_audit_names_both(&app, &fake).await;
}

#[tokio::test]
async fn a_member_removed_from_a_group_gets_no_code_once_the_cache_expired() {
    let (app, fake) = app().await;
    groups::a_member_removed_from_a_group_gets_no_code_once_the_cache_expired(&app, &fake).await;
}

#[tokio::test]
async fn a_failed_group_lookup_refuses_the_code() {
    let (app, fake) = app().await;
    groups::a_failed_group_lookup_refuses_the_code(&app, &fake).await;
}

#[tokio::test]
async fn a_group_of_another_workspace_does_not_match() {
    let (app, fake) = app().await;
    groups::a_group_of_another_workspace_does_not_match(&app, &fake).await;
}

#[tokio::test]
async fn a_crafted_group_mention_is_refused() {
    let (app, _fake) = app().await;
    groups::a_crafted_group_mention_is_refused(&app).await;
}

#[tokio::test]
async fn a_group_approver_cannot_approve_own_request() {
    let (app, fake) = app().await;
    groups::a_group_approver_cannot_approve_own_request(&app, &fake).await;
}

#[tokio::test]
async fn a_revoked_group_grant_serves_no_member() {
    let (app, fake) = app().await;
    groups::a_revoked_group_grant_serves_no_member(&app, &fake).await;
}

/// Without a bot token otpbot cannot read a user group: its members get a clear refusal.
#[tokio::test]
async fn a_group_grant_without_a_bot_token_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let granted = app
        .slash(
            common::ADMIN,
            &format!("grant {} github", groups::CONTRACTORS),
        )
        .await
        .ephemeral();
    assert!(granted.contains("Granted"), "{granted}");
    let reply = app.slash("UALICE", "github").await.ephemeral();
    assert!(reply.contains("no Slack bot token"), "{reply}");
    assert!(!reply.contains(&app.expected_code(app.now())));
}
