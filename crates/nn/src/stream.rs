//! Live sessions: a sequence model writes a piece bar after bar for as long as it is asked,
//! under controls that may change between bars (key, tempo, instruments, style, sampling,
//! intensity). What `fugato play`, the server's `/api/stream` and the C library stream.
//!
//! A session holds the model's recurrent state, not the music it wrote, so its memory does
//! not grow with the piece: the context slides with the state. Bars are of 4/4 (a REMI
//! model's own meter tokens change that), at the tempo asked for when the bar was written.
//! A note that sounds on over a bar line (piano-roll, melody and performance models end
//! their notes only when a later step says so) is cut at the line and comes back at the
//! start of the next bar marked [`LiveNote::tied`]: a player holds it instead of striking
//! it again. The same model, seed, controls and control changes (at the same bars) give the
//! same notes.
//!
//! ```
//! use fugato_nn::stream::{LiveControls, Session};
//!
//! let device = fugato_nn::default_device();
//! let name = "folk-melody".as_ref();
//! let model = fugato_nn::bundled::load(name, &device)?.into_sequence(name)?;
//! let controls = LiveControls { key: Some("D:major".into()), ..Default::default() };
//! let mut session = Session::new(&model, &controls, 7)?;
//! let first = session.next_bar();
//! session.change("key", "Bb:major")?;
//! let second = session.next_bar();
//! assert_eq!((first.index, second.index), (0, 1));
//! assert_eq!(second.start_s, first.seconds);
//! # Ok::<(), fugato_nn::NnError>(())
//! ```

use fugato_repr::pianoroll::{LOWEST_PITCH, N_KEYS};
use fugato_repr::{ReprKind, melody, performance, remi};
use fugato_score::{KeySignature, Note, Program, Score, Tempo, TempoMap, TimeSignature, Track};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::NnError;
use crate::checkpoint::Checkpoint;
use crate::compose::{self, ControlError, bad};
use crate::model::{StepItem, Stepper};
use crate::sample::{Drawer, Rule, SampleOptions, Sampling};

/// The most tokens one REMI bar may take before the session ends it.
const MAX_REMI_TOKENS_PER_BAR: usize = 1024;
/// The most tokens one performance bar may take before the session ends it.
const MAX_PERFORMANCE_TOKENS_PER_BAR: usize = 4096;
/// How far intensity 0 or 1 moves the logit of every token or unit that starts a note.
const LEAN_LOGITS: f64 = 3.0;
/// The longest loop.
pub const MAX_LOOP_BARS: usize = 64;
/// The default tempo of a session, in quarter notes per minute.
pub const DEFAULT_BPM: f64 = 120.0;

/// A session's controls as a user gives them, before they are checked (each is also a name
/// [`Session::change`] takes).
#[derive(Clone, Debug, Default)]
pub struct LiveControls {
    /// E.g. "D:major"; new notes keep to its scale.
    pub key: Option<String>,
    pub tempo_bpm: Option<f64>,
    /// General MIDI instruments, part by part, e.g. "violin, viola, cello".
    pub instrument: Option<String>,
    pub style: Option<String>,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    /// 0..=1, default 0.5: lower writes fewer and softer notes, higher more and louder.
    pub intensity: Option<f64>,
    /// Repeat the first N bars written (from the session's start or the last change of
    /// key, style or sampling) for ever.
    pub loop_bars: Option<usize>,
}

/// The controls in force, checked.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    key: Option<KeySignature>,
    bpm: f64,
    programs: Vec<Program>,
    style: Option<u16>,
    temperature: Option<f64>,
    top_k: Option<usize>,
    top_p: Option<f64>,
    sampling: Sampling,
    intensity: f64,
    loop_bars: Option<usize>,
}

/// One bar of a session's music.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bar {
    /// 0 for the first bar of the session.
    pub index: u64,
    /// When the bar starts, from the session's start, at the tempi of the bars before.
    pub start_s: f64,
    pub seconds: f64,
    /// Its length in quarter notes.
    pub quarters: f64,
    pub tempo_bpm: f64,
    /// The key its new notes keep to, if one was asked for.
    pub key: Option<String>,
    /// By start, then track and pitch.
    pub notes: Vec<LiveNote>,
}

