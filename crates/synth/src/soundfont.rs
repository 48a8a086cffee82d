//! SoundFont playback through rustysynth: the score's events drive a synthesizer, which
//! renders the samples between them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fugato_score::{Channel, Score};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use crate::{Audio, MAX_DURATION_S, SynthError};

/// Where Debian's General MIDI SoundFonts install (fluid-soundfont-gm, timgm6mb-soundfont).
pub const DEBIAN_SF2_DIR: &str = "/usr/share/sounds/sf2";
const DEBIAN_FONTS: [&str; 2] = ["FluidR3_GM.sf2", "TimGM6mb.sf2"];

/// The first General MIDI SoundFont installed from Debian, if any.
pub fn installed_soundfont() -> Option<PathBuf> {
    DEBIAN_FONTS.iter().map(|f| Path::new(DEBIAN_SF2_DIR).join(f)).find(|p| p.is_file())
}

/// A loaded SoundFont.
pub struct Font {
    font: Arc<SoundFont>,
}

impl Font {
    pub fn load(path: &Path) -> Result<Font, SynthError> {
        let mut file = std::fs::File::open(path).map_err(|e| SynthError::SoundFont(path.into(), e.to_string()))?;
        let font = SoundFont::new(&mut file).map_err(|e| SynthError::SoundFont(path.into(), format!("{e:?}")))?;
        Ok(Font { font: Arc::new(font) })
    }
}

/// One synthesizer event at a sample position.
struct Event {
    at: usize,
    order: u8,
    channel: i32,
    command: i32,
    data1: i32,
    data2: i32,
}

/// Renders with a SoundFont; parts get channels of their own where there are enough
/// (drums stay on channel 10), with their programs and controllers.
pub fn render(score: &Score, font: &Font, sample_rate_hz: u32) -> Result<Audio, SynthError> {
    let end_s = score.seconds(score.end_tick.max(score.last_note_end_tick()));
    if end_s > MAX_DURATION_S {
        return Err(SynthError::TooLong(end_s));
    }
    let settings = SynthesizerSettings::new(sample_rate_hz as i32);
    let mut synth = Synthesizer::new(&font.font, &settings).map_err(|e| SynthError::Synthesizer(format!("{e:?}")))?;
    let at = |tick: u64| (score.seconds(tick) * f64::from(sample_rate_hz)).round() as usize;
    let mut events = Vec::new();
    let mut next_channel = 0i32;
    for track in &score.tracks {
        let channel = if track.is_drum {
            i32::from(Channel::DRUMS.get())
        } else {
            if next_channel == i32::from(Channel::DRUMS.get()) {
                next_channel += 1;
            }
            let c = next_channel % 16;
            next_channel += 1;
            c
        };
        let program = i32::from(track.program.get());
        events.push(Event { at: 0, order: 0, channel, command: 0xC0, data1: program, data2: 0 });
        for c in &track.controls {
            let (cc, value) = (i32::from(c.control.cc()), i32::from(c.value));
            events.push(Event { at: at(c.tick), order: 1, channel, command: 0xB0, data1: cc, data2: value });
        }
        for n in &track.notes {
            let (key, vel) = (i32::from(n.pitch.get()), i32::from(n.velocity.get()));
            events.push(Event { at: at(n.end_tick), order: 2, channel, command: 0x80, data1: key, data2: 0 });
            events.push(Event { at: at(n.start_tick), order: 3, channel, command: 0x90, data1: key, data2: vel });
        }
    }
    events.sort_by_key(|e| (e.at, e.order));
    let total = ((end_s + 2.0) * f64::from(sample_rate_hz)) as usize;
    let (mut left, mut right) = (vec![0f32; total], vec![0f32; total]);
    let mut done = 0usize;
    for e in &events {
        let upto = e.at.min(total);
        if upto > done {
            synth.render(&mut left[done..upto], &mut right[done..upto]);
            done = upto;
        }
        synth.process_midi_message(e.channel, e.command, e.data1, e.data2);
    }
    synth.render(&mut left[done..], &mut right[done..]);
    let mut audio = Audio { sample_rate_hz, frames: left.into_iter().zip(right).map(|(l, r)| [l, r]).collect() };
    crate::normalise(&mut audio);
    Ok(audio)
}

/// A SoundFont synthesizer played by MIDI messages as they happen (`fugato play --audio
/// --soundfont`): messages go in, the samples between them come out.
pub struct LiveFont {
    synth: Synthesizer,
    left: Vec<f32>,
    right: Vec<f32>,
}

impl LiveFont {
    pub fn new(font: &Font, sample_rate_hz: u32) -> Result<LiveFont, SynthError> {
        if !(8_000..=192_000).contains(&sample_rate_hz) {
            return Err(SynthError::SampleRate(sample_rate_hz));
        }
        let settings = SynthesizerSettings::new(sample_rate_hz as i32);
        let synth = Synthesizer::new(&font.font, &settings).map_err(|e| SynthError::Synthesizer(format!("{e:?}")))?;
        Ok(LiveFont { synth, left: Vec::new(), right: Vec::new() })
    }

    /// A channel message (note on and off, program change, controller); others are ignored.
    pub fn midi(&mut self, bytes: &[u8]) {
        let [status, data1, ..] = *bytes else { return };
        let data2 = bytes.get(2).copied().unwrap_or(0);
        if (0x80..0xF0).contains(&status) {
            let (channel, command) = (i32::from(status & 0x0F), i32::from(status & 0xF0));
            self.synth.process_midi_message(channel, command, i32::from(data1), i32::from(data2));
        }
    }

    /// The next frames into `out`, interleaved with `channels` samples a frame (left to the
    /// even ones, right to the odd ones).
    pub fn render(&mut self, out: &mut [f32], channels: usize) {
        let frames = out.len() / channels.max(1);
        self.left.resize(frames, 0.0);
        self.right.resize(frames, 0.0);
        self.synth.render(&mut self.left, &mut self.right);
        for (i, frame) in out.chunks_mut(channels.max(1)).enumerate().take(frames) {
            for (c, s) in frame.iter_mut().enumerate() {
                *s = if c % 2 == 0 { self.left[i] } else { self.right[i] };
            }
        }
    }
}
