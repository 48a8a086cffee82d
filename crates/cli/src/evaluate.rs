use std::path::PathBuf;

use anyhow::bail;
use fugato_data::Split;
use fugato_nn::bundled::Model;
use fugato_nn::evaluate::evaluate;

use crate::args::EvaluateArgs;

pub struct Config {
    checkpoint: PathBuf,
    data: PathBuf,
    split: Option<Split>,
    json: bool,
    /// A harmoniser's beam width; 1 for every other model.
    beam: usize,
    read: fugato_midi::ReadOptions,
}

impl Config {
    pub fn from_args(a: EvaluateArgs, read: fugato_midi::ReadOptions) -> anyhow::Result<Config> {
        let split = a.split.map(Split::from);
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
            return crate::gan::evaluate(&ckpt, &c.data, c.read, c.split.unwrap_or(Split::Valid), c.json, &device);
        }
    };
    let dataset = crate::data::open(&c.data, None, c.read)?;
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
    let split = match c.split {
        Some(s) => s,
        None if dataset.has(Split::Test) => Split::Test,
        None => Split::Valid,
    };
    let set = dataset.split(split, &c.data)?;
    let e = evaluate(&ckpt.model, &set, &device);
    if c.json {
        let mut v = serde_json::to_value(&e)?;
        v["split"] = split.name().into();
        return crate::print(&format!("{v}\n"));
    }
    let unit = if e.perplexity.is_some() { "token" } else { "frame" };
    let mut text = format!(
        "{} split of {}: {} {unit}s scored\nNLL         {:.4} nats/{unit}\n",
        split.name(),
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
