use std::path::{Path, PathBuf};

use anyhow::Context;
use fugato_nn::Device;
use fugato_nn::bundled::Model;
use fugato_nn::compose::{ComposeOptions, Controls, compose};
use fugato_nn::gan::train::GanCheckpoint;
use fugato_nn::seq2seq::harmony::{HarmonizeOptions, continue_melody};
use fugato_nn::seq2seq::train::Seq2SeqCheckpoint;
use fugato_repr::ReprKind;

use fugato_synth::RenderOptions;

use crate::args::GenerateArgs;
use crate::render::{LoadedFont, render_to};

pub struct Config {
    checkpoint: PathBuf,
    out: PathBuf,
    wav: Option<PathBuf>,
    n: usize,
    primer: Option<PathBuf>,
    read: fugato_midi::ReadOptions,
    options: ComposeOptions,
    /// GAN models: segments per piece, interpolation and binarisation.
    segments: usize,
    interpolate: Option<usize>,
    bernoulli: bool,
}

/// Most pieces one command writes.
const MAX_PIECES: usize = 10_000;

impl Config {
    pub fn from_args(a: GenerateArgs, read: fugato_midi::ReadOptions) -> anyhow::Result<Config> {
        let controls = Controls {
            bars: a.bars,
            steps: a.steps,
            seconds: a.seconds,
            temperature: Some(a.temperature),
            top_k: a.top_k,
            top_p: a.top_p,
            seed: a.seed,
            key: a.key,
            tempo_bpm: a.tempo,
            program: a.program,
            instrument: a.instrument,
            style: a.style,
        };
        // Flags are spelled with dashes: top_k → --top-k.
        let options = controls.check().map_err(|e| anyhow::anyhow!("--{} {}", e.field.replace('_', "-"), e.message))?;
        if !(1..=MAX_PIECES).contains(&a.n) {
            anyhow::bail!("--n must be 1..={MAX_PIECES}, but was {}", a.n);
        }
        if a.interpolate.is_some_and(|n| !(2..=1000).contains(&n)) {
            anyhow::bail!("--interpolate must be 2..=1000 steps");
        }
        Ok(Config {
            checkpoint: a.checkpoint,
            out: a.out,
            wav: a.wav,
            n: a.n,
            primer: a.primer,
            read,
            options,
            segments: a.bars.map_or(1, |b| b.div_ceil(4)).max(1),
            interpolate: a.interpolate,
            bernoulli: a.bernoulli,
        })
    }
}

pub fn run(mut c: Config) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let ckpt = match fugato_nn::bundled::load(&c.checkpoint, &device)? {
        Model::Gan(ckpt) => return run_gan(&c, &ckpt, &device),
        _ if c.interpolate.is_some() || c.bernoulli => {
            anyhow::bail!("--interpolate and --bernoulli need a GAN checkpoint")
        }
        Model::Seq2Seq(ckpt) => return run_continuation(&c, &ckpt, &device),
        Model::Sequence(ckpt) => ckpt,
    };
    if let Some(path) = &c.primer {
        c.options.primer = Some(fugato_midi::read_file(path, c.read)?.score);
    }
    // One SoundFont load for all the pieces.
    let font = match &c.wav {
        Some(_) => fugato_synth::installed_soundfont().as_deref().map(LoadedFont::load).transpose()?,
        None => None,
    };
    let seed = c.options.seed;
    for i in 0..c.n {
        let options = ComposeOptions { seed: seed.wrapping_add(i as u64), ..c.options.clone() };
        let (out, wav) = (numbered(&c.out, i, c.n), c.wav.as_ref().map(|w| numbered(w, i, c.n)));
        let start = std::time::Instant::now();
        let piece = compose(&ckpt, &options).context("composing")?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        fugato_midi::write_file(&piece.score, &out)?;
        let mut text = format!(
            "wrote {}: {} notes, {:.1} s ({} {} sampled in {ms:.1} ms with seed {}{}{})\n",
            out.display(),
            piece.score.n_notes(),
            piece.score.duration_s(),
            piece.steps,
            if ckpt.meta.data.repr == ReprKind::PianoRoll { "frames" } else { "tokens" },
            options.seed,
            piece.style.map(|s| format!(", style {s}")).unwrap_or_default(),
            if piece.repairs > 0 { format!("; {} tokens out of order dropped", piece.repairs) } else { String::new() }
        );
        if let Some(wav) = wav {
            text += &render_to(&piece.score, &wav, font.as_ref(), &RenderOptions::default())?;
        }
        crate::print(&text)?;
    }
    Ok(())
}

