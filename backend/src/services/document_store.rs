//! The document folder: uploaded identity documents as files, outside anything the service serves.
//!
//! An upload is written to a temporary file in the same folder while its size and SHA-256 are
//! counted, synced to disk, then renamed to a random key: a rename within one folder is atomic, so
//! a document is either complete under its key or not there at all. The temporary file is removed
//! on every path that does not keep it (a refused type, an oversize body, a dropped connection, a
//! request that timed out), because [`Incoming`] removes it when dropped. Likewise a [`Stored`]
//! file is removed when dropped unless the database row that names it was committed.
//!
//! The folder is created owner-only (0700) and files are 0600: only the service's own user reads
//! them. A crash between writing and renaming can leave a `.incoming-*` file behind; it never has
//! a row, so nothing shows it, and it may be deleted at any time.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Prefix of temporary files, which are never served and may be deleted at any time.
const INCOMING_PREFIX: &str = ".incoming-";

/// The folder documents are kept in.
#[derive(Debug, Clone)]
pub struct DocumentStore {
    dir: PathBuf,
}

impl DocumentStore {
    pub fn new(dir: PathBuf) -> Self {
        DocumentStore { dir }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Start receiving a file: a new, empty temporary file in the folder (created if missing).
    pub async fn begin(&self) -> io::Result<Incoming> {
        let mut folder = tokio::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        folder.mode(0o700);
        folder.create(&self.dir).await?;
        let path = self.dir.join(format!(
            "{INCOMING_PREFIX}{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await?;
        Ok(Incoming {
            file,
            path,
            dir: self.dir.clone(),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            done: false,
        })
    }

    /// A new random key for a document: 128 random bits as 32 hex digits. It names the file, so it
    /// never comes from the client.
    pub fn new_key() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// The bytes of the document stored under `key`.
    pub async fn read(&self, key: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.path_of(key)?).await
    }

    /// Remove the files of documents whose rows are gone. A file already missing is fine.
    pub async fn remove(&self, keys: &[String]) -> io::Result<()> {
        for key in keys {
            match tokio::fs::remove_file(self.path_of(key)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Where the document with `key` lives. Keys are ours (32 lower-case hex digits); anything
    /// else, such as a path, is refused so that a bad row can never point outside the folder.
    pub fn path_of(&self, key: &str) -> io::Result<PathBuf> {
        let ours = key.len() == 32
            && key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ours {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a document storage key",
            ));
        }
        Ok(self.dir.join(key))
    }
}

/// A file being received. Dropped before [`Incoming::persist`], it removes its temporary file.
#[derive(Debug)]
pub struct Incoming {
    file: tokio::fs::File,
    path: PathBuf,
    dir: PathBuf,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    done: bool,
}

impl Incoming {
    /// Append a chunk, keeping the first `head_bytes` bytes for recognising the type.
    pub async fn write(&mut self, chunk: &[u8], head_bytes: usize) -> io::Result<()> {
        if self.head.len() < head_bytes {
            let wanted = (head_bytes - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..wanted]);
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk).await
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes received (up to the `head_bytes` asked for).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Write everything received through to the disk. Done once the whole file is in, before
    /// [`Incoming::persist`], so the slow part happens outside any database transaction.
    pub async fn sync(&mut self) -> io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await
    }

    /// Rename the (synced) file to `key`. The SHA-256 (hex) and size are returned with a guard
    /// that removes the file again unless [`Stored::keep`] is called.
    pub async fn persist(mut self, key: &str) -> io::Result<Stored> {
        let target = DocumentStore::new(self.dir.clone()).path_of(key)?;
        tokio::fs::rename(&self.path, &target).await?;
        self.done = true;
        let stored = Stored {
            path: target,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            size: self.size,
            kept: false,
        };
        // The rename is durable only once the folder's entry is on disk too. Should that fail,
        // `stored` is dropped and takes the file with it.
        #[cfg(unix)]
        tokio::fs::File::open(&self.dir).await?.sync_all().await?;
        Ok(stored)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.done {
            // Best effort, and synchronous because Drop cannot wait: the file is ours and small
            // to unlink. A file that cannot be removed is harmless (never served, no row).
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A document file under its key, removed when dropped unless kept.
#[derive(Debug)]
pub struct Stored {
    path: PathBuf,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
    kept: bool,
}

impl Stored {
    /// Keep the file: the row naming it has been committed.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Stored {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("yoyaku-store-{}", uuid::Uuid::new_v4().simple()))
    }

    fn files_in(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_kept_file_is_complete_under_its_key_and_nothing_else_remains() {
        let store = DocumentStore::new(scratch());
        let mut incoming = store.begin().await.unwrap();
        incoming.write(b"%PDF-1.7 ", 4).await.unwrap();
        incoming.write(b"rest", 4).await.unwrap();
        assert_eq!(incoming.head(), b"%PDF");
        incoming.sync().await.unwrap();
        let key = DocumentStore::new_key();
        let stored = incoming.persist(&key).await.unwrap();
        assert_eq!(stored.size, 13);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"%PDF-1.7 rest")));
        stored.keep();
        assert_eq!(files_in(store.dir()), vec![key.clone()]);
        assert_eq!(store.read(&key).await.unwrap(), b"%PDF-1.7 rest");
        std::fs::remove_dir_all(store.dir()).unwrap();
    }

    #[tokio::test]
    async fn an_abandoned_or_unkept_file_is_removed() {
        let store = DocumentStore::new(scratch());
        let mut incoming = store.begin().await.unwrap();
        incoming.write(b"partial", 16).await.unwrap();
        drop(incoming);
        assert!(files_in(store.dir()).is_empty());

        let mut incoming = store.begin().await.unwrap();
        incoming.write(b"whole", 16).await.unwrap();
        drop(incoming.persist(&DocumentStore::new_key()).await.unwrap());
        assert!(files_in(store.dir()).is_empty());
        std::fs::remove_dir_all(store.dir()).unwrap();
    }

    #[test]
    fn a_key_that_is_not_ours_never_becomes_a_path() {
        let store = DocumentStore::new(PathBuf::from("/srv/documents"));
        assert!(store.path_of("../../etc/passwd").is_err());
        assert!(store.path_of("ABCDEF0123456789ABCDEF0123456789").is_err());
        assert!(store.path_of(&DocumentStore::new_key()).is_ok());
    }
}
