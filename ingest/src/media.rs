//! The media store: uploaded files (statements, photos) kept under one
//! root by a relative path that events and tables carry. The root is a
//! local directory (`ARUS_MEDIA_DIR`, default `{data_dir}/media`) or object
//! storage (`ARUS_MEDIA_URI=s3://bucket/prefix`). A reader never sees half
//! a file: locally it is written to a temporary name, synced and renamed;
//! on S3 an object appears when its upload completes. A write that passes
//! its size limit is abandoned and removed.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use arus_lakehouse::storage::{self, object_store};
use arus_schemas::Config;
use futures::{Stream, StreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
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
    #[error("media store: {0}")]
    Store(String),
}

impl From<object_store::Error> for MediaError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => MediaError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{path}: not found"))),
            e => MediaError::Store(e.to_string()),
        }
    }
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

/// Where the files are.
#[derive(Debug, Clone)]
enum Root {
    Local(PathBuf),
    Object { store: Arc<dyn ObjectStore>, prefix: StorePath },
}

/// A store of uploaded files.
#[derive(Debug, Clone)]
pub struct MediaStore {
    root: Root,
}

/// A stored file opened for reading: the file itself when local, its bytes
/// when in object storage.
pub enum MediaReader {
    File(std::fs::File),
    Memory(std::io::Cursor<bytes::Bytes>),
}

impl Read for MediaReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            MediaReader::File(f) => f.read(buf),
            MediaReader::Memory(m) => m.read(buf),
        }
    }
}

impl Seek for MediaReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            MediaReader::File(f) => f.seek(pos),
            MediaReader::Memory(m) => m.seek(pos),
        }
    }
}

impl MediaStore {
    /// The store of this configuration (`ARUS_MEDIA_URI`, else `ARUS_MEDIA_DIR`).
    pub fn new(config: &Config) -> Result<Self, MediaError> {
        if config.media_uri.is_empty() {
            return Ok(Self::at(config.media_dir()));
        }
        let root = storage::root_url(&config.media_uri).map_err(|e| MediaError::Store(e.to_string()))?;
        if root.scheme() == "file" {
            let path = root.to_file_path().map_err(|()| MediaError::Store(format!("{root}: not a local path")))?;
            return Ok(Self::at(path));
        }
        let options = storage::storage_options(config).map_err(|e| MediaError::Store(e.to_string()))?;
        let (store, prefix) = storage::open_store(&root, &options).map_err(|e| MediaError::Store(e.to_string()))?;
        Ok(MediaStore { root: Root::Object { store, prefix } })
    }

    /// A store in the local directory `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        MediaStore { root: Root::Local(root.into()) }
    }

    /// Refuses absolute paths and `..`.
    fn checked(relative: &str) -> Result<&Path, MediaError> {
        let rel = Path::new(relative);
        if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(MediaError::BadPath(relative.to_owned()));
        }
        Ok(rel)
    }

    fn location(prefix: &StorePath, relative: &str) -> Result<StorePath, MediaError> {
        let rel = Self::checked(relative)?;
        let mut location = prefix.clone();
        for part in rel.components() {
            location = location.clone().join(part.as_os_str().to_string_lossy().as_ref());
        }
        Ok(location)
    }

    /// Writes the chunks of `body` to `relative`, hashing as it goes; stops
    /// and removes the partial file once more than `limit` bytes arrive.
    pub async fn save<S, B, E>(&self, relative: &str, body: S, limit: u64) -> Result<Stored, MediaError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        match &self.root {
            Root::Local(root) => save_local(&root.join(Self::checked(relative)?), body, limit).await,
            Root::Object { store, prefix } => {
                let location = Self::location(prefix, relative)?;
                let mut writer = BufWriter::new(store.clone(), location);
                match copy(body, limit, &mut writer).await {
                    Ok(stored) => {
                        writer.shutdown().await?;
                        Ok(stored)
                    }
                    Err(e) => {
                        let _ = writer.abort().await;
                        Err(e)
                    }
                }
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

    /// Opens a stored file for reading (local files stay on disk; an object
    /// is read into memory, so its size is checked against `limit` first).
    pub async fn open(&self, relative: &str, limit: u64) -> Result<MediaReader, MediaError> {
        match &self.root {
            Root::Local(root) => {
                let path = root.join(Self::checked(relative)?);
                let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
                    .await
                    .map_err(|e| MediaError::Io(std::io::Error::other(e.to_string())))??;
                Ok(MediaReader::File(file))
            }
            Root::Object { store, prefix } => {
                let result = store.get(&Self::location(prefix, relative)?).await?;
                if result.meta.size > limit {
                    return Err(MediaError::TooLarge { limit });
                }
                Ok(MediaReader::Memory(std::io::Cursor::new(result.bytes().await?)))
            }
        }
    }

    /// The whole stored file, refused when larger than `limit`.
    pub async fn read(&self, relative: &str, limit: u64) -> Result<Vec<u8>, MediaError> {
        match self.open(relative, limit).await? {
            MediaReader::Memory(m) => Ok(m.into_inner().to_vec()),
            MediaReader::File(file) => tokio::task::spawn_blocking(move || {
                let mut bytes = Vec::new();
                file.take(limit + 1).read_to_end(&mut bytes)?;
                if bytes.len() as u64 > limit {
                    return Err(MediaError::TooLarge { limit });
                }
                Ok(bytes)
            })
            .await
            .map_err(|e| MediaError::Io(std::io::Error::other(e.to_string())))?,
        }
    }

    /// Removes a stored file (an upload refused after it was stored).
    pub async fn remove(&self, relative: &str) -> Result<(), MediaError> {
        match &self.root {
            Root::Local(root) => Ok(tokio::fs::remove_file(root.join(Self::checked(relative)?)).await?),
            Root::Object { store, prefix } => Ok(store.delete(&Self::location(prefix, relative)?).await?),
        }
    }
}

/// Hashes and writes `body` to `out`, refusing more than `limit` bytes.
async fn copy<S, B, E, W>(body: S, limit: u64, out: &mut W) -> Result<Stored, MediaError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
    W: tokio::io::AsyncWrite + Unpin,
{
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
        out.write_all(bytes).await?;
    }
    Ok(Stored { size, sha256: hex(&hasher.finalize()), head })
}

/// A local file written under a temporary name, synced, then renamed.
async fn save_local<S, B, E>(path: &Path, body: S, limit: u64) -> Result<Stored, MediaError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let partial = path.with_extension("partial");
    let result = async {
        let mut file = tokio::fs::File::create(&partial).await?;
        let stored = copy(body, limit, &mut file).await?;
        file.sync_all().await?;
        Ok(stored)
    }
    .await;
    match result {
        Ok(stored) => {
            tokio::fs::rename(&partial, path).await?;
            Ok(stored)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
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
            assert!(matches!(store.read(bad, 10).await, Err(MediaError::BadPath(_))), "{bad}");
        }
        assert_eq!(store.read("imports/a", 6).await.unwrap(), b"abcdef");
        assert!(matches!(store.read("imports/a", 5).await, Err(MediaError::TooLarge { limit: 5 })));
        store.remove("imports/a").await.unwrap();
        assert!(!dir.path().join("imports/a").exists());
    }
}
