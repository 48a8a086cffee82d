//! Folders that appear whole or not at all: written beside their destination, then
//! renamed into place.

use std::path::Path;

use tempfile::TempDir;

use crate::NnError;

/// A fresh private folder next to `dest`, named with `prefix`.
pub(crate) fn stage(dest: &Path, prefix: &str) -> Result<TempDir, NnError> {
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(NnError::io(parent))?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent).map_err(NnError::io(parent))
}

/// Writes one file into a staged folder.
pub(crate) fn put(staged: &TempDir, name: &str, bytes: &[u8]) -> Result<(), NnError> {
    let path = staged.path().join(name);
    std::fs::write(&path, bytes).map_err(NnError::io(path))
}

/// Moves a staged folder to `dest`, replacing what is there (callers decide beforehand
/// whether that may be replaced).
pub(crate) fn commit(staged: TempDir, dest: &Path) -> Result<(), NnError> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(NnError::io(dest))?;
    }
    let tmp = staged.keep();
    // Temporary folders are private (0700); the result should read like any other folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(NnError::io(&tmp))?;
    }
    std::fs::rename(&tmp, dest).map_err(NnError::io(dest))
}
