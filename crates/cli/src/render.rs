use std::path::PathBuf;

use anyhow::Context;
use fugato_synth::{RenderOptions, Voice};

use crate::args::RenderArgs;

pub struct Config {
    input: PathBuf,
    out: PathBuf,
    options: RenderOptions,
}

impl Config {
    pub fn from_args(a: RenderArgs) -> anyhow::Result<Config> {
        let voice = a.voice.as_deref().map(str::parse::<Voice>).transpose().map_err(anyhow::Error::msg)?;
        Ok(Config { input: a.input, out: a.out, options: RenderOptions { sample_rate_hz: a.sample_rate, voice } })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let score = fugato_midi::read_file(&c.input, Default::default())?.score;
    let audio = fugato_synth::render(&score, &c.options).with_context(|| format!("rendering {}", c.input.display()))?;
    let wav = audio.to_wav()?;
    fugato_midi::write_atomic(&c.out, &wav).with_context(|| format!("writing {}", c.out.display()))?;
    crate::print(&format!(
        "wrote {}: {:.1} s at {} Hz, stereo 16-bit, built-in voices\n",
        c.out.display(),
        audio.duration_s(),
        audio.sample_rate_hz
    ))
}
