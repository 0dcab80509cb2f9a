//! Static checks of the Terraform module: the IAM policy is least-privilege, the audit table
//! cannot be changed, encryption and TTL are on, and the table schema and settings match what
//! the code uses. (`scripts/test.sh` also runs `terraform fmt -check` and checkov.)

use crate::common;

use common::terraform::{attr, block, blocks, files, nested, string, table};
use hcl::{Body, Expression};
use otpbot::store::aws::schema;

fn strings(expr: Option<&Expression>) -> Vec<String> {
    match expr {
        Some(Expression::Array(items)) => items.iter().map(text).collect(),
        Some(other) => vec![text(other)],
        None => Vec::new(),
    }
}

fn text(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        other => hcl::format::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// (policy document name, actions, resources, principals) of every IAM statement in the module.
type Statement = (String, Vec<String>, Vec<String>, Vec<String>);

fn statements() -> Vec<Statement> {
    let mut out = Vec::new();
    for doc in blocks("data", "aws_iam_policy_document") {
        let name = doc.labels[1].as_str().to_owned();
        for statement in nested(&doc.body, "statement") {
            // A Deny (the bucket's TLS-only rule) only takes permissions away.
            if matches!(attr(&statement.body, "effect"), Some(Expression::String(e)) if e == "Deny")
            {
                continue;
            }
            let principals = nested(&statement.body, "principals")
                .flat_map(|p| strings(attr(&p.body, "identifiers")))
                .collect();
            out.push((
                name.clone(),
                strings(attr(&statement.body, "actions")),
                strings(attr(&statement.body, "resources")),
                principals,
            ));
        }
    }
    assert!(!out.is_empty(), "the module defines IAM policy documents");
    out
}

fn enabled(body: &Body, block_name: &str) -> bool {
    nested(body, block_name)
        .any(|b| matches!(attr(&b.body, "enabled"), Some(Expression::Bool(true))))
}

#[test]
fn every_file_parses_and_no_secret_parameter_is_managed() {
    let files = files();
    assert!(
        files.len() >= 8,
        "the module is split by concern: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for name in ["versions.tf", "variables.tf", "outputs.tf"] {
        assert!(files.iter().any(|f| f.0 == name), "{name} exists");
    }
    assert!(
        blocks("resource", "aws_ssm_parameter").is_empty(),
        "secret values would land in Terraform state"
    );
}

#[test]
fn iam_has_no_wildcards_outside_the_key_policy() {
    for (doc, actions, resources, principals) in statements() {
        // The one exception is the AWS default key-policy statement that lets the account (and
        // through it, IAM) administer the key; without it the key could become unmanageable.
        let key_policy = doc == "kms_key" || doc == "checkpoint_key";
        let account_admin = key_policy
            && actions == ["kms:*"]
            && !principals.is_empty()
            && principals.iter().all(|p| p.ends_with(":root\""));
        for action in &actions {
            assert!(action != "*", "{doc}: `*` action");
            assert!(
                !action.contains('*') || account_admin,
                "{doc}: wildcard action {action}"
            );
        }
        if !key_policy {
            assert!(
                !resources.iter().any(|r| r == "*"),
                "{doc}: a `*` resource outside the KMS key policies"
            );
        }
    }
}

#[test]
fn the_function_cannot_change_or_delete_audit_records_and_never_scans() {
    let statements = statements();
    let mut audit_actions = Vec::new();
    for (doc, actions, resources, _) in &statements {
        if resources
            .iter()
            .any(|r| r.contains("aws_dynamodb_table.audit"))
        {
            audit_actions.extend(actions.iter().cloned());
        }
        assert!(
            !actions.iter().any(|a| a == "dynamodb:Scan"),
            "{doc}: Scan is never needed"
        );
        assert!(
            !actions
                .iter()
                .any(|a| a.starts_with("dynamodb:PartiQL") || a == "dynamodb:BatchWriteItem"),
            "{doc}"
        );
    }
    audit_actions.sort();
    assert_eq!(
        audit_actions,
        ["dynamodb:PutItem", "dynamodb:Query"],
        "append and read only"
    );
    let mut access_actions: Vec<_> = statements
        .iter()
        .filter(|s| s.2.iter().any(|r| r.contains("aws_dynamodb_table.access")))
        .flat_map(|s| s.1.iter().cloned())
        .collect();
    access_actions.sort();
    assert_eq!(
        access_actions,
        [
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ],
        "a decision's reads (BatchGetItem) and its transaction's parts (Put, Update, Delete, \
         ConditionCheck), nothing more"
    );
    let ssm: Vec<_> = statements
        .iter()
        .filter(|s| s.1.iter().any(|a| a.starts_with("ssm:")))
        .collect();
    assert_eq!(ssm.len(), 1);
    assert_eq!(
        ssm[0].1,
        ["ssm:GetParameter", "ssm:GetParameters"],
        "the function only reads parameters (its secret settings in one call at start-up)"
    );
}

#[test]
fn tables_match_the_schema_the_code_uses() {
    let access = table("access");
    assert_eq!(
        (access.hash_key.as_str(), access.range_key.as_str()),
        (schema::ACCESS_PK, schema::ACCESS_SK)
    );
    assert_eq!(
        access.indexes,
        [(
            schema::GRANTS_BY_TOOL.into(),
            schema::GSI1_PK.into(),
            schema::GSI1_SK.into(),
            "ALL".into()
        )]
    );
    assert_eq!(access.ttl_attribute.as_deref(), Some(schema::TTL_ATTRIBUTE));
    let audit = table("audit");
    assert_eq!(
        (audit.hash_key.as_str(), audit.range_key.as_str()),
        (schema::AUDIT_PK, schema::AUDIT_SK)
    );
    let mut indexes = audit.indexes.clone();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            (
                schema::AUDIT_BY_ACTOR.into(),
                "actor".into(),
                schema::AUDIT_SK.into(),
                "ALL".into()
            ),
            (
                schema::AUDIT_BY_TOOL.into(),
                "tool".into(),
                schema::AUDIT_SK.into(),
                "ALL".into()
            ),
        ]
    );
    assert_eq!(audit.ttl_attribute, None, "audit records never expire");
    for (name, t) in [("access", &access), ("audit", &audit)] {
        assert!(
            t.attributes.iter().all(|(_, kind)| kind == "S"),
            "{name}: string keys"
        );
        let body = block("resource", "aws_dynamodb_table", name).body;
        assert_eq!(string(&body, "billing_mode"), "PAY_PER_REQUEST", "{name}");
        assert!(enabled(&body, "point_in_time_recovery"), "{name}: PITR");
        assert!(enabled(&body, "server_side_encryption"), "{name}: SSE");
        let sse = nested(&body, "server_side_encryption").next().expect("sse");
        assert!(
            text(attr(&sse.body, "kms_key_arn").expect("kms_key_arn")).contains("aws_kms_key."),
            "{name}: customer key"
        );
    }
    let audit_body = block("resource", "aws_dynamodb_table", "audit").body;
    assert!(matches!(
        attr(&audit_body, "deletion_protection_enabled"),
        Some(Expression::Bool(true))
    ));
}