/// A note of a [`Bar`]; times in quarter notes from the bar's start and in seconds from
/// the session's start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LiveNote {
    /// The part, numbered in the order the session first wrote each part.
    pub track: u16,
    pub program: u8,
    pub is_drum: bool,
    pub pitch: u8,
    pub velocity: u8,
    pub start: f64,
    pub end: f64,
    pub start_s: f64,
    pub end_s: f64,
    /// The note sounding on from the bar before (same track and pitch): hold, don't strike.
    pub tied: bool,
}

/// A note sounding at the end of the last step read (piano-roll, melody, performance).
#[derive(Clone, Copy, Debug)]
struct Open {
    track: u16,
    pitch: u8,
    velocity: u8,
    /// Grid step (or performance tick) within the bar.
    start: u64,
    tied: bool,
}

/// A note as a bar's reading gives it, before times become seconds: steps (ticks) from
/// the bar's start.
#[derive(Clone, Copy, Debug)]
struct Written {
    track: u16,
    program: u8,
    is_drum: bool,
    pitch: u8,
    velocity: u8,
    start: u64,
    end: u64,
    tied: bool,
}

/// What repeats in loop mode: the bars since the loop began.
#[derive(Clone, Debug)]
struct Loop {
    bars: Vec<Vec<Written>>,
    steps: Vec<u64>,
    next: usize,
}

/// A live session. See the module's documentation.
pub struct Session {
    stepper: Stepper,
    drawer: Drawer,
    rule: Rule,
    repr: ReprKind,
    /// Grid steps per quarter of the items (performance: ticks per quarter).
    steps_per_quarter: u32,
    styles: Vec<String>,
    vocab: usize,
    settings: Settings,
    options: SampleOptions,
    lean: Option<Vec<f32>>,
    rng: ChaCha8Rng,
    last: StepItem,
    open: Vec<Open>,
    /// REMI parts in the order first written: their track numbers.
    parts: Vec<remi::Part>,
    /// REMI: the meter in force. Performance: ticks read past the last bar's end.
    meter: (u8, u8),
    overshoot: u64,
    /// Performance: the velocity its last VELOCITY token set.
    velocity: u8,
    looping: Option<Loop>,
    index: u64,
    start_s: f64,
}

impl Session {
    /// A session of `ckpt`'s model under `controls` (checked here: the error names the
    /// control), drawing with `seed`.
    pub fn new(ckpt: &Checkpoint, controls: &LiveControls, seed: u64) -> Result<Session, NnError> {
        let data = &ckpt.meta.data;
        let rule = match ckpt.model.head {
            crate::model::Head::Regression(_) => {
                return Err(NnError::Options("a regression model predicts values, not music to play".into()));
            }
            ref head => Rule::of(head),
        };
        let vocab = data.vocabulary.as_ref().map_or(N_KEYS, |v| v.size() as usize);
        let steps_per_quarter = match data.repr {
            ReprKind::PianoRoll => data.steps_per_quarter.unwrap_or(1),
            ReprKind::Melody => melody::STEPS_PER_QUARTER,
            ReprKind::Remi => remi::STEPS_PER_QUARTER,
            ReprKind::Performance => u32::from(performance::TICKS_PER_QUARTER),
        };
        let style = compose::style_id(ckpt, controls.style.as_deref(), seed)?;
        let mut session = Session {
            stepper: Stepper::new(&ckpt.model),
            drawer: Drawer::default(),
            rule,
            repr: data.repr,
            steps_per_quarter,
            styles: data.styles.clone(),
            vocab,
            settings: Settings {
                key: None,
                bpm: DEFAULT_BPM,
                programs: Vec::new(),
                style,
                temperature: None,
                top_k: None,
                top_p: None,
                sampling: Sampling::Temperature(1.0),
                intensity: 0.5,
                loop_bars: None,
            },
            options: SampleOptions {
                steps: 1,
                sampling: Sampling::Temperature(1.0),
                seed,
                allowed_units: None,
                allowed_tokens: None,
                style,
                until: None,
                cancel: None,
            },
            lean: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            last: StepItem::Frame(0),
            open: Vec::new(),
            parts: Vec::new(),
            meter: (4, 4),
            overshoot: 0,
            velocity: performance::bin_velocity(performance::N_VELOCITY_BINS / 2),
            looping: None,
            index: 0,
            start_s: 0.0,
        };
        session.last = session.first_item();
        let given = [
            ("key", controls.key.clone()),
            ("tempo", controls.tempo_bpm.map(|t| t.to_string())),
            ("instrument", controls.instrument.clone()),
            ("temperature", controls.temperature.map(|t| t.to_string())),
            ("top_k", controls.top_k.map(|k| k.to_string())),
            ("top_p", controls.top_p.map(|p| p.to_string())),
            ("intensity", controls.intensity.map(|i| i.to_string())),
            ("loop", controls.loop_bars.map(|n| n.to_string())),
        ];
        for (name, value) in given {
            if let Some(value) = value {
                session.change(name, &value)?;
            }
        }
        Ok(session)
    }

