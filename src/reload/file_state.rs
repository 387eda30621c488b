//! What the config file looks like on disk, to tell a real change from an echo. One write can
//! reach the reload task as two bursts of file events (a slow writer, or events of one rename
//! reported on both sides of a debounce window), and each burst was a reload attempt: two
//! failures for one bad file. A file-change trigger now reloads only when the file's identity,
//! times, size or bytes differ from the last attempt's; a `touch` still reloads (it changes the
//! modification time), so rotated secret files can be picked up that way, and SIGHUP always
//! reloads.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The config file as the last reload attempt found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Missing or unreadable, with the kind of error.
    Unreadable(std::io::ErrorKind),
    Present {
        /// Device and inode of the file the path resolves to (a rename or a symlink flip
        /// gives a new one).
        file: (u64, u64),
        len: u64,
        /// Modification and status-change times, in nanoseconds.
        modified_ns: i128,
        changed_ns: i128,
        /// Coarse timestamps can repeat across two quick writes: the bytes decide then.
        content_hash: u64,
    },
}

impl FileState {
    /// Reads the state of the file at `path` (following symlinks).
    pub fn read(path: &Path) -> Self {
        let read = || -> std::io::Result<Self> {
            let meta = std::fs::metadata(path)?;
            let bytes = std::fs::read(path)?;
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
            Ok(Self::Present {
                file: (meta.dev(), meta.ino()),
                len: meta.len(),
                modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
                changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
                content_hash: hasher.finish(),
            })
        };
        read().unwrap_or_else(|e| Self::Unreadable(e.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::FileState;

    #[test]
    fn reading_the_file_is_no_change_but_rewriting_touching_or_deleting_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        let first = FileState::read(&path);
        let _ = std::fs::read(&path).unwrap();
        assert_eq!(FileState::read(&path), first);

        std::fs::write(&path, "a: 2\n").unwrap();
        let rewritten = FileState::read(&path);
        assert_ne!(rewritten, first, "same length, other bytes");

        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert_ne!(FileState::read(&path), rewritten, "a touch reloads");

        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            FileState::read(&path),
            FileState::Unreadable(std::io::ErrorKind::NotFound)
        );
    }
}
