//! New music from a checkpoint, as a [`Score`]: the primer encoded in the model's
//! representation, sampling with the controls of `fugato generate` (length, sampling rule,
//! seed, key, tempo, instrument), and decoding that never fails.

use fugato_repr::pianoroll::{Frame, LOWEST_PITCH, N_KEYS, PianoRoll};
use fugato_repr::{ReprKind, performance, remi};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fugato_score::{KeySignature, Program, Score, TempoMap};

use crate::NnError;
use crate::checkpoint::Checkpoint;
use crate::sample::{SampleOptions, Sampling, Sequence, Until, generate};

/// Most tokens a REMI bar may take before `--bars` gives up on the bar's end (a note is
/// four or five tokens: 200 notes a bar).
const MAX_REMI_TOKENS_PER_BAR: usize = 1024;
/// Most tokens a second of performance may take before sampling gives up on its end (a
/// note is three or four tokens: 250 notes a second).
const MAX_PERFORMANCE_TOKENS_PER_SECOND: usize = 1000;
const DEFAULT_PERFORMANCE_SECONDS: f64 = 20.0;

/// What to compose. Length: `steps` (frames or tokens) when given, else `bars` of 4/4,
/// else `seconds`, else a default per representation.
#[derive(Clone, Debug)]
pub struct ComposeOptions {
    pub bars: Option<usize>,
    pub steps: Option<usize>,
    /// Length in seconds at the piece's tempo (piano-roll and melody models).
    pub seconds: Option<f64>,
    pub sampling: Sampling,
    pub seed: u64,
    /// Music to continue.
    pub primer: Option<Score>,
    /// Keep to this key's scale (new notes only), and write it into the score.
    pub key: Option<KeySignature>,
    pub us_per_quarter: Option<u32>,
    /// General MIDI programs, part by part in the score's order (parts past the end of
    /// the list take its last); empty keeps the model's own.
    pub programs: Vec<Program>,
    /// A style the model knows; a model with styles and none asked picks one by the seed.
    pub style: Option<String>,
    /// Set from outside to stop sampling between steps ([`crate::NnError::Cancelled`]).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for ComposeOptions {
    fn default() -> Self {
        ComposeOptions {
            bars: None,
            steps: None,
            seconds: None,
            sampling: Sampling::Temperature(1.0),
            seed: 0,
            primer: None,
            key: None,
            us_per_quarter: None,
            programs: Vec::new(),
            style: None,
            cancel: None,
        }
    }
}

/// The controls as a user gives them (flags of `fugato generate`, fields of the server's
/// JSON), before they are checked.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    pub bars: Option<usize>,
    pub steps: Option<usize>,
    pub seconds: Option<f64>,
    /// 0 picks the most likely; default 1.
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub seed: u64,
    /// E.g. "C:major", "F#m", "Bb:minor".
    pub key: Option<String>,
    pub tempo_bpm: Option<f64>,
    /// The General MIDI program of every part.
    pub program: Option<u8>,
    /// General MIDI instruments by name or number, e.g. "violin", "church organ", or
    /// part by part: "violin, viola, cello, 42".
    pub instrument: Option<String>,
    /// A style of a model trained with styles, e.g. "reel", "chorale".
    pub style: Option<String>,
}

/// A control out of range: `field` names it as the user wrote it (without dashes).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ControlError {
    pub field: &'static str,
    pub message: String,
}

pub(crate) fn bad(field: &'static str, message: String) -> ControlError {
    ControlError { field, message }
}

/// Longest piece one request may ask for, by default (a server may allow less).
pub const MAX_BARS: usize = 512;
pub const MAX_STEPS: usize = 100_000;
pub const MAX_SECONDS: f64 = 3600.0;
/// The most instruments a list may name, one per part (REMI holds 16 parts per program).
pub const MAX_PARTS: usize = 64;
/// The highest sampling temperature.
pub const MAX_TEMPERATURE: f64 = 10.0;
/// The widest beam search (`harmonize --beam`).
pub const MAX_BEAM: usize = 16;
/// Tempi a piece may be given, in quarter notes per minute.
pub const TEMPO_BPM: std::ops::RangeInclusive<f64> = 10.0..=400.0;