    /// The item a new piece starts from (as `compose` starts one).
    fn first_item(&self) -> StepItem {
        match self.rule {
            Rule::Units | Rule::Nade => StepItem::Frame(0),
            Rule::Tokens => {
                let id = if self.repr == ReprKind::Remi { remi::Token::Bar.id() as u16 } else { 0 };
                StepItem::Token { id, style: self.settings.style }
            }
        }
    }

    /// Changes one control from the next bar on: `key` (e.g. "G:minor", or "none"),
    /// `tempo` (bpm), `instrument` (a list, or "none" for the model's own), `style`,
    /// `temperature`, `top_k` / `top_p` (or "none"), `intensity` (0..=1), `loop` (bars, or
    /// "none"). A bad name or value changes nothing and says what was wrong.
    pub fn change(&mut self, name: &str, value: &str) -> Result<(), ControlError> {
        let value = value.trim();
        let none = value.eq_ignore_ascii_case("none") || value.is_empty();
        let number = |field: &'static str| -> Result<f64, ControlError> {
            value.parse::<f64>().map_err(|_| bad(field, format!("{value:?} is not a number")))
        };
        let count = |field: &'static str| -> Result<usize, ControlError> {
            value.parse::<usize>().map_err(|_| bad(field, format!("{value:?} is not a whole number")))
        };
        let mut s = self.settings.clone();
        match name.trim() {
            "key" => s.key = if none { None } else { Some(compose::key(value)?) },
            "tempo" | "tempo_bpm" | "bpm" => {
                let bpm = number("tempo")?;
                compose::tempo(bpm)?;
                s.bpm = bpm;
            }
            "instrument" | "instruments" => {
                s.programs = if none { Vec::new() } else { compose::instruments(value)? };
            }
            "style" if self.styles.is_empty() => {
                return Err(bad("style", format!("{value:?}: this model was trained without styles")));
            }
            "style" => match self.styles.iter().position(|x| x.eq_ignore_ascii_case(value)) {
                Some(i) => s.style = Some(i as u16),
                None => {
                    let known = self.styles.join(", ");
                    return Err(bad("style", format!("{value:?} is not one of this model's styles: {known}")));
                }
            },
            "temperature" => s.temperature = if none { None } else { Some(number("temperature")?) },
            "top_k" => s.top_k = if none { None } else { Some(count("top_k")?) },
            "top_p" => s.top_p = if none { None } else { Some(number("top_p")?) },
            "intensity" => {
                let i = number("intensity")?;
                if !(0.0..=1.0).contains(&i) {
                    return Err(bad("intensity", format!("must be 0..=1, but was {i}")));
                }
                s.intensity = i;
            }
            "loop" => {
                s.loop_bars = if none {
                    None
                } else {
                    match count("loop")? {
                        n @ 1..=MAX_LOOP_BARS => Some(n),
                        n => return Err(bad("loop", format!("must be 1..={MAX_LOOP_BARS} bars, but was {n}"))),
                    }
                }
            }
            other => {
                return Err(bad(
                    "control",
                    format!(
                        "{other:?} is no control; expected key, tempo, instrument, style, temperature, top_k, top_p, \
                         intensity or loop"
                    ),
                ));
            }
        }
        s.sampling = compose::sampling(s.temperature, s.top_k, s.top_p)?;
        self.apply(s);
        Ok(())
    }

    /// Puts checked settings in force: the sampling options, the lean, the loop.
    fn apply(&mut self, s: Settings) {
        let old = std::mem::replace(&mut self.settings, s);
        let s = &self.settings;
        let redraw = old.key != s.key || old.style != s.style || old.sampling != s.sampling;
        if redraw || old.loop_bars != s.loop_bars {
            self.looping = None;
        }
        self.options.sampling = s.sampling;
        self.options.style = s.style;
        self.options.allowed_units = s.key.map(|k| compose::scale_units(&k));
        self.options.allowed_tokens = s.key.map(|k| compose::tokens_in(self.repr, self.vocab as u32, &k));
        if let StepItem::Token { id, .. } = self.last {
            self.last = StepItem::Token { id, style: s.style };
        }
        let lean = ((s.intensity - 0.5) * 2.0 * LEAN_LOGITS) as f32;
        self.lean = (lean != 0.0).then(|| match self.rule {
            Rule::Units | Rule::Nade => vec![lean; N_KEYS],
            Rule::Tokens => {
                (0..self.vocab as u32).map(|t| if self.repr.note_pitch(t).is_some() { lean } else { 0.0 }).collect()
            }
        });
    }

    /// The next bar.
    pub fn next_bar(&mut self) -> Bar {
        let (notes, steps) = match (self.settings.loop_bars, self.looping.take()) {
            (Some(n), Some(mut l)) if l.bars.len() == n => {
                let i = l.next;
                l.next = (i + 1) % n;
                let bar = (l.bars[i].clone(), l.steps[i]);
                self.looping = Some(l);
                bar
            }
            (Some(_), looping) => {
                let (notes, steps) = self.write_bar();
                let mut l = looping.unwrap_or(Loop { bars: Vec::new(), steps: Vec::new(), next: 0 });
                // The loop's first bar comes back after its last, which holds no note over:
                // there it strikes every note.
                let kept = match l.bars.is_empty() {
                    true => notes.iter().map(|w| Written { tied: false, ..*w }).collect(),
                    false => notes.clone(),
                };
                l.bars.push(kept);
                l.steps.push(steps);
                self.looping = Some(l);
                (notes, steps)
            }
            (None, _) => self.write_bar(),
        };
        self.finish(notes, steps)
    }

    /// Times in seconds and velocities by intensity: the bar as it is played.
    fn finish(&mut self, mut notes: Vec<Written>, steps: u64) -> Bar {
        let s = &self.settings;
        let spq = f64::from(self.steps_per_quarter);
        let seconds_per_quarter = 60.0 / s.bpm;
        let quarters = steps as f64 / spq;
        let loudness = 0.5 + s.intensity;
        notes.sort_by_key(|n| (n.start, n.track, n.pitch));
        let notes = notes
            .into_iter()
            .map(|w| {
                let program = match s.programs.get(usize::from(w.track)).or(s.programs.last()) {
                    Some(p) if !w.is_drum => p.get(),
                    _ => w.program,
                };
                let (start, end) = (w.start as f64 / spq, w.end as f64 / spq);
                LiveNote {
                    track: w.track,
                    program,
                    is_drum: w.is_drum,
                    pitch: w.pitch,
                    velocity: (f64::from(w.velocity) * loudness).round().clamp(1.0, 127.0) as u8,
                    start,
                    end,
                    start_s: self.start_s + start * seconds_per_quarter,
                    end_s: self.start_s + end * seconds_per_quarter,
                    tied: w.tied,
                }
            })
            .collect();
        let bar = Bar {
            index: self.index,
            start_s: self.start_s,
            seconds: quarters * seconds_per_quarter,
            quarters,
            tempo_bpm: s.bpm,
            key: s.key.map(|k| k.name()),
            notes,
        };
        self.index += 1;
        self.start_s += bar.seconds;
        bar
    }

    /// Draws one item and feeds it back: the state then predicts the item after it.
    fn draw(&mut self) -> StepItem {
        self.stepper.feed(self.last);
        let item = self.drawer.draw(&mut self.stepper, self.rule, &self.options, self.lean.as_deref(), &mut self.rng);
        self.last = item;
        item
    }

    /// Samples a new bar: its notes and its length in steps.
    fn write_bar(&mut self) -> (Vec<Written>, u64) {
        match self.repr {
            ReprKind::PianoRoll => self.grid_bar(),
            ReprKind::Melody => self.grid_bar(),
            ReprKind::Performance => self.performance_bar(),
            ReprKind::Remi => self.remi_bar(),
        }
    }

    /// Notes sounding at the bar's end: cut there, and held on into the next bar.
    /// Notes held over the last bar line that stopped right at it are dropped here.
    fn close_bar(&mut self, steps: u64, notes: &mut Vec<Written>) {
        notes.retain(|n| n.end > n.start);
        for open in &mut self.open {
            notes.push(written(open, steps));
            *open = Open { start: 0, tied: true, ..*open };
        }
    }

    /// A piano-roll or melody bar: four quarters of grid steps.
    fn grid_bar(&mut self) -> (Vec<Written>, u64) {
        let steps = 4 * u64::from(self.steps_per_quarter);
        let mut notes = Vec::new();
        for step in 0..steps {
            match self.draw() {
                StepItem::Frame(frame) => {
                    let mut kept = Vec::with_capacity(self.open.len());
                    for open in self.open.drain(..) {
                        if frame >> (open.pitch - LOWEST_PITCH) & 1 == 1 {
                            kept.push(open);
                        } else {
                            notes.push(written(&open, step));
                        }
                    }
                    for k in (0..N_KEYS).filter(|k| frame >> k & 1 == 1) {
                        let pitch = LOWEST_PITCH + k as u8;
                        if !kept.iter().any(|o| o.pitch == pitch) {
                            let velocity = fugato_repr::pianoroll::DEFAULT_VELOCITY;
                            kept.push(Open { track: 0, pitch, velocity, start: step, tied: false });
                        }
                    }
                    self.open = kept;
                }
                StepItem::Token { id, .. } => match u32::from(id) {
                    melody::HOLD => {}
                    token => {
                        if let Some(open) = self.open.pop() {
                            notes.push(written(&open, step));
                        }
                        if let Some(pitch) = melody::token_pitch(token) {
                            self.open.push(Open {
                                track: 0,
                                pitch,
                                velocity: melody::VELOCITY,
                                start: step,
                                tied: false,
                            });
                        }
                    }
                },
            }
        }
        self.close_bar(steps, &mut notes);
        (notes, steps)
    }

    /// A performance bar: events until four quarters of time shifts have passed (a shift
    /// past the bar's end carries its rest into the next bar).
    fn performance_bar(&mut self) -> (Vec<Written>, u64) {
        let steps = 4 * u64::from(self.steps_per_quarter);
        let mut now = self.overshoot;
        let mut velocity = self.velocity;
        let mut notes = Vec::new();
        for _ in 0..MAX_PERFORMANCE_TOKENS_PER_BAR {
            if now >= steps {
                break;
            }
            let StepItem::Token { id, .. } = self.draw() else { unreachable!("a token model draws tokens") };
            match performance::Event::from_token(u32::from(id)) {
                Some(performance::Event::TimeShift(n)) => now += u64::from(n),
                Some(performance::Event::Velocity(bin)) => velocity = performance::bin_velocity(bin),
                Some(performance::Event::NoteOn(pitch)) => {
                    if let Some(i) = self.open.iter().position(|o| o.pitch == pitch) {
                        notes.push(written(&self.open.remove(i), now));
                    }
                    self.open.push(Open { track: 0, pitch, velocity, start: now, tied: false });
                }
                Some(performance::Event::NoteOff(pitch)) => {
                    if let Some(i) = self.open.iter().position(|o| o.pitch == pitch) {
                        notes.push(written(&self.open.remove(i), now));
                    }
                }
                None => {}
            }
        }
        self.overshoot = now.saturating_sub(steps);
        self.velocity = velocity;
        self.close_bar(steps, &mut notes);
        (notes, steps)
    }

    /// A REMI bar: tokens until the model writes the next BAR (it opens the next bar).
    fn remi_bar(&mut self) -> (Vec<Written>, u64) {
        let bar = remi::Token::Bar.id();
        let meter = remi::Token::TimeSig(self.meter.0, self.meter.1).id();
        let mut tokens = vec![bar, meter];
        for _ in 0..MAX_REMI_TOKENS_PER_BAR {
            let StepItem::Token { id, .. } = self.draw() else { unreachable!("a token model draws tokens") };
            if u32::from(id) == bar {
                break;
            }
            tokens.push(u32::from(id));
        }
        let parsed = remi::parse(&tokens);
        if let Some(ts) = parsed.time_signatures.last() {
            self.meter = (ts.numerator, ts.denominator);
        }
        let mut notes = Vec::new();
        for (part, group) in parsed.groups {
            let track = match self.parts.iter().position(|p| *p == part) {
                Some(i) => i,
                None => {
                    self.parts.push(part);
                    self.parts.len() - 1
                }
            } as u16;
            let is_drum = part.program == remi::DRUM_PROGRAM;
            let program = if is_drum { 0 } else { part.program as u8 };
            for note in fugato_score::resolve_same_pitch_overlaps(group) {
                notes.push(Written {
                    track,
                    program,
                    is_drum,
                    pitch: note.pitch.get(),
                    velocity: note.velocity.get(),
                    start: note.start_tick,
                    end: note.end_tick,
                    tied: false,
                });
            }
        }
        (notes, parsed.end_tick.max(1))
    }
}

