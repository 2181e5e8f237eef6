//! Where the lake and the media live: a local directory, or S3 and the
//! S3-compatible stores (MinIO, R2) through `s3://bucket/prefix` URIs.
//!
//! Delta commits on S3 are safe with several writers because the store
//! decides which writer gets a version. delta-rs writes a commit to a
//! temporary object, then copies it to the next log entry's name with a
//! multipart upload completed under `If-None-Match: *`
//! (`aws_copy_if_not_exists = multipart`); plain puts that must not
//! overwrite are conditional too (`aws_conditional_put = etag`). A second
//! writer of the same version is refused by the store and retries on the
//! new version, as delta-rs does on a local file system. AWS S3, MinIO and
//! R2 honour both conditions, so no DynamoDB lock table is needed. These
//! are delta-rs's defaults for S3; arus sets them explicitly and refuses
//! `AWS_S3_ALLOW_UNSAFE_RENAME`, which would let two writers overwrite
//! each other's commit.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use arus_schemas::Config;
pub use object_store;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use url::Url;

use crate::LakeError;

/// Storage options for `s3://` URIs (object_store's `aws_*` keys), from
/// `ARUS_S3_*`. Empty keys are left to the AWS default chain
/// (`AWS_ACCESS_KEY_ID`…, an instance or pod role).
pub fn storage_options(config: &Config) -> Result<HashMap<String, String>, LakeError> {
    let bad = |reason: String| LakeError::BadUri { uri: config.lake_uri(), reason };
    if std::env::var("AWS_S3_ALLOW_UNSAFE_RENAME").is_ok_and(|v| !v.is_empty() && v != "false") {
        return Err(bad("AWS_S3_ALLOW_UNSAFE_RENAME is set: concurrent writers could overwrite each other's commits; unset it".into()));
    }
    let mut options = HashMap::from([
        ("aws_region".to_owned(), config.s3_region.clone()),
        // A commit is a copy-if-absent to the next log entry; puts that
        // must not overwrite are put-if-absent.
        ("aws_copy_if_not_exists".to_owned(), "multipart".to_owned()),
        ("aws_conditional_put".to_owned(), "etag".to_owned()),
    ]);
    if !config.s3_endpoint.is_empty() {
        options.insert("aws_endpoint".into(), config.s3_endpoint.trim_end_matches('/').to_owned());
        if config.s3_endpoint.starts_with("http://") {
            options.insert("aws_allow_http".into(), "true".into());
        }
    }
    let secret = config
        .secret("s3_secret_access_key", &config.s3_secret_access_key, &config.s3_secret_access_key_file)
        .map_err(|e| bad(e.to_string()))?;
    match (config.s3_access_key_id.is_empty(), secret) {
        (true, None) => {}
        (false, Some(secret)) => {
            options.insert("aws_access_key_id".into(), config.s3_access_key_id.clone());
            options.insert("aws_secret_access_key".into(), secret);
        }
        _ => return Err(bad("s3_access_key_id and s3_secret_access_key are set together".into())),
    }
    Ok(options)
}

/// Makes `s3://` URIs known to deltalake (once per process).
pub(crate) fn register_schemes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| deltalake::aws::register_handlers(None));
}

/// A location as a URL: a local path (made absolute), `file:///…` or
/// `s3://…`, always ending in `/`.
pub fn root_url(uri: &str) -> Result<Url, LakeError> {
    let bad = |reason: String| LakeError::BadUri { uri: uri.to_owned(), reason };
    let root = if uri.contains("://") {
        Url::parse(uri).map_err(|e| bad(e.to_string()))?
    } else {
        let path = std::path::absolute(uri).map_err(|e| bad(e.to_string()))?;
        Url::from_directory_path(&path).map_err(|()| bad("not an absolute path".into()))?
    };
    match root.scheme() {
        "file" | "s3" | "s3a" => {}
        other => return Err(bad(format!("unsupported scheme {other}: use a path, file:// or s3://"))),
    }
    if root.scheme() != "file" && root.host_str().is_none_or(str::is_empty) {
        return Err(bad("no bucket: write s3://bucket/prefix".into()));
    }
    if root.path().ends_with('/') {
        Ok(root)
    } else {
        Url::parse(&format!("{root}/")).map_err(|e| bad(e.to_string()))
    }
}

/// The object store holding `root` and the prefix of `root` inside it. A
/// local directory is created when missing.
pub fn open_store(root: &Url, options: &HashMap<String, String>) -> Result<(Arc<dyn ObjectStore>, StorePath), LakeError> {
    let bad = |reason: String| LakeError::BadUri { uri: root.to_string(), reason };
    if root.scheme() == "file" {
        let path = root.to_file_path().map_err(|()| bad("not a local path".into()))?;
        std::fs::create_dir_all(&path).map_err(|source| LakeError::Io { path: path.clone(), source })?;
        let store = LocalFileSystem::new_with_prefix(&path).map_err(|e| bad(e.to_string()))?;
        return Ok((Arc::new(store), StorePath::default()));
    }
    let mut builder = AmazonS3Builder::new().with_url(root.as_str());
    for (key, value) in options {
        let key = key.parse().map_err(|e: object_store::Error| bad(e.to_string()))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| bad(e.to_string()))?;
    let prefix = StorePath::parse(root.path().trim_matches('/')).map_err(|e| bad(e.to_string()))?;
    Ok((Arc::new(store), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_options_come_from_the_config_and_always_commit_by_conditional_put() {
        let mut config = Config { lake_uri: "s3://lake/arus".into(), s3_endpoint: "http://minio:9000/".into(), ..Config::default() };
        let options = storage_options(&config).unwrap();
        assert_eq!(options["aws_conditional_put"], "etag");
        assert_eq!(options["aws_copy_if_not_exists"], "multipart");
        assert_eq!(options["aws_endpoint"], "http://minio:9000");
        assert_eq!(options["aws_allow_http"], "true");
        assert!(!options.contains_key("aws_access_key_id"));
        config.s3_access_key_id = "arus".into();
        assert!(storage_options(&config).is_err(), "a key id without its secret");
        config.s3_secret_access_key = arus_schemas::config::Secret::new("s3cret");
        assert_eq!(storage_options(&config).unwrap()["aws_secret_access_key"], "s3cret");
    }

    #[test]
    fn roots_are_directories_with_a_known_scheme() {
        assert_eq!(root_url("s3://bucket/lake").unwrap().as_str(), "s3://bucket/lake/");
        assert_eq!(root_url("/tmp/x").unwrap().as_str(), "file:///tmp/x/");
        assert!(root_url("gs://bucket/lake").is_err());
        assert!(root_url("s3:///lake").is_err());
        let (_, prefix) = open_store(&root_url("s3://bucket/a/b").unwrap(), &HashMap::from([("aws_region".into(), "us-east-1".into())])).unwrap();
        assert_eq!(prefix.as_ref(), "a/b");
    }
}