/// The most one request may ask for: [`Controls::check_within`] holds the lengths to them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControlLimits {
    pub max_bars: usize,
    pub max_steps: usize,
    pub max_seconds: f64,
}

impl Default for ControlLimits {
    fn default() -> Self {
        ControlLimits { max_bars: MAX_BARS, max_steps: MAX_STEPS, max_seconds: MAX_SECONDS }
    }
}

impl ControlLimits {
    /// These limits, each at most the library's own.
    pub fn capped(self) -> ControlLimits {
        ControlLimits {
            max_bars: self.max_bars.min(MAX_BARS),
            max_steps: self.max_steps.min(MAX_STEPS),
            max_seconds: self.max_seconds.min(MAX_SECONDS),
        }
    }
}

/// The sampling rule of a temperature (default 1; 0 picks the most likely) and, for token
/// models, a top-k or top-p cut: the one check of these controls, for every command that
/// samples (`generate`, `harmonize`, the server).
pub fn sampling(temperature: Option<f64>, top_k: Option<usize>, top_p: Option<f64>) -> Result<Sampling, ControlError> {
    let temperature = temperature.unwrap_or(1.0);
    if !(0.0..=MAX_TEMPERATURE).contains(&temperature) {
        return Err(bad("temperature", format!("must be 0..={MAX_TEMPERATURE}, but was {temperature}")));
    }
    Ok(match (temperature, top_k, top_p) {
        (_, Some(_), Some(_)) => return Err(bad("top_k", "give top_k or top_p, not both".into())),
        (0.0, _, _) => Sampling::ArgMax,
        (t, Some(k), _) if k >= 1 => Sampling::TopK { k, temperature: t },
        (_, Some(k), _) => return Err(bad("top_k", format!("must be at least 1, but was {k}"))),
        (t, None, Some(p)) if p > 0.0 && p <= 1.0 => Sampling::TopP { p, temperature: t },
        (_, None, Some(p)) => return Err(bad("top_p", format!("must be in (0, 1], but was {p}"))),
        (t, None, None) => Sampling::Temperature(t),
    })
}

/// A beam width, 1 ..= [`MAX_BEAM`]. A beam wider than one searches for the most likely
/// lines, so it takes no sampling: with a temperature above 0 it is refused.
pub fn beam(width: usize, sampling: Sampling) -> Result<usize, ControlError> {
    if !(1..=MAX_BEAM).contains(&width) {
        return Err(bad("beam", format!("must be 1..={MAX_BEAM}, but was {width}")));
    }
    if width > 1 && sampling != Sampling::ArgMax {
        return Err(bad("beam", "searches for the most likely notes: give it no temperature above 0".into()));
    }
    Ok(width)
}

/// A key as a user writes it: "C:major", "F#m", "Bb:minor", "G".
pub fn key(text: &str) -> Result<KeySignature, ControlError> {
    KeySignature::parse(0, text)
        .ok_or_else(|| bad("key", format!("{text:?} is no key; expected e.g. C:major, F#m, Bb:minor")))
}

impl Controls {
    /// Checks every control against the library's limits and turns it into
    /// [`ComposeOptions`] (without a primer).
    pub fn check(&self) -> Result<ComposeOptions, ControlError> {
        self.check_within(&ControlLimits::default())
    }

