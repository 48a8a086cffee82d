//! Score → stereo PCM → 16-bit WAV, with built-in voices that need no files: additive
//! (organ-like), subtractive ("analog") and a Karplus–Strong plucked string, plus noise
//! drums for General MIDI channel 10. Each General MIDI program family maps to a voice.
//! With a SoundFont, [`render_soundfont`] plays the score through rustysynth instead.
//!
//! ```
//! use fugato_synth::{RenderOptions, render};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/bwv66.6.mid");
//! let score = fugato_midi::read_file(path.as_ref(), Default::default())?.score;
//! let audio = render(&score, &RenderOptions::default())?;
//! assert!(audio.duration_s() > 23.0);
//! assert!(audio.peak() <= 1.0);
//! let wav = audio.to_wav()?;
//! assert_eq!(&wav[..4], b"RIFF");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod soundfont;
mod voices;

use fugato_score::{Control, Program, Score, Track};
use thiserror::Error;

pub use soundfont::{DEBIAN_SF2_DIR, Font, LiveFont, installed_soundfont, render as render_soundfont};
use voices::{NoteSpec, render_drum, render_note};
pub use voices::{RELEASE_S, Voice};

pub const DEFAULT_SAMPLE_RATE_HZ: u32 = 44_100;
/// Loudest sample after normalisation: −1 dBFS.
pub const PEAK: f32 = 0.891;
/// Longest piece rendered, so a damaged file cannot ask for hours of audio.
pub const MAX_DURATION_S: f64 = 3600.0;

#[derive(Debug, Error)]
pub enum SynthError {
    #[error("sample rate must be 8000..=192000 Hz, but was {0}")]
    SampleRate(u32),
    #[error("the piece lasts {0:.0} s; fugato renders at most {MAX_DURATION_S} s")]
    TooLong(f64),
    #[error("{0}: not a usable SoundFont: {1}")]
    SoundFont(std::path::PathBuf, String),
    #[error("SoundFont synthesizer: {0}")]
    Synthesizer(String),
    #[error("writing WAV: {0}")]
    Wav(#[from] hound::Error),
    #[error("stopped before it was done")]
    Cancelled,
}

#[derive(Clone, Debug)]
pub struct RenderOptions {
    pub sample_rate_hz: u32,
    /// One voice for every pitched part, instead of each program family's own.
    pub voice: Option<Voice>,
    /// Set from outside to stop between notes ([`SynthError::Cancelled`]).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { sample_rate_hz: DEFAULT_SAMPLE_RATE_HZ, voice: None, cancel: None }
    }
}

/// Interleaved stereo samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub sample_rate_hz: u32,
    pub frames: Vec<[f32; 2]>,
}

impl Audio {
    pub fn duration_s(&self) -> f64 {
        self.frames.len() as f64 / f64::from(self.sample_rate_hz)
    }

    pub fn peak(&self) -> f32 {
        self.frames.iter().flat_map(|f| f.iter()).fold(0.0f32, |m, s| m.max(s.abs()))
    }

    /// Root-mean-square level over both channels.
    pub fn rms(&self) -> f64 {
        let sum: f64 = self.frames.iter().flat_map(|f| f.iter()).map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / (2 * self.frames.len()).max(1) as f64).sqrt()
    }

    /// 16-bit stereo WAV bytes.
    pub fn to_wav(&self) -> Result<Vec<u8>, SynthError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: self.sample_rate_hz,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = std::io::Cursor::new(Vec::with_capacity(44 + self.frames.len() * 4));
        {
            let mut writer = hound::WavWriter::new(&mut bytes, spec)?;
            for frame in &self.frames {
                for &s in frame {
                    writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
                }
            }
            writer.finalize()?;
        }
        Ok(bytes.into_inner())
    }
}

/// The built-in voice for a General MIDI program, by family.
pub fn voice_for_program(program: Program) -> Voice {
    match program.get() / 8 {
        // Piano, chromatic percussion, guitar, bass, ethnic (sitar, banjo, koto…), percussive.
        0 | 1 | 3 | 4 | 13 | 14 => Voice::Pluck,
        // Synth lead, pad and effects.
        10..=12 => Voice::Subtractive,
        // Organ, strings, ensemble, brass, reed, pipe, sound effects.
        _ => Voice::Additive,
    }
}

