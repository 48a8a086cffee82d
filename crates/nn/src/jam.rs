//! Playing along with a musician (`fugato jam`): notes heard with their times in seconds
//! come in, notes to play come out. [`Answerer`] waits for a phrase to end (a bar of rest
//! at the tempo) and answers it with a continuation in its key; [`Harmonizer`] puts alto,
//! tenor and bass under each melody note as it starts, from the harmoniser's reading of the
//! melody so far. Both know nothing of MIDI bytes or ports: the caller turns notes into
//! messages.

use fugato_repr::ReprKind;
use fugato_score::{Note, Score, TempoMap, Track, estimate_key};

use crate::NnError;
use crate::checkpoint::Checkpoint;
use crate::compose::{ComposeOptions, compose};
use crate::sample::Sampling;
use crate::seq2seq::harmony::{HarmonizeOptions, harmonize};
use crate::seq2seq::train::Seq2SeqCheckpoint;

/// Ticks per quarter of the scores made from what was heard.
const TPQ: u16 = 480;
/// The most notes of a phrase (or of the melody a harmony reads) that are kept.
const MAX_HEARD: usize = 64;
/// The longest answer, in bars.
const MAX_ANSWER_BARS: usize = 8;

/// A note heard or to play, times in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimedNote {
    pub pitch: u8,
    pub velocity: u8,
    pub start_s: f64,
    pub end_s: f64,
}

/// Notes heard so far: those ended, and those still held (pitch, velocity, start).
#[derive(Clone, Debug, Default)]
struct Heard {
    ended: Vec<TimedNote>,
    held: Vec<(u8, u8, f64)>,
}

impl Heard {
    fn on(&mut self, t: f64, pitch: u8, velocity: u8) {
        self.off(t, pitch);
        self.held.push((pitch, velocity.max(1), t));
    }

    fn off(&mut self, t: f64, pitch: u8) {
        if let Some(i) = self.held.iter().position(|h| h.0 == pitch) {
            let (pitch, velocity, start_s) = self.held.remove(i);
            self.ended.push(TimedNote { pitch, velocity, start_s, end_s: t.max(start_s + 0.01) });
            if self.ended.len() > MAX_HEARD {
                self.ended.remove(0);
            }
        }
    }

    /// A one-part score of the notes, from the first one's start, at `bpm`; held notes
    /// last until `now`.
    fn score(&self, now: f64, bpm: f64) -> Option<Score> {
        let held =
            self.held.iter().map(|&(pitch, velocity, start_s)| TimedNote { pitch, velocity, start_s, end_s: now });
        let notes: Vec<TimedNote> = self.ended.iter().copied().chain(held).collect();
        let first = notes.iter().map(|n| n.start_s).min_by(f64::total_cmp)?;
        let tick = |s: f64| ((s - first) * bpm / 60.0 * f64::from(TPQ)).round().max(0.0) as u64;
        let mut track = Track::new("Melody");
        for n in &notes {
            let (start, end) = (tick(n.start_s), tick(n.end_s).max(tick(n.start_s) + 1));
            track.notes.push(Note::new(n.pitch, n.velocity, start, end).ok()?);
        }
        track.sort();
        let mut score = Score::new(TPQ);
        score.tempo_map = TempoMap::constant(TPQ, (60e6 / bpm).round() as u32).ok()?;
        score.end_tick = track.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        score.tracks.push(track);
        Some(score)
    }
}

/// Answers each phrase it hears with a continuation by a sequence model.
pub struct Answerer {
    ckpt: Checkpoint,
    bpm: f64,
    seed: u64,
    heard: Heard,
    last_sound: f64,
    answers: u64,
}

impl Answerer {
    pub fn new(ckpt: Checkpoint, bpm: f64, seed: u64) -> Result<Answerer, NnError> {
        crate::compose::tempo(bpm)?;
        Ok(Answerer { ckpt, bpm, seed, heard: Heard::default(), last_sound: 0.0, answers: 0 })
    }

    pub fn note_on(&mut self, t: f64, pitch: u8, velocity: u8) {
        self.heard.on(t, pitch, velocity);
        self.last_sound = t;
    }

    pub fn note_off(&mut self, t: f64, pitch: u8) {
        self.heard.off(t, pitch);
        self.last_sound = t;
    }