    /// [`Controls::check`] with the lengths held to `limits` (each at most the library's).
    pub fn check_within(&self, limits: &ControlLimits) -> Result<ComposeOptions, ControlError> {
        let ControlLimits { max_bars, max_steps, max_seconds } = limits.capped();
        let sampling = sampling(self.temperature, self.top_k, self.top_p)?;
        if let Some(b) = self.bars.filter(|b| !(1..=max_bars).contains(b)) {
            return Err(bad("bars", format!("must be 1..={max_bars}, but was {b}")));
        }
        if [self.bars.is_some(), self.steps.is_some(), self.seconds.is_some()].iter().filter(|&&x| x).count() > 1 {
            return Err(bad("seconds", "give one length: bars, steps or seconds".into()));
        }
        if let Some(s) = self.seconds.filter(|s| !(*s > 0.0 && *s <= max_seconds)) {
            return Err(bad("seconds", format!("must be in (0, {max_seconds}], but was {s}")));
        }
        if let Some(s) = self.steps.filter(|s| !(1..=max_steps).contains(s)) {
            return Err(bad("steps", format!("must be 1..={max_steps}, but was {s}")));
        }
        let key = self.key.as_deref().map(key).transpose()?;
        let us_per_quarter = self.tempo_bpm.map(tempo).transpose()?;
        let programs = match (self.program, &self.instrument) {
            (Some(_), Some(_)) => return Err(bad("program", "give program or instrument, not both".into())),
            (Some(p), None) => vec![Program::new(p).map_err(|e| bad("program", e.to_string()))?],
            (None, Some(list)) => instruments(list)?,
            (None, None) => Vec::new(),
        };
        Ok(ComposeOptions {
            bars: self.bars,
            steps: self.steps,
            seconds: self.seconds,
            sampling,
            seed: self.seed,
            primer: None,
            key,
            us_per_quarter,
            programs,
            style: self.style.clone(),
            cancel: None,
        })
    }
}

/// A tempo in quarter notes per minute, as microseconds per quarter.
pub fn tempo(bpm: f64) -> Result<u32, ControlError> {
    if !TEMPO_BPM.contains(&bpm) {
        return Err(bad("tempo", format!("must be {}..={} bpm, but was {bpm}", TEMPO_BPM.start(), TEMPO_BPM.end())));
    }
    Ok((60e6 / bpm).round() as u32)
}

/// General MIDI instruments by name or number, part by part: "violin, viola, cello, 42".
pub fn instruments(list: &str) -> Result<Vec<Program>, ControlError> {
    if list.split(',').count() > MAX_PARTS {
        return Err(bad("instrument", format!("at most {MAX_PARTS} instruments, one per part")));
    }
    list.split(',').map(instrument).collect()
}

/// One instrument of a list: a General MIDI name (or a prefix naming one) or number.
fn instrument(item: &str) -> Result<Program, ControlError> {
    let item = item.trim();
    if let Ok(n) = item.parse::<u8>() {
        return Program::new(n).map_err(|e| bad("instrument", e.to_string()));
    }
    fugato_score::gm::program_by_name(item).ok_or_else(|| {
        bad(
            "instrument",
            format!("{item:?} names no single General MIDI instrument (try e.g. violin, flute, \"church organ\", 40)"),
        )
    })
}

/// A composed piece.
#[derive(Clone, Debug)]
pub struct Composition {
    /// At ≥ 480 ticks per quarter; the primer first, then the new music.
    pub score: Score,
    /// Frames or tokens sampled.
    pub steps: usize,
    /// Tokens dropped while decoding because they came in an impossible order.
    pub repairs: usize,
    /// The style played, for a model with styles.
    pub style: Option<String>,
}

/// The style id to play: the one asked for, or for a model with styles and none asked,
/// one picked by the seed.
pub(crate) fn style_id(ckpt: &Checkpoint, asked: Option<&str>, seed: u64) -> Result<Option<u16>, ControlError> {
    let styles = &ckpt.meta.data.styles;
    match asked {
        None if styles.is_empty() => Ok(None),
        None => Ok(Some((seed % styles.len() as u64) as u16)),
        Some(s) if styles.is_empty() => Err(bad("style", format!("{s:?}: this model was trained without styles"))),
        Some(s) => match styles.iter().position(|x| x.eq_ignore_ascii_case(s)) {
            Some(i) => Ok(Some(i as u16)),
            None => Err(bad("style", format!("{s:?} is not one of this model's styles: {}", styles.join(", ")))),
        },
    }
}

