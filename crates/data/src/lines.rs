//! Examples for the encoder–decoder: a source line and target lines in melody tokens on
//! the sixteenth-note grid, with each step's place in its bar; and the windows and batches
//! training draws from them.

use std::path::Path;

use fugato_midi::ReadOptions;
use fugato_repr::ReprKind;
use fugato_repr::melody::{self, HOLD, REST};
use fugato_score::{Score, Track};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::folder::read_folder;
use crate::{DataError, Split, transpose};

/// What a sequence-to-sequence model learns to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Soprano in; alto, tenor and bass out, aligned step for step.
    Harmonize,
    /// Four bars of melody in, the next four out.
    Continue,
}

impl Task {
    /// Target lines the decoder writes at each step.
    pub fn streams(self) -> usize {
        match self {
            Task::Harmonize => 3,
            Task::Continue => 1,
        }
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "harmonize" | "harmonise" => Ok(Task::Harmonize),
            "continue" | "continuation" => Ok(Task::Continue),
            _ => Err(format!("unknown task {s:?}: expected harmonize or continue")),
        }
    }
}

/// Grid steps per quarter note.
pub const STEPS_PER_QUARTER: u32 = melody::STEPS_PER_QUARTER;
/// Places in a bar that are told apart; later steps of very long bars share the last.
pub const POSITIONS: usize = 48;
/// The four voices of a chorale, by the start of their part names.
pub const VOICES: [&str; 4] = ["soprano", "alto", "tenor", "bass"];
/// Bars on each side of a continuation example.
pub const CONTINUATION_BARS: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Where it came from (a file name, with bars for continuations).
    pub name: String,
    pub source: Vec<u16>,
    pub source_positions: Vec<u16>,
    /// One or more lines, all as long as `target_positions`.
    pub targets: Vec<Vec<u16>>,
    pub target_positions: Vec<u16>,
}

/// A task's training and validation examples.
#[derive(Clone, Debug)]
pub struct Examples {
    pub task: Task,
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    /// Where they came from.
    pub source: String,
}

impl Examples {
    /// The examples of a MIDI folder's training and validation splits.
    pub fn from_folder(root: &Path, task: Task, options: ReadOptions) -> Result<Examples, DataError> {
        let pieces = read_folder(root, options, |s| s != Split::Test)?.pieces;
        let mut out = Examples { task, train: Vec::new(), valid: Vec::new(), source: root.display().to_string() };
        for piece in &pieces {
            let found = examples(task, &piece.name, &piece.score).unwrap_or_default();
            match piece.split {
                Split::Train => out.train.extend(found),
                Split::Valid => out.valid.extend(found),
                Split::Test => {}
            }
        }
        if out.train.is_empty() {
            let what = format!("{task:?}").to_lowercase();
            let hint = match task {
                Task::Harmonize => " (pieces need parts named Soprano, Alto, Tenor and Bass)",
                Task::Continue => "",
            };
            return Err(DataError::dataset(root, format!("no {what} examples in the training split{hint}")));
        }
        Ok(out)
    }
}

/// Grid steps the score spans: up to the end of its last note.
pub fn steps(score: &Score) -> usize {
    let per_step = u64::from(score.ticks_per_quarter()) as f64 / f64::from(STEPS_PER_QUARTER);
    (score.last_note_end_tick() as f64 / per_step).round() as usize
}

