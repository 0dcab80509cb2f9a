//! The Object Lock copies of sealed periods in S3: written once by the sealing run, read back
//! (each object's first version, the one Object Lock keeps) by `otpbot audit verify`.

use std::collections::BTreeMap;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use aws_sdk_s3::Client as S3;

use super::sdk_error::sdk;
use crate::audit::checkpoint::Checkpoint;
use crate::audit::seal_format::Seal;
use crate::store::{StoreError, StoreResult};

/// Writes one object with a SHA-256 checksum, which S3 requires of writes to an Object Lock
/// bucket (a Content-MD5 or an `x-amz-checksum-*`:
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html>). The
/// bucket's default encryption (SSE-KMS) and retention apply.
pub(super) async fn put(
    s3: &S3,
    bucket: &str,
    key: &str,
    body: String,
    content_type: &str,
) -> StoreResult<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map_err(|e| sdk("write sealed copy", e))?;
    Ok(())
}

/// Reads one object (the given version, else the current one) as text; `None` if it does not
/// exist.
pub(super) async fn get(
    s3: &S3,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> StoreResult<Option<String>> {
    let request = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned));
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(sdk("read sealed copy", e)),
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| StoreError::Backend(format!("read sealed copy {key}: {e}")))?
        .into_bytes();
    Ok(String::from_utf8(bytes.to_vec()).ok())
}

/// The first version of every object under `prefix`, by key (sorted, so seals come oldest
/// period first). The first write of a key is the one Object Lock keeps: a later `PutObject`
/// only adds a newer version on top, which the check ignores. S3 lists each key's versions
/// newest first (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html>),
/// so the last one listed is the first written.
pub(super) async fn first_versions(
    s3: &S3,
    bucket: &str,
    prefix: &str,
) -> StoreResult<BTreeMap<String, Option<String>>> {
    let mut first = BTreeMap::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let out = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| sdk("list sealed copies", e))?;
        for version in out.versions() {
            if let Some(key) = version.key() {
                first.insert(key.to_owned(), version.version_id().map(str::to_owned));
            }
        }
        if out.is_truncated() != Some(true) {
            return Ok(first);
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        version_marker = out.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Ok(first);
        }
    }
}

/// Every locked seal (first versions), oldest period first.
pub(super) async fn locked_seals(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    versions: &BTreeMap<String, Option<String>>,
) -> StoreResult<Vec<Seal>> {
    let mut seals = Vec::new();
    for (key, version) in versions.range(prefix.to_owned()..) {
        if !key.starts_with(prefix) {
            break;
        }
        let value: serde_json::Value = get(s3, bucket, key, version.as_deref())
            .await?
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("locked seal {key} is not JSON")))?;
        let seal = Seal::from_json(&value)
            .map_err(|why| StoreError::Corrupt(format!("locked seal {key}: {why}")))?;
        seals.push(seal);
    }
    Ok(seals)
}

/// The checkpoint in the first version of `key`, if there is one and it reads as one.
pub(super) async fn locked_checkpoint(
    s3: &S3,
    bucket: &str,
    key: &str,
    versions: &BTreeMap<String, Option<String>>,
) -> StoreResult<Option<Checkpoint>> {
    let Some(version) = versions.get(key) else {
        return Ok(None);
    };
    Ok(get(s3, bucket, key, version.as_deref())
        .await?
        .and_then(|t| serde_json::from_str(&t).ok())
        .and_then(|v| Checkpoint::from_json(&v)))
}
