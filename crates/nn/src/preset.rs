//! Training presets: TOML files with a `[model]` and a `[train]` table. The files in
//! `configs/` are built into the binary, so `--preset NAME` works anywhere.

use serde::{Deserialize, Serialize};

use crate::model::{AttentionConfig, CellKind, DEFAULT_NADE_HIDDEN, HeadKind, Input, ModelConfig};
use crate::train::TrainConfig;

/// The model part of a preset: everything but what the data decides (input and outputs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPreset {
    pub cell: CellKind,
    #[serde(default)]
    pub peephole: bool,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f64,
    /// Piano-roll head (default sigmoid); token data always gets a softmax.
    pub head: Option<HeadKind>,
    #[serde(default = "default_nade_hidden")]
    pub nade_hidden: usize,
    /// Token models: embedding size (default: the hidden size; a transformer's is always).
    pub embedding: Option<usize>,
    /// `cell = "transformer"`: `[model.attention]`.
    pub attention: Option<AttentionConfig>,
}

fn default_nade_hidden() -> usize {
    DEFAULT_NADE_HIDDEN
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub model: ModelPreset,
    #[serde(default)]
    pub train: TrainConfigPartial,
}

/// `[train]` with every field optional; missing ones take [`TrainConfig::default`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfigPartial(toml::Table);

impl TrainConfigPartial {
    pub fn resolve(&self) -> Result<TrainConfig, String> {
        let mut table = toml::Table::try_from(TrainConfig::default()).expect("plain data");
        for (k, v) in &self.0 {
            if !table.contains_key(k) {
                return Err(format!("unknown [train] setting {k:?}"));
            }
            table.insert(k.clone(), v.clone());
        }
        table.try_into().map_err(|e: toml::de::Error| e.message().to_string())
    }
}

/// The presets in `configs/`, by name.
pub const BUILT_IN: [(&str, &str); 12] = [
    ("seed-keras", include_str!("../../../configs/seed-keras.toml")),
    ("jsb-lstm", include_str!("../../../configs/jsb-lstm.toml")),
    ("jsb-gru", include_str!("../../../configs/jsb-gru.toml")),
    ("jsb-rnn", include_str!("../../../configs/jsb-rnn.toml")),
    ("jsb-nade", include_str!("../../../configs/jsb-nade.toml")),
    ("nottingham-lstm", include_str!("../../../configs/nottingham-lstm.toml")),
    ("piano-lstm", include_str!("../../../configs/piano-lstm.toml")),
    ("nottingham-nade", include_str!("../../../configs/nottingham-nade.toml")),
    ("melody-lstm", include_str!("../../../configs/melody-lstm.toml")),
    ("remi-lstm", include_str!("../../../configs/remi-lstm.toml")),
    ("transformer-remi", include_str!("../../../configs/transformer-remi.toml")),
    ("transformer-jsb", include_str!("../../../configs/transformer-jsb.toml")),
];

impl Preset {
    pub fn parse(text: &str) -> Result<Preset, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// A built-in preset by name.
    pub fn built_in(name: &str) -> Option<Preset> {
        BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, text)| Preset::parse(text).expect("built-in presets parse"))
    }

    /// The model for data whose items are `input`, with `outputs` units or tokens.
    pub fn model_config(&self, input: Input, outputs: usize) -> ModelConfig {
        let m = &self.model;
        let (input, head) = match input {
            Input::Frames { .. } => (input, m.head.unwrap_or(HeadKind::Sigmoid)),
            // A preset's piano-roll head (sigmoid, NADE) does not apply to tokens.
            Input::Tokens { vocab, styles, .. } => {
                let head = match m.head {
                    Some(HeadKind::Regression) => HeadKind::Regression,
                    _ => HeadKind::Softmax,
                };
                let embedding =
                    if m.cell == CellKind::Transformer { m.hidden } else { m.embedding.unwrap_or(m.hidden) };
                (Input::Tokens { vocab, embedding, styles }, head)
            }
        };
        ModelConfig {
            cell: m.cell,
            peephole: m.peephole,
            hidden: m.hidden,
            layers: m.layers,
            dropout: m.dropout,
            head,
            input,
            outputs,
            nade_hidden: m.nade_hidden,
            attention: if m.cell == CellKind::Transformer { m.attention.clone() } else { None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_presets_parse_and_resolve() {
        for (name, _) in BUILT_IN {
            let p = Preset::built_in(name).unwrap();
            let train = p.train.resolve().unwrap();
            train.validate().unwrap();
            p.model_config(Input::Frames { units: 88 }, 88).validate().unwrap();
        }
        let keras = Preset::built_in("seed-keras").unwrap();
        assert_eq!((keras.model.layers, keras.model.hidden, keras.model.dropout), (3, 128, 0.5));
        assert_eq!(keras.train.resolve().unwrap().batch, 32);
    }

    #[test]
    fn unknown_settings_are_refused() {
        let p = Preset::parse(
            "[model]\ncell = \"lstm\"\nhidden = 8\nlayers = 1\ndropout = 0.0\n[train]\nlearning_rate = 1",
        )
        .unwrap();
        assert_eq!(p.train.resolve().unwrap_err(), "unknown [train] setting \"learning_rate\"");
        assert!(Preset::parse("[model]\ncell = \"lstm\"\nhidden = 8\nlayers = 1\ndropout = 0.0\nsize = 3").is_err());
    }
}