/// Renders every part: drums on channel 10 with noise, the rest with their voice; sustain
/// pedal held notes, volume (CC 7) and pan (CC 10) at each note's start; normalised to
/// −1 dBFS so nothing clips.
pub fn render(score: &Score, options: &RenderOptions) -> Result<Audio, SynthError> {
    let sr = options.sample_rate_hz;
    if !(8_000..=192_000).contains(&sr) {
        return Err(SynthError::SampleRate(sr));
    }
    let end_s = score.seconds(score.end_tick.max(score.last_note_end_tick()));
    if end_s > MAX_DURATION_S {
        return Err(SynthError::TooLong(end_s));
    }
    let total = ((end_s + 1.5) * f64::from(sr)) as usize;
    let mut out = vec![[0f32; 2]; total];
    let at = |tick: u64| (score.seconds(tick) * f64::from(sr)).round() as usize;
    for (track_idx, track) in score.tracks.iter().enumerate() {
        let voice = options.voice.unwrap_or_else(|| voice_for_program(track.program));
        let ends = pedalled_ends(track);
        let (volumes, pans) = (changes(track, Control::Volume), changes(track, Control::Pan));
        for (note_idx, (note, end_tick)) in track.notes.iter().zip(ends).enumerate() {
            if options.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(SynthError::Cancelled);
            }
            let start = at(note.start_tick);
            let volume = f64::from(value_at(&volumes, note.start_tick).unwrap_or(100)) / 127.0;
            let pan = f64::from(value_at(&pans, note.start_tick).unwrap_or(64)) / 127.0;
            let angle = pan * std::f64::consts::FRAC_PI_2;
            let spec = NoteSpec {
                start,
                held: at(end_tick).saturating_sub(start).max(1),
                frequency_hz: 440.0 * 2f64.powf((f64::from(note.pitch.get()) - 69.0) / 12.0),
                amplitude: (f64::from(note.velocity.get()) / 127.0).powf(1.5) * volume * 0.3,
                pan: (angle.cos(), angle.sin()),
                seed: (track_idx as u32).wrapping_mul(1_000_003) ^ (note_idx as u32).wrapping_mul(7919),
            };
            if track.is_drum {
                render_drum(note.pitch.get(), &spec, sr, &mut out);
            } else {
                render_note(voice, &spec, sr, &mut out);
            }
        }
    }
    let mut audio = Audio { sample_rate_hz: sr, frames: out };
    normalise(&mut audio);
    Ok(audio)
}

/// Renders a stream stretch by stretch (a live session's bars) at a fixed gain: what a note
/// sounds past its stretch's end (a long note, a release) is kept and mixed into the next
/// stretch, and loud moments are limited softly instead of normalised, so the stretches
/// join without a seam or a jump in level.
pub struct LiveSynth {
    sample_rate_hz: u32,
    voice: Option<Voice>,
    tail: Vec<[f32; 2]>,
    stretches: u32,
}

