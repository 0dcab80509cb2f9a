//! The AWS backend against a real local emulator: the shared conformance suite, plus what only
//! AWS has (SSM parameter names and types, the seed cache, failures of the service).

use crate::common;

use std::time::Duration;

use common::aws::{self, Moto};
use otpbot::domain::{Seed, Timestamp, ToolName};
use otpbot::store::{AccessStore, SecretStore, StoreError};

crate::conformance_tests!(aws::stores);

#[tokio::test]
async fn seeds_are_securestring_parameters_under_the_prefix_and_cached() {
    let moto = Moto::shared();
    let settings = aws::unique_settings();
    let prefix = settings.ssm_prefix.clone();
    let store = aws::store_on(&moto, settings).await;
    let github = ToolName::parse("github").expect("name");
    let first = Seed::parse("JBSWY3DPEHPK3PXP").expect("seed");
    store.put_seed(&github, &first).await.expect("put");

    let param = store
        .ssm()
        .get_parameter()
        .name(format!("{prefix}/tools/github"))
        .send()
        .await
        .expect("get");
    let param = param.parameter.expect("parameter");
    assert_eq!(
        param.r#type.map(|t| t.as_str().to_owned()).as_deref(),
        Some("SecureString")
    );
    assert_ne!(
        param.value.as_deref(),
        Some(first.expose_uri()),
        "read without decryption, the value is not the seed"
    );

    let at = Timestamp::from_unix(1_000_000);
    assert_eq!(
        store
            .seed(&github)
            .await
            .expect("read")
            .expect("seed")
            .code_at(at),
        first.code_at(at)
    );
    // Change the parameter behind the store's back: the cached seed is still served...
    let second = Seed::parse("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").expect("seed");
    store
        .ssm()
        .put_parameter()
        .name(format!("{prefix}/tools/github"))
        .value(second.expose_uri())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("overwrite");
    assert_eq!(
        store
            .seed(&github)
            .await
            .expect("read")
            .expect("seed")
            .code_at(at),
        first.code_at(at),
        "cached"
    );
    // ...while a store with caching off sees the change at once.
    let mut uncached = store.settings().clone();
    uncached.seed_cache_ttl = Duration::ZERO;
    let fresh = otpbot::store::aws::AwsStore::new(&moto.sdk_config().await, uncached);
    assert_eq!(
        fresh
            .seed(&github)
            .await
            .expect("read")
            .expect("seed")
            .code_at(at),
        second.code_at(at)
    );
    // Writing through the store replaces its cache entry.
    store.put_seed(&github, &first).await.expect("put");
    assert_eq!(
        store
            .seed(&github)
            .await
            .expect("read")
            .expect("seed")
            .code_at(at),
        first.code_at(at)
    );
}

#[tokio::test]
async fn an_unreachable_service_is_an_error_not_an_empty_answer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = aws::sdk_config(&format!("http://127.0.0.1:{port}")).await;
    let store = otpbot::store::aws::AwsStore::new(&config, aws::unique_settings());
    let github = ToolName::parse("github").expect("name");
    assert!(
        matches!(store.tool(&github).await, Err(StoreError::Backend(_))),
        "DynamoDB down"
    );
    assert!(
        matches!(store.seed(&github).await, Err(StoreError::Backend(_))),
        "SSM down"
    );
}

#[tokio::test]
async fn a_large_audit_log_pages_through_every_event_once() {
    let moto = Moto::shared();
    let store = aws::store_on(&moto, aws::unique_settings()).await;
    let stores = otpbot::store::Stores::single(store);
    common::conformance::paging_over_many_events(&stores, 1_250).await;
}

/// Items written before persons were recorded carry no `person`/`requester_person`: they are
/// read as their principal, the person as far as was known then (nothing is scanned).
#[tokio::test]
async fn items_from_before_persons_read_as_their_principal() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use otpbot::domain::{AccessRequestId, Principal};
    let moto = Moto::shared();
    let store = aws::store_on(&moto, aws::unique_settings()).await;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let table = store.settings().access_table.clone();
    store
        .dynamodb()
        .put_item()
        .table_name(&table)
        .item("pk", s("P#slack:T1:W0SELF"))
        .item("sk", s("G#github"))
        .item("gsi1pk", s("T#github"))
        .item("gsi1sk", s("P#slack:T1:W0SELF"))
        .item("principal", s("slack:T1:W0SELF"))
        .item("tool", s("github"))
        .item("granted_by", s("slack:T1:UADMIN"))
        .item("granted_at", n(1_000))
        .item("expires_at", n(9_000))
        .send()
        .await
        .expect("old grant item");
    store
        .dynamodb()
        .put_item()
        .table_name(&table)
        .item("pk", s("AR#r1"))
        .item("sk", s("AR"))
        .item("id", s("r1"))
        .item("requester", s("slack:T2:W0SELF"))
        .item("tool", s("github"))
        .item("duration", n(3_600))
        .item("requested_at", n(1_000))
        .item("open_until", n(4_600))
        .item("state", s("open"))
        .send()
        .await
        .expect("old request item");
    let holder = Principal::parse("slack:T1:W0SELF").expect("principal");
    let grant = store
        .grant(&holder, &ToolName::parse("github").expect("tool"))
        .await
        .expect("read")
        .expect("the grant");
    assert_eq!(grant.person.as_str(), "slack:T1:W0SELF");
    let request = store
        .access_request(&AccessRequestId::parse("r1").expect("id"))
        .await
        .expect("read")
        .expect("the request");
    assert_eq!(request.requester_person.as_str(), "slack:T2:W0SELF");
}
