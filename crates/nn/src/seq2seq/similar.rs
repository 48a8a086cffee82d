//! Music embeddings and `similar`: a piece's top line, moved to the tonic C (so a
//! transposed copy reads the same), is cut into four-bar windows; the encoder's fixed
//! vectors of the windows are averaged and scaled to unit length. Pieces are compared by
//! cosine similarity (after taking away the index's mean vector), against an index of a
//! folder built once and brought up to date as files come, change or go.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Int, Tensor, TensorData};
use fugato_repr::melody;
use fugato_score::{Score, estimate_key};
use serde::{Deserialize, Serialize};

use super::Seq2Seq;
use crate::NnError;
use fugato_data::lines::{self as data, transpose_line};

/// Steps per window: four bars of 4/4 on the sixteenth grid.
pub const WINDOW: usize = 64;
pub const INDEX_FORMAT: &str = "fugato-similar-index";
pub const INDEX_VERSION: u32 = 1;
/// The index file's name inside the folder it indexes.
pub const INDEX_FILE: &str = ".fugato-similar.index";

/// The unit-length embedding of a piece, or `None` when nothing in it sounds.
pub fn embed(model: &Seq2Seq, score: &Score, device: &Device) -> Result<Option<Vec<f32>>, NnError> {
    let n = data::steps(score);
    let Some(key) = estimate_key(score) else { return Ok(None) };
    if n == 0 {
        return Ok(None);
    }
    let mut whole = score.clone();
    whole.end_tick = whole.last_note_end_tick();
    let tokens: Vec<u16> = melody::encode(&whole)?.into_iter().map(|t| t as u16).take(n).collect();
    // Tonic to C, in the octave that brings the line's mean pitch nearest F#4: a
    // transposed copy lands on exactly the same tokens.
    let pitches: Vec<f64> = tokens.iter().filter_map(|&t| melody::token_pitch(u32::from(t))).map(f64::from).collect();
    let mean = pitches.iter().sum::<f64>() / pitches.len().max(1) as f64;
    let up = (12 - i32::from(key.tonic_pitch_class())) % 12;
    let mut shifts: Vec<i32> = (-4..=4).map(|k| up + 12 * k).collect();
    shifts.sort_by(|a, b| (mean + f64::from(*a) - 66.0).abs().total_cmp(&(mean + f64::from(*b) - 66.0).abs()));
    let tokens = shifts.iter().find_map(|&s| transpose_line(&tokens, s)).unwrap_or(tokens);
    let positions = data::bar_positions(score, tokens.len());
    let mut sum: Vec<f32> = Vec::new();
    let full = tokens.len() / WINDOW;
    let mut groups: Vec<(usize, usize, usize)> = Vec::new(); // (start, windows, length)
    if full > 0 {
        groups.push((0, full, WINDOW));
    }
    let rest = tokens.len() - full * WINDOW;
    if rest >= WINDOW / 4 || full == 0 {
        groups.push((full * WINDOW, 1, rest));
    }
    for (start, count, len) in groups {
        let ids = |v: &[u16]| -> Tensor<2, Int> {
            let flat: Vec<i64> = v[start..start + count * len].iter().map(|&x| i64::from(x)).collect();
            Tensor::from_data(TensorData::new(flat, [count, len]), device)
        };
        let vectors = model.encode(ids(&tokens), ids(&positions)).vector.sum_dim(0); // [1, 2h]
        let v: Vec<f32> = vectors.into_data().try_to_vec::<f32>().expect("f32 vector");
        if sum.is_empty() {
            sum = v;
        } else {
            sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    Ok(Some(sum.into_iter().map(|x| x / norm).collect()))
}

/// One indexed file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Path below the indexed folder, with `/` separators.
    pub path: String,
    pub bytes: u64,
    /// Modification time, seconds since the epoch.
    pub modified: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    /// The model whose encoder made the vectors.
    model: String,
    dim: usize,
    entries: Vec<Entry>,
}

/// Embeddings of the pieces of a folder.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub model: String,
    pub dim: usize,
    pub entries: Vec<Entry>,
    /// `entries.len() × dim` values, row by row.
    pub vectors: Vec<f32>,
}

/// What [`Index::update`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub kept: usize,
    pub embedded: usize,
    /// Files that could not be read or held no notes (not indexed).
    pub skipped: usize,
    pub removed: usize,
}

