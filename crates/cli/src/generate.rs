use std::path::PathBuf;

use anyhow::{Context, bail};
use fugato_nn::Device;
use fugato_nn::checkpoint::Checkpoint;
use fugato_nn::sample::{SampleOptions, Sampling, Sequence, generate};
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::{Frame, LOWEST_PITCH, N_KEYS, PianoRoll};
use fugato_score::{KeySignature, Program, Score, TempoMap, gm};

use crate::args::GenerateArgs;

pub struct Config {
    pub(crate) checkpoint: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) bars: Option<usize>,
    pub(crate) steps: Option<usize>,
    pub(crate) sampling: Sampling,
    pub(crate) seed: u64,
    pub(crate) primer: Option<PathBuf>,
    pub(crate) key: Option<KeySignature>,
    pub(crate) us_per_quarter: Option<u32>,
    pub(crate) program: Option<Program>,
}

impl Config {
    pub fn from_args(a: GenerateArgs) -> anyhow::Result<Config> {
        if !(a.temperature >= 0.0 && a.temperature <= 10.0) {
            bail!("--temperature must be 0..=10, but was {}", a.temperature);
        }
        let sampling = match (a.temperature, a.top_k, a.top_p) {
            (0.0, _, _) => Sampling::ArgMax,
            (t, Some(k), _) if k >= 1 => Sampling::TopK { k, temperature: t },
            (_, Some(k), _) => bail!("--top-k must be at least 1, but was {k}"),
            (t, None, Some(p)) if p > 0.0 && p <= 1.0 => Sampling::TopP { p, temperature: t },
            (_, None, Some(p)) => bail!("--top-p must be in (0, 1], but was {p}"),
            (t, None, None) => Sampling::Temperature(t),
        };
        let key = a
            .key
            .as_deref()
            .map(|k| {
                KeySignature::parse(0, k).with_context(|| format!("--key {k:?}: expected e.g. C:major, F#m, Bb:minor"))
            })
            .transpose()?;
        let us_per_quarter = match a.tempo {
            Some(bpm) if (10.0..=400.0).contains(&bpm) => Some((60e6 / bpm).round() as u32),
            Some(bpm) => bail!("--tempo must be 10..=400 bpm, but was {bpm}"),
            None => None,
        };
        let program = match (a.program, &a.instrument) {
            (Some(p), _) => Some(Program::new(p)?),
            (None, Some(name)) => Some(gm::program_by_name(name).with_context(|| {
                format!("--instrument {name:?} names no single General MIDI instrument (try e.g. violin, flute, \"church organ\")")
            })?),
            (None, None) => None,
        };
        if a.steps == Some(0) || a.bars == Some(0) {
            bail!("--steps and --bars must be at least 1");
        }
        Ok(Config {
            checkpoint: a.checkpoint,
            out: a.out,
            bars: a.bars,
            steps: a.steps,
            sampling,
            seed: a.seed,
            primer: a.primer,
            key,
            us_per_quarter,
            program,
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let ckpt = crate::bundled::load_checkpoint(&c.checkpoint, &device)?;
    let (score, steps, repairs) = compose(&ckpt, &c, &device)?;
    fugato_midi::write_file(&score, &c.out)?;
    crate::print(&format!(
        "wrote {}: {} notes, {:.1} s ({steps} {} sampled with seed {}{})\n",
        c.out.display(),
        score.n_notes(),
        score.duration_s(),
        if ckpt.meta.data.repr == ReprKind::PianoRoll { "frames" } else { "tokens" },
        c.seed,
        if repairs > 0 { format!("; {repairs} tokens out of order dropped") } else { String::new() }
    ))
}

/// Samples a new piece: returns the score (at ≥ 480 ticks per quarter), the steps
/// sampled and the tokens dropped while decoding.
pub fn compose(ckpt: &Checkpoint, c: &Config, device: &Device) -> anyhow::Result<(Score, usize, usize)> {
    let repr = ckpt.meta.data.repr;
    // Piano-roll benchmark files carry no grid; JSB Chorales, the usual one, has a frame per quarter.
    let spq = ckpt.meta.data.steps_per_quarter.unwrap_or(1);
    let primer_score = match &c.primer {
        Some(path) => Some(fugato_midi::read_file(path, Default::default())?.score),
        None => None,
    };
    let primer = match (&primer_score, repr) {
        (None, ReprKind::PianoRoll) => Sequence::Frames(Vec::new()),
        (None, _) => Sequence::Tokens(Vec::new()),
        (Some(s), ReprKind::PianoRoll) => Sequence::Frames(PianoRoll::encode(s, spq)?.frames()),
        (Some(s), kind) => Sequence::Tokens(
            kind.encode_tokens(s).expect("token representation")?.into_iter().map(|t| t as u16).collect(),
        ),
    };
    let steps = match (c.steps, c.bars, repr) {
        (Some(s), _, _) => s,
        (None, Some(b), ReprKind::PianoRoll) => b * 4 * spq as usize,
        (None, Some(b), ReprKind::Melody) => b * 16,
        (None, Some(_), kind) => {
            bail!("--bars works for piano-roll and melody models; give --steps for {}", kind.name())
        }
        (None, None, ReprKind::PianoRoll) => 32 * spq as usize,
        (None, None, ReprKind::Melody) => 128,
        (None, None, _) => 512,
    };
    let options = SampleOptions {
        steps,
        sampling: c.sampling,
        seed: c.seed,
        allowed_units: c.key.map(|k| scale_units(&k)),
        allowed_tokens: match (c.key, repr) {
            (Some(k), ReprKind::Melody) => Some(melody_tokens_in(&k)),
            (Some(_), ReprKind::PianoRoll) | (None, _) => None,
            (Some(_), kind) => bail!("--key works for piano-roll and melody models, not {}", kind.name()),
        },
    };
    let new = generate(&ckpt.model, &primer, &options, device);
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
    for track in &mut score.tracks {
        if let Some(p) = c.program {
            track.program = p;
        }
    }
    Ok((score.at_least_resolution(480)?, steps, repairs))
}

/// The piano-roll units whose pitches belong to the key's scale.
fn scale_units(key: &KeySignature) -> Frame {
    let scale = key.scale_pitch_classes();
    (0..N_KEYS).filter(|k| scale.contains(&((LOWEST_PITCH + *k as u8) % 12))).fold(0, |f, k| f | 1 << k)
}

/// Melody tokens allowed in the key: HOLD, REST and the scale's pitches.
fn melody_tokens_in(key: &KeySignature) -> Vec<bool> {
    let scale = key.scale_pitch_classes();
    (0..fugato_repr::melody::VOCAB_SIZE)
        .map(|t| fugato_repr::melody::token_pitch(t).is_none_or(|p| scale.contains(&(p % 12))))
        .collect()
}
