//! Reads every MIDI file under the given folders `--runs` times, single-threaded, and
//! prints one line per run: `files=N notes=M seconds=S files_per_s=R`. Used by
//! `bench/read`; the file list is built once, before timing.
//!
//! `cargo run --release -p fugato-midi --example read_corpus -- --runs 5 DIR...`

use std::path::{Path, PathBuf};
use std::time::Instant;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "mid") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).ok_or("--runs needs a number")?.parse()?;
        args.drain(i..i + 2);
    }
    let mut files = Vec::new();
    for dir in &args {
        collect(Path::new(dir), &mut files)?;
    }
    files.sort();
    for _ in 0..runs {
        let start = Instant::now();
        let mut notes = 0;
        for f in &files {
            // Unreadable files count as read: both readers see the same files.
            if let Ok(file) = fugato_midi::read_file(f, Default::default()) {
                notes += file.score.n_notes();
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "files={} notes={notes} seconds={seconds:.4} files_per_s={:.1}",
            files.len(),
            files.len() as f64 / seconds
        );
    }
    Ok(())
}
