//! The one loader of MIDI folders: every file below a folder, read in parallel, each with
//! its name below the folder and its split; a file that cannot be read is skipped and
//! listed, never the end of the whole folder.

use std::path::{Path, PathBuf};

use fugato_midi::ReadOptions;
use fugato_score::Score;
use rayon::prelude::*;

use crate::{DataError, Skipped, Split, midi_files};

/// A piece of a MIDI folder.
#[derive(Clone, Debug)]
pub struct Piece {
    /// Its path below the folder, with `/` between names.
    pub name: String,
    pub split: Split,
    pub score: Score,
}

/// The pieces of a folder, and the files that could not be read.
#[derive(Clone, Debug, Default)]
pub struct Pieces {
    pub pieces: Vec<Piece>,
    pub skipped: Vec<Skipped>,
}

/// A file's name below `root` (`/` between names) and its split.
pub fn name_and_split(root: &Path, path: &Path) -> (String, Split) {
    let relative = path.strip_prefix(root).unwrap_or(path);
    (relative.to_string_lossy().replace('\\', "/"), Split::of_path(relative))
}

/// Reads one file of a folder: its score, or why it cannot serve (unreadable, or no notes).
pub fn read_piece(path: &Path, options: ReadOptions) -> Result<Score, String> {
    let score = fugato_midi::read_file(path, options).map_err(|e| e.to_string())?.score;
    if score.n_notes() == 0 {
        return Err("no notes".into());
    }
    Ok(score)
}

/// Every MIDI file below `root` whose split `wanted` accepts, read in parallel with
/// `options` and in the order of their paths.
pub fn read_folder(
    root: &Path,
    options: ReadOptions,
    wanted: impl Fn(Split) -> bool + Sync,
) -> Result<Pieces, DataError> {
    if !root.is_dir() {
        return Err(DataError::dataset(root, "not a folder of MIDI files"));
    }
    let files: Vec<PathBuf> = midi_files(root)?;
    let read: Vec<(String, Split, Result<Score, String>)> = files
        .par_iter()
        .filter_map(|path| {
            let (name, split) = name_and_split(root, path);
            wanted(split).then(|| (name, split, read_piece(path, options)))
        })
        .collect();
    let mut out = Pieces::default();
    for (name, split, result) in read {
        match result {
            Ok(score) => out.pieces.push(Piece { name, split, score }),
            Err(error) => out.skipped.push(Skipped { file: name, error }),
        }
    }
    if out.pieces.is_empty() {
        return Err(DataError::dataset(root, "no readable MIDI files with notes (in the splits asked for)"));
    }
    Ok(out)
}