impl LiveSynth {
    pub fn new(sample_rate_hz: u32, voice: Option<Voice>) -> Result<LiveSynth, SynthError> {
        if !(8_000..=192_000).contains(&sample_rate_hz) {
            return Err(SynthError::SampleRate(sample_rate_hz));
        }
        Ok(LiveSynth { sample_rate_hz, voice, tail: Vec::new(), stretches: 0 })
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// The next `seconds` of audio: `score`'s notes (its ticks from this stretch's start)
    /// over what the stretches before left sounding.
    pub fn render(&mut self, score: &Score, seconds: f64) -> Result<Vec<[f32; 2]>, SynthError> {
        let sr = self.sample_rate_hz;
        let end_s = score.seconds(score.last_note_end_tick());
        if !(0.0..=MAX_DURATION_S).contains(&seconds) || end_s > MAX_DURATION_S {
            return Err(SynthError::TooLong(seconds.max(end_s)));
        }
        let frames = (seconds * f64::from(sr)).round() as usize;
        let sounding = ((end_s + RELEASE_S + 0.05) * f64::from(sr)) as usize;
        let mut out = std::mem::take(&mut self.tail);
        out.resize(out.len().max(frames).max(sounding), [0.0; 2]);
        let at = |tick: u64| (score.seconds(tick) * f64::from(sr)).round() as usize;
        for (track_idx, track) in score.tracks.iter().enumerate() {
            let voice = self.voice.unwrap_or_else(|| voice_for_program(track.program));
            for (note_idx, note) in track.notes.iter().enumerate() {
                let start = at(note.start_tick);
                let spec = NoteSpec {
                    start,
                    held: at(note.end_tick).saturating_sub(start).max(1),
                    frequency_hz: 440.0 * 2f64.powf((f64::from(note.pitch.get()) - 69.0) / 12.0),
                    amplitude: (f64::from(note.velocity.get()) / 127.0).powf(1.5) * 0.25,
                    pan: (std::f64::consts::FRAC_1_SQRT_2, std::f64::consts::FRAC_1_SQRT_2),
                    seed: self.stretches.wrapping_mul(7_368_787)
                        ^ (track_idx as u32).wrapping_mul(1_000_003)
                        ^ (note_idx as u32).wrapping_mul(7919),
                };
                if track.is_drum {
                    render_drum(note.pitch.get(), &spec, sr, &mut out);
                } else {
                    render_note(voice, &spec, sr, &mut out);
                }
            }
        }
        self.stretches = self.stretches.wrapping_add(1);
        self.tail = out.split_off(frames);
        for f in &mut out {
            *f = [f[0].tanh(), f[1].tanh()];
        }
        Ok(out)
    }
}

/// Scales the audio so its peak is [`PEAK`] (−1 dBFS): loud enough, never clipping.
fn normalise(audio: &mut Audio) {
    let peak = audio.peak();
    if peak > 0.0 {
        let gain = PEAK / peak;
        audio.frames.iter_mut().for_each(|f| *f = [f[0] * gain, f[1] * gain]);
    }
}

/// Each note's end, held on while the sustain pedal (CC 64 ≥ 64) is down.
fn pedalled_ends(track: &Track) -> Vec<u64> {
    let pedal = changes(track, Control::Sustain);
    // For each pedal change, the tick of the first release at or after it (by a scan from
    // the end), so each note's search is a binary search, not a walk over the pedal.
    let mut next_release = vec![None; pedal.len()];
    let mut release = None;
    for (i, &(tick, value)) in pedal.iter().enumerate().rev() {
        if value < 64 {
            release = Some(tick);
        }
        next_release[i] = release;
    }
    track
        .notes
        .iter()
        .map(|n| {
            let after = pedal.partition_point(|&(t, _)| t <= n.end_tick);
            let down_at_end = after > 0 && pedal[after - 1].1 >= 64;
            if !down_at_end {
                return n.end_tick;
            }
            next_release.get(after).copied().flatten().unwrap_or(n.end_tick)
        })
        .collect()
}

/// A track's changes of `control` as (tick, value), in time order (stable: the later of
/// two changes at one tick last).
fn changes(track: &Track, control: Control) -> Vec<(u64, u8)> {
    let mut out: Vec<(u64, u8)> =
        track.controls.iter().filter(|c| c.control == control).map(|c| (c.tick, c.value)).collect();
    out.sort_by_key(|&(tick, _)| tick);
    out
}

/// The last value of a control's `changes` at or before `tick`.
fn value_at(changes: &[(u64, u8)], tick: u64) -> Option<u8> {
    let after = changes.partition_point(|&(t, _)| t <= tick);
    after.checked_sub(1).map(|i| changes[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fugato_score::{ControlChange, Note};

    fn score(notes: &[(u8, u64, u64)], drums: bool) -> Score {
        let mut s = Score::new(480);
        let mut t = Track::new("");
        t.is_drum = drums;
        t.notes = notes.iter().map(|&(p, a, b)| Note::new(p, 100, a, b).unwrap()).collect();
        s.end_tick = t.notes.iter().map(|n| n.end_tick).max().unwrap_or(0);
        s.tracks.push(t);
        s
    }

    #[test]
    fn renders_are_deterministic_normalised_and_audible() {
        for drums in [false, true] {
            let s = score(&[(60, 0, 480), (64, 0, 480), (67, 480, 960), (36, 960, 1000)], drums);
            let a = render(&s, &RenderOptions::default()).unwrap();
            let b = render(&s, &RenderOptions::default()).unwrap();
            assert_eq!(a, b);
            assert!((a.peak() - PEAK).abs() < 1e-6);
            assert!(a.rms() > 0.01, "rms {}", a.rms());
        }
    }

    #[test]
    fn sustain_pedal_holds_notes() {
        let mut s = score(&[(60, 0, 100)], false);
        s.tracks[0].controls = vec![
            ControlChange { tick: 50, control: Control::Sustain, value: 127 },
            ControlChange { tick: 900, control: Control::Sustain, value: 0 },
        ];
        assert_eq!(pedalled_ends(&s.tracks[0]), vec![900]);
    }

    #[test]
    fn program_families_choose_voices() {
        let v = |p| voice_for_program(Program::new(p).unwrap());
        assert_eq!(v(0), Voice::Pluck);
        assert_eq!(v(19), Voice::Additive);
        assert_eq!(v(81), Voice::Subtractive);
        assert_eq!(v(40), Voice::Additive);
    }

    #[test]
    fn refuses_bad_rates() {
        let s = score(&[(60, 0, 10)], false);
        assert!(render(&s, &RenderOptions { sample_rate_hz: 100, ..Default::default() }).is_err());
    }
}
