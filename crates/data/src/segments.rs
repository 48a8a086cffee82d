//! The GAN's training segments: a piece's piano-roll frames, or the one-hot melody tokens
//! of its top line, cut into segments of a fixed number of sixteenths.

use std::path::Path;

use fugato_midi::ReadOptions;
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::{Frame, PianoRoll};
use rayon::prelude::*;

use crate::folder::read_folder;
use crate::{DataError, Split, transpose};

/// Grid of the segments: sixteenth notes.
pub const STEPS_PER_QUARTER: u32 = 4;

/// A piece's frames cut into segments of `len`, one starting every `hop` frames from
/// its first note; segments with music in fewer than half their frames are left out.
pub fn cut_segments(frames: &[Frame], len: usize, hop: usize) -> Vec<Vec<Frame>> {
    let (len, hop) = (len.max(1), hop.max(1));
    let first = frames.iter().position(|&f| f != 0).unwrap_or(frames.len());
    let frames = &frames[first..];
    (0..frames.len().saturating_sub(len - 1))
        .step_by(hop)
        .map(|i| &frames[i..i + len])
        .filter(|s| s.iter().filter(|&&f| f != 0).count() * 2 >= len)
        .map(|s| s.to_vec())
        .collect()
}

/// Segments of `frames` sixteenths, one every `hop` frames, of the pieces of one split of a
/// MIDI folder: piano-roll frames (see [`cut_segments`]), or one-hot melody tokens of each
/// piece's top line where `melody` (see [`melody::cut`]).
pub fn from_folder(
    root: &Path,
    options: ReadOptions,
    split: Split,
    frames: usize,
    hop: usize,
    melody: bool,
) -> Result<Vec<Vec<Frame>>, DataError> {
    let pieces = read_folder(root, options, |s| s == split)?.pieces;
    let segments: Vec<Vec<Frame>> = pieces
        .par_iter()
        .flat_map_iter(|piece| {
            if melody {
                let tokens = fugato_repr::melody::encode(&piece.score).unwrap_or_default();
                melody::cut(&tokens, frames, hop)
            } else {
                PianoRoll::encode(&piece.score, STEPS_PER_QUARTER)
                    .map(|roll| cut_segments(&roll.frames(), frames, hop))
                    .unwrap_or_default()
            }
        })
        .collect();
    if segments.is_empty() {
        return Err(DataError::dataset(
            root,
            format!("no segments of {frames} frames with music in the {split:?} split"),
        ));
    }
    Ok(segments)
}

/// `segment` (piano-roll frames, or one-hot melody tokens where `melody`) moved by `shift`
/// semitones, or unmoved where a note would leave the keys.
pub fn transposed(segment: &[Frame], shift: i32, melody: bool) -> Vec<Frame> {
    let moved = if melody {
        let tokens: Vec<u16> = melody::tokens(segment).into_iter().map(|t| t as u16).collect();
        transpose::tokens(ReprKind::Melody, &tokens, 0, shift)
            .map(|t| t.into_iter().map(|t| melody::frame(t.into())).collect())
    } else {
        transpose::frames(segment, shift)
    };
    moved.unwrap_or_else(|| segment.to_vec())
}

/// Melody-token segments: one token per sixteenth (see [`fugato_repr::melody`]), held
/// one-hot in a [`Frame`] (bit `t` for token `t`), so the GAN's batching, sampling and
/// metrics carry them as they carry piano-roll frames.
pub mod melody {
    use fugato_repr::melody::{self, HOLD, REST, token_pitch};
    use fugato_repr::pianoroll::{Frame, LOWEST_PITCH};
    use fugato_score::Score;

    /// The one-hot frame of a token.
    pub fn frame(token: u32) -> Frame {
        1 << token
    }

    /// The tokens of one-hot frames (an empty frame, which sampling can leave, is HOLD).
    pub fn tokens(segment: &[Frame]) -> Vec<u32> {
        segment.iter().map(|&f| if f == 0 { HOLD } else { f.trailing_zeros() }).collect()
    }

    /// The key sounding at each step (0..88), or `None` in silence; a segment that opens on
    /// HOLD opens in silence, as [`melody::decode`] reads it.
    fn sounding_keys(tokens: &[u32]) -> Vec<Option<u32>> {
        let mut key = None;
        tokens
            .iter()
            .map(|&t| {
                match t {
                    HOLD => {}
                    REST => key = None,
                    t => key = token_pitch(t).map(|p| u32::from(p - LOWEST_PITCH)),
                }
                key
            })
            .collect()
    }

