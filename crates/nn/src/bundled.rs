//! Loading a model of any family by one name: a checkpoint folder, a training run folder
//! (its `best/`), or a model built into the library (copies of the repository's
//! `models/`), so `--checkpoint NAME`, `fugato demo` and `fugato serve` work anywhere,
//! with no files beside the binary. [`load`] reads a checkpoint's `format` once and
//! returns the [`Model`] of its family.

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, Checkpoint};
use crate::gan::train::GanCheckpoint;
use crate::seq2seq::train::Seq2SeqCheckpoint;
use crate::{Device, NnError, gan, seq2seq};

/// The model families a checkpoint can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A sequence model (`format: fugato-checkpoint`): RNN, LSTM or GRU over frames or tokens.
    Sequence,
    /// An encoder–decoder (`format: fugato-seq2seq`): a harmoniser or a continuation model.
    Seq2Seq,
    /// A GAN (`format: fugato-gan`).
    Gan,
}

impl Kind {
    /// The `format` of its `checkpoint.json`.
    pub fn format(self) -> &'static str {
        match self {
            Kind::Sequence => checkpoint::FORMAT,
            Kind::Seq2Seq => seq2seq::train::FORMAT,
            Kind::Gan => gan::train::FORMAT,
        }
    }

    /// The family of a `checkpoint.json`'s `format`.
    pub fn of_format(format: &str) -> Option<Kind> {
        [Kind::Sequence, Kind::Seq2Seq, Kind::Gan].into_iter().find(|k| k.format() == format)
    }

    /// In words, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sequence => "a sequence model",
            Kind::Seq2Seq => "an encoder–decoder",
            Kind::Gan => "a GAN",
        }
    }
}

/// A loaded model of any family.
// One per command, moved once: boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Model {
    Sequence(Checkpoint),
    Seq2Seq(Seq2SeqCheckpoint),
    Gan(GanCheckpoint),
}

impl Model {
    pub fn kind(&self) -> Kind {
        match self {
            Model::Sequence(_) => Kind::Sequence,
            Model::Seq2Seq(_) => Kind::Seq2Seq,
            Model::Gan(_) => Kind::Gan,
        }
    }

    /// The sequence model, or an error naming `arg` and what it is instead.
    pub fn into_sequence(self, arg: &Path) -> Result<Checkpoint, NnError> {
        match self {
            Model::Sequence(c) => Ok(c),
            other => Err(other.not(arg, Kind::Sequence)),
        }
    }

    /// The encoder–decoder, or an error naming `arg` and what it is instead.
    pub fn into_seq2seq(self, arg: &Path) -> Result<Seq2SeqCheckpoint, NnError> {
        match self {
            Model::Seq2Seq(c) => Ok(c),
            other => Err(other.not(arg, Kind::Seq2Seq)),
        }
    }

    /// The GAN, or an error naming `arg` and what it is instead.
    pub fn into_gan(self, arg: &Path) -> Result<GanCheckpoint, NnError> {
        match self {
            Model::Gan(c) => Ok(c),
            other => Err(other.not(arg, Kind::Gan)),
        }
    }

    fn not(&self, arg: &Path, wanted: Kind) -> NnError {
        NnError::dataset(arg, format!("{}, not {}", self.kind().name(), wanted.name()))
    }
}

