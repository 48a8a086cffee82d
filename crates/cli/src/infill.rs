//! `fugato infill`: bars of a one-part tune rewritten by a melody model
//! ([`fugato_nn::infill::infill`]), every other note kept.

use anyhow::Context;
use fugato_midi::ReadOptions;
use fugato_nn::infill::{InfillOptions, infill};

use crate::args::InfillArgs;

pub fn run(a: InfillArgs, read: ReadOptions) -> anyhow::Result<()> {
    let range = fugato_nn::infill::bar_range(&a.bars).map_err(|e| anyhow::anyhow!("--{} {}", e.field, e.message))?;
    let sampling = fugato_nn::compose::sampling(Some(a.temperature), None, None)
        .map_err(|e| anyhow::anyhow!("--{} {}", e.field, e.message))?;
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(&a.checkpoint, &device)?.into_sequence(&a.checkpoint)?;
    let piece = fugato_midi::read_file(&a.piece, read)?.score;
    let options = InfillOptions { bars: range, candidates: a.candidates, sampling, seed: a.seed };
    let out = infill(&ckpt, &piece, &options).with_context(|| format!("infilling {}", a.piece.display()))?;
    fugato_midi::write_file(&out.score, &a.out)?;
    crate::print(&format!(
        "{} → {}: bars {}-{} rewritten, {} new notes (candidate {} of {}: the bars after scored {:.1} nats)\n",
        a.piece.display(),
        a.out.display(),
        range.0,
        range.1,
        out.new_notes,
        out.chosen + 1,
        a.candidates,
        out.judged_by
    ))
}