    /// Piano-roll frames of a segment (one key at most per frame), for the distance and the
    /// density of the metrics.
    pub fn sounding_frames(segment: &[Frame]) -> Vec<Frame> {
        sounding_keys(&tokens(segment)).iter().map(|k| k.map_or(0, |k| 1 << k)).collect()
    }

    /// The segment as a score at one tick per sixteenth.
    pub fn score(segment: &[Frame]) -> Score {
        melody::decode(&tokens(segment)).score
    }

    /// A piece's melody tokens cut into segments of `len`, one starting every `hop` steps
    /// from its first note; a segment that starts inside a note starts with that note's
    /// pitch (inside a silence, with REST); segments with a note sounding in fewer than half
    /// their steps are left out.
    pub fn cut(tokens: &[u32], len: usize, hop: usize) -> Vec<Vec<Frame>> {
        let (len, hop) = (len.max(1), hop.max(1));
        let keys = sounding_keys(tokens);
        let first = keys.iter().position(Option::is_some).unwrap_or(tokens.len());
        (first..tokens.len().saturating_sub(len - 1))
            .step_by(hop)
            .filter(|&i| keys[i..i + len].iter().filter(|k| k.is_some()).count() * 2 >= len)
            .map(|i| {
                let opening = match (tokens[i], keys[i]) {
                    (HOLD, Some(k)) => melody::pitch_token(LOWEST_PITCH + k as u8).expect("a key of the 88"),
                    (HOLD, None) => REST,
                    (t, _) => t,
                };
                std::iter::once(opening).chain(tokens[i + 1..i + len].iter().copied()).map(frame).collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use fugato_repr::melody::{HOLD, REST, pitch_token};
    use fugato_repr::pianoroll::LOWEST_PITCH;

    use super::melody::*;
    use super::*;

    fn p(pitch: u8) -> u32 {
        pitch_token(pitch).unwrap()
    }

    #[test]
    fn segments_open_on_the_note_or_silence_they_start_in() {
        // rest, C4 for 3 steps, rest 2, E4 for 4, C4 for 2
        let tune = [REST, p(60), HOLD, HOLD, REST, HOLD, p(64), HOLD, HOLD, HOLD, p(60), HOLD];
        let segments = cut(&tune, 4, 2);
        let as_tokens: Vec<Vec<u32>> = segments.iter().map(|s| tokens(s)).collect();
        assert_eq!(as_tokens[0], [p(60), HOLD, HOLD, REST], "from the first note");
        assert_eq!(as_tokens[1], [p(60), REST, HOLD, p(64)], "inside a note: its pitch");
        assert_eq!(as_tokens[2], [REST, p(64), HOLD, HOLD], "inside a silence: REST");
        assert_eq!(as_tokens[3], [p(64), HOLD, HOLD, p(60)]);
        assert_eq!(as_tokens.len(), 4, "{as_tokens:?}");
        // Windows with a note in fewer than half their steps are left out.
        assert!(cut(&[p(60), REST, HOLD, HOLD, HOLD, HOLD], 4, 1).is_empty());
    }

    #[test]
    fn transposition_moves_pitches_and_keeps_holds_and_rests() {
        let seg: Vec<Frame> = [p(60), HOLD, REST, p(62)].map(frame).to_vec();
        assert_eq!(tokens(&transposed(&seg, 3, true)), [p(63), HOLD, REST, p(65)]);
        let top: Vec<Frame> = [p(108), HOLD].map(frame).to_vec();
        assert_eq!(transposed(&top, 2, true), top, "C8 has no key above it");
    }

    #[test]
    fn sounding_keys_follow_holds_and_stop_at_rests() {
        let seg = [p(60), HOLD, REST, HOLD, p(62), HOLD];
        let frames: Vec<Frame> = seg.map(frame).to_vec();
        let key = |pitch: u8| 1 << (pitch - LOWEST_PITCH);
        assert_eq!(sounding_frames(&frames), [key(60), key(60), 0, 0, key(62), key(62)]);
        assert_eq!(score(&frames).n_notes(), 2);
    }
}
