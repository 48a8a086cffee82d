//! Transposition augmentation, the one implementation every model family trains with: a
//! window of music moved by a random number of semitones, or left where it is when a note
//! would leave the range its representation holds.

use fugato_repr::ReprKind;
use fugato_repr::pianoroll::{Frame, N_KEYS};
use rand::Rng;

/// A shift in −`max`..=`max` semitones, uniformly (0 without drawing when `max` is 0).
pub fn draw(rng: &mut impl Rng, max: u32) -> i32 {
    let max = max as i32;
    if max > 0 { rng.random_range(-max..=max) } else { 0 }
}

/// Piano-roll frames moved by `shift` semitones, or `None` where a note would leave the
/// 88 keys.
pub fn frames(frames: &[Frame], shift: i32) -> Option<Vec<Frame>> {
    frames.iter().map(|&f| frame(f, shift)).collect()
}

/// One frame moved by `shift` semitones, or `None` where a note would leave the 88 keys.
pub fn frame(frame: Frame, shift: i32) -> Option<Frame> {
    let keys = (1u128 << N_KEYS) - 1;
    let moved = match shift {
        0 => frame,
        s if s > 0 => frame << s,
        s => frame >> -s,
    };
    let back = match shift {
        s if s > 0 => moved >> s,
        s => moved << -s,
    };
    (moved & !keys == 0 && back == frame).then_some(moved)
}

/// Tokens of `repr` from `context` on, moved by `shift` semitones, or `None` where a note
/// would leave the representation's range. The `context` tokens before them (at most
/// [`fugato_repr::TRANSPOSE_CONTEXT`]) say which part a window's first notes belong to and
/// are not returned.
pub fn tokens(repr: ReprKind, tokens: &[u16], context: usize, shift: i32) -> Option<Vec<u16>> {
    let wide: Vec<u32> = tokens.iter().map(|&t| u32::from(t)).collect();
    // Every vocabulary is far below 65,536 tokens.
    Some(repr.transpose_tokens(&wide, context, shift)?.into_iter().map(|t| t as u16).collect())
}

/// Moves each of `items` by its own random shift in ±`max` where `moved(item, shift)`
/// allows it (else leaves it), drawing a shift for every item in order.
pub fn each<T>(items: &mut [T], max: u32, rng: &mut impl Rng, moved: impl Fn(&T, i32) -> Option<T>) {
    for item in items.iter_mut() {
        let shift = draw(rng, max);
        if shift != 0
            && let Some(m) = moved(item, shift)
        {
            *item = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stay_on_the_keyboard() {
        let top = 1u128 << 87;
        assert_eq!(frame(1, 2), Some(4));
        assert_eq!(frame(top, 1), None);
        assert_eq!(frame(1, -1), None);
        assert_eq!(frame(4, -2), Some(1));
        let seg: Vec<Frame> = vec![1 << 2 | 1 << 80, 1 << 40];
        assert_eq!(frames(&seg, 7), Some(vec![1 << 9 | 1 << 87, 1 << 47]));
        assert_eq!(frames(&seg, 8), None, "the top note would leave the keys");
        assert_eq!(frames(&seg, -2), Some(vec![1 | 1 << 78, 1 << 38]));
        assert_eq!(frames(&seg, -3), None, "the bottom note would leave the keys");
    }

    #[test]
    fn melody_tokens_move_pitches_and_keep_holds_and_rests() {
        use fugato_repr::melody::{HOLD, REST, pitch_token};
        let p = |pitch: u8| pitch_token(pitch).unwrap() as u16;
        let line = [p(60), HOLD as u16, REST as u16, p(64)];
        assert_eq!(tokens(ReprKind::Melody, &line, 0, 2), Some(vec![p(62), HOLD as u16, REST as u16, p(66)]));
        assert_eq!(tokens(ReprKind::Melody, &[p(108)], 0, 1), None, "C8 is the top key");
    }
}
