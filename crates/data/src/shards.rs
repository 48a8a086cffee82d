//! The prepared form of a dataset, nanoGPT style: per split a flat little-endian array
//! of items (`{split}.bin`), the item offsets of its sequences (`{split}.idx`, u64, one
//! more than the sequences), and `meta.json`. Piano-roll items are 16-byte frames
//! (bit i = MIDI pitch 21 + i), with onsets in `{split}.onsets.bin` when the source had
//! them; token items are u16 ids of the vocabulary in `meta.json`. Data prepared with
//! styles also has `{split}.styles.json`: each sequence's style, an index into the
//! `styles` of `meta.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fugato_repr::pianoroll::Frame;
use fugato_repr::{ReprKind, Vocabulary};
use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::{Skipped, Split};

pub const FORMAT: &str = "fugato-shards";
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardsMeta {
    pub format: String,
    pub version: u32,
    pub repr: ReprKind,
    /// The grid of piano-roll frames (steps per quarter note), where known.
    pub steps_per_quarter: Option<u32>,
    pub vocabulary: Option<Vocabulary>,
    /// The style names, when sequences carry styles (see [`super::styles`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub styles: Vec<String>,
    /// What the data came from, as given to `prepare`.
    pub source: String,
    pub splits: BTreeMap<Split, SplitMeta>,
    pub files_read: usize,
    pub files_skipped: usize,
    pub skipped: Vec<Skipped>,
    /// Prepared with parts given the programs their names imply: how many parts were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programs_from_names: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMeta {
    pub sequences: usize,
    pub items: usize,
    pub has_onsets: bool,
}

/// Sequences stored back to back: sequence `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequences<T> {
    pub offsets: Vec<usize>,
    pub data: Vec<T>,
}

impl<T> Default for Sequences<T> {
    fn default() -> Self {
        Sequences { offsets: vec![0], data: Vec::new() }
    }
}

impl<T: Copy> Sequences<T> {
    pub fn push(&mut self, seq: &[T]) {
        self.data.extend_from_slice(seq);
        self.offsets.push(self.data.len());
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[T] {
        &self.data[self.offsets[i]..self.offsets[i + 1]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[T]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An opened shards folder.
#[derive(Clone, Debug)]
pub struct Shards {
    pub dir: PathBuf,
    pub meta: ShardsMeta,
}

impl Shards {
    pub fn open(dir: &Path) -> Result<Shards, DataError> {
        let path = dir.join("meta.json");
        let meta: ShardsMeta = read_json(&path)?;
        if meta.format != FORMAT || meta.version != VERSION {
            return Err(DataError::dataset(
                &path,
                format!("not {FORMAT} version {VERSION} (found {} version {})", meta.format, meta.version),
            ));
        }
        Ok(Shards { dir: dir.to_path_buf(), meta })
    }

    pub fn frames(&self, split: Split) -> Result<Sequences<Frame>, DataError> {
        self.read(split, "bin", 16, |b| u128::from_le_bytes(b.try_into().expect("16 bytes")))
    }

    pub fn onsets(&self, split: Split) -> Result<Sequences<Frame>, DataError> {
        self.read(split, "onsets.bin", 16, |b| u128::from_le_bytes(b.try_into().expect("16 bytes")))
    }

    pub fn tokens(&self, split: Split) -> Result<Sequences<u16>, DataError> {
        self.read(split, "bin", 2, |b| u16::from_le_bytes(b.try_into().expect("2 bytes")))
    }

    /// Each sequence's style (an index into `meta.styles`), if the data has styles.
    pub fn styles(&self, split: Split) -> Result<Option<Vec<u16>>, DataError> {
        if self.meta.styles.is_empty() {
            return Ok(None);
        }
        let path = self.dir.join(format!("{}.styles.json", split.name()));
        let styles: Vec<u16> = read_json(&path)?;
        let expected = self.meta.splits.get(&split).map_or(0, |s| s.sequences);
        if styles.len() != expected {
            return Err(DataError::dataset(&path, format!("{} styles for {expected} sequences", styles.len())));
        }
        if let Some(bad) = styles.iter().find(|&&s| usize::from(s) >= self.meta.styles.len()) {
            return Err(DataError::dataset(&path, format!("style {bad} of only {}", self.meta.styles.len())));
        }
        Ok(Some(styles))
    }

    fn read<T>(
        &self,
        split: Split,
        ext: &str,
        width: usize,
        decode: impl Fn(&[u8]) -> T,
    ) -> Result<Sequences<T>, DataError> {
        let idx_path = self.dir.join(format!("{}.idx", split.name()));
        let bin_path = self.dir.join(format!("{}.{ext}", split.name()));
        let idx = std::fs::read(&idx_path).map_err(DataError::io(&idx_path))?;
        let bin = std::fs::read(&bin_path).map_err(DataError::io(&bin_path))?;
        if idx.len() % 8 != 0 || bin.len() % width != 0 {
            return Err(DataError::dataset(&bin_path, "truncated shard"));
        }
        let offsets: Vec<usize> =
            idx.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize).collect();
        let data: Vec<T> = bin.chunks_exact(width).map(decode).collect();
        let sorted = offsets.windows(2).all(|w| w[0] <= w[1]);
        if offsets.first() != Some(&0) || offsets.last() != Some(&data.len()) || !sorted {
            return Err(DataError::dataset(&idx_path, "index does not match its shard"));
        }
        Ok(Sequences { offsets, data })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    let text = std::fs::read_to_string(path).map_err(DataError::io(path))?;
    serde_json::from_str(&text).map_err(|e| DataError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

pub fn index_bytes(offsets: &[usize]) -> Vec<u8> {
    offsets.iter().flat_map(|&o| (o as u64).to_le_bytes()).collect()
}

pub fn frame_bytes(frames: &[Frame]) -> Vec<u8> {
    frames.iter().flat_map(|f| f.to_le_bytes()).collect()
}

pub fn token_bytes(tokens: &[u16]) -> Vec<u8> {
    tokens.iter().flat_map(|t| t.to_le_bytes()).collect()
}
