//! fugato's data: where sequences come from (the polyphonic piano-roll benchmarks, folders
//! of MIDI files with a split fixed by each file's path, shards), how they split, the shards
//! `prepare` writes once so that training only reads arrays, and what training draws from
//! them as plain arrays (windows of sequences, melody lines, GAN segments), transposed by
//! one implementation ([`transpose`]). No tensors: `fugato_nn` turns the arrays into them.
//!
//! ```
//! use fugato_data::{PolyphonicSet, Split};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/polyphonic/jsb_small.json");
//! let set = PolyphonicSet::load(path.as_ref())?;
//! assert_eq!(set.split(Split::Train).unwrap().len(), 3);
//! # Ok::<(), fugato_data::DataError>(())
//! ```

mod dataset;
pub mod folder;
pub mod lines;
mod polyphonic;
mod prepare;
pub mod segments;
pub mod sequences;
mod shards;
pub mod staging;
pub mod styles;
pub mod transpose;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use dataset::{DataInfo, Dataset, names_root, prepare_folders};
pub use polyphonic::PolyphonicSet;
pub use prepare::{PrepareConfig, PrepareSummary, Skipped, prepare_midi, prepare_polyphonic};
pub use shards::{Sequences, Shards, ShardsMeta, SplitMeta};

#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json { path: PathBuf, line: usize, column: usize, message: String },
    /// A file or folder that cannot serve as data: what is wrong with it.
    #[error("{path}: {message}")]
    Dataset { path: PathBuf, message: String },
    /// An option that does not fit the data.
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Repr(#[from] fugato_repr::ReprError),
    #[error(transparent)]
    Score(#[from] fugato_score::ScoreError),
}

impl DataError {
    /// An I/O error of `path`, for `map_err`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DataError {
        let path = path.into();
        move |source| DataError::Io { path, source }
    }

    pub fn dataset(path: impl Into<PathBuf>, message: impl Into<String>) -> DataError {
        DataError::Dataset { path: path.into(), message: message.into() }
    }
}

/// A dataset split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    /// The split of a file of a MIDI folder, from its path relative to the folder: the
    /// same file always lands in the same split, whatever else the folder holds.
    /// About 80 % train, 10 % valid, 10 % test.
    pub fn of_path(relative: &Path) -> Split {
        // FNV-1a over the path's bytes, with '/' as the separator on every platform.
        let text = relative.to_string_lossy().replace('\\', "/");
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        match hash % 10 {
            0 => Split::Test,
            1 => Split::Valid,
            _ => Split::Train,
        }
    }
}

impl std::str::FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Split::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown split {s:?}: expected train, valid or test"))
    }
}

/// File endings read as MIDI.
pub const MIDI_EXTENSIONS: [&str; 4] = ["mid", "midi", "rmi", "kar"];

/// Every MIDI file under `root`, recursively, sorted by path.
pub fn midi_files(root: &Path) -> Result<Vec<PathBuf>, crate::DataError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(crate::DataError::io(&dir))? {
            let path = entry.map_err(crate::DataError::io(&dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| MIDI_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_and_roughly_80_10_10() {
        let counts = (0..10_000).fold([0usize; 3], |mut c, i| {
            c[Split::of_path(Path::new(&format!("folk/tune_{i}.mid"))) as usize] += 1;
            c
        });
        assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
        assert!((800..1_200).contains(&counts[1]) && (800..1_200).contains(&counts[2]), "{counts:?}");
        assert_eq!(Split::of_path(Path::new("a/b.mid")), Split::of_path(Path::new("a\\b.mid")));
    }
}