#[test]
fn key_rotation_log_retention_and_lambda_shape() {
    let key = block("resource", "aws_kms_key", "otpbot").body;
    assert!(matches!(
        attr(&key, "enable_key_rotation"),
        Some(Expression::Bool(true))
    ));
    for group in blocks("resource", "aws_cloudwatch_log_group") {
        assert!(
            attr(&group.body, "retention_in_days").is_some()
                && attr(&group.body, "kms_key_id").is_some(),
            "{:?}",
            group.labels
        );
    }
    let lambda = block("resource", "aws_lambda_function", "otpbot").body;
    assert_eq!(string(&lambda, "runtime"), "provided.al2023");
    assert_eq!(strings(attr(&lambda, "architectures")), ["arm64"]);
    assert!(
        attr(&lambda, "kms_key_arn").is_some(),
        "environment encrypted with the key"
    );
    let tracing = nested(&lambda, "tracing_config").next().expect("tracing");
    assert_eq!(string(&tracing.body, "mode"), "Active");
    let environment = nested(&lambda, "environment").next().expect("environment");
    let Some(Expression::Object(vars)) = attr(&environment.body, "variables") else {
        panic!("environment variables")
    };
    let known = otpbot::config::variables();
    for key in vars.keys() {
        let key = hcl::format::to_string(key).unwrap_or_default();
        let key = key.trim_matches('"');
        assert!(
            known.iter().any(|k| k == key),
            "the function sets {key}, which otpbot does not read"
        );
        assert!(
            !key.contains("SECRET") || key.ends_with("_PARAM"),
            "{key}: secrets are passed by SSM name only"
        );
        assert!(
            !key.ends_with("MASTER_KEY") && key != "OTPBOT_AUDIT_KEY",
            "{key}: no key material in the environment"
        );
    }
}

