//! Where `fugato play` sends its notes: MIDI output ports (midir) and the speakers (cpal,
//! with fugato's built-in voices). Both need ALSA's development files to build on Linux,
//! so they come with the `devices` feature; without it, asking for them says so.

use fugato_nn::stream::Bar;

/// A place bars are played.
pub trait Sink {
    /// A MIDI message, sent when it is due.
    fn midi(&mut self, bytes: &[u8]) -> anyhow::Result<()>;
    /// A bar about to be played (audio renders it whole).
    fn bar(&mut self, _bar: &Bar) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(not(feature = "devices"))]
const BUILT_WITHOUT: &str = "this fugato was built without MIDI ports and audio: build it with `--features devices` \
     (on Linux it needs ALSA's libasound2-dev), or play into --midi-out none";

#[cfg(not(feature = "devices"))]
pub fn list_ports() -> anyhow::Result<Vec<String>> {
    anyhow::bail!(BUILT_WITHOUT)
}

#[cfg(not(feature = "devices"))]
pub fn midi_port(_name: &str) -> anyhow::Result<Box<dyn Sink>> {
    anyhow::bail!(BUILT_WITHOUT)
}

#[cfg(not(feature = "devices"))]
pub fn audio(_font: Option<&std::path::Path>) -> anyhow::Result<Box<dyn Sink>> {
    anyhow::bail!(BUILT_WITHOUT)
}

/// A MIDI input port's messages, as they come (the port stays open while this lives).
pub struct Input {
    pub messages: std::sync::mpsc::Receiver<Vec<u8>>,
    #[cfg(feature = "devices")]
    _connection: midir::MidiInputConnection<()>,
}

#[cfg(not(feature = "devices"))]
pub fn midi_in(_name: &str) -> anyhow::Result<Input> {
    anyhow::bail!(BUILT_WITHOUT)
}

#[cfg(feature = "devices")]
pub use real::{audio, list_ports, midi_in, midi_port};

#[cfg(feature = "devices")]
mod real {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use anyhow::{Context, anyhow};
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use fugato_nn::stream::Bar;
    use std::path::Path;

    use fugato_synth::{Font, LiveFont, LiveSynth};
    use midir::{MidiInput, MidiOutput, MidiOutputConnection};

    use super::{Input, Sink};

    /// The first input port whose name holds `name` (case aside).
    pub fn midi_in(name: &str) -> anyhow::Result<Input> {
        let input = MidiInput::new("fugato")
            .map_err(|e| anyhow!("no MIDI system to listen to (the ALSA sequencer, /dev/snd/seq): {e}"))?;
        let ports = input.ports();
        let wanted = name.to_lowercase();
        let names: Vec<String> = ports.iter().filter_map(|p| input.port_name(p).ok()).collect();
        let Some(port) = ports.iter().find(|p| input.port_name(p).is_ok_and(|n| n.to_lowercase().contains(&wanted)))
        else {
            return Err(match names.is_empty() {
                true => anyhow!("no MIDI input port named {name:?}: there are no MIDI input ports"),
                false => anyhow!("no MIDI input port named {name:?}; there are: {}", names.join(", ")),
            });
        };
        let (tx, messages) = std::sync::mpsc::channel();
        let connection = input
            .connect(port, "fugato", move |_, bytes, _| drop(tx.send(bytes.to_vec())), ())
            .map_err(|e| anyhow!("MIDI input port {name:?}: {e}"))?;
        Ok(Input { messages, _connection: connection })
    }

    fn midi_output() -> anyhow::Result<MidiOutput> {
        MidiOutput::new("fugato").map_err(|e| {
            anyhow!(
                "no MIDI system to play into (the ALSA sequencer, /dev/snd/seq): {e}; play into --midi-out none instead"
            )
        })
    }

    pub fn list_ports() -> anyhow::Result<Vec<String>> {
        let out = midi_output()?;
        Ok(out.ports().iter().filter_map(|p| out.port_name(p).ok()).collect())
    }