impl Index {
    pub fn new(model: &str, dim: usize) -> Index {
        Index { model: model.to_string(), dim, entries: Vec::new(), vectors: Vec::new() }
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Reads an index file: a JSON header line, then the vectors as little-endian f32.
    pub fn read(path: &Path) -> Result<Index, NnError> {
        let bytes = std::fs::read(path).map_err(NnError::io(path))?;
        let end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| NnError::dataset(path, "not a fugato index: no header line"))?;
        let header: Header = serde_json::from_slice(&bytes[..end])
            .map_err(|e| NnError::dataset(path, format!("not a fugato index: {e}")))?;
        if header.format != INDEX_FORMAT || header.version != INDEX_VERSION {
            return Err(NnError::dataset(path, format!("not a {INDEX_FORMAT} version {INDEX_VERSION} file")));
        }
        let body = &bytes[end + 1..];
        if body.len() != header.entries.len() * header.dim * 4 {
            return Err(NnError::dataset(path, "truncated: the vectors do not match the header"));
        }
        let vectors = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(Index { model: header.model, dim: header.dim, entries: header.entries, vectors })
    }

    /// Writes the index to a temporary file beside `path`, then renames it into place.
    pub fn write(&self, path: &Path) -> Result<(), NnError> {
        let header = Header {
            format: INDEX_FORMAT.into(),
            version: INDEX_VERSION,
            model: self.model.clone(),
            dim: self.dim,
            entries: self.entries.clone(),
        };
        let mut body = serde_json::to_vec(&header).expect("plain data");
        body.push(b'\n');
        body.extend(self.vectors.iter().flat_map(|v| v.to_le_bytes()));
        Ok(fugato_data::staging::write_file(path, &body)?)
    }

    /// Brings the index up to date with `files` (paths below `root`): keeps the vectors
    /// of unchanged files, embeds new and changed ones with `embed_file`, and drops the
    /// rest. `embed_file` gives `Ok(None)` for a file with nothing to embed.
    pub fn update(
        &mut self,
        root: &Path,
        files: &[PathBuf],
        embed_file: impl Fn(&Path) -> Result<Option<Vec<f32>>, String> + Sync,
        on_file: impl Fn() + Sync,
    ) -> Update {
        use rayon::prelude::*;
        let old: HashMap<&str, usize> = self.entries.iter().enumerate().map(|(i, e)| (e.path.as_str(), i)).collect();
        // Per file: its entry, its vector (or why there is none), and whether it was kept.
        type Outcome = (Entry, Result<Option<Vec<f32>>, String>, bool);
        let results: Vec<Outcome> = files
            .par_iter()
            .map(|file| {
                let meta = std::fs::metadata(file).ok();
                let entry = Entry {
                    path: file.strip_prefix(root).unwrap_or(file).to_string_lossy().replace('\\', "/"),
                    bytes: meta.as_ref().map_or(0, |m| m.len()),
                    modified: meta
                        .and_then(|m| m.modified().ok())
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs()),
                };
                let kept = old.get(entry.path.as_str()).map(|&i| (i, &self.entries[i])).filter(|(_, e)| **e == entry);
                let out = match kept {
                    Some((i, _)) => (entry, Ok(Some(self.vector(i).to_vec())), true),
                    None => {
                        let v = embed_file(file);
                        (entry, v, false)
                    }
                };
                on_file();
                out
            })
            .collect();
        let mut update = Update::default();
        let (mut entries, mut vectors) = (Vec::new(), Vec::new());
        for (entry, vector, kept) in results {
            match vector {
                Ok(Some(v)) if v.len() == self.dim => {
                    if kept {
                        update.kept += 1;
                    } else {
                        update.embedded += 1;
                    }
                    entries.push(entry);
                    vectors.extend(v);
                }
                _ => update.skipped += 1,
            }
        }
        update.removed = self.entries.len().saturating_sub(update.kept);
        self.entries = entries;
        self.vectors = vectors;
        update
    }

    /// The mean of the indexed vectors.
    pub fn mean(&self) -> Vec<f32> {
        let mut mean = vec![0f32; self.dim];
        for i in 0..self.entries.len() {
            mean.iter_mut().zip(self.vector(i)).for_each(|(m, x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= self.entries.len().max(1) as f32);
        mean
    }

    /// The `k` entries most similar to `query`, best first: the cosine of the vectors
    /// after the index's mean is taken from both (what every piece shares says nothing
    /// about which pieces are alike).
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(&Entry, f32)> {
        let mean = self.mean();
        let centred = |v: &[f32]| -> Vec<f32> {
            let c: Vec<f32> = v.iter().zip(&mean).map(|(x, m)| x - m).collect();
            let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            c.into_iter().map(|x| x / norm).collect()
        };
        let q = centred(query);
        let mut scored: Vec<(&Entry, f32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e, centred(self.vector(i)).iter().zip(&q).map(|(a, b)| a * b).sum::<f32>()))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.path.cmp(&b.0.path)));
        scored.truncate(k);
        scored
    }
}
