//! Melody-token segments for the GAN: one token per sixteenth (see
//! [`fugato_repr::melody`]), held one-hot in a [`Frame`] (bit `t` for token `t`), so the
//! GAN's batching, sampling and metrics carry them as they carry piano-roll frames.

use burn::tensor::Tensor;
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

/// `segment` moved by `shift` semitones, or unmoved where a note would leave the keys.
pub fn transposed(segment: &[Frame], shift: i32) -> Vec<Frame> {
    let tokens = tokens(segment);
    let moved: Option<Vec<u32>> = tokens
        .iter()
        .map(|&t| match token_pitch(t) {
            None => Some(t),
            Some(p) => melody::pitch_token(u8::try_from(i32::from(p) + shift).ok()?),
        })
        .collect();
    match moved {
        Some(moved) => moved.into_iter().map(frame).collect(),
        None => segment.to_vec(),
    }
}

/// The keys sounding under one-hot (or soft) melody tokens `[batch, frames, tokens]`, in
/// the tokens' own columns (HOLD's and REST's stay 0): a pitch token sounds its key, HOLD
/// carries the frame before, REST silences. Differentiable, for the discriminator.
pub fn sounding(x: Tensor<3>) -> Tensor<3> {
    let [batch, frames, width] = x.dims();
    let first = melody::pitch_token(LOWEST_PITCH).expect("the lowest key") as usize;
    let hold = x.clone().narrow(2, HOLD as usize, 1); // [batch, frames, 1]
    let pitches = x.clone().narrow(2, first, width - first);
    let mut now = pitches.clone().narrow(1, 0, 1);
    let mut rows = vec![now.clone()];
    for t in 1..frames {
        now = pitches.clone().narrow(1, t, 1) + hold.clone().narrow(1, t, 1) * now;
        rows.push(now.clone());
    }
    Tensor::cat(vec![x.zeros_like().narrow(2, 0, first), Tensor::cat(rows, 1)], 2).reshape([batch, frames, width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn p(pitch: u8) -> u32 {
        melody::pitch_token(pitch).unwrap()
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
        assert_eq!(tokens(&transposed(&seg, 3)), [p(63), HOLD, REST, p(65)]);
        let top: Vec<Frame> = [p(108), HOLD].map(frame).to_vec();
        assert_eq!(transposed(&top, 2), top, "C8 has no key above it");
    }

    #[test]
    fn sounding_keys_follow_holds_and_stop_at_rests() {
        let seg = [p(60), HOLD, REST, HOLD, p(62), HOLD];
        let frames: Vec<Frame> = seg.map(frame).to_vec();
        let key = |pitch: u8| 1 << (pitch - LOWEST_PITCH);
        assert_eq!(sounding_frames(&frames), [key(60), key(60), 0, 0, key(62), key(62)]);
        // The tensor form agrees, in the tokens' columns.
        let width = melody::VOCAB_SIZE as usize;
        let one_hot: Vec<f32> =
            seg.iter().flat_map(|&t| (0..width).map(move |c| f32::from(u8::from(c == t as usize)))).collect();
        let device = Device::flex();
        let x = Tensor::<3>::from_data(TensorData::new(one_hot, [1, seg.len(), width]), &device);
        let s: Vec<f32> = sounding(x).into_data().try_to_vec::<f32>().unwrap();
        for (t, f) in sounding_frames(&frames).iter().enumerate() {
            let row = &s[t * width..(t + 1) * width];
            let on: Vec<usize> = (0..width).filter(|&c| row[c] > 0.5).collect();
            let want: Vec<usize> = (0..88).filter(|&k| f >> k & 1 == 1).map(|k| k + 2).collect();
            assert_eq!(on, want, "step {t}");
        }
        assert_eq!(score(&frames).n_notes(), 2);
    }
}