    struct Port(MidiOutputConnection);

    impl Sink for Port {
        fn midi(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
            self.0.send(bytes).map_err(|e| anyhow!("MIDI output: {e}"))
        }
    }

    /// The first output port whose name holds `name` (case aside).
    pub fn midi_port(name: &str) -> anyhow::Result<Box<dyn Sink>> {
        let out = midi_output()?;
        let ports = out.ports();
        let wanted = name.to_lowercase();
        let port = ports
            .iter()
            .find(|p| out.port_name(p).is_ok_and(|n| n.to_lowercase().contains(&wanted)))
            .ok_or_else(|| {
                let names: Vec<String> = ports.iter().filter_map(|p| out.port_name(p).ok()).collect();
                match names.is_empty() {
                    true => anyhow!("no MIDI output port to play into; play into --midi-out none instead"),
                    false => anyhow!("no MIDI output port named {name:?}; there are: {}", names.join(", ")),
                }
            })?;
        let connection = out.connect(port, "fugato").map_err(|e| anyhow!("MIDI output port {name:?}: {e}"))?;
        Ok(Box::new(Port(connection)))
    }

    /// What the sound card plays: bars rendered ahead by the built-in voices, or a
    /// SoundFont synthesizer played by the MIDI messages as they are sent.
    enum Voices {
        Builtin { queue: Arc<Mutex<VecDeque<[f32; 2]>>>, synth: LiveSynth },
        Font(Arc<Mutex<LiveFont>>),
    }

    struct Speakers {
        _stream: cpal::Stream,
        voices: Voices,
    }

    fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl Sink for Speakers {
        fn midi(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
            if let Voices::Font(font) = &self.voices {
                locked(font).midi(bytes);
            }
            Ok(())
        }

        fn bar(&mut self, bar: &Bar) -> anyhow::Result<()> {
            if let Voices::Builtin { queue, synth } = &mut self.voices {
                let frames = synth.render(&bar.score(), bar.seconds)?;
                locked(queue).extend(frames);
            }
            Ok(())
        }
    }

    /// The default output device, playing the built-in voices or the SoundFont at `font`.
    pub fn audio(font: Option<&Path>) -> anyhow::Result<Box<dyn Sink>> {
        let host = cpal::default_host();
        let device =
            host.default_output_device().ok_or_else(|| anyhow!("no audio output device (sound card) found"))?;
        let config = device.default_output_config().context("the audio output device gives no configuration")?;
        let channels = usize::from(config.channels());
        let rate = config.sample_rate();
        let voices = match font {
            Some(path) => Voices::Font(Arc::new(Mutex::new(LiveFont::new(&Font::load(path)?, rate)?))),
            None => Voices::Builtin { queue: Arc::default(), synth: LiveSynth::new(rate, None)? },
        };
        let feed = match &voices {
            Voices::Font(font) => Feed::Font(font.clone()),
            Voices::Builtin { queue, .. } => Feed::Queue(queue.clone()),
        };
        let stream = device
            .build_output_stream(
                config.into(),
                move |out: &mut [f32], _| match &feed {
                    Feed::Font(font) => locked(font).render(out, channels),
                    Feed::Queue(queue) => {
                        let mut q = locked(queue);
                        for frame in out.chunks_mut(channels) {
                            let [l, r] = q.pop_front().unwrap_or([0.0; 2]);
                            for (i, s) in frame.iter_mut().enumerate() {
                                *s = if i % 2 == 0 { l } else { r };
                            }
                        }
                    }
                },
                |e| eprintln!("fugato: audio output: {e}"),
                None,
            )
            .context("opening the audio output")?;
        stream.play().context("starting the audio output")?;
        Ok(Box::new(Speakers { _stream: stream, voices }))
    }

    /// The sound card callback's side of [`Voices`].
    enum Feed {
        Font(Arc<Mutex<LiveFont>>),
        Queue(Arc<Mutex<VecDeque<[f32; 2]>>>),
    }
}
