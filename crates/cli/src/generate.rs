use std::path::PathBuf;

use anyhow::Context;
use fugato_nn::compose::{ComposeOptions, Controls, compose};
use fugato_repr::ReprKind;

use crate::args::GenerateArgs;

pub struct Config {
    checkpoint: PathBuf,
    out: PathBuf,
    primer: Option<PathBuf>,
    options: ComposeOptions,
}

impl Config {
    pub fn from_args(a: GenerateArgs) -> anyhow::Result<Config> {
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
        };
        // Flags are spelled with dashes: top_k → --top-k.
        let options = controls.check().map_err(|e| anyhow::anyhow!("--{} {}", e.field.replace('_', "-"), e.message))?;
        Ok(Config { checkpoint: a.checkpoint, out: a.out, primer: a.primer, options })
    }
}

pub fn run(mut c: Config) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load_checkpoint(&c.checkpoint, &device)?;
    if let Some(path) = &c.primer {
        c.options.primer = Some(fugato_midi::read_file(path, Default::default())?.score);
    }
    let piece = compose(&ckpt, &c.options, &device).context("composing")?;
    fugato_midi::write_file(&piece.score, &c.out)?;
    crate::print(&format!(
        "wrote {}: {} notes, {:.1} s ({} {} sampled with seed {}{})\n",
        c.out.display(),
        piece.score.n_notes(),
        piece.score.duration_s(),
        piece.steps,
        if ckpt.meta.data.repr == ReprKind::PianoRoll { "frames" } else { "tokens" },
        c.options.seed,
        if piece.repairs > 0 { format!("; {} tokens out of order dropped", piece.repairs) } else { String::new() }
    ))
}
