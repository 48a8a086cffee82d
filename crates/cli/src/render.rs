use std::path::{Path, PathBuf};

use anyhow::Context;
use fugato_score::Score;
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
    let text = render_to(&score, &c.out, c.soundfont.as_deref(), &c.options)
        .with_context(|| format!("rendering {}", c.input.display()))?;
    crate::print(&text)
}

/// Renders `score` into the WAV file `out` with the SoundFont, or the built-in voices
/// when there is none; returns the line to print.
pub fn render_score(score: &Score, out: &Path, soundfont: Option<&Path>) -> anyhow::Result<String> {
    render_to(score, out, soundfont, &RenderOptions::default())
}

fn render_to(score: &Score, out: &Path, soundfont: Option<&Path>, options: &RenderOptions) -> anyhow::Result<String> {
    let (audio, with) = match soundfont {
        Some(path) => {
            let font = Font::load(path)?;
            (fugato_synth::render_soundfont(score, &font, options.sample_rate_hz)?, path.display().to_string())
        }
        None => (fugato_synth::render(score, options)?, "built-in voices".to_string()),
    };
    let wav = audio.to_wav()?;
    fugato_midi::write_atomic(out, &wav).with_context(|| format!("writing {}", out.display()))?;
    Ok(format!(
        "wrote {}: {:.1} s at {} Hz, stereo 16-bit, {with}\n",
        out.display(),
        audio.duration_s(),
        audio.sample_rate_hz
    ))
}