/// Samples a new piece with `ckpt`. Same checkpoint, options and seed: same score.
pub fn compose(ckpt: &Checkpoint, c: &ComposeOptions) -> Result<Composition, NnError> {
    let repr = ckpt.meta.data.repr;
    // Piano-roll benchmark files carry no grid; JSB Chorales, the usual one, has a frame per quarter.
    let spq = ckpt.meta.data.steps_per_quarter.unwrap_or(1);
    let primer = match (&c.primer, repr) {
        (None, ReprKind::PianoRoll) => Sequence::Frames(Vec::new()),
        // Every REMI piece opens with BAR: the new piece does too (it is the first input).
        (None, ReprKind::Remi) => Sequence::Tokens(vec![remi::Token::Bar.id() as u16]),
        (None, _) => Sequence::Tokens(Vec::new()),
        (Some(s), ReprKind::PianoRoll) => Sequence::Frames(PianoRoll::encode(s, spq)?.frames()),
        (Some(s), kind) => Sequence::Tokens(
            kind.encode_tokens(s).expect("token representation")?.into_iter().map(|t| t as u16).collect(),
        ),
    };
    let (steps, until) = length(c, repr, spq)?;
    let options = SampleOptions {
        style: style_id(ckpt, c.style.as_deref(), c.seed)?,
        steps,
        sampling: c.sampling,
        seed: c.seed,
        allowed_units: c.key.map(|k| scale_units(&k)),
        allowed_tokens: match (c.key, &ckpt.meta.data.vocabulary) {
            (Some(k), Some(vocabulary)) => Some(tokens_in(repr, vocabulary.size(), &k)),
            _ => None,
        },
        until,
        cancel: c.cancel.clone(),
    };
    let new = generate(&ckpt.model, &primer, &options);
    if c.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
        return Err(NnError::Cancelled);
    }
    let steps = new.len();
    let style = options.style.map(|i| ckpt.meta.data.styles[usize::from(i)].clone());
    let (mut score, repairs) = match (primer, new) {
        (Sequence::Frames(mut all), Sequence::Frames(new)) => {
            all.extend(new);
            (PianoRoll::from_frames(&all, spq)?.decode()?, 0)
        }
        (Sequence::Tokens(mut all), Sequence::Tokens(new)) => {
            all.extend(new);
            let tokens: Vec<u32> = all.into_iter().map(u32::from).collect();
            let d = repr.decode_tokens(&tokens).expect("token representation");
            (d.score, d.repairs)
        }
        _ => unreachable!("generate continues the primer's kind"),
    };
    if let Some(us) = c.us_per_quarter {
        score.tempo_map = TempoMap::constant(score.ticks_per_quarter(), us)?;
    }
    if let Some(key) = c.key {
        score.key_signatures = vec![key];
    }
    for (i, track) in score.tracks.iter_mut().filter(|t| !t.is_drum).enumerate() {
        if let Some(&p) = c.programs.get(i).or(c.programs.last()) {
            track.program = p;
        }
    }
    Ok(Composition { score: score.at_least_resolution(480)?, steps, repairs, style })
}

