use std::path::PathBuf;

use anyhow::Context;
use fugato_synth::{Font, RenderOptions, Voice};

use crate::args::RenderArgs;

pub struct Config {
    input: PathBuf,
    out: PathBuf,
    /// `None`: the built-in voices.
    soundfont: Option<PathBuf>,
    options: RenderOptions,
}

impl Config {
    pub fn from_args(a: RenderArgs) -> anyhow::Result<Config> {
        let voice = a.voice.as_deref().map(str::parse::<Voice>).transpose().map_err(anyhow::Error::msg)?;
        let soundfont = match (a.soundfont, a.builtin || voice.is_some()) {
            (Some(path), _) => Some(path),
            (None, false) => fugato_synth::installed_soundfont(),
            (None, true) => None,
        };
        Ok(Config {
            input: a.input,
            out: a.out,
            soundfont,
            options: RenderOptions { sample_rate_hz: a.sample_rate, voice },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let score = fugato_midi::read_file(&c.input, Default::default())?.score;
    let rendering = || format!("rendering {}", c.input.display());
    let (audio, with) = match &c.soundfont {
        Some(path) => {
            let font = Font::load(path)?;
            let audio =
                fugato_synth::render_soundfont(&score, &font, c.options.sample_rate_hz).with_context(rendering)?;
            (audio, path.display().to_string())
        }
        None => (fugato_synth::render(&score, &c.options).with_context(rendering)?, "built-in voices".to_string()),
    };
    let wav = audio.to_wav()?;
    fugato_midi::write_atomic(&c.out, &wav).with_context(|| format!("writing {}", c.out.display()))?;
    crate::print(&format!(
        "wrote {}: {:.1} s at {} Hz, stereo 16-bit, {with}\n",
        c.out.display(),
        audio.duration_s(),
        audio.sample_rate_hz
    ))
}
