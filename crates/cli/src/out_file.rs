//! `--out FILE`: opened before any AWS call, so that a typo in the path fails in a second with the
//! path named, not after minutes of reading the organization; written only at the end.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// A file opened for writing but not yet truncated: a command that fails leaves an existing file
/// as it was and removes one it created.
#[derive(Debug)]
pub struct OutFile {
    path: PathBuf,
    file: Option<File>,
    created: bool,
}

impl OutFile {
    /// Opens (creating if needed) `path` for writing; fails if the directory is missing or not
    /// writable, or the path is a directory or a read-only file.
    pub fn open(path: &Path) -> Result<OutFile, CliError> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| write_error(path, source))?;
        Ok(OutFile {
            path: path.to_path_buf(),
            file: Some(file),
            created,
        })
    }

    /// The path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's content with `text`.
    pub fn write(mut self, text: &str) -> Result<(), CliError> {
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|source| write_error(&self.path, source))
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        // Never written: the command failed. Leave no empty file behind that looks like a report.
        if self.file.take().is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn write_error(path: &Path, source: std::io::Error) -> CliError {
    CliError::Write {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::OutFile;

    #[test]
    fn writes_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("report.html");
        OutFile::open(&path)
            .unwrap()
            .write("a long first text")
            .unwrap();
        OutFile::open(&path).unwrap().write("short").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");

        // Opened, never written: an existing file is left as it was...
        drop(OutFile::open(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
        // ...and a file the command created is removed.
        let fresh = dir.path().join("fresh.html");
        drop(OutFile::open(&fresh).unwrap());
        assert!(!fresh.exists());
    }

    #[test]
    fn names_the_path_when_it_cannot_be_opened() {
        let dir = tempfile::tempdir().expect("temporary directory");
        for path in [
            dir.path().join("missing/report.html"),
            dir.path().to_path_buf(),
        ] {
            let error = OutFile::open(&path).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("cannot write {}: ", path.display())),
                "{error}"
            );
        }
    }
}