/// How many items to sample, and for REMI and performance tokens the rule that stops
/// sampling sooner: bars counted by their BAR tokens, time by the TIME_SHIFTs. Lengths
/// in the other unit convert at the tempo, with bars of 4/4.
fn length(c: &ComposeOptions, repr: ReprKind, spq: u32) -> Result<(usize, Option<Until>), NnError> {
    if c.steps == Some(0) || c.bars == Some(0) {
        return Err(NnError::Options("the length must be at least 1".into()));
    }
    if let Some(steps) = c.steps {
        return Ok((steps, None));
    }
    let us_per_quarter = f64::from(c.us_per_quarter.unwrap_or(fugato_score::DEFAULT_US_PER_QUARTER));
    let quarters = match (c.bars, c.seconds) {
        (Some(b), _) => Some(b as f64 * 4.0),
        (None, Some(seconds)) => Some(seconds * 1e6 / us_per_quarter),
        (None, None) => None,
    };
    let grid = |per_quarter: u32, default: usize| {
        quarters.map_or(default, |q| ((q * f64::from(per_quarter)).ceil() as usize).max(1))
    };
    Ok(match repr {
        ReprKind::PianoRoll => (grid(spq, 32 * spq as usize), None),
        ReprKind::Melody => (grid(fugato_repr::melody::STEPS_PER_QUARTER, 128), None),
        ReprKind::Remi => {
            let bars = quarters.map_or(8, |q| ((q / 4.0).ceil() as usize).max(1));
            let mut weights = vec![0; remi::VOCAB_SIZE as usize];
            weights[remi::Token::Bar.id() as usize] = 1;
            // A new piece's first bar opens with the BAR given as its start, a primer's
            // new bars with the BARs drawn: either way the bar after the last is not drawn.
            let total = bars + usize::from(c.primer.is_some());
            (bars * MAX_REMI_TOKENS_PER_BAR, Some(Until { weights, total: total as u64 }))
        }
        ReprKind::Performance => {
            // Counted in the tokens' own steps (a quarter is TICKS_PER_QUARTER of them): a
            // tempo asked for sets how fast those play.
            let quarters = quarters.unwrap_or(DEFAULT_PERFORMANCE_SECONDS * 1e6 / us_per_quarter);
            let ticks = (quarters * f64::from(performance::TICKS_PER_QUARTER)).round().max(1.0);
            let weights = (0..performance::vocabulary().size())
                .map(|t| match performance::Event::from_token(t) {
                    Some(performance::Event::TimeShift(steps)) => steps,
                    _ => 0,
                })
                .collect();
            let seconds = ticks * f64::from(performance::STEP_MS) / 1e3;
            let cap = (seconds.ceil() as usize).max(1) * MAX_PERFORMANCE_TOKENS_PER_SECOND;
            (cap, Some(Until { weights, total: ticks as u64 }))
        }
    })
}

/// The piano-roll units whose pitches belong to the key's scale.
pub(crate) fn scale_units(key: &KeySignature) -> Frame {
    let scale = key.scale_pitch_classes();
    (0..N_KEYS).filter(|k| scale.contains(&((LOWEST_PITCH + *k as u8) % 12))).fold(0, |f, k| f | 1 << k)
}

