use std::path::PathBuf;

use anyhow::bail;
use fugato_data::Split;
use fugato_nn::bundled::Model;
use fugato_nn::evaluate::evaluate;

use crate::args::{EvaluateArgs, EvaluateSplit};

pub struct Config {
    checkpoint: PathBuf,
    data: PathBuf,
    /// None: the default split; `Some(None)`: all of them.
    split: Option<Option<Split>>,
    json: bool,
    /// A harmoniser's beam width; 1 for every other model.
    beam: usize,
    read: fugato_midi::ReadOptions,
}

impl Config {
    pub fn from_args(a: EvaluateArgs, read: fugato_midi::ReadOptions) -> anyhow::Result<Config> {
        let split = a.split.map(|s| match s {
            EvaluateSplit::Train => Some(Split::Train),
            EvaluateSplit::Valid => Some(Split::Valid),
            EvaluateSplit::Test => Some(Split::Test),
            EvaluateSplit::All => None,
        });
        let beam = fugato_nn::compose::beam(a.beam, fugato_nn::sample::Sampling::ArgMax)
            .map_err(|e| anyhow::anyhow!("--{} {}", e.field, e.message))?;
        Ok(Config { checkpoint: a.checkpoint, data: a.data, split, json: a.json, beam, read })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let device = fugato_nn::default_device();
    let model = fugato_nn::bundled::load(&c.checkpoint, &device)?;
    let harmonizer = matches!(&model, Model::Seq2Seq(ckpt) if ckpt.meta.task == fugato_nn::seq2seq::Task::Harmonize);
    if c.beam > 1 && !harmonizer {
        bail!("--beam applies to a harmoniser only; {} is not one", c.checkpoint.display());
    }
    let ckpt = match model {
        Model::Sequence(ckpt) => ckpt,
        Model::Seq2Seq(ckpt) => {
            return crate::seq2seq::evaluate_seq2seq(&ckpt, &c.data, c.read, c.json, c.beam, &device);
        }
        Model::Gan(ckpt) => {
            let Some(split) = c.split.unwrap_or(Some(Split::Valid)) else {
                bail!("--split all applies to sequence models; a GAN scores one split");
            };
            return crate::gan::evaluate(&ckpt, &c.data, c.read, split, c.json, &device);
        }
    };
    // A MIDI folder is prepared as the model's data was, into a temporary folder removed
    // when this returns.
    let temp = tempfile::tempdir()?;
    let meta = &ckpt.meta.data;
    if fugato_data::Dataset::needs_preparing(&c.data) && !meta.styles.is_empty() {
        bail!(
            "the model in {} reads each piece's style; prepare {} with --styles and evaluate the shards",
            c.checkpoint.display(),
            c.data.display()
        );
    }
    let config = fugato_data::PrepareConfig {
        programs_from_names: meta.programs_from_names,
        steps_per_quarter: meta.steps_per_quarter.unwrap_or(fugato_repr::pianoroll::DEFAULT_STEPS_PER_QUARTER),
        ..crate::data::preparing(meta.repr)
    };
    let dataset = crate::data::open(&c.data, Some((&temp.path().join("data"), config)), c.read)?;
    let info = dataset.info(&c.data);
    if info.repr != ckpt.meta.data.repr {
        bail!(
            "{} holds {} data, but the model in {} was trained on {}",
            c.data.display(),
            info.repr.name(),
            c.checkpoint.display(),
            ckpt.meta.data.repr.name()
        );
    }
    if info.styles != ckpt.meta.data.styles {
        bail!(
            "{} has the styles [{}], but the model in {} was trained with [{}]",
            c.data.display(),
            info.styles.join(", "),
            c.checkpoint.display(),
            ckpt.meta.data.styles.join(", ")
        );
    }
    let splits: Vec<Split> = match c.split {
        Some(Some(s)) => vec![s],
        Some(None) => [Split::Train, Split::Valid, Split::Test].into_iter().filter(|s| dataset.has(*s)).collect(),
        None if dataset.has(Split::Test) => vec![Split::Test],
        None => vec![Split::Valid],
    };
    let mut set = dataset.split(splits[0], &c.data)?;
    for split in &splits[1..] {
        set.append(&dataset.split(*split, &c.data)?);
    }
    let name = if splits.len() == 1 { splits[0].name() } else { "all" };
    let e = evaluate(&ckpt.model, &set, &device);
    if c.json {
        let mut v = serde_json::to_value(&e)?;
        v["split"] = name.into();
        return crate::print(&format!("{v}\n"));
    }
    let unit = if e.perplexity.is_some() { "token" } else { "frame" };
    let mut text = format!(
        "{} split of {}: {} {unit}s scored\nNLL         {:.4} nats/{unit}\n",
        name,
        c.data.display(),
        e.frames,
        e.nll
    );
    if let Some(p) = e.perplexity {
        text += &format!("perplexity  {p:.3}\n");
    }
    if let (Some(a), Some(p), Some(r), Some(f)) = (e.accuracy, e.precision, e.recall, e.f1) {
        text += &format!("accuracy    {a:.4}\nprecision   {p:.4}\nrecall      {r:.4}\nF1          {f:.4}\n");
    }
    crate::print(&text)
}
