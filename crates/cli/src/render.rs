use std::path::{Path, PathBuf};

use anyhow::Context;
use fugato_score::Score;
use fugato_synth::{Font, RenderOptions, Voice};

use crate::args::RenderArgs;

pub struct Config {
    input: PathBuf,
    out: PathBuf,
    read: fugato_midi::ReadOptions,
    /// `None`: the built-in voices.
    soundfont: Option<PathBuf>,
    options: RenderOptions,
}

impl Config {
    pub fn from_args(a: RenderArgs, read: fugato_midi::ReadOptions) -> anyhow::Result<Config> {
        let voice = a.voice.map(Voice::from);
        let soundfont = match (a.soundfont, a.builtin || voice.is_some()) {
            (Some(path), _) => Some(path),
            (None, false) => fugato_synth::installed_soundfont(),
            (None, true) => None,
        };
        Ok(Config {
            input: a.input,
            out: a.out,
            read,
            soundfont,
            options: RenderOptions { sample_rate_hz: a.sample_rate, voice, cancel: None },
        })
    }
}

pub fn run(c: Config) -> anyhow::Result<()> {
    let score = fugato_midi::read_file(&c.input, c.read)?.score;
    let font = c.soundfont.as_deref().map(LoadedFont::load).transpose()?;
    let text = render_to(&score, &c.out, font.as_ref(), &c.options)
        .with_context(|| format!("rendering {}", c.input.display()))?;
    crate::print(&text)
}

/// A SoundFont loaded once, with the path that names it in messages.
pub struct LoadedFont {
    font: Font,
    path: PathBuf,
}

impl LoadedFont {
    pub fn load(path: &Path) -> anyhow::Result<LoadedFont> {
        Ok(LoadedFont { font: Font::load(path)?, path: path.to_path_buf() })
    }
}

/// Renders `score` into the WAV file `out` with the SoundFont, or the built-in voices
/// when there is none; returns the line to print.
pub fn render_to(
    score: &Score,
    out: &Path,
    font: Option<&LoadedFont>,
    options: &RenderOptions,
) -> anyhow::Result<String> {
    let (audio, with) = match font {
        Some(f) => {
            (fugato_synth::render_soundfont(score, &f.font, options.sample_rate_hz)?, f.path.display().to_string())
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
