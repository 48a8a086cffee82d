//! Folders that appear whole or not at all: written beside their destination, then
//! renamed into place.

use std::path::Path;

use tempfile::TempDir;

use crate::DataError;

/// A fresh private folder next to `dest`, named with `prefix`.
pub fn stage(dest: &Path, prefix: &str) -> Result<TempDir, DataError> {
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(DataError::io(parent))?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(parent).map_err(DataError::io(parent))
}

/// Writes one file into a staged folder.
pub fn put(staged: &TempDir, name: &str, bytes: &[u8]) -> Result<(), DataError> {
    let path = staged.path().join(name);
    std::fs::write(&path, bytes).map_err(DataError::io(path))
}

/// Moves a staged folder to `dest`, replacing what is there (callers decide beforehand
/// whether that may be replaced). Safe against a kill at any moment: the old folder is
/// parked beside `dest` until the new one is in place, so one of them is always whole,
/// and [`recover`] brings the parked one back if the kill came between the two renames.
pub fn commit(staged: TempDir, dest: &Path) -> Result<(), DataError> {
    let tmp = staged.keep();
    // Temporary folders are private (0700); the result should read like any other folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(DataError::io(&tmp))?;
    }
    recover(dest)?;
    let old = parked(dest);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(DataError::io(&old))?;
    }
    if dest.exists() {
        std::fs::rename(dest, &old).map_err(DataError::io(dest))?;
    }
    std::fs::rename(&tmp, dest).map_err(DataError::io(dest))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(DataError::io(&old))?;
    }
    Ok(())
}

/// Where [`commit`] parks the folder it replaces: `.NAME.old` beside `dest`.
fn parked(dest: &Path) -> std::path::PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.old"))
}

/// Undoes a [`commit`] killed between parking the old folder and moving the new one in.
pub fn recover(dest: &Path) -> Result<(), DataError> {
    let old = parked(dest);
    if !dest.exists() && old.is_dir() {
        std::fs::rename(&old, dest).map_err(DataError::io(dest))?;
    }
    Ok(())
}

/// Writes a file whole or not at all, as [`fugato_midi::write_atomic`] writes every file of
/// fugato (a temporary file beside it, then a rename; links followed; FIFOs and devices
/// written in place).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    fugato_midi::write_atomic(path, bytes).map_err(DataError::io(path))
}

/// Removes staging folders (named with `prefix`) that a killed process left in `dir`.
pub fn sweep(dir: &Path, prefix: &str) -> Result<(), DataError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path()).map_err(DataError::io(entry.path()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(dest: &Path, text: &str) -> TempDir {
        let staged = stage(dest, ".test-").unwrap();
        put(&staged, "file", text.as_bytes()).unwrap();
        staged
    }

    fn read(dest: &Path) -> String {
        std::fs::read_to_string(dest.join("file")).unwrap()
    }

    #[test]
    fn commit_replaces_and_recover_undoes_a_half_done_commit() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("latest");
        commit(folder(&dest, "one"), &dest).unwrap();
        commit(folder(&dest, "two"), &dest).unwrap();
        assert_eq!(read(&dest), "two");
        assert!(!parked(&dest).exists());

        // Killed after parking: only the parked folder is left; recover brings it back.
        std::fs::rename(&dest, parked(&dest)).unwrap();
        recover(&dest).unwrap();
        assert_eq!(read(&dest), "two");

        // Killed after the new folder moved in: the parked one is stale and goes.
        std::fs::create_dir(parked(&dest)).unwrap();
        commit(folder(&dest, "three"), &dest).unwrap();
        assert_eq!(read(&dest), "three");
        assert!(!parked(&dest).exists());

        // Leftover staging folders of killed writes are swept.
        let leftover = folder(&dest, "half").keep();
        sweep(root.path(), ".test-").unwrap();
        assert!(!leftover.exists() && dest.exists());
    }
}
