//! Where a model's sequences come from: a piano-roll JSON file, a shards folder, or a MIDI
//! folder prepared into shards first.

use std::path::{Path, PathBuf};

use fugato_midi::ReadOptions;
use fugato_repr::{ReprKind, Vocabulary};
use serde::{Deserialize, Serialize};

use crate::sequences::SequenceSet;
use crate::{DataError, PolyphonicSet, PrepareConfig, Shards, ShardsMeta, Split, midi_files, prepare_midi};

/// What a model was trained on (kept in its checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub repr: ReprKind,
    pub steps_per_quarter: Option<u32>,
    pub vocabulary: Option<Vocabulary>,
    /// The style names a model with styles knows, in the order of its style ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub styles: Vec<String>,
    pub source: String,
    /// Parts were given the programs their names imply (`prepare --programs-from-names`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub programs_from_names: bool,
}

/// A dataset opened for training or evaluation.
// One per command, opened once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Dataset {
    Json(PolyphonicSet),
    Shards(Shards),
}

impl Dataset {
    /// Opens a piano-roll JSON file or a shards folder (a MIDI folder must be prepared
    /// first: [`prepare_folders`]).
    pub fn open(path: &Path) -> Result<Dataset, DataError> {
        if path.is_file() {
            return Ok(Dataset::Json(PolyphonicSet::load(path)?));
        }
        if path.join("meta.json").is_file() {
            return Ok(Dataset::Shards(Shards::open(path)?));
        }
        if !path.is_dir() {
            return Err(DataError::dataset(path, "no such file or folder"));
        }
        Err(DataError::dataset(path, "not a shards folder: run `fugato prepare` on it first"))
    }

    /// Whether `path` is a folder to prepare before it can be opened.
    pub fn needs_preparing(path: &Path) -> bool {
        path.is_dir() && !path.join("meta.json").is_file()
    }

    pub fn info(&self, path: &Path) -> DataInfo {
        match self {
            Dataset::Json(set) => DataInfo {
                repr: ReprKind::PianoRoll,
                steps_per_quarter: set.steps_per_quarter,
                vocabulary: None,
                styles: Vec::new(),
                source: path.display().to_string(),
                programs_from_names: false,
            },
            Dataset::Shards(s) => DataInfo {
                repr: s.meta.repr,
                steps_per_quarter: s.meta.steps_per_quarter,
                vocabulary: s.meta.vocabulary.clone(),
                styles: s.meta.styles.clone(),
                source: s.meta.source.clone(),
                programs_from_names: s.meta.programs_from_names.is_some(),
            },
        }
    }

    pub fn has(&self, split: Split) -> bool {
        match self {
            Dataset::Json(set) => set.split(split).is_some(),
            Dataset::Shards(s) => s.meta.splits.contains_key(&split),
        }
    }

    /// One split in memory (`path` names the data in the error where it lacks it).
    pub fn split(&self, split: Split, path: &Path) -> Result<SequenceSet, DataError> {
        let set = match self {
            Dataset::Json(set) => SequenceSet::from_polyphonic(set, split),
            Dataset::Shards(s) => SequenceSet::from_shards(s, split)?,
        };
        set.ok_or_else(|| DataError::dataset(path, format!("no {:?} split", split.name())))
    }
}

/// Encodes the MIDI files of `folders` into shards at `out`; `on_file` is called once per
/// file (for a progress bar). One folder is the root of its files' names; several are
/// named below the folder they share (e.g. essenFolksong/x.mid).
pub fn prepare_folders(
    folders: &[PathBuf],
    out: &Path,
    config: PrepareConfig,
    options: ReadOptions,
    on_file: &(dyn Fn() + Sync),
) -> Result<ShardsMeta, DataError> {
    let mut files = Vec::new();
    for folder in folders {
        let found = midi_files(folder)?;
        if found.is_empty() {
            return Err(DataError::dataset(folder, "no MIDI files (.mid, .midi, .rmi, .kar) in this folder"));
        }
        files.extend(found);
    }
    let root = names_root(folders);
    let source: Vec<String> = folders.iter().map(|f| f.display().to_string()).collect();
    let load = move |path: &Path| crate::folder::read_piece(path, options);
    Ok(prepare_midi(&root, &source.join(", "), &files, &load, config, out, on_file)?.meta)
}

/// The folder files are named below, and split by, when `folders` are prepared together:
/// one folder is its own root; several are named below the folder they share. A model's
/// validation pieces are those of `Split::Valid` under this root.
pub fn names_root(folders: &[PathBuf]) -> PathBuf {
    match folders {
        [one] => one.clone(),
        _ => common_parent(folders),
    }
}

/// The deepest folder that holds all of `folders`.
fn common_parent(folders: &[PathBuf]) -> PathBuf {
    let first = folders[0].parent().unwrap_or(Path::new(""));
    first.ancestors().find(|a| folders.iter().all(|f| f.starts_with(a))).unwrap_or(Path::new("")).to_path_buf()
}