/// The one Rust definition `otpbot aws create-tables` creates is the Terraform one, field by
/// field (the test above checks the names the code reads; this one the whole key schema).
#[test]
fn create_tables_builds_what_terraform_declares() {
    for def in [schema::ACCESS_TABLE, schema::AUDIT_TABLE] {
        let declared = table(def.resource);
        let mut indexes: Vec<_> = def
            .indexes
            .iter()
            .map(|i| {
                (
                    i.name.to_owned(),
                    i.hash_key.to_owned(),
                    i.range_key.to_owned(),
                    "ALL".to_owned(),
                )
            })
            .collect();
        indexes.sort();
        let mut terraform_indexes = declared.indexes.clone();
        terraform_indexes.sort();
        let code = common::terraform::Table {
            hash_key: def.hash_key.into(),
            range_key: def.range_key.into(),
            attributes: def
                .attributes
                .iter()
                .map(|a| ((*a).to_owned(), "S".to_owned()))
                .collect(),
            indexes,
            ttl_attribute: def.ttl_attribute.map(str::to_owned),
        };
        let terraform = common::terraform::Table {
            indexes: terraform_indexes,
            ..declared
        };
        assert_eq!(code, terraform, "{}", def.resource);
        let body = block("resource", "aws_dynamodb_table", def.resource).body;
        assert_eq!(
            string(&body, "billing_mode"),
            "PAY_PER_REQUEST",
            "{}",
            def.resource
        );
    }
}

