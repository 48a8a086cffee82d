//! `fugato`: thin glue over the fugato libraries. `main` runs [`run`], prints the error
//! chain on one line and exits non-zero; a closed pipe (`fugato inspect x | head`) is not
//! an error.

mod args;
mod classify;
mod convert;
mod data;
mod demo;
mod devices;
mod evaluate;
mod gan;
mod generate;
mod infill;
mod inspect;
mod jam;
mod metrics;
mod play;
mod prepare;
mod render;
mod seq2seq;
mod train;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Process-wide, so here and nowhere else: training's large buffers stay in the heap
    // from one step to the next instead of going back to the kernel at every free.
    fugato_kernels::tune_allocator();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "fugato: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = args::Cli::parse();
    // Every MIDI file any command reads: leniently, within these limits.
    let read = cli.limits.read_options();
    match cli.command {
        args::Command::Inspect(a) => inspect::run(inspect::Config::from_args(a, read)?),
        args::Command::Convert(a) => convert::run(convert::Config::from_args(a, read)?),
        args::Command::Prepare(a) => prepare::run(prepare::Config::from_args(a, read)?),
        args::Command::Train(a) => train::run(train::Plan::from_args(*a, read)?),
        args::Command::Harmonize(a) => seq2seq::run_harmonize(a, read),
        args::Command::Similar(a) => seq2seq::run_similar(a, read),
        args::Command::Evaluate(a) => evaluate::run(evaluate::Config::from_args(a, read)?),
        args::Command::Generate(a) => generate::run(generate::Config::from_args(a, read)?),
        args::Command::Classify(a) => classify::run(a, read),
        args::Command::Infill(a) => infill::run(a, read),
        args::Command::Jam(a) => jam::run(a),
        args::Command::Play(a) => play::run(play::Config::from_args(a)?),
        args::Command::Render(a) => render::run(render::Config::from_args(a, read)?),
        args::Command::Demo(a) => demo::run(a),
        args::Command::Metrics(a) => metrics::run(metrics::Config::from_args(a, read)?),
        args::Command::Serve(a) => {
            let mut limits = fugato_server::Limits { queue: a.queue, ..Default::default() };
            if let Some(w) = a.workers {
                anyhow::ensure!(w >= 1, "--workers must be at least 1");
                limits.workers = w;
            }
            if let Some(dir) = &a.models {
                anyhow::ensure!(dir.is_dir(), "{}: no such folder", dir.display());
            }
            Ok(fugato_server::serve(fugato_server::ServeConfig {
                host: a.host,
                port: a.port,
                models_dir: a.models,
                limits,
                read,
            })?)
        }
        args::Command::Models => {
            use fugato_nn::bundled::BUNDLED;
            let w = BUNDLED.iter().map(|m| m.name.len()).max().unwrap_or(0);
            let lines: Vec<String> = BUNDLED
                .iter()
                .map(|m| match m.styles() {
                    styles if styles.is_empty() => format!("{:<w$}  {}", m.name, m.about),
                    styles => format!("{:<w$}  {}\n{:<w$}  styles: {}", m.name, m.about, "", styles.join(", ")),
                })
                .collect();
            print(&(lines.join("\n") + "\n"))
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Writes to stdout, passing a broken pipe up as an error that `main` ignores.
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
