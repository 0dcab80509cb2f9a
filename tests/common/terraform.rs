//! Reads the Terraform module in `terraform/`, so tests can check it and build emulator tables
//! from the very definitions that get deployed.

use std::path::PathBuf;

use hcl::{Block, Body, Expression};

/// Every `.tf` file of the module, parsed, with its file name.
pub fn files() -> Vec<(String, Body)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("terraform");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("terraform/ exists") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path).expect("read");
            let body = hcl::parse(&text)
                .unwrap_or_else(|e| panic!("{} is not valid HCL: {e}", path.display()));
            out.push((
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                body,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Top-level blocks `kind "label0" "label1" { … }` across the module.
pub fn blocks(kind: &str, label0: &str) -> Vec<Block> {
    files()
        .into_iter()
        .flat_map(|(_, body)| body.into_blocks())
        .filter(|b| {
            b.identifier.as_str() == kind && b.labels.first().map(|l| l.as_str()) == Some(label0)
        })
        .collect()
}

/// The one top-level block `kind "label0" "label1"`.
pub fn block(kind: &str, label0: &str, label1: &str) -> Block {
    blocks(kind, label0)
        .into_iter()
        .find(|b| b.labels.get(1).map(|l| l.as_str()) == Some(label1))
        .unwrap_or_else(|| panic!("no {kind} \"{label0}\" \"{label1}\" in terraform/"))
}

/// An attribute's expression.
pub fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

/// An attribute that must be a literal string.
pub fn string(body: &Body, key: &str) -> String {
    match attr(body, key) {
        Some(Expression::String(s)) => s.clone(),
        other => panic!("`{key}` must be a literal string, found {other:?}"),
    }
}

/// Nested blocks named `name`.
pub fn nested<'a>(body: &'a Body, name: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier.as_str() == name)
}

/// A DynamoDB table as Terraform declares it.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub hash_key: String,
    pub range_key: String,
    /// (name, type)
    pub attributes: Vec<(String, String)>,
    /// (name, hash, range, projection)
    pub indexes: Vec<(String, String, String, String)>,
    pub ttl_attribute: Option<String>,
}

/// The `aws_dynamodb_table` resource `name`.
pub fn table(name: &str) -> Table {
    let block = block("resource", "aws_dynamodb_table", name);
    let body = &block.body;
    Table {
        hash_key: string(body, "hash_key"),
        range_key: string(body, "range_key"),
        attributes: nested(body, "attribute")
            .map(|b| (string(&b.body, "name"), string(&b.body, "type")))
            .collect(),
        indexes: nested(body, "global_secondary_index")
            .map(|b| {
                let s = |k| string(&b.body, k);
                (
                    s("name"),
                    s("hash_key"),
                    s("range_key"),
                    s("projection_type"),
                )
            })
            .collect(),
        ttl_attribute: ttl_attribute(body),
    }
}

fn ttl_attribute(body: &Body) -> Option<String> {
    let ttl = nested(body, "ttl").next()?;
    Some(string(&ttl.body, "attribute_name"))
}

/// Creates `table_name` in DynamoDB exactly as the Terraform resource `resource` declares it.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, resource: &str, table_name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    let def = table(resource);
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(&def.hash_key, KeyType::Hash))
        .key_schema(key(&def.range_key, KeyType::Range));
    for (name, kind) in &def.attributes {
        let kind = ScalarAttributeType::from(kind.as_str());
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .expect("attr"),
        );
    }
    for (name, hash, range, projection) in &def.indexes {
        let index = GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(projection.as_str()))
                    .build(),
            )
            .build()
            .expect("index");
        request = request.global_secondary_indexes(index);
    }
    request.send().await.unwrap_or_else(|e| {
        panic!(
            "create {table_name}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )
    });
    if let Some(attribute) = def.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attribute)
                    .build()
                    .expect("ttl"),
            )
            .send()
            .await
            .expect("ttl");
    }
}
