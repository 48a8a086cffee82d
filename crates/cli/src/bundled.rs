//! Models built into the binary (copies of `models/`), so `--checkpoint NAME` and
//! `fugato demo` work anywhere, with no files beside the binary.

use std::path::Path;

use anyhow::bail;
use fugato_nn::Device;
use fugato_nn::checkpoint::Checkpoint;

pub struct Bundled {
    pub name: &'static str,
    pub about: &'static str,
    meta: &'static str,
    weights: &'static [u8],
}

pub const MODELS: [Bundled; 1] = [Bundled {
    name: "jsb-chorales",
    about: "RNN-NADE over quarter-note piano-roll frames of Bach chorales (5.05 nats/frame on JSB valid)",
    meta: include_str!("../../../models/jsb-chorales/checkpoint.json"),
    weights: include_bytes!("../../../models/jsb-chorales/model.bpk"),
}];

/// A checkpoint folder, a training run folder, or the name of a bundled model.
pub fn load_checkpoint(arg: &Path, device: &Device) -> anyhow::Result<Checkpoint> {
    if arg.exists() {
        return Ok(fugato_nn::checkpoint::load(arg, device)?);
    }
    let name = arg.to_string_lossy();
    let Some(m) = MODELS.iter().find(|m| m.name == name) else {
        let names: Vec<&str> = MODELS.iter().map(|m| m.name).collect();
        bail!("{name}: no such checkpoint folder, and no bundled model of that name (bundled: {})", names.join(", "));
    };
    let meta_path = Path::new("<bundled>").join(m.name).join("checkpoint.json");
    let weights_path = Path::new("<bundled>").join(m.name).join("model.bpk");
    let (meta, model) =
        fugato_nn::checkpoint::from_parts(m.meta, &meta_path, m.weights.to_vec(), &weights_path, device)?;
    Ok(Checkpoint { meta, model, optimizer: None })
}
