//! `fugato jam`: listens to a MIDI input port and plays along into a MIDI output port —
//! answering each phrase ([`fugato_nn::jam::Answerer`]) or harmonising each melody note as
//! it starts ([`fugato_nn::jam::Harmonizer`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fugato_nn::jam::{Answerer, Harmonizer};

use crate::args::JamArgs;
use crate::devices::{self, Sink};

/// A null sink: `--midi-out none`.
struct Nowhere;

impl Sink for Nowhere {
    fn midi(&mut self, _bytes: &[u8]) -> anyhow::Result<()> {
        Ok(())
    }
}

enum Engine {
    Answer(Box<Answerer>),
    Harmonize(Box<Harmonizer>),
}

pub fn run(a: JamArgs) -> anyhow::Result<()> {
    fugato_nn::compose::tempo(a.tempo).map_err(|e| anyhow::anyhow!("--tempo {}", e.message))?;
    let device = fugato_nn::default_device();
    let mut engine = if a.answer {
        let name = a.checkpoint.clone().unwrap_or_else(|| "folk-melody".into());
        let ckpt = fugato_nn::bundled::load(&name, &device)?.into_sequence(&name)?;
        Engine::Answer(Box::new(Answerer::new(ckpt, a.tempo, a.seed)?))
    } else {
        let name = a.checkpoint.clone().unwrap_or_else(|| "chorale-harmonizer".into());
        let ckpt = fugato_nn::bundled::load(&name, &device)?.into_seq2seq(&name)?;
        Engine::Harmonize(Box::new(Harmonizer::new(ckpt, a.tempo)?))
    };
    // The output first: a missing port is named before anything listens.
    let mut out: Box<dyn Sink> =
        if a.midi_out.eq_ignore_ascii_case("none") { Box::new(Nowhere) } else { devices::midi_port(&a.midi_out)? };
    let input = devices::midi_in(&a.midi_in)?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_stop = stop.clone();
    let _ = ctrlc::set_handler(move || on_stop.store(true, Ordering::SeqCst));
    println!("listening to {} (Ctrl-C stops)", a.midi_in);

    let start = Instant::now();
    let now = || start.elapsed().as_secs_f64();
    // Messages to send at a time (seconds from the start), and the voices under each
    // melody note still held.
    let mut due: Vec<(f64, [u8; 3])> = Vec::new();
    let mut under: Vec<(u8, Vec<(u8, u8)>)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if let Ok(bytes) = input.messages.recv_timeout(Duration::from_millis(5)) {
            let t = now();
            match (bytes.first().map(|b| b & 0xF0), bytes.get(1).copied(), bytes.get(2).copied()) {
                (Some(0x90), Some(pitch), Some(velocity)) if velocity > 0 => match &mut engine {
                    Engine::Answer(j) => j.note_on(t, pitch, velocity),
                    Engine::Harmonize(j) => {
                        let voices = j.note_on(t, pitch, velocity)?;
                        let sounding: Vec<(u8, u8)> =
                            voices.into_iter().enumerate().map(|(k, p)| (k as u8 + 1, p)).collect();
                        for &(channel, p) in &sounding {
                            out.midi(&[0x90 | channel, p, velocity])?;
                        }
                        under.push((pitch, sounding));
                    }
                },
                (Some(0x80 | 0x90), Some(pitch), _) => match &mut engine {
                    Engine::Answer(j) => j.note_off(t, pitch),
                    Engine::Harmonize(j) => {
                        j.note_off(t, pitch);
                        for (_, voices) in under.extract_if(.., |(p, _)| *p == pitch) {
                            for (channel, p) in voices {
                                out.midi(&[0x80 | channel, p, 0])?;
                            }
                        }
                    }
                },
                _ => {}
            }
        }
        if let Engine::Answer(j) = &mut engine
            && let Some(notes) = j.poll(now())?
        {
            println!("answering with {} notes", notes.len());
            for n in notes {
                due.push((n.start_s, [0x90, n.pitch, n.velocity]));
                due.push((n.end_s, [0x80, n.pitch, 0]));
            }
        }
        let t = now();
        for (_, bytes) in due.extract_if(.., |(at, _)| *at <= t) {
            out.midi(&bytes)?;
        }
    }
    for channel in 0..16u8 {
        out.midi(&[0xB0 | channel, 123, 0])?;
    }
    Ok(())
}
