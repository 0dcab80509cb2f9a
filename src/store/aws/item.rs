//! Reading and writing DynamoDB items with checked field access.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::schema::{ACCESS_PK, ACCESS_SK};
use crate::store::StoreError;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Builds items field by field, skipping absent optional values.
#[derive(Default)]
pub struct ItemBuilder(Item);

impl ItemBuilder {
    /// Sets a field.
    pub fn set(mut self, name: &str, value: AttributeValue) -> Self {
        self.0.insert(name.to_owned(), value);
        self
    }

    /// Sets a string field if present.
    pub fn opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.set(name, s(v)),
            None => self,
        }
    }

    /// The item.
    pub fn build(self) -> Item {
        self.0
    }
}

fn missing(field: &str) -> StoreError {
    StoreError::Corrupt(format!("item without a valid `{field}`"))
}

/// A required string field.
pub fn get_s<'a>(item: &'a Item, field: &str) -> Result<&'a str, StoreError> {
    item.get(field)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| missing(field))
}

/// An optional string field.
pub fn opt_s(item: &Item, field: &str) -> Option<String> {
    item.get(field).and_then(|v| v.as_s().ok()).cloned()
}

/// A required number field.
pub fn get_n(item: &Item, field: &str) -> Result<i64, StoreError> {
    item.get(field)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| missing(field))
}

/// The key of the access table's item `pk`, `sk`.
pub fn key_of(pk: String, sk: &str) -> Item {
    ItemBuilder::default()
        .set(ACCESS_PK, s(pk))
        .set(ACCESS_SK, s(sk))
        .build()
}
