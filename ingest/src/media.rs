//! The media store: uploaded files (statements now, photos later) kept
//! under one directory (`ARUS_MEDIA_DIR`, default `{data_dir}/media`) by a
//! relative path that events and tables carry. Files are written to a
//! temporary name and renamed when complete, so a reader never sees half a
//! file; a write that passes its size limit is abandoned and removed.

use std::path::{Component, Path, PathBuf};

use arus_schemas::Config;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("media path {0:?} is not a relative path inside the store")]
    BadPath(String),
    #[error("the upload was interrupted: {0}")]
    Upload(String),
    #[error("media store: {0}")]
    Io(#[from] std::io::Error),
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The first [`HEAD_BYTES`] bytes, to tell the format without reading the file again.
    pub head: Vec<u8>,
}

/// How much of a stored file [`Stored::head`] keeps.
pub const HEAD_BYTES: usize = 8192;

/// A directory of uploaded files.
#[derive(Debug, Clone)]
pub struct MediaStore {
    root: PathBuf,
}

impl MediaStore {
    pub fn new(config: &Config) -> Self {
        MediaStore { root: config.media_dir() }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        MediaStore { root: root.into() }
    }

    /// The file at `relative`; refuses absolute paths and `..`.
    pub fn path(&self, relative: &str) -> Result<PathBuf, MediaError> {
        let rel = Path::new(relative);
        if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(MediaError::BadPath(relative.to_owned()));
        }
        Ok(self.root.join(rel))
    }

    /// Writes the chunks of `body` to `relative`, hashing as it goes; stops
    /// and removes the partial file once more than `limit` bytes arrive.
    pub async fn save<S, B, E>(&self, relative: &str, body: S, limit: u64) -> Result<Stored, MediaError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let path = self.path(relative)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let partial = path.with_extension("partial");
        let result = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut head = Vec::new();
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| MediaError::Upload(e.to_string()))?;
                let bytes = chunk.as_ref();
                size += bytes.len() as u64;
                if size > limit {
                    return Err(MediaError::TooLarge { limit });
                }
                hasher.update(bytes);
                if head.len() < HEAD_BYTES {
                    head.extend_from_slice(&bytes[..bytes.len().min(HEAD_BYTES - head.len())]);
                }
                file.write_all(bytes).await?;
            }
            file.sync_all().await?;
            Ok(Stored { size, sha256: hex(&hasher.finalize()), head })
        }
        .await;
        match result {
            Ok(stored) => {
                tokio::fs::rename(&partial, &path).await?;
                Ok(stored)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    /// Copies a local file into the store (`arus import`).
    pub async fn save_file(&self, relative: &str, source: &Path, limit: u64) -> Result<Stored, MediaError> {
        let size = tokio::fs::metadata(source).await?.len();
        if size > limit {
            return Err(MediaError::TooLarge { limit });
        }
        let file = tokio::fs::File::open(source).await?;
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        self.save(relative, chunks, limit).await
    }

    /// Opens a stored file for reading.
    pub fn open(&self, relative: &str) -> Result<std::fs::File, MediaError> {
        Ok(std::fs::File::open(self.path(relative)?)?)
    }
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::at(dir.path());
        let chunks = futures::stream::iter(vec![Ok::<_, String>(b"abc".to_vec()), Ok(b"def".to_vec())]);
        let stored = store.save("imports/a", chunks, 6).await.unwrap();
        assert_eq!((stored.size, stored.head.as_slice()), (6, &b"abcdef"[..]));
        assert_eq!(stored.sha256, "bef57ec7f53a6d40beb640a780a639c83bc29ac8a9816f1fc6c5c6dcd93c4721");
        assert_eq!(std::fs::read(dir.path().join("imports/a")).unwrap(), b"abcdef");

        let chunks = futures::stream::iter(vec![Ok::<_, String>(b"abc".to_vec()), Ok(b"defg".to_vec())]);
        assert!(matches!(store.save("imports/b", chunks, 6).await, Err(MediaError::TooLarge { limit: 6 })));
        assert!(!dir.path().join("imports/b").exists() && !dir.path().join("imports/b.partial").exists());

        for bad in ["", "/etc/passwd", "../x", "a/../../x"] {
            assert!(matches!(store.path(bad), Err(MediaError::BadPath(_))), "{bad}");
        }
    }
}