/// The model of `models/NAME` compiled in, of family `$kind`, described by `about`.
macro_rules! bundled {
    ($name:literal, $kind:ident, $about:literal) => {
        Bundled {
            name: $name,
            kind: Kind::$kind,
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
    pub kind: Kind,
    pub about: &'static str,
    meta: &'static str,
    weights: &'static [u8],
}

/// Every bundled model: the sequence models, then the encoder–decoders, then the GANs.
pub const BUNDLED: [Bundled; 8] = [
    bundled!(
        "jsb-chorales",
        Sequence,
        "RNN-NADE over quarter-note piano-roll frames of Bach chorales (5.05 nats/frame on JSB valid)"
    ),
    bundled!(
        "folk-melody",
        Sequence,
        "LSTM 2x192 over sixteenth-note melody tokens of folk songs and dance tunes (0.836 nats/token on valid)"
    ),
    bundled!(
        "styles-melody",
        Sequence,
        "LSTM 2x192 melody model with styles: chorale, song, jig, reel, hornpipe, strathspey, dance (0.816 nats/token on valid)"
    ),
    bundled!(
        "chorale-parts",
        Sequence,
        "LSTM 2x256 over multi-track REMI tokens of Bach chorales: soprano, alto, tenor and bass as four tracks (0.461 nats/token on valid)"
    ),
    bundled!(
        "chorale-transformer",
        Sequence,
        "Transformer 4x128 (relative attention, windows of 256) over the same REMI tokens of Bach chorales: four tracks (0.421 nats/token on valid)"
    ),
    bundled!(
        "chorale-harmonizer",
        Seq2Seq,
        "LSTM encoder–decoder with attention: soprano in, alto, tenor and bass out, from Bach's chorales (`fugato harmonize`, `fugato similar`)"
    ),
    bundled!(
        "folk-continuation",
        Seq2Seq,
        "LSTM encoder–decoder with attention: four bars of a folk tune in, the next four out, from O'Neill's tunes (`fugato generate --primer`)"
    ),
    bundled!(
        "chorale-gan",
        Gan,
        "C-RNN-GAN (LSTM 2x128 generator, CNN discriminator) over four-bar sixteenth-note segments of Bach chorales"
    ),
];

impl Bundled {
    /// The bundled model of that name.
    pub fn by_name(name: &str) -> Option<&'static Bundled> {
        BUNDLED.iter().find(|m| m.name == name)
    }

    /// The styles the model knows (none for a model trained without styles).
    pub fn styles(&self) -> Vec<String> {
        checkpoint::styles_in(self.meta)
    }

    /// Loads it onto `device`.
    pub fn load(&self, device: &Device) -> Result<Model, NnError> {
        let dir = Path::new("<bundled>").join(self.name);
        from_parts(self.meta, &dir.join("checkpoint.json"), self.weights.to_vec(), &dir.join("model.bpk"), device)
    }
}

/// A checkpoint folder, a training run folder (its `best/`), or the name of a bundled
/// model, loaded onto `device` as the model of its family.
pub fn load(arg: &Path, device: &Device) -> Result<Model, NnError> {
    if arg.exists() {
        let f = checkpoint::read_folder(arg)?;
        return from_parts(&f.meta, &f.meta_path, f.weights, &f.weights_path, device);
    }
    match Bundled::by_name(&arg.to_string_lossy()) {
        Some(m) => m.load(device),
        None => {
            let names: Vec<&str> = BUNDLED.iter().map(|m| m.name).collect();
            Err(NnError::dataset(
                arg,
                format!("no such checkpoint folder, and no bundled model of that name (bundled: {})", names.join(", ")),
            ))
        }
    }
}

/// The family of the checkpoint folder `dir` (or of a run's `best/`), from its `format`.
pub fn kind_of(dir: &Path) -> Result<Kind, NnError> {
    kind_of_file(&checkpoint::resolve(dir).join("checkpoint.json"))
}

/// The family of a `checkpoint.json` (or a run's `run.json`), from its `format`.
pub fn kind_of_file(path: &Path) -> Result<Kind, NnError> {
    let text = std::fs::read_to_string(path).map_err(NnError::io(path))?;
    let format = checkpoint::format_in(&text, path)?;
    Kind::of_format(&format).ok_or_else(|| NnError::dataset(path, format!("unknown checkpoint format {format:?}")))
}

/// A model from the text of a `checkpoint.json` and the bytes of its weights, by the
/// family its `format` names (the paths only name the parts in errors).
fn from_parts(
    text: &str,
    meta_path: &Path,
    weights: Vec<u8>,
    weights_path: &Path,
    device: &Device,
) -> Result<Model, NnError> {
    let format = checkpoint::format_in(text, meta_path)?;
    let Some(kind) = Kind::of_format(&format) else {
        return Err(NnError::dataset(meta_path, format!("unknown checkpoint format {format:?}")));
    };
    Ok(match kind {
        Kind::Sequence => {
            let (meta, model) = checkpoint::from_parts(text, meta_path, weights, weights_path, device)?;
            Model::Sequence(Checkpoint { meta, model })
        }
        Kind::Seq2Seq => {
            let (meta, model) = seq2seq::train::from_parts(text, meta_path, weights, weights_path, device)?;
            Model::Seq2Seq(Seq2SeqCheckpoint { meta, model })
        }
        Kind::Gan => {
            let (meta, gan) = gan::train::from_parts(text, meta_path, weights, weights_path, device)?;
            Model::Gan(GanCheckpoint { meta, gan })
        }
    })
}

/// Where the checkpoint `arg` names is on disk, for messages (a bundled model's name as
/// it is).
pub fn describe(arg: &Path) -> PathBuf {
    if arg.exists() { checkpoint::resolve(arg) } else { arg.to_path_buf() }
}