/// Each grid step's place in its bar, from the score's time signatures (4/4 without one).
pub fn bar_positions(score: &Score, steps: usize) -> Vec<u16> {
    let tpq = u64::from(score.ticks_per_quarter());
    let mut out = Vec::with_capacity(steps);
    // The signatures are sorted by tick: the one in force moves forward with the steps
    // (a lookup per step was quadratic in a file of many signatures).
    let signatures = &score.time_signatures;
    let mut in_force = 0usize;
    for step in 0..steps {
        let tick = step as u64 * tpq / u64::from(STEPS_PER_QUARTER);
        while in_force < signatures.len() && signatures[in_force].tick <= tick {
            in_force += 1;
        }
        let signature = in_force.checked_sub(1).map(|i| &signatures[i]);
        let (start, bar) = match signature.and_then(|s| Some((s.tick, s.bar_ticks(tpq)?))) {
            Some((start, bar)) if bar > 0 => (start, bar),
            _ => (0, 4 * tpq),
        };
        let place = ((tick - start) % bar) * u64::from(STEPS_PER_QUARTER) / tpq;
        out.push(place.min(POSITIONS as u64 - 1) as u16);
    }
    out
}

/// One part as melody tokens over `steps` grid steps (its top line where it has chords).
pub fn line(score: &Score, track: &Track, steps: usize) -> Result<Vec<u16>, fugato_repr::ReprError> {
    let mut one = Score { tracks: vec![track.clone()], ..score.clone() };
    one.end_tick = one.last_note_end_tick();
    let tokens = melody::encode(&one)?;
    Ok(fit(tokens.into_iter().map(|t| t as u16).collect(), steps))
}

/// A line of melody tokens as a score on the sixteenth grid (a tick per step).
pub fn line_score(line: &[u16]) -> Score {
    melody::decode(&line.iter().map(|&t| u32::from(t)).collect::<Vec<_>>()).score
}

/// Cuts or pads a line to `steps` (padding is silence).
fn fit(mut tokens: Vec<u16>, steps: usize) -> Vec<u16> {
    if tokens.len() < steps {
        let silent_already = tokens.last().is_some_and(|&t| t == REST as u16);
        let first = if silent_already || tokens.is_empty() { HOLD } else { REST };
        tokens.push(if tokens.is_empty() { REST as u16 } else { first as u16 });
        tokens.resize(steps, HOLD as u16);
    }
    tokens.truncate(steps);
    tokens
}

/// The part whose name starts with `voice` (case aside), if any.
pub fn find_voice<'a>(score: &'a Score, voice: &str) -> Option<&'a Track> {
    score.tracks.iter().find(|t| !t.notes.is_empty() && t.name.trim().to_lowercase().starts_with(voice))
}

/// A chorale as one harmonisation example: soprano in, alto, tenor, bass out. `None` when
/// the score lacks one of the four named voices.
pub fn harmony_example(name: &str, score: &Score) -> Result<Option<Example>, fugato_repr::ReprError> {
    let Some(parts) = VOICES.iter().map(|v| find_voice(score, v)).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let n = steps(score);
    let positions = bar_positions(score, n);
    let lines = parts.iter().map(|p| line(score, p, n)).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Example {
        name: name.to_string(),
        source: lines[0].clone(),
        source_positions: positions.clone(),
        targets: lines[1..].to_vec(),
        target_positions: positions,
    }))
}

/// A tune (its top line) as continuation examples: bars 1–4 → 5–8, 5–8 → 9–12, … in the
/// first time signature's bars, counted from the first downbeat.
pub fn continuation_examples(name: &str, score: &Score) -> Result<Vec<Example>, fugato_repr::ReprError> {
    let n = steps(score);
    let mut whole = score.clone();
    whole.end_tick = whole.last_note_end_tick();
    let tokens = fit(melody::encode(&whole)?.into_iter().map(|t| t as u16).collect(), n);
    let positions = bar_positions(score, n);
    let tpq = u64::from(score.ticks_per_quarter());
    let bar = score.first_time_signature().bar_ticks(tpq).unwrap_or(4 * tpq) * u64::from(STEPS_PER_QUARTER) / tpq;
    let (bar, first) = (bar as usize, positions.iter().position(|&p| p == 0).unwrap_or(0));
    let span = CONTINUATION_BARS * bar;
    let mut out = Vec::new();
    let mut start = first;
    while bar > 0 && start + 2 * span <= n {
        let (a, b) = (start, start + span);
        out.push(Example {
            name: format!("{name} bars {}-{}", (a - first) / bar + 1, (b - first) / bar + CONTINUATION_BARS),
            source: tokens[a..b].to_vec(),
            source_positions: positions[a..b].to_vec(),
            targets: vec![restart(&tokens[b..b + span], sounding(&tokens[..b]).last().copied().flatten())],
            target_positions: positions[b..b + span].to_vec(),
        });
        start += span;
    }
    Ok(out)
}

