//! Where training and evaluation data come from: a piano-roll JSON file, a shards folder,
//! or (for training) a MIDI folder prepared first.

use std::path::Path;

use anyhow::{Context, bail};
use fugato_midi::ReadOptions;
use fugato_nn::batch::SequenceSet;
use fugato_nn::checkpoint::DataInfo;
use fugato_nn::data::{PolyphonicSet, PrepareConfig, Shards, Split};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::DEFAULT_STEPS_PER_QUARTER;

/// A dataset opened for training or evaluation.
pub enum Dataset {
    Json(PolyphonicSet),
    Shards(Shards),
}

impl Dataset {
    /// Opens `path`; a MIDI folder is prepared into `prepare_into` with `repr` first
    /// (when given; evaluation does not prepare).
    pub fn open(path: &Path, prepare_into: Option<(&Path, ReprKind)>) -> anyhow::Result<Dataset> {
        if path.is_file() {
            return Ok(Dataset::Json(PolyphonicSet::load(path)?));
        }
        if path.join("meta.json").is_file() {
            return Ok(Dataset::Shards(Shards::open(path)?));
        }
        if !path.is_dir() {
            bail!("{}: no such file or folder", path.display());
        }
        let Some((out, repr)) = prepare_into else {
            bail!("{}: not a shards folder: run `fugato prepare` on it first", path.display());
        };
        let config = PrepareConfig { repr, steps_per_quarter: DEFAULT_STEPS_PER_QUARTER, styles: false };
        crate::prepare::prepare_midi_folders(&[path.to_path_buf()], out, config, ReadOptions::default())?;
        Ok(Dataset::Shards(Shards::open(out)?))
    }

    pub fn info(&self, path: &Path) -> DataInfo {
        match self {
            Dataset::Json(set) => DataInfo {
                repr: ReprKind::PianoRoll,
                steps_per_quarter: set.steps_per_quarter,
                vocabulary: None,
                styles: Vec::new(),
                source: path.display().to_string(),
            },
            Dataset::Shards(s) => DataInfo {
                repr: s.meta.repr,
                steps_per_quarter: s.meta.steps_per_quarter,
                vocabulary: s.meta.vocabulary.clone(),
                styles: s.meta.styles.clone(),
                source: s.meta.source.clone(),
            },
        }
    }

    pub fn has(&self, split: Split) -> bool {
        match self {
            Dataset::Json(set) => set.split(split).is_some(),
            Dataset::Shards(s) => s.meta.splits.contains_key(&split),
        }
    }

    pub fn split(&self, split: Split, path: &Path) -> anyhow::Result<SequenceSet> {
        let set = match self {
            Dataset::Json(set) => SequenceSet::from_polyphonic(set, split),
            Dataset::Shards(s) => SequenceSet::from_shards(s, split)?,
        };
        set.with_context(|| format!("{}: no {:?} split", path.display(), split.name()))
    }
}
