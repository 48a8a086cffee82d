//! Monophonic melody, as in Magenta's MelodyRNN: one token per sixteenth-note step,
//! either a pitch (a note starts), HOLD (what sounds goes on) or REST (silence starts).
//!
//! Vocabulary (90 tokens): 0 = HOLD, 1 = REST, 2 + k = MIDI pitch 21 + k for the 88
//! piano keys. A polyphonic score becomes its top line (the highest sounding pitch at
//! each step), which for chorales and folk tunes with chords is the tune.

use fugato_score::{Note, Pitch, Score, Track, Velocity};

use crate::pianoroll::{LOWEST_PITCH, N_KEYS};
use crate::{Decoded, ReprError, Vocabulary};

pub const STEPS_PER_QUARTER: u32 = 4;
pub const HOLD: u32 = 0;
pub const REST: u32 = 1;
const FIRST_PITCH: u32 = 2;
pub const VOCAB_SIZE: u32 = FIRST_PITCH + N_KEYS as u32;
/// Melodies carry no dynamics: every note gets this velocity.
pub const VELOCITY: u8 = 90;

pub fn vocabulary() -> Vocabulary {
    Vocabulary::new("melody", vec![("HOLD", 1), ("REST", 1), ("PITCH", N_KEYS as u32)])
}

pub fn pitch_token(pitch: u8) -> Option<u32> {
    (LOWEST_PITCH..LOWEST_PITCH + N_KEYS as u8).contains(&pitch).then(|| FIRST_PITCH + u32::from(pitch - LOWEST_PITCH))
}

pub fn token_pitch(token: u32) -> Option<u8> {
    (FIRST_PITCH..VOCAB_SIZE).contains(&token).then(|| LOWEST_PITCH + (token - FIRST_PITCH) as u8)
}

/// What a score looks like after a trip through the melody: the top line of its pitched
/// parts on the sixteenth grid within the 88 keys, one part, velocity 90, default tempo,
/// no meter, key or controllers. A lower note that comes to the top when a higher one
/// ends starts anew there.
pub fn canonical(score: &Score) -> Result<Score, ReprError> {
    let slots = top_line(score)?;
    let mut track = Track::new("");
    let mut step = 0;
    while step < slots.len() {
        let Some((p, _)) = slots[step] else {
            step += 1;
            continue;
        };
        let end = (step + 1..slots.len()).find(|&i| slots[i] != slots[step]).unwrap_or(slots.len());
        track.notes.push(note(p, step as u64, end as u64));
        step = end;
    }
    let mut out = Score::new(STEPS_PER_QUARTER as u16);
    out.end_tick = slots.len() as u64;
    out.tracks.push(track);
    Ok(out)
}

/// One token per step: the pitch where the top line's note starts, HOLD while it (or a
/// silence) goes on, REST where a silence starts (the first step included).
pub fn encode(score: &Score) -> Result<Vec<u32>, ReprError> {
    let slots = top_line(score)?;
    let tokens = slots
        .iter()
        .enumerate()
        .map(|(step, &slot)| match slot {
            _ if step > 0 && slots[step - 1] == slot => HOLD,
            None => REST,
            Some((p, _)) => pitch_token(p).expect("clipped to the 88 keys"),
        })
        .collect();
    Ok(tokens)
}

/// Per grid step, the top line's note: its pitch and start step; `None` in silence.
fn top_line(score: &Score) -> Result<Vec<Option<(u8, u64)>>, ReprError> {
    let q = score.quantize(STEPS_PER_QUARTER)?.clip_pitch(Pitch::PIANO_LOW, Pitch::PIANO_HIGH);
    crate::check_steps(q.end_tick)?;
    let mut top: Vec<Option<(u8, u64)>> = vec![None; q.end_tick as usize];
    for note in q.tracks.iter().filter(|t| !t.is_drum).flat_map(|t| &t.notes) {
        let candidate = (note.pitch.get(), note.start_tick);
        for slot in &mut top[note.start_tick as usize..note.end_tick as usize] {
            // Higher wins; at one pitch, the later attack (a unison re-struck in another part).
            if slot.is_none_or(|current| candidate > current) {
                *slot = Some(candidate);
            }
        }
    }
    Ok(top)
}

/// Tokens → a one-part score at one tick per step; never fails: unknown tokens count as
/// repairs and act as HOLD.
pub fn decode(tokens: &[u32]) -> Decoded {
    let mut notes = Vec::new();
    let mut open: Option<(u8, u64)> = None;
    let mut repairs = 0;
    for (step, &token) in tokens.iter().enumerate() {
        let step = step as u64;
        let token = if token < VOCAB_SIZE {
            token
        } else {
            repairs += 1;
            HOLD
        };
        if token == HOLD {
            continue;
        }
        if let Some((p, start)) = open.take() {
            notes.push(note(p, start, step));
        }
        if let Some(p) = token_pitch(token) {
            open = Some((p, step));
        }
    }
    let end = tokens.len() as u64;
    if let Some((p, start)) = open {
        notes.push(note(p, start, end));
    }
    let mut track = Track::new("");
    track.notes = notes;
    let mut score = Score::new(STEPS_PER_QUARTER as u16);
    score.end_tick = end;
    score.tracks.push(track);
    Decoded { score, repairs }
}

fn note(pitch: u8, start: u64, end: u64) -> Note {
    Note {
        pitch: Pitch::new(pitch).expect("melody pitches are 7-bit"),
        velocity: Velocity::new(VELOCITY).expect("90 is a velocity"),
        start_tick: start,
        end_tick: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(notes: &[(u8, u64, u64)]) -> Score {
        let mut s = Score::new(4);
        let mut t = Track::new("");
        t.notes = notes.iter().map(|&(p, a, b)| Note::new(p, 90, a, b).unwrap()).collect();
        t.sort();
        s.end_tick = t.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        s.tracks.push(t);
        s
    }

    #[test]
    fn encodes_pitch_hold_rest() {
        // C4 for a quarter, a sixteenth rest, then E4 twice, struck again.
        let t = encode(&score(&[(60, 0, 4), (64, 5, 6), (64, 6, 8)])).unwrap();
        let c4 = pitch_token(60).unwrap();
        let e4 = pitch_token(64).unwrap();
        assert_eq!(t, vec![c4, HOLD, HOLD, HOLD, REST, e4, e4, HOLD]);
    }

    #[test]
    fn chords_become_their_top_line() {
        let t = encode(&score(&[(60, 0, 8), (67, 0, 4)])).unwrap();
        let (c4, g4) = (pitch_token(60).unwrap(), pitch_token(67).unwrap());
        assert_eq!(t, vec![g4, HOLD, HOLD, HOLD, c4, HOLD, HOLD, HOLD]);
    }

    #[test]
    fn leading_silence_is_a_rest_then_holds() {
        let t = encode(&score(&[(60, 2, 3)])).unwrap();
        assert_eq!(t, vec![REST, HOLD, pitch_token(60).unwrap()]);
    }
}