/// The tokens allowed in the key: all but those that start a note off the scale (for
/// REMI, drum hits too: their pitch tokens name drums, not notes).
pub(crate) fn tokens_in(repr: ReprKind, vocab: u32, key: &KeySignature) -> Vec<bool> {
    let scale = key.scale_pitch_classes();
    (0..vocab).map(|t| repr.note_pitch(t).is_none_or(|p| scale.contains(&(p % 12)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(c: Controls) -> &'static str {
        c.check().unwrap_err().field
    }

    #[test]
    fn lengths_count_bars_and_seconds_in_each_representation() {
        let with = |bars, seconds| ComposeOptions { bars, seconds, ..Default::default() };
        assert_eq!(length(&with(Some(2), None), ReprKind::PianoRoll, 4).unwrap(), (32, None));
        assert_eq!(length(&with(None, Some(3.0)), ReprKind::Melody, 4).unwrap(), (24, None));
        let (cap, until) = length(&with(Some(3), None), ReprKind::Remi, 4).unwrap();
        let until = until.unwrap();
        assert_eq!((cap, until.total), (3 * MAX_REMI_TOKENS_PER_BAR, 3));
        assert_eq!(until.weights.iter().sum::<u32>(), 1, "BAR alone counts");
        // Ten seconds at 120 bpm: five bars of 4/4.
        assert_eq!(length(&with(None, Some(10.0)), ReprKind::Remi, 4).unwrap().1.unwrap().total, 5);
        let primed = ComposeOptions { primer: Some(Score::new(480)), ..with(Some(3), None) };
        assert_eq!(length(&primed, ReprKind::Remi, 4).unwrap().1.unwrap().total, 4);
        // Two bars: 8 quarters of 50 steps (4 s at 120 bpm); a TIME_SHIFT weighs its steps.
        let (_, until) = length(&with(Some(2), None), ReprKind::Performance, 4).unwrap();
        let until = until.unwrap();
        assert_eq!(until.total, 400);
        // Ten seconds at 60 bpm: 10 quarters of steps that will play at that tempo.
        let slow = ComposeOptions { us_per_quarter: Some(1_000_000), ..with(None, Some(10.0)) };
        assert_eq!(length(&slow, ReprKind::Performance, 4).unwrap().1.unwrap().total, 500);
        let shift = performance::Event::TimeShift(25).token() as usize;
        assert_eq!((until.weights[shift], until.weights[60]), (25, 0));
        assert!(length(&ComposeOptions { bars: Some(0), ..Default::default() }, ReprKind::Remi, 4).is_err());
    }

    /// A server's tighter caps go through the same check; no caps go past the library's.
    #[test]
    fn limits_are_checked_in_one_place() {
        let server = ControlLimits { max_bars: 64, max_steps: 4096, max_seconds: 120.0 };
        let bars = |b| Controls { bars: Some(b), ..Default::default() };
        assert_eq!(bars(65).check_within(&server).unwrap_err().message, "must be 1..=64, but was 65");
        assert!(bars(65).check().is_ok());
        let loose = ControlLimits { max_bars: 1_000_000, ..server };
        assert_eq!(bars(MAX_BARS + 1).check_within(&loose).unwrap_err().field, "bars");
        // Every command that samples: the same temperature bounds.
        assert_eq!(sampling(Some(11.0), None, None).unwrap_err().field, "temperature");
        assert_eq!(sampling(Some(0.0), None, None).unwrap(), Sampling::ArgMax);
        assert_eq!(key("H").unwrap_err().field, "key");
    }

    #[test]
    fn controls_are_checked_and_errors_name_the_field() {
        let ok = Controls {
            temperature: Some(0.0),
            key: Some("G:major".into()),
            tempo_bpm: Some(90.0),
            ..Default::default()
        };
        let options = ok.check().unwrap();
        assert_eq!(options.sampling, Sampling::ArgMax);
        assert_eq!(options.key.unwrap().name(), "G");
        assert_eq!(options.us_per_quarter, Some(666_667));
        let top_k =
            Controls { top_k: Some(5), instrument: Some("violin".into()), ..Default::default() }.check().unwrap();
        assert_eq!(top_k.sampling, Sampling::TopK { k: 5, temperature: 1.0 });
        assert_eq!(top_k.programs.iter().map(|p| p.get()).collect::<Vec<_>>(), [40]);
        let parts =
            Controls { instrument: Some("violin, viola,Cello,43".into()), ..Default::default() }.check().unwrap();
        assert_eq!(parts.programs.iter().map(|p| p.get()).collect::<Vec<_>>(), [40, 41, 42, 43]);

        assert_eq!(field_of(Controls { temperature: Some(-1.0), ..Default::default() }), "temperature");
        assert_eq!(field_of(Controls { temperature: Some(f64::NAN), ..Default::default() }), "temperature");
        assert_eq!(field_of(Controls { top_k: Some(0), ..Default::default() }), "top_k");
        assert_eq!(field_of(Controls { top_p: Some(1.5), ..Default::default() }), "top_p");
        assert_eq!(field_of(Controls { bars: Some(0), ..Default::default() }), "bars");
        assert_eq!(field_of(Controls { seconds: Some(-1.0), ..Default::default() }), "seconds");
        assert_eq!(field_of(Controls { seconds: Some(10.0), bars: Some(2), ..Default::default() }), "seconds");
        assert_eq!(field_of(Controls { bars: Some(MAX_BARS + 1), ..Default::default() }), "bars");
        assert_eq!(field_of(Controls { key: Some("H:major".into()), ..Default::default() }), "key");
        assert_eq!(field_of(Controls { tempo_bpm: Some(1000.0), ..Default::default() }), "tempo");
        assert_eq!(field_of(Controls { program: Some(128), ..Default::default() }), "program");
        assert_eq!(field_of(Controls { instrument: Some("kazoo".into()), ..Default::default() }), "instrument");
        assert_eq!(field_of(Controls { instrument: Some("violin,,cello".into()), ..Default::default() }), "instrument");
        assert_eq!(field_of(Controls { instrument: Some("violin,128".into()), ..Default::default() }), "instrument");
        let both = Controls { program: Some(1), instrument: Some("violin".into()), ..Default::default() };
        assert_eq!(field_of(both), "program");
    }
}