    /// At time `t`: when a phrase has ended (nothing held, a bar of rest), its answer —
    /// notes from `t` on, as long as the phrase (1 to 8 bars), in its key — else `None`.
    pub fn poll(&mut self, t: f64) -> Result<Option<Vec<TimedNote>>, NnError> {
        let bar_s = 4.0 * 60.0 / self.bpm;
        if !self.heard.held.is_empty() || self.heard.ended.is_empty() || t - self.last_sound < bar_s {
            return Ok(None);
        }
        let Some(phrase) = self.heard.score(t, self.bpm) else { return Ok(None) };
        self.heard = Heard::default();
        let quarters = phrase.end_tick as f64 / f64::from(TPQ);
        let bars = ((quarters / 4.0).ceil() as usize).clamp(1, MAX_ANSWER_BARS);
        let repr = self.ckpt.meta.data.repr;
        let primer_s = match repr {
            // A melody model's primer ends where its sixteenths end; the answer starts there.
            ReprKind::Melody => {
                let tokens = repr.encode_tokens(&phrase).expect("a token representation")?;
                tokens.len() as f64 / 4.0 * 60.0 / self.bpm
            }
            _ => phrase.duration_s(),
        };
        let options = ComposeOptions {
            bars: Some(bars),
            sampling: Sampling::Temperature(0.9),
            seed: self.seed.wrapping_add(self.answers),
            key: estimate_key(&phrase),
            us_per_quarter: Some((60e6 / self.bpm).round() as u32),
            primer: Some(phrase),
            ..Default::default()
        };
        self.answers += 1;
        let piece = compose(&self.ckpt, &options)?.score;
        let notes = piece
            .tracks
            .iter()
            .flat_map(|tr| &tr.notes)
            .filter(|n| piece.seconds(n.start_tick) >= primer_s - 1e-6)
            .map(|n| TimedNote {
                pitch: n.pitch.get(),
                velocity: n.velocity.get(),
                start_s: t + piece.seconds(n.start_tick) - primer_s,
                end_s: t + piece.seconds(n.end_tick) - primer_s,
            })
            .collect();
        Ok(Some(notes))
    }
}

/// Puts alto, tenor and bass under each melody note as it starts.
pub struct Harmonizer {
    ckpt: Seq2SeqCheckpoint,
    bpm: f64,
    heard: Heard,
    device: burn::tensor::Device,
}

impl Harmonizer {
    pub fn new(ckpt: Seq2SeqCheckpoint, bpm: f64) -> Result<Harmonizer, NnError> {
        crate::compose::tempo(bpm)?;
        Ok(Harmonizer { ckpt, bpm, heard: Heard::default(), device: crate::default_device() })
    }

    /// The pitches of alto, tenor and bass (those the harmoniser sounds) under a melody
    /// note starting at `t`, read from the melody heard so far with this note a quarter long.
    pub fn note_on(&mut self, t: f64, pitch: u8, velocity: u8) -> Result<Vec<u8>, NnError> {
        // One melody note at a time: a new note ends the one before.
        let held: Vec<u8> = self.heard.held.iter().map(|h| h.0).collect();
        for p in held {
            self.heard.off(t, p);
        }
        self.heard.on(t, pitch, velocity);
        let quarter = 60.0 / self.bpm;
        let melody = self.heard.score(t + quarter, self.bpm).expect("a note was just heard");
        let onset = melody.tracks[0].notes.iter().map(|n| n.start_tick).max().unwrap_or(0);
        let out = harmonize(&self.ckpt.model, &melody, &HarmonizeOptions::default(), &self.device)?;
        let voices = out.score.tracks[1..]
            .iter()
            .filter_map(|tr| tr.notes.iter().find(|n| n.start_tick <= onset && onset < n.end_tick))
            .map(|n| n.pitch.get())
            .collect();
        Ok(voices)
    }

    pub fn note_off(&mut self, t: f64, pitch: u8) {
        self.heard.off(t, pitch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_is_answered_after_a_bar_of_rest_in_its_key() {
        let name = "folk-melody".as_ref();
        let ckpt = crate::bundled::load(name, &crate::default_device()).unwrap().into_sequence(name).unwrap();
        let mut jam = Answerer::new(ckpt, 120.0, 1).unwrap();
        // D major: D E F# G A, a quarter each (0.5 s at 120 bpm).
        for (i, pitch) in [62u8, 64, 66, 67, 69, 67, 66, 62].into_iter().enumerate() {
            let t = i as f64 * 0.5;
            jam.note_on(t, pitch, 80);
            assert_eq!(jam.poll(t + 0.1).unwrap(), None, "no answer while playing");
            jam.note_off(t + 0.45, pitch);
        }
        assert_eq!(jam.poll(4.0).unwrap(), None, "less than a bar of rest");
        let answer = jam.poll(6.0).unwrap().expect("an answer after a bar of rest");
        assert!(!answer.is_empty());
        assert!(answer.iter().all(|n| n.start_s >= 6.0 && n.end_s <= 6.0 + 4.0 + 1e-6), "{answer:?}");
        let d_major = [2, 4, 6, 7, 9, 11, 1];
        assert!(answer.iter().all(|n| d_major.contains(&(n.pitch % 12))), "{answer:?}");
        assert_eq!(jam.poll(9.0).unwrap(), None, "one answer per phrase");
    }

    #[test]
    fn each_melody_note_gets_three_voices_below_it() {
        let name = "chorale-harmonizer".as_ref();
        let ckpt = crate::bundled::load(name, &crate::default_device()).unwrap().into_seq2seq(name).unwrap();
        let mut jam = Harmonizer::new(ckpt, 90.0).unwrap();
        let mut sounded = 0;
        for (i, pitch) in [67u8, 69, 71, 72, 74, 72, 71, 69].into_iter().enumerate() {
            let t = i as f64 * 60.0 / 90.0;
            let voices = jam.note_on(t, pitch, 80).unwrap();
            assert!(voices.len() <= 3);
            assert!(voices.iter().all(|&v| v <= pitch), "{voices:?} under {pitch}");
            sounded += voices.len();
            jam.note_off(t + 0.6, pitch);
        }
        assert!(sounded >= 12, "voices sounded under 8 notes: {sounded}");
    }
}