/// A continuation model: the primer's melody extended four bars at a time (`--bars`,
/// rounded up to whole spans of four; four without it).
fn run_continuation(c: &Config, ckpt: &Seq2SeqCheckpoint, device: &Device) -> anyhow::Result<()> {
    let Some(primer) = &c.primer else {
        anyhow::bail!("{}: an encoder–decoder continues a melody: give it one with --primer", c.checkpoint.display());
    };
    if ckpt.meta.task != fugato_nn::seq2seq::Task::Continue {
        anyhow::bail!("{}: a harmoniser; use fugato harmonize MELODY.mid", c.checkpoint.display());
    }
    let input = fugato_midi::read_file(primer, c.read)?.score;
    let spans = c.options.bars.unwrap_or(4).div_ceil(4).max(1);
    for i in 0..c.n {
        let out = numbered(&c.out, i, c.n);
        let seed = c.options.seed.wrapping_add(i as u64 * spans as u64);
        let options = HarmonizeOptions { sampling: c.options.sampling, seed, ..Default::default() };
        let score = continue_melody(&ckpt.model, &input, spans, &options, device)
            .with_context(|| format!("continuing {}", primer.display()))?;
        fugato_midi::write_file(&score, &out)?;
        crate::print(&format!(
            "wrote {}: {} notes ({} added in {} bars, seed {seed})\n",
            out.display(),
            score.n_notes(),
            score.n_notes() - input.n_notes(),
            4 * spans
        ))?;
    }
    Ok(())
}

/// Pieces from a GAN: four-bar segments, one seed each, or an interpolation.
fn run_gan(c: &Config, ckpt: &GanCheckpoint, device: &Device) -> anyhow::Result<()> {
    let font = match &c.wav {
        Some(_) => fugato_synth::installed_soundfont().as_deref().map(LoadedFont::load).transpose()?,
        None => None,
    };
    for i in 0..c.n {
        let (out, wav) = (numbered(&c.out, i, c.n), c.wav.as_ref().map(|w| numbered(w, i, c.n)));
        let seed = c.options.seed.wrapping_add((i * c.segments.max(2)) as u64);
        let start = std::time::Instant::now();
        let score = crate::gan::generate(ckpt, seed, c.segments, c.interpolate, c.bernoulli, device)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        fugato_midi::write_file(&score, &out)?;
        let what = match c.interpolate {
            Some(n) => format!("{n} segments from seed {seed} to seed {}", seed + 1),
            None => format!("{} segment(s) from seed {seed}", c.segments),
        };
        let mut text = format!("wrote {}: {} notes, {what}, in {ms:.1} ms\n", out.display(), score.n_notes());
        if let Some(wav) = wav {
            text += &render_to(&score, &wav, font.as_ref(), &RenderOptions::default())?;
        }
        crate::print(&text)?;
    }
    Ok(())
}

/// `piece.mid` itself for one piece; `piece-1.mid`, `piece-2.mid`, … for several.
fn numbered(path: &Path, i: usize, n: usize) -> PathBuf {
    if n == 1 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{}.{}", i + 1, ext.to_string_lossy()),
        None => format!("{stem}-{}", i + 1),
    };
    path.with_file_name(name)
}