/// A line cut out of a longer one, made to stand alone: a first HOLD becomes the pitch
/// that was sounding there (`sounding_now`), or a rest.
pub fn restart(part: &[u16], sounding_now: Option<u8>) -> Vec<u16> {
    let mut out = part.to_vec();
    if out.first() == Some(&(HOLD as u16)) {
        out[0] = sounding_now.and_then(melody::pitch_token).unwrap_or(REST) as u16;
    }
    out
}

/// The examples a task learns from one score.
pub fn examples(task: Task, name: &str, score: &Score) -> Result<Vec<Example>, fugato_repr::ReprError> {
    match task {
        Task::Harmonize => Ok(harmony_example(name, score)?.into_iter().collect()),
        Task::Continue => continuation_examples(name, score),
    }
}

/// The sounding pitch (or `None`) at each step of a line.
pub fn sounding(line: &[u16]) -> Vec<Option<u8>> {
    let mut now = None;
    line.iter()
        .map(|&t| {
            if t != HOLD as u16 {
                now = melody::token_pitch(u32::from(t));
            }
            now
        })
        .collect()
}

/// A line moved by `semitones`, or `None` if a pitch would leave the 88 keys.
pub fn transpose_line(line: &[u16], semitones: i32) -> Option<Vec<u16>> {
    transpose::tokens(ReprKind::Melody, line, 0, semitones)
}

/// Cuts `ex[a..b]` out of an example, restarting lines that begin mid-note.
fn crop(ex: &Example, a: usize, b: usize) -> Example {
    let cut = |line: &[u16]| restart(&line[a..b], sounding(&line[..=a])[a]);
    Example {
        name: ex.name.clone(),
        source: cut(&ex.source),
        source_positions: ex.source_positions[a..b].to_vec(),
        targets: ex.targets.iter().map(|l| cut(l)).collect(),
        target_positions: ex.target_positions[a..b].to_vec(),
    }
}

/// Consecutive windows of `len` steps (aligned tasks) or the whole examples, unchanged.
pub fn fixed_windows(examples: &[Example], len: Option<usize>) -> Vec<Example> {
    match len {
        None => examples.to_vec(),
        Some(len) => examples
            .iter()
            .flat_map(|ex| {
                let n = ex.source.len();
                (0..n / len).map(move |i| crop(ex, i * len, (i + 1) * len))
            })
            .collect(),
    }
}

/// An epoch's windows: about one random crop of `len` steps per `len` steps of each
/// example (aligned tasks) or each example once, each moved by a random shift in
/// ±`transpose` semitones where every pitch stays on the keyboard.
pub fn random_windows(examples: &[Example], len: Option<usize>, transpose: u32, rng: &mut impl Rng) -> Vec<Example> {
    let mut out = Vec::new();
    for ex in examples {
        let n = ex.source.len();
        let crops: Vec<Example> = match len {
            Some(len) if n >= len => {
                (0..n.div_ceil(len)).map(|_| rng.random_range(0..=n - len)).map(|a| crop(ex, a, a + len)).collect()
            }
            Some(_) => Vec::new(),
            None => vec![ex.clone()],
        };
        for w in crops {
            let shift = transpose::draw(rng, transpose);
            out.push(shifted(&w, shift).unwrap_or(w));
        }
    }
    out
}

