//! [`Score`] → a format-1 Standard MIDI File: a conductor track, then one track per part.

use std::path::Path;

use fugato_score::Score;
use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Timing, TrackEvent, TrackEventKind};

use crate::error::{ErrorKind, MidiError};

/// Encodes `score` as a format-1 SMF at the score's resolution.
///
/// Track 0 holds tempo, time and key signatures; each part follows as its own track with
/// its name, a program change at tick 0, its controllers and its notes. At one tick,
/// note-offs come before note-ons, so a re-struck note stays two notes.
pub fn write(score: &Score) -> Result<Vec<u8>, MidiError> {
    let tpq = score.ticks_per_quarter();
    let timing = u15::try_from(tpq).ok_or_else(|| MidiError {
        path: None,
        offset: None,
        kind: ErrorKind::Strict(format!("resolution {tpq} exceeds 32767 ticks per quarter")),
    })?;

    let mut conductor: Vec<(u64, u8, TrackEventKind)> = Vec::new();
    for t in score.tempo_map.changes() {
        let us = u24::try_from(t.us_per_quarter).unwrap_or(u24::max_value());
        conductor.push((t.tick, 0, TrackEventKind::Meta(MetaMessage::Tempo(us))));
    }
    for ts in &score.time_signatures {
        let log2 = ts.denominator.trailing_zeros() as u8;
        conductor.push((ts.tick, 1, TrackEventKind::Meta(MetaMessage::TimeSignature(ts.numerator, log2, 24, 8))));
    }
    for k in &score.key_signatures {
        conductor.push((k.tick, 2, TrackEventKind::Meta(MetaMessage::KeySignature(k.fifths, k.minor))));
    }
    let mut tracks = vec![finish(conductor, score.end_tick)?];

    for track in &score.tracks {
        let channel = u4::from(track.channel.get());
        let midi = |message| TrackEventKind::Midi { channel, message };
        let mut events: Vec<(u64, u8, TrackEventKind)> = Vec::with_capacity(2 * track.notes.len() + 3);
        if !track.name.is_empty() {
            events.push((0, 0, TrackEventKind::Meta(MetaMessage::TrackName(track.name.as_bytes()))));
        }
        events.push((0, 1, midi(MidiMessage::ProgramChange { program: u7::from(track.program.get()) })));
        for c in &track.controls {
            let message = MidiMessage::Controller { controller: u7::from(c.control.cc()), value: u7::from(c.value) };
            events.push((c.tick, 2, midi(message)));
        }
        for n in &track.notes {
            let key = u7::from(n.pitch.get());
            events.push((n.end_tick, 3, midi(MidiMessage::NoteOff { key, vel: u7::from(0) })));
            events.push((n.start_tick, 4, midi(MidiMessage::NoteOn { key, vel: u7::from(n.velocity.get()) })));
        }
        tracks.push(finish(events, score.end_tick)?);
    }

    let header = Header::new(Format::Parallel, Timing::Metrical(timing));
    let mut out = Vec::new();
    midly::write_std(&header, tracks.iter(), &mut out).map_err(|e| MidiError {
        path: None,
        offset: None,
        kind: e.into(),
    })?;
    Ok(out)
}

/// Sorts (tick, order, event) triples into delta-timed events ending in end-of-track.
fn finish<'a>(mut events: Vec<(u64, u8, TrackEventKind<'a>)>, end_tick: u64) -> Result<Vec<TrackEvent<'a>>, MidiError> {
    events.sort_by_key(|&(tick, order, _)| (tick, order));
    let end_tick = end_tick.max(events.last().map_or(0, |e| e.0));
    events.push((end_tick, u8::MAX, TrackEventKind::Meta(MetaMessage::EndOfTrack)));
    let mut last = 0u64;
    events
        .into_iter()
        .map(|(tick, _, kind)| {
            let delta = tick - last;
            last = tick;
            let delta = u28::try_from(u32::try_from(delta).unwrap_or(u32::MAX)).ok_or(MidiError {
                path: None,
                offset: None,
                kind: ErrorKind::DeltaTooLarge { ticks: delta },
            })?;
            Ok(TrackEvent { delta, kind })
        })
        .collect()
}

/// Writes `score` to `path` atomically: a temporary file in the same folder, then a rename,
/// so a failure never leaves a partial file behind.
pub fn write_file(score: &Score, path: &Path) -> Result<(), MidiError> {
    let bytes = write(score).map_err(|e| e.in_file(path))?;
    write_atomic(path, &bytes).map_err(|e| MidiError { path: Some(path.into()), offset: None, kind: e.into() })
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename,
/// making the folder first if it does not exist (`--out pieces/a.mid`), so a failure never
/// leaves a partial file. What is not a regular file is never replaced: a symbolic link is
/// followed (the file it names is written), and a FIFO or a device (`/dev/stdout`) is
/// written in place and stays what it was; a folder is refused.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let path = &follow_links(path)?;
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a folder, not a file"));
        }
        Ok(m) if !m.is_file() => {
            // A FIFO, a character or block device, a socket: written as it is.
            let mut target = std::fs::OpenOptions::new().write(true).open(path)?;
            return target.write_all(bytes).and_then(|()| target.flush());
        }
        _ => {}
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // Temporary files are private (0600); the result should read like any other file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The path a chain of symbolic links at `path` ends at (`path` itself where it is none);
/// a link to a file not there yet ends at that file's path.
fn follow_links(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "too many levels of symbolic links"))
}