#[test]
fn sealed_audit_periods_are_locked_encrypted_private_and_scheduled() {
    let bucket = block("resource", "aws_s3_bucket", "audit").body;
    assert!(matches!(
        attr(&bucket, "object_lock_enabled"),
        Some(Expression::Bool(true))
    ));
    let lock = block(
        "resource",
        "aws_s3_bucket_object_lock_configuration",
        "audit",
    )
    .body;
    let rule = nested(&lock, "rule").next().expect("lock rule");
    let retention = nested(&rule.body, "default_retention")
        .next()
        .expect("default retention");
    assert_eq!(string(&retention.body, "mode"), "COMPLIANCE");
    assert_eq!(
        text(attr(&retention.body, "days").expect("days")),
        "var.audit_retention_days"
    );
    let retention_default = blocks("variable", "audit_retention_days")
        .first()
        .and_then(|v| attr(&v.body, "default").map(text));
    assert_eq!(retention_default.as_deref(), Some("400"));
    let versioning = block("resource", "aws_s3_bucket_versioning", "audit").body;
    let config = nested(&versioning, "versioning_configuration")
        .next()
        .expect("versioning");
    assert_eq!(string(&config.body, "status"), "Enabled");
    let sse = block(
        "resource",
        "aws_s3_bucket_server_side_encryption_configuration",
        "audit",
    )
    .body;
    let sse = nested(&sse, "rule").next().expect("sse rule");
    let default = nested(&sse.body, "apply_server_side_encryption_by_default")
        .next()
        .expect("default encryption");
    assert_eq!(string(&default.body, "sse_algorithm"), "aws:kms");
    assert!(text(attr(&default.body, "kms_master_key_id").expect("key")).contains("aws_kms_key."));
    let public = block("resource", "aws_s3_bucket_public_access_block", "audit").body;
    for flag in [
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ] {
        assert!(
            matches!(attr(&public, flag), Some(Expression::Bool(true))),
            "{flag}"
        );
    }
    let policy = block("data", "aws_iam_policy_document", "audit_bucket").body;
    let tls = nested(&policy, "statement")
        .next()
        .expect("TLS-only statement");
    assert_eq!(string(&tls.body, "effect"), "Deny");
    let condition = nested(&tls.body, "condition").next().expect("condition");
    assert_eq!(string(&condition.body, "variable"), "aws:SecureTransport");
    assert_eq!(strings(attr(&condition.body, "values")), ["false"]);

    // The function may only add objects under its prefix: no read, delete or retention change.
    let on_bucket: Vec<Statement> = statements()
        .into_iter()
        .filter(|s| s.2.iter().any(|r| r.contains("aws_s3_bucket.audit")))
        .filter(|s| s.1.iter().any(|a| a.starts_with("s3:")))
        .collect();
    assert_eq!(on_bucket.len(), 1, "{on_bucket:?}");
    assert_eq!(on_bucket[0].1, ["s3:PutObject"]);
    assert_eq!(
        on_bucket[0].2,
        ["\"${aws_s3_bucket.audit.arn}/${var.audit_bucket_prefix}*\""],
        "PutObject under the prefix only"
    );
    for (doc, actions, _, _) in statements() {
        for action in actions {
            assert!(
                !action.starts_with("s3:Delete")
                    && action != "s3:PutObjectRetention"
                    && action != "s3:BypassGovernanceRetention"
                    && action != "s3:PutObjectLegalHold",
                "{doc}: {action}"
            );
        }
    }

    let rule = block("resource", "aws_cloudwatch_event_rule", "seal").body;
    assert_eq!(
        text(attr(&rule, "schedule_expression").expect("schedule")),
        "\"rate(${var.seal_schedule_minutes} minutes)\""
    );
    let target = block("resource", "aws_cloudwatch_event_target", "seal").body;
    assert_eq!(
        text(attr(&target, "arn").expect("target")),
        "aws_lambda_function.otpbot.arn"
    );
    let permission = block("resource", "aws_lambda_permission", "seal").body;
    assert_eq!(string(&permission, "principal"), "events.amazonaws.com");
}

