//! Standard MIDI Files ↔ fugato's [`Score`], on [midly](https://docs.rs/midly).
//!
//! Reading is lenient by default: a damaged file gives what can be read, plus
//! [`Warning`]s that say where and what was repaired; [`ReadOptions::strict`] refuses
//! anything malformed. A fatal [`MidiError`] names the file, the byte offset and the
//! problem. Writing produces format 1.
//!
//! ```
//! use fugato_midi::{read_file, write, read, ReadOptions};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/bwv66.6.mid");
//! let file = read_file(path.as_ref(), ReadOptions::default())?;
//! assert_eq!(file.score.n_notes(), 163);
//! assert_eq!(file.score.key_signatures[0].name(), "F#m");
//!
//! // Written and read again, the notes are the same.
//! let again = read(&write(&file.score)?, ReadOptions::default())?;
//! assert_eq!(again.score.n_notes(), 163);
//! # Ok::<(), fugato_midi::MidiError>(())
//! ```

mod error;
mod listing;
mod read;
mod write;

use std::path::Path;

pub use error::{ErrorKind, MidiError};
pub use listing::Listing;
pub use read::{MidiFile, Pairing, ReadOptions, SizeLimits, Warning, read};
pub use write::{write, write_atomic, write_file};

/// Reads the MIDI file at `path`; errors carry the path. At most the limit's bytes are read
/// (and one more, to tell that there are more): `/dev/zero` is refused, not read until memory
/// runs out.
pub fn read_file(path: &Path, options: ReadOptions) -> Result<MidiFile, MidiError> {
    let bytes = read_at_most(path, options.limits.max_bytes).map_err(|e| MidiError {
        path: Some(path.into()),
        offset: None,
        kind: e.into(),
    })?;
    read(&bytes, options).map_err(|e| e.in_file(path))
}

/// The first `limit + 1` bytes of the file at `path` (all of a file within the limit).
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}