fn written(open: &Open, end: u64) -> Written {
    Written {
        track: open.track,
        program: 0,
        is_drum: false,
        pitch: open.pitch,
        velocity: open.velocity,
        start: open.start,
        end,
        tied: open.tied,
    }
}

impl Bar {
    /// This bar alone as a score (times from its start): what a synthesizer renders of it.
    pub fn score(&self) -> Score {
        let mut one = Recording::default();
        one.add(self);
        one.score()
    }
}

/// Bars gathered into a score, as they were played: tied notes joined to the notes they
/// hold on, a tempo and a key signature where a bar changed them. What `play --record`
/// and the C library's recording write.
#[derive(Clone, Debug)]
pub struct Recording {
    score: Score,
    tempi: Vec<Tempo>,
    /// Per track: the index in `score.tracks`.
    tracks: Vec<Option<usize>>,
}

/// Ticks per quarter of a recording.
const RECORDING_TPQ: u16 = 480;

impl Default for Recording {
    fn default() -> Self {
        let mut score = Score::new(RECORDING_TPQ);
        score.time_signatures.push(TimeSignature { tick: 0, numerator: 4, denominator: 4 });
        Recording { score, tempi: Vec::new(), tracks: Vec::new() }
    }
}

impl Recording {
    pub fn add(&mut self, bar: &Bar) {
        let tpq = f64::from(RECORDING_TPQ);
        let start = self.score.end_tick;
        let us_per_quarter = (60e6 / bar.tempo_bpm).round() as u32;
        if self.tempi.last().is_none_or(|t| t.us_per_quarter != us_per_quarter) {
            self.tempi.push(Tempo { tick: start, us_per_quarter });
        }
        if let Some(key) = bar.key.as_deref().and_then(|k| KeySignature::parse(start, k)) {
            let last = self.score.key_signatures.last();
            if last.is_none_or(|l| (l.fifths, l.minor) != (key.fifths, key.minor)) {
                self.score.key_signatures.push(key);
            }
        }
        for note in &bar.notes {
            let t = usize::from(note.track);
            if self.tracks.len() <= t {
                self.tracks.resize(t + 1, None);
            }
            let index = *self.tracks[t].get_or_insert_with(|| {
                let mut track = Track::new(format!("part {}", t + 1));
                track.program = Program::new(note.program).expect("a note's program is < 128");
                track.is_drum = note.is_drum;
                track.channel = fugato_score::Channel::new(channel_of(t, note.is_drum)).expect("channel < 16");
                self.score.tracks.push(track);
                self.score.tracks.len() - 1
            });
            let track = &mut self.score.tracks[index];
            let (from, to) = (start + (note.start * tpq).round() as u64, start + (note.end * tpq).round() as u64);
            let held = note
                .tied
                .then(|| track.notes.iter_mut().rev().find(|n| n.pitch.get() == note.pitch && n.end_tick == from));
            match held.flatten() {
                Some(n) => n.end_tick = to,
                None if to > from => {
                    track.notes.push(
                        Note::new(note.pitch, note.velocity.max(1), from, to).expect("a note's values are 7-bit"),
                    );
                }
                None => {}
            }
        }
        self.score.end_tick = start + (bar.quarters * tpq).round() as u64;
    }

