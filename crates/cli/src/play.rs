//! `fugato play`: a live session ([`fugato_nn::stream`]) in real time, into a MIDI port,
//! the speakers or a null sink, with control changes read while it plays.
//!
//! The next bar is written when the current one starts (one bar ahead), so a note held
//! over the bar line is held, not struck again, and a control change takes effect from the
//! next bar written.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fugato_nn::stream::{Bar, LiveControls, Recording, Session, channel_of};

use crate::args::PlayArgs;
use crate::devices::{self, Sink};

pub struct Config {
    checkpoint: PathBuf,
    seed: u64,
    bars: Option<u64>,
    list_ports: bool,
    midi_out: Option<String>,
    audio: bool,
    soundfont: Option<PathBuf>,
    record: Option<PathBuf>,
    control: Option<PathBuf>,
    fast: bool,
    controls: LiveControls,
}

impl Config {
    pub fn from_args(a: PlayArgs) -> anyhow::Result<Config> {
        let null = a.midi_out.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("none"));
        if a.fast && (!null || a.audio) {
            bail!("--fast plays faster than real time: only into --midi-out none");
        }
        if a.bars == Some(0) {
            bail!("--bars must be at least 1");
        }
        Ok(Config {
            checkpoint: a.checkpoint,
            seed: a.seed,
            bars: a.bars,
            list_ports: a.list_ports,
            // Neither a port nor the speakers asked for: the first MIDI output port.
            midi_out: if a.midi_out.is_none() && !a.audio { Some(String::new()) } else { a.midi_out.filter(|_| !null) },
            audio: a.audio,
            soundfont: a.soundfont,
            record: a.record,
            control: a.control,
            fast: a.fast,
            controls: LiveControls {
                key: a.key,
                tempo_bpm: a.tempo,
                instrument: a.instrument,
                style: a.style,
                temperature: a.temperature,
                top_k: a.top_k,
                top_p: a.top_p,
                intensity: a.intensity,
                loop_bars: a.loop_bars,
            },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    if c.list_ports {
        let ports = devices::list_ports()?;
        let text = if ports.is_empty() { "no MIDI output ports\n".into() } else { ports.join("\n") + "\n" };
        return crate::print(&text);
    }
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(&c.checkpoint, &device)?.into_sequence(&c.checkpoint)?;
    let mut session = Session::new(&ckpt, &c.controls, c.seed).map_err(|e| match e {
        fugato_nn::NnError::Control(e) => anyhow::anyhow!("--{} {}", e.field.replace('_', "-"), e.message),
        e => e.into(),
    })?;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(port) = &c.midi_out {
        sinks.push(devices::midi_port(port)?);
    }
    if c.audio {
        sinks.push(devices::audio(c.soundfont.as_deref())?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_stop = stop.clone();
    // A second handler cannot be set (only in tests that run play twice): the first stays.
    let _ = ctrlc::set_handler(move || on_stop.store(true, Ordering::SeqCst));
    let changes = c.control.as_ref().map(read_changes).transpose()?;

    let mut player = Player { sinks, clock: Clock { start: Instant::now(), fast: c.fast }, ..Player::default() };
    let mut waiting: Vec<(u64, usize, String)> = Vec::new();
    let mut times = Vec::new();
    let mut recording = Recording::default();
    // Changes due by the bar about to be written (0-based), in the order given.
    let mut take_changes = |session: &mut Session, due: u64| {
        if let Some(rx) = &changes {
            waiting.extend(rx.try_iter());
        }
        for (_, line, text) in take_due(&mut waiting, due) {
            if let Err(e) = apply(session, &text) {
                eprintln!("fugato: control line {line} ({text:?}): {e}");
            }
        }
    };
    take_changes(&mut session, 0);
    let mut current = timed(&mut session, &mut times);
    let result = loop {
        let due = current.index + 1;
        take_changes(&mut session, due);
        let more = c.bars.is_none_or(|n| due < n) && !stop.load(Ordering::SeqCst);
        let next = more.then(|| timed(&mut session, &mut times));
        print_bar(&current)?;
        recording.add(&current);
        if let Err(e) = player.play(&current, next.as_ref(), &stop) {
            break Err(e);
        }
        match next {
            Some(next) if !stop.load(Ordering::SeqCst) => current = next,
            _ => break Ok(()),
        }
    };
    player.silence();
    if let Some(path) = &c.record {
        let score = recording.score();
        fugato_midi::write_file(&score, path).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}: {} notes", path.display(), score.n_notes());
    }
    result?;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "played {} bars of {}; writing a bar took {:.3} ms (median), {:.3} ms (99th percentile)",
        times.len(),
        fugato_nn::bundled::describe(&c.checkpoint).display(),
        at(0.5),
        at(0.99)
    );
    Ok(())
}

/// The next bar, its writing time kept in milliseconds.
fn timed(session: &mut Session, times: &mut Vec<f64>) -> Bar {
    let t = Instant::now();
    let bar = session.next_bar();
    times.push(t.elapsed().as_secs_f64() * 1e3);
    bar
}

fn print_bar(bar: &Bar) -> anyhow::Result<()> {
    let key = bar.key.as_deref().map(|k| format!("  key {k}")).unwrap_or_default();
    let struck = bar.notes.iter().filter(|n| !n.tied).count();
    crate::print(&format!(
        "bar {:>4} at {:>7.2} s: {struck:>3} notes  {:.0} bpm{key}\n",
        bar.index + 1,
        bar.start_s,
        bar.tempo_bpm
    ))
}

/// A control line, `name=value`.
fn apply(session: &mut Session, text: &str) -> anyhow::Result<()> {
    let Some((name, value)) = text.split_once('=') else { bail!("expected name=value, e.g. key=D:minor") };
    Ok(session.change(name, value)?)
}

/// Reads control lines: `(bar, line number, name=value)`, where bar is 0 for "as soon as
/// read". A regular file is read whole before the first bar (so its changes land on the
/// same bars every run); standard input or a pipe, on a thread of its own as lines come.
fn read_changes(path: &PathBuf) -> anyhow::Result<mpsc::Receiver<(u64, usize, String)>> {
    let (tx, rx) = mpsc::channel();
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        let reader = std::io::BufReader::new(std::io::stdin());
        std::thread::spawn(move || send_changes(reader, &name, &tx));
        return Ok(rx);
    }
    let file = std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let reader = std::io::BufReader::new(file);
    if regular {
        send_changes(reader, &name, &tx);
    } else {
        std::thread::spawn(move || send_changes(reader, &name, &tx));
    }
    Ok(rx)
}

/// Parses each control line of `reader` and sends it on; a line that does not parse is
/// reported and skipped.
fn send_changes(reader: impl BufRead, name: &str, tx: &mpsc::Sender<(u64, usize, String)>) {
    for (i, line) in reader.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("fugato: {name}: line {}: {e}", i + 1);
                return;
            }
        };
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let parsed = match text.strip_prefix('@').map(|t| t.split_once(char::is_whitespace)) {
            None => Some((0, text.to_string())),
            Some(Some((bar, rest))) => bar.parse::<u64>().ok().map(|b| (b.saturating_sub(1), rest.trim().to_string())),
            Some(None) => None,
        };
        let Some((bar, change)) = parsed else {
            eprintln!("fugato: {name}: line {}: expected @BAR name=value, e.g. @9 key=Bb:major", i + 1);
            continue;
        };
        if tx.send((bar, i + 1, change)).is_err() {
            return;
        }
    }
}

