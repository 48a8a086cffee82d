//! Encode a dataset once, in parallel, into shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fugato_repr::pianoroll::{Frame, PianoRoll};
use fugato_repr::{ReprError, ReprKind};
use fugato_score::Score;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::shards::{FORMAT, ShardsMeta, SplitMeta, VERSION, frame_bytes, index_bytes, token_bytes};
use crate::{DataError, staging};
use crate::{PolyphonicSet, Sequences, Split};

/// How many skipped files `meta.json` names (all are counted).
const MAX_SKIPPED_LISTED: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrepareConfig {
    pub repr: ReprKind,
    /// Grid of the piano-roll (for MIDI sources) and of the frames of a benchmark file
    /// turned into tokens.
    pub steps_per_quarter: u32,
    /// Label each piece of a MIDI folder with its style ([`super::styles`]).
    pub styles: bool,
    /// Give parts that say program 0 the program their names imply
    /// ([`fugato_score::gm::program_for_part`]: strings, voices as choir).
    pub programs_from_names: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub file: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrepareSummary {
    pub meta: ShardsMeta,
}

/// Per split: items, onsets (piano-roll from MIDI only) and each sequence's source name.
#[derive(Default)]
struct SplitData {
    frames: Sequences<Frame>,
    onsets: Sequences<Frame>,
    tokens: Sequences<u16>,
    sources: Vec<String>,
    styles: Vec<String>,
}

enum Encoded {
    Roll { frames: Vec<Frame>, onsets: Option<Vec<Frame>> },
    Tokens(Vec<u16>),
}

fn encode(score: &Score, config: PrepareConfig) -> Result<Encoded, ReprError> {
    match config.repr {
        ReprKind::PianoRoll => {
            let roll = PianoRoll::encode(score, config.steps_per_quarter)?;
            Ok(Encoded::Roll { frames: roll.frames(), onsets: Some(roll.onset_frames()) })
        }
        kind => {
            let tokens = kind.encode_tokens(score).expect("token representation")?;
            // Every vocabulary is far below 65,536 tokens.
            Ok(Encoded::Tokens(tokens.into_iter().map(|t| t as u16).collect()))
        }
    }
}

/// Encodes MIDI files under `root` (`source` says where they came from, for `meta.json`):
/// each goes to the split [`Split::of_path`] gives its path relative to `root`. Files that `load` refuses, or that hold no notes, are
/// skipped and counted. `on_file` is called once per file (for a progress bar).
/// With `config.styles`, each piece also gets its style.
pub fn prepare_midi(
    root: &Path,
    source: &str,
    files: &[PathBuf],
    load: &(dyn Fn(&Path) -> Result<Score, String> + Sync),
    config: PrepareConfig,
    out: &Path,
    on_file: &(dyn Fn() + Sync),
) -> Result<PrepareSummary, DataError> {
    if config.styles && config.repr == ReprKind::PianoRoll {
        return Err(DataError::Options("styles are for token representations (melody, remi, performance)".into()));
    }
    // Each file's path, name and split, and its encoding with the parts named, or why not.
    type Outcome = (PathBuf, String, Split, Result<(Encoded, usize), String>);
    let results: Vec<Outcome> = files
        .par_iter()
        .map(|path| {
            let relative = path.strip_prefix(root).unwrap_or(path);
            let name = relative.to_string_lossy().replace('\\', "/");
            let result = load(path).and_then(|mut score| {
                if score.n_notes() == 0 {
                    return Err("no notes".to_string());
                }
                let named =
                    if config.programs_from_names { fugato_score::gm::programs_from_part_names(&mut score) } else { 0 };
                encode(&score, config).map(|e| (e, named)).map_err(|e| e.to_string())
            });
            on_file();
            (path.clone(), name, Split::of_path(relative), result)
        })
        .collect();

    let mut book = crate::styles::StyleBook::default();

    let mut splits: BTreeMap<Split, SplitData> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut files_skipped = 0;
    let mut named = 0;
    for (path, name, split, result) in results {
        match result {
            Ok((encoded, parts)) => {
                named += parts;
                let data = splits.entry(split).or_default();
                if config.styles {
                    data.styles.push(book.style(&path)?);
                }
                add(data, name, encoded)
            }
            Err(error) => {
                files_skipped += 1;
                if skipped.len() < MAX_SKIPPED_LISTED {
                    skipped.push(Skipped { file: name, error });
                }
            }
        }
    }
    let counts = Counts { files_read: files.len() - files_skipped, files_skipped, named };
    write(out, config, source.to_string(), splits, counts, skipped)
}

/// What a preparation counted: files read and skipped, parts given programs by name.
struct Counts {
    files_read: usize,
    files_skipped: usize,
    named: usize,
}

/// Encodes a piano-roll benchmark file. Frames stay as they are for the piano-roll; for
/// token representations each sequence becomes a score on a grid of
/// `config.steps_per_quarter` frames per quarter note first.
pub fn prepare_polyphonic(
    set: &PolyphonicSet,
    source: &str,
    config: PrepareConfig,
    out: &Path,
) -> Result<PrepareSummary, DataError> {
    let mut splits: BTreeMap<Split, SplitData> = BTreeMap::new();
    for (&split, seqs) in &set.splits {
        let data = splits.entry(split).or_default();
        for (i, frames) in seqs.iter().enumerate() {
            let name = format!("{source}#{}/{i}", split.name());
            let encoded = match config.repr {
                ReprKind::PianoRoll => Encoded::Roll { frames: frames.clone(), onsets: None },
                _ => encode(&PianoRoll::from_frames(frames, config.steps_per_quarter)?.decode()?, config)?,
            };
            add(data, name, encoded);
        }
    }
    let steps = (config.repr != ReprKind::PianoRoll).then_some(config.steps_per_quarter);
    let n = set.splits.values().map(Vec::len).sum();
    let counts = Counts { files_read: n, files_skipped: 0, named: 0 };
    let mut summary = write(out, config, source.to_string(), splits, counts, Vec::new())?;
    summary.meta.steps_per_quarter = steps;
    Ok(summary)
}

fn add(data: &mut SplitData, name: String, encoded: Encoded) {
    match encoded {
        Encoded::Roll { frames, onsets } => {
            data.frames.push(&frames);
            if let Some(onsets) = onsets {
                data.onsets.push(&onsets);
            }
        }
        Encoded::Tokens(tokens) => data.tokens.push(&tokens),
    }
    data.sources.push(name);
}

/// Writes the shards into a fresh folder next to `out`, then moves it into place, so
/// `out` is never left half written. An existing `out` is replaced only if it holds shards.
fn write(
    out: &Path,
    config: PrepareConfig,
    source: String,
    splits: BTreeMap<Split, SplitData>,
    counts: Counts,
    skipped: Vec<Skipped>,
) -> Result<PrepareSummary, DataError> {
    if out.exists() && !out.join("meta.json").is_file() {
        let empty = out.read_dir().map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Err(DataError::dataset(out, "exists and holds something other than shards; choose another --out"));
        }
    }
    let tmp = staging::stage(out, ".fugato-prepare-")?;
    let put = |name: String, bytes: &[u8]| staging::put(&tmp, &name, bytes);

    let mut styles: Vec<String> = splits.values().flat_map(|d| d.styles.iter().cloned()).collect();
    styles.sort();
    styles.dedup();
    let mut split_meta = BTreeMap::new();
    for (split, data) in &splits {
        let s = split.name();
        let is_roll = config.repr == ReprKind::PianoRoll;
        let (offsets, items) = if is_roll {
            put(format!("{s}.bin"), &frame_bytes(&data.frames.data))?;
            (&data.frames.offsets, data.frames.data.len())
        } else {
            put(format!("{s}.bin"), &token_bytes(&data.tokens.data))?;
            (&data.tokens.offsets, data.tokens.data.len())
        };
        put(format!("{s}.idx"), &index_bytes(offsets))?;
        let has_onsets = is_roll && data.onsets.len() == data.frames.len() && !data.onsets.is_empty();
        if has_onsets {
            put(format!("{s}.onsets.bin"), &frame_bytes(&data.onsets.data))?;
        }
        put(format!("{s}.sources.json"), serde_json::to_string_pretty(&data.sources).expect("strings").as_bytes())?;
        if !styles.is_empty() {
            let ids: Vec<u16> =
                data.styles.iter().map(|x| styles.binary_search(x).expect("a style of the list") as u16).collect();
            put(format!("{s}.styles.json"), serde_json::to_string(&ids).expect("numbers").as_bytes())?;
        }
        split_meta.insert(*split, SplitMeta { sequences: offsets.len() - 1, items, has_onsets });
    }
    let meta = ShardsMeta {
        format: FORMAT.to_string(),
        version: VERSION,
        repr: config.repr,
        steps_per_quarter: Some(config.steps_per_quarter),
        vocabulary: config.repr.vocabulary(),
        styles,
        source,
        splits: split_meta,
        files_read: counts.files_read,
        files_skipped: counts.files_skipped,
        skipped,
        programs_from_names: config.programs_from_names.then_some(counts.named),
    };
    put("meta.json".into(), serde_json::to_string_pretty(&meta).expect("plain data").as_bytes())?;

    staging::commit(tmp, out)?;
    Ok(PrepareSummary { meta })
}
