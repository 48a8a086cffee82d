//! Models built into the library (copies of the repository's `models/`), so
//! `--checkpoint NAME`, `fugato demo` and `fugato serve` work anywhere, with no files
//! beside the binary.

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, Checkpoint};
use crate::gan::train::GanCheckpoint;
use crate::seq2seq::train::Seq2SeqCheckpoint;
use crate::{Device, NnError, gan, seq2seq};

/// The model of `models/NAME` compiled in, described by `about`.
macro_rules! bundled {
    ($name:literal, $about:literal) => {
        Bundled {
            name: $name,
            about: $about,
            meta: include_str!(concat!("../../../models/", $name, "/checkpoint.json")),
            weights: include_bytes!(concat!("../../../models/", $name, "/model.bpk")),
        }
    };
}

/// A checkpoint built into the binary: its `checkpoint.json` and weights.
#[derive(Debug)]
pub struct Bundled {
    pub name: &'static str,
    pub about: &'static str,
    meta: &'static str,
    weights: &'static [u8],
}

pub const MODELS: [Bundled; 4] = [
    bundled!(
        "jsb-chorales",
        "RNN-NADE over quarter-note piano-roll frames of Bach chorales (5.05 nats/frame on JSB valid)"
    ),
    bundled!(
        "folk-melody",
        "LSTM 2x192 over sixteenth-note melody tokens of folk songs and dance tunes (0.836 nats/token on valid)"
    ),
    bundled!(
        "styles-melody",
        "LSTM 2x192 melody model with styles: chorale, song, jig, reel, hornpipe, strathspey, dance (0.816 nats/token on valid)"
    ),
    bundled!(
        "chorale-parts",
        "LSTM 2x256 over multi-track REMI tokens of Bach chorales: soprano, alto, tenor and bass as four tracks (0.461 nats/token on valid)"
    ),
];

impl Bundled {
    /// The bundled sequence model of that name.
    pub fn by_name(name: &str) -> Option<&'static Bundled> {
        named(&MODELS, name)
    }

    /// The styles the model knows (none for a model trained without styles).
    pub fn styles(&self) -> Vec<String> {
        checkpoint::styles_in(self.meta)
    }

    /// Where error messages say the files are.
    fn paths(&self) -> (PathBuf, PathBuf) {
        let dir = Path::new("<bundled>").join(self.name);
        (dir.join("checkpoint.json"), dir.join("model.bpk"))
    }

    /// A sequence model from [`MODELS`].
    pub fn load(&self, device: &Device) -> Result<Checkpoint, NnError> {
        let (meta_path, weights_path) = self.paths();
        let (meta, model) =
            checkpoint::from_parts(self.meta, &meta_path, self.weights.to_vec(), &weights_path, device)?;
        Ok(Checkpoint { meta, model, optimizer: None })
    }

    /// An encoder–decoder from [`SEQ2SEQ`].
    pub fn load_seq2seq(&self, device: &Device) -> Result<Seq2SeqCheckpoint, NnError> {
        let (meta_path, weights_path) = self.paths();
        let (meta, model) =
            seq2seq::train::from_parts(self.meta, &meta_path, self.weights.to_vec(), &weights_path, device)?;
        Ok(Seq2SeqCheckpoint { meta, model, optimizer: None })
    }

    /// A GAN from [`GANS`].
    pub fn load_gan(&self, device: &Device) -> Result<GanCheckpoint, NnError> {
        let (meta_path, weights_path) = self.paths();
        let (meta, gan) = gan::train::from_parts(self.meta, &meta_path, self.weights.to_vec(), &weights_path, device)?;
        Ok(GanCheckpoint::new(meta, gan))
    }
}

/// A checkpoint folder, a training run folder, or the name of a bundled model.
pub fn load_checkpoint(arg: &Path, device: &Device) -> Result<Checkpoint, NnError> {
    folder_or_bundled(arg, "model", &MODELS, |dir| checkpoint::load(dir, device), |m| m.load(device))
}

/// An encoder–decoder's checkpoint or run folder, or the name of a bundled one.
pub fn load_seq2seq_checkpoint(arg: &Path, device: &Device) -> Result<Seq2SeqCheckpoint, NnError> {
    folder_or_bundled(
        arg,
        "encoder–decoder",
        &SEQ2SEQ,
        |dir| seq2seq::train::load(dir, device),
        |m| m.load_seq2seq(device),
    )
}

/// A GAN's checkpoint or run folder, or the name of a bundled one.
pub fn load_gan_checkpoint(arg: &Path, device: &Device) -> Result<GanCheckpoint, NnError> {
    folder_or_bundled(arg, "GAN", &GANS, |dir| gan::train::load(dir, device), |m| m.load_gan(device))
}

/// `arg` through `folder` where it exists, else the one of `bundled` it names through
/// `load`; the error for neither lists the bundled names (`kind` says of what).
fn folder_or_bundled<T>(
    arg: &Path,
    kind: &str,
    bundled: &'static [Bundled],
    folder: impl FnOnce(&Path) -> Result<T, NnError>,
    load: impl FnOnce(&'static Bundled) -> Result<T, NnError>,
) -> Result<T, NnError> {
    if arg.exists() {
        return folder(arg);
    }
    match named(bundled, &arg.to_string_lossy()) {
        Some(m) => load(m),
        None => {
            let names: Vec<&str> = bundled.iter().map(|m| m.name).collect();
            Err(NnError::dataset(
                arg,
                format!(
                    "no such checkpoint folder, and no bundled {kind} of that name (bundled: {})",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// The encoder–decoders built into the library.
pub const SEQ2SEQ: [Bundled; 2] = [
    bundled!(
        "chorale-harmonizer",
        "LSTM encoder–decoder with attention: soprano in, alto, tenor and bass out, from Bach's chorales (`fugato harmonize`, `fugato similar`)"
    ),
    bundled!(
        "folk-continuation",
        "LSTM encoder–decoder with attention: four bars of a folk tune in, the next four out, from O'Neill's tunes (`fugato generate --primer`)"
    ),
];

/// The GANs built into the library.
pub const GANS: [Bundled; 1] = [bundled!(
    "chorale-gan",
    "C-RNN-GAN (LSTM 2x128 generator, CNN discriminator) over four-bar sixteenth-note segments of Bach chorales"
)];

/// The bundled encoder–decoder of that name.
pub fn seq2seq_by_name(name: &str) -> Option<&'static Bundled> {
    named(&SEQ2SEQ, name)
}

/// The bundled GAN of that name.
pub fn gan_by_name(name: &str) -> Option<&'static Bundled> {
    named(&GANS, name)
}

/// The model of `list` called `name`.
fn named(list: &'static [Bundled], name: &str) -> Option<&'static Bundled> {
    list.iter().find(|m| m.name == name)
}