/// Removes and returns the waiting changes due by bar `index` (0-based), in order.
fn take_due(waiting: &mut Vec<(u64, usize, String)>, index: u64) -> Vec<(u64, usize, String)> {
    let (due, later) = std::mem::take(waiting).into_iter().partition(|(bar, _, _)| *bar <= index);
    *waiting = later;
    due
}

/// Real time, or none with `--fast`.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
    fast: bool,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { start: Instant::now(), fast: true }
    }
}

impl Clock {
    /// Waits until `seconds` after the start; false when `stop` was set meanwhile.
    fn wait_until(&self, seconds: f64, stop: &AtomicBool) -> bool {
        if self.fast {
            return !stop.load(Ordering::SeqCst);
        }
        let at = self.start + Duration::from_secs_f64(seconds.max(0.0));
        loop {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            let now = Instant::now();
            if now >= at {
                return true;
            }
            std::thread::sleep((at - now).min(Duration::from_millis(20)));
        }
    }
}

/// Sends bars' notes as MIDI messages at their times, holding tied notes.
#[derive(Default)]
struct Player {
    sinks: Vec<Box<dyn Sink>>,
    clock: Clock,
    /// Note-offs still to send: (time, channel, pitch).
    offs: Vec<(f64, u8, u8)>,
    /// The program last sent on each channel.
    programs: [Option<u8>; 16],
}

impl Player {
    fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.midi(bytes))
    }

    /// Plays `bar` up to its end; `next` (already written) says which notes it holds on.
    fn play(&mut self, bar: &Bar, next: Option<&Bar>, stop: &AtomicBool) -> anyhow::Result<()> {
        for sink in &mut self.sinks {
            sink.bar(bar)?;
        }
        let mut ons = Vec::new();
        for n in &bar.notes {
            let channel = channel_of(usize::from(n.track), n.is_drum);
            if !n.tied {
                ons.push((n.start_s, channel, n.pitch, n.velocity, n.program, n.is_drum));
            }
            let held = next.is_some_and(|next| {
                next.notes.iter().any(|m| m.tied && m.track == n.track && m.pitch == n.pitch && n.end == bar.quarters)
            });
            if !held {
                self.offs.push((n.end_s, channel, n.pitch));
            }
        }
        let end = bar.start_s + bar.seconds;
        let mut events: Vec<(f64, u8, [u8; 3])> = Vec::new();
        for &(t, channel, pitch, velocity, program, is_drum) in &ons {
            if !is_drum && self.programs[usize::from(channel)] != Some(program) {
                self.programs[usize::from(channel)] = Some(program);
                events.push((t, 0, [0xC0 | channel, program, 0]));
            }
            events.push((t, 2, [0x90 | channel, pitch, velocity]));
        }
        let (due, later): (Vec<_>, Vec<_>) = self.offs.drain(..).partition(|&(t, _, _)| t <= end);
        self.offs = later;
        events.extend(due.into_iter().map(|(t, channel, pitch)| (t, 1, [0x80 | channel, pitch, 0])));
        // By time; at one time, offs before program changes before ons.
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (t, kind, bytes) in events {
            if !self.clock.wait_until(t, stop) {
                return Ok(());
            }
            self.send(if kind == 0 { &bytes[..2] } else { &bytes })?;
        }
        self.clock.wait_until(end, stop);
        Ok(())
    }

    /// Every sounding note off, and all notes off on every channel.
    fn silence(&mut self) {
        for (_, channel, pitch) in std::mem::take(&mut self.offs) {
            let _ = self.send(&[0x80 | channel, pitch, 0]);
        }
        for channel in 0..16u8 {
            let _ = self.send(&[0xB0 | channel, 123, 0]);
        }
    }
}