/// The sweep runs on a schedule of its own, every minute by default, beside the sealing one:
/// a rule whose name the function recognises (it ends in `-sweep`), a target that is the
/// function, and a permission for EventBridge to invoke it from that rule alone. The rate is
/// written as EventBridge takes it ("rate(1 minute)", singular for 1:
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>).
#[test]
fn the_sweep_has_a_schedule_of_its_own_beside_the_sealing_one() {
    let rule = block("resource", "aws_cloudwatch_event_rule", "sweep").body;
    assert_eq!(
        text(attr(&rule, "name").expect("name")),
        "\"${var.name}-sweep\""
    );
    assert!(
        otpbot::startup::lambda::is_sweep_event(&serde_json::json!({
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/otpbot-sweep"],
        })),
        "the function takes the rule's events for sweeps"
    );
    assert_eq!(
        text(attr(&rule, "schedule_expression").expect("schedule")),
        "\"rate(${var.sweep_schedule_minutes} ${var.sweep_schedule_minutes == 1 ? \"minute\" : \"minutes\"})\""
    );
    let variables = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/terraform/variables.tf"
    ))
    .expect("variables.tf");
    let every = variables
        .split("variable \"sweep_schedule_minutes\"")
        .nth(1)
        .expect("the sweep_schedule_minutes variable");
    assert!(
        every.contains("default     = 1\n"),
        "every minute by default"
    );
    let target = block("resource", "aws_cloudwatch_event_target", "sweep").body;
    assert_eq!(
        text(attr(&target, "rule").expect("rule")),
        "aws_cloudwatch_event_rule.sweep.name"
    );
    assert_eq!(
        text(attr(&target, "arn").expect("target")),
        "aws_lambda_function.otpbot.arn"
    );
    let permission = block("resource", "aws_lambda_permission", "sweep").body;
    assert_eq!(string(&permission, "principal"), "events.amazonaws.com");
    assert_eq!(string(&permission, "action"), "lambda:InvokeFunction");
    assert_eq!(
        text(attr(&permission, "source_arn").expect("source_arn")),
        "aws_cloudwatch_event_rule.sweep.arn"
    );
    let seal = block("resource", "aws_cloudwatch_event_rule", "seal").body;
    assert_ne!(
        text(attr(&seal, "name").expect("name")),
        text(attr(&rule, "name").expect("name")),
        "two schedules, each its own"
    );
}

/// The checkpoint key signs what the function vouches for; were it able to do more (read the
/// public key at run time, export, verify, decrypt) or sign with another algorithm, the role
/// would be worth more to an attacker than a signing oracle.
#[test]
fn the_function_may_only_sign_with_the_checkpoint_key() {
    let key = block("resource", "aws_kms_key", "checkpoint").body;
    assert_eq!(string(&key, "key_usage"), "SIGN_VERIFY");
    assert_eq!(string(&key, "customer_master_key_spec"), "ECC_NIST_P256");

    let on_key: Vec<Statement> = statements()
        .into_iter()
        .filter(|s| s.2.iter().any(|r| r.contains("aws_kms_key.checkpoint")))
        .collect();
    assert_eq!(on_key.len(), 1, "{on_key:?}");
    assert_eq!(
        on_key[0].0, "lambda",
        "the function's role, in its own policy"
    );
    assert_eq!(on_key[0].1, ["kms:Sign"], "Sign and nothing else");
    let lambda = block("data", "aws_iam_policy_document", "lambda").body;
    let sign = nested(&lambda, "statement")
        .find(|st| strings(attr(&st.body, "actions")) == ["kms:Sign"])
        .expect("the Sign statement");
    let condition = nested(&sign.body, "condition").next().expect("a condition");
    assert_eq!(string(&condition.body, "variable"), "kms:SigningAlgorithm");
    assert_eq!(strings(attr(&condition.body, "values")), ["ECDSA_SHA_256"]);

    // The key policy gives the account (and through it IAM) the key, and nobody else anything.
    for (doc, actions, _, principals) in statements() {
        if doc == "checkpoint_key" {
            assert_eq!(actions, ["kms:*"]);
            assert!(
                principals.iter().all(|p| p.ends_with(":root\"")),
                "{principals:?}"
            );
        }
        assert!(
            !actions.iter().any(|a| a == "kms:GetPublicKey"),
            "{doc}: nothing in the module reads the public key at run time"
        );
    }

    let lambda = block("resource", "aws_lambda_function", "otpbot").body;
    let environment = nested(&lambda, "environment").next().expect("environment");
    let Some(Expression::Object(vars)) = attr(&environment.body, "variables") else {
        panic!("environment variables")
    };
    let signing_key = vars
        .iter()
        .find(|(k, _)| {
            hcl::format::to_string(*k)
                .unwrap_or_default()
                .trim_matches('"')
                == "OTPBOT_CHECKPOINT_KMS_KEY"
        })
        .map(|(_, v)| text(v));
    assert_eq!(signing_key.as_deref(), Some("aws_kms_key.checkpoint.arn"));
}