fn shifted(ex: &Example, semitones: i32) -> Option<Example> {
    Some(Example {
        source: transpose_line(&ex.source, semitones)?,
        targets: ex.targets.iter().map(|l| transpose_line(l, semitones)).collect::<Option<_>>()?,
        ..ex.clone()
    })
}

/// Windows grouped by length into batches of at most `size`, in random order when a
/// generator is given.
pub fn batches<R: Rng>(windows: &[Example], size: usize, mut rng: Option<&mut R>) -> Vec<Vec<Example>> {
    let mut sorted: Vec<&Example> = windows.iter().collect();
    if let Some(rng) = rng.as_mut() {
        sorted.shuffle(rng);
    }
    // A stable sort: windows of one length stay in their (random) order.
    sorted.sort_by_key(|w| (w.source.len(), w.target_positions.len()));
    let mut out: Vec<Vec<Example>> = Vec::new();
    for w in sorted {
        match out.last_mut() {
            Some(b)
                if b.len() < size.max(1)
                    && b[0].source.len() == w.source.len()
                    && b[0].target_positions.len() == w.target_positions.len() =>
            {
                b.push(w.clone())
            }
            _ => out.push(vec![w.clone()]),
        }
    }
    if let Some(rng) = rng {
        out.shuffle(rng);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use fugato_score::{Note, TimeSignature};

    /// Notes as (pitch, start, end).
    type Notes<'a> = &'a [(u8, u64, u64)];

    fn score(parts: &[(&str, Notes)], tpq: u16) -> Score {
        let mut s = Score::new(tpq);
        for (name, notes) in parts {
            let mut t = Track::new(*name);
            t.notes = notes.iter().map(|&(p, a, b)| Note::new(p, 90, a, b).unwrap()).collect();
            s.tracks.push(t);
        }
        s.end_tick = s.last_note_end_tick();
        s
    }

    #[test]
    fn a_chorale_gives_soprano_in_and_three_voices_out() {
        let q = 480;
        let s = score(
            &[
                ("Soprano", &[(72, 0, 2 * q), (71, 2 * q, 4 * q)]),
                ("Alto", &[(67, 0, 4 * q)]),
                ("Tenor", &[(64, 0, q), (62, 2 * q, 4 * q)]),
                ("Bass", &[(48, 0, 4 * q)]),
            ],
            q as u16,
        );
        let e = harmony_example("x", &s).unwrap().unwrap();
        assert_eq!(e.source.len(), 16);
        assert_eq!(e.targets.len(), 3);
        assert_eq!(sounding(&e.source)[8], Some(71));
        assert_eq!(sounding(&e.targets[1])[5], None);
        assert_eq!(sounding(&e.targets[2])[15], Some(48));
        assert_eq!(e.source_positions[..5], [0, 1, 2, 3, 4]);
        assert!(harmony_example("x", &score(&[("Soprano", &[(72, 0, q)])], q as u16)).unwrap().is_none());
    }

    #[test]
    fn tunes_give_four_bars_to_the_next_four_and_positions_follow_the_meter() {
        let q = 4u64;
        let notes: Vec<(u8, u64, u64)> =
            (0..24).map(|i| (60 + (i % 5) as u8, i * 3 * q / 2, (i + 1) * 3 * q / 2)).collect();
        let mut s = score(&[("tune", &notes)], 4);
        s.time_signatures.push(TimeSignature::new(0, 3, 4).unwrap());
        let positions = bar_positions(&s, 13);
        assert_eq!(positions[11..], [11, 0]);
        let e = continuation_examples("t", &s).unwrap();
        // 36 quarters = 12 bars of 3/4: bars 1-4 → 5-8 and 5-8 → 9-12.
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].source.len(), e[0].targets[0].len()), (48, 48));
        assert_ne!(e[1].targets[0][0], HOLD as u16);
        assert_eq!(transpose_line(&e[0].source, 2).unwrap().len(), 48);
        assert!(transpose_line(&[melody::pitch_token(108).unwrap() as u16], 1).is_none());
    }
}
