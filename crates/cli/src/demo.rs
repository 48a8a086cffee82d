//! `fugato demo`: a new chorale from the bundled model, rendered with the built-in
//! organ voice. Needs no training, no SoundFont and no network.

use anyhow::Context;
use fugato_nn::compose::{Controls, compose};
use fugato_synth::RenderOptions;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::DemoArgs;

const MODEL: &str = "jsb-chorales";
const TEMPO_BPM: f64 = 84.0;
/// Church Organ: the additive voice.
const PROGRAM: u8 = 19;

pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let controls = Controls {
        bars: Some(a.bars),
        temperature: Some(0.9),
        seed: a.seed,
        tempo_bpm: Some(TEMPO_BPM),
        program: Some(PROGRAM),
        ..Default::default()
    };
    let options = controls.check().map_err(|e| anyhow::anyhow!("--{} {}", e.field, e.message))?;
    std::fs::create_dir_all(&a.out_dir).with_context(|| format!("creating {}", a.out_dir.display()))?;
    let (mid, wav) = (a.out_dir.join("fugato-demo.mid"), a.out_dir.join("fugato-demo.wav"));
    let bar = ProgressBar::new(4).with_style(
        ProgressStyle::with_template("{msg:<28} [{bar:20}] {pos}/{len}").expect("valid template").progress_chars("=> "),
    );
    bar.set_message("loading the chorale model");
    let device = fugato_nn::default_device();
    let ckpt = fugato_nn::bundled::load(MODEL.as_ref(), &device)?.into_sequence(MODEL.as_ref())?;
    bar.inc(1);
    bar.set_message("composing");
    let score = compose(&ckpt, &options)?.score;
    bar.inc(1);
    bar.set_message("rendering");
    let audio = fugato_synth::render(&score, &RenderOptions::default())?;
    bar.inc(1);
    bar.set_message("writing");
    fugato_midi::write_file(&score, &mid)?;
    fugato_midi::write_atomic(&wav, &audio.to_wav()?).with_context(|| format!("writing {}", wav.display()))?;
    bar.inc(1);
    bar.finish_and_clear();
    crate::print(&format!(
        "wrote {} ({} notes) and {} ({:.1} s): a chorale by the bundled {MODEL} model, seed {}\n",
        mid.display(),
        score.n_notes(),
        wav.display(),
        audio.duration_s(),
        a.seed
    ))
}
