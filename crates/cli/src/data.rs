//! Where training and evaluation data come from: [`fugato_data::Dataset`], with a MIDI
//! folder prepared first (with a progress bar).

use std::path::Path;

use fugato_data::{Dataset, PrepareConfig};
use fugato_midi::ReadOptions;
use fugato_repr::ReprKind;
use fugato_repr::pianoroll::DEFAULT_STEPS_PER_QUARTER;

/// How a new training run prepares a MIDI folder: `repr` on the default grid.
pub fn preparing(repr: ReprKind) -> PrepareConfig {
    PrepareConfig { repr, steps_per_quarter: DEFAULT_STEPS_PER_QUARTER, styles: false, programs_from_names: false }
}

/// Opens `path`; a MIDI folder is prepared into `prepare_into` as its config says first
/// (when given).
pub fn open(path: &Path, prepare_into: Option<(&Path, PrepareConfig)>, read: ReadOptions) -> anyhow::Result<Dataset> {
    if let (true, Some((out, config))) = (Dataset::needs_preparing(path), prepare_into) {
        crate::prepare::prepare_midi_folders(&[path.to_path_buf()], out, config, read)?;
        return Ok(Dataset::open(out)?);
    }
    Ok(Dataset::open(path)?)
}