    /// The score so far.
    pub fn score(&self) -> Score {
        let mut score = self.score.clone();
        score.tempo_map = TempoMap::new(RECORDING_TPQ, self.tempi.clone()).expect("tempi are > 0");
        for track in &mut score.tracks {
            track.sort();
        }
        score.end_tick = score.end_tick.max(score.last_note_end_tick());
        score
    }
}

/// The MIDI channel (0-based) of a session's part: parts in order, around the drum channel.
pub fn channel_of(track: usize, is_drum: bool) -> u8 {
    if is_drum {
        return 9;
    }
    let c = (track % 15) as u8;
    if c >= 9 { c + 1 } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folk() -> Checkpoint {
        let name = "folk-melody".as_ref();
        crate::bundled::load(name, &crate::default_device()).unwrap().into_sequence(name).unwrap()
    }

    fn notes_of(bars: &[Bar]) -> Vec<(u64, u8, u8, u64, bool)> {
        bars.iter()
            .flat_map(|b| b.notes.iter().map(move |n| (b.index, n.pitch, n.velocity, (n.start * 4.0) as u64, n.tied)))
            .collect()
    }

    #[test]
    fn same_seed_and_changes_give_the_same_bars_and_a_key_change_holds_from_the_next_bar() {
        let model = folk();
        let run = |seed| {
            let controls = LiveControls { key: Some("D:major".into()), ..Default::default() };
            let mut s = Session::new(&model, &controls, seed).unwrap();
            let mut bars: Vec<Bar> = (0..4).map(|_| s.next_bar()).collect();
            s.change("key", "Bb:major").unwrap();
            bars.extend((0..4).map(|_| s.next_bar()));
            bars
        };
        let a = run(3);
        assert_eq!(notes_of(&a), notes_of(&run(3)));
        assert_ne!(notes_of(&a), notes_of(&run(4)));
        let in_scale = |bars: &[Bar], key: &str| {
            let scale = KeySignature::parse(0, key).unwrap().scale_pitch_classes();
            let new: Vec<_> = bars.iter().flat_map(|b| &b.notes).filter(|n| !n.tied).collect();
            assert!(!new.is_empty());
            new.iter().all(|n| scale.contains(&(n.pitch % 12)))
        };
        assert!(in_scale(&a[..4], "D:major"));
        assert!(in_scale(&a[4..], "Bb:major"));
        assert!(a.iter().all(|b| b.quarters == 4.0 && b.seconds == 2.0));
        assert_eq!(a[5].start_s, 10.0);
    }

    #[test]
    fn bad_changes_are_refused_and_change_nothing() {
        let model = folk();
        let mut s = Session::new(&model, &LiveControls::default(), 1).unwrap();
        let before = s.settings.clone();
        assert_eq!(s.change("key", "H:major").unwrap_err().field, "key");
        assert_eq!(s.change("tempo", "fast").unwrap_err().field, "tempo");
        assert_eq!(s.change("tempo", "1000").unwrap_err().field, "tempo");
        assert_eq!(s.change("intensity", "2").unwrap_err().field, "intensity");
        assert_eq!(s.change("style", "jig").unwrap_err().field, "style");
        assert_eq!(s.change("volume", "3").unwrap_err().field, "control");
        s.change("top_k", "5").unwrap();
        assert_eq!(s.change("top_p", "0.9").unwrap_err().field, "top_k");
        assert_eq!(
            s.settings,
            Settings { top_k: Some(5), sampling: Sampling::TopK { k: 5, temperature: 1.0 }, ..before }
        );
        let controls = LiveControls { tempo_bpm: Some(5.0), ..Default::default() };
        assert!(matches!(Session::new(&model, &controls, 1), Err(NnError::Control(e)) if e.field == "tempo"));
    }

    #[test]
    fn intensity_moves_note_density_and_velocity() {
        let model = folk();
        let count = |intensity: f64| {
            let controls = LiveControls { intensity: Some(intensity), ..Default::default() };
            let mut s = Session::new(&model, &controls, 5).unwrap();
            let bars: Vec<Bar> = (0..16).map(|_| s.next_bar()).collect();
            let notes: Vec<&LiveNote> = bars.iter().flat_map(|b| &b.notes).filter(|n| !n.tied).collect();
            (notes.len(), notes[0].velocity)
        };
        let (calm, tense) = (count(0.0), count(1.0));
        assert!(calm.0 * 3 / 2 < tense.0, "notes: calm {} vs tense {}", calm.0, tense.0);
        assert!(calm.1 < tense.1, "velocity: calm {} vs tense {}", calm.1, tense.1);
    }

    #[test]
    fn a_loop_repeats_its_bars_and_a_recording_joins_tied_notes() {
        let model = folk();
        let controls = LiveControls { loop_bars: Some(2), ..Default::default() };
        let mut s = Session::new(&model, &controls, 2).unwrap();
        let bars: Vec<Bar> = (0..6).map(|_| s.next_bar()).collect();
        let shape = |b: &Bar| b.notes.iter().map(|n| (n.pitch, (n.start * 4.0) as u64, n.tied)).collect::<Vec<_>>();
        assert_eq!(shape(&bars[2]), shape(&bars[4]));
        assert_eq!(shape(&bars[3]), shape(&bars[5]));
        assert!(bars[2].notes.iter().all(|n| !n.tied), "a loop's first bar strikes every note");

        let mut s = Session::new(&model, &LiveControls::default(), 9).unwrap();
        let mut recording = Recording::default();
        let bars: Vec<Bar> = (0..8).map(|_| s.next_bar()).collect();
        bars.iter().for_each(|b| recording.add(b));
        let score = recording.score();
        let struck = bars.iter().flat_map(|b| &b.notes).filter(|n| !n.tied).count();
        assert!(bars.iter().flat_map(|b| &b.notes).any(|n| n.tied), "seed 9 holds a note over a bar line");
        assert_eq!(score.n_notes(), struck);
        assert_eq!(score.end_tick, 8 * 4 * 480);
    }

    /// Every bundled sequence model streams, and its memory does not grow with the piece.
    #[test]
    fn every_bundled_sequence_model_streams() {
        let device = crate::default_device();
        for name in ["jsb-chorales", "folk-melody", "styles-melody", "chorale-parts"] {
            let model = crate::bundled::load(name.as_ref(), &device).unwrap().into_sequence(name.as_ref()).unwrap();
            let mut s = Session::new(&model, &LiveControls::default(), 1).unwrap();
            let bars: Vec<Bar> = (0..6).map(|_| s.next_bar()).collect();
            assert!(bars.iter().map(|b| b.notes.len()).sum::<usize>() > 0, "{name} wrote nothing");
            assert!(s.open.len() <= N_KEYS && s.parts.len() <= 129 * 16, "{name}");
            let mut t = 0.0;
            for b in &bars {
                assert_eq!(b.start_s, t, "{name}");
                t += b.seconds;
                assert!(b.notes.iter().all(|n| n.start >= 0.0 && n.end > n.start && n.start < b.quarters), "{name}");
            }
        }
    }
}
