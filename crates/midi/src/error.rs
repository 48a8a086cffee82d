use std::path::PathBuf;

use thiserror::Error;

/// A MIDI file that cannot be read (or written), with the place and the cause.
#[derive(Debug, Error)]
#[error("{}{}{kind}", path_prefix(.path), offset_prefix(.offset))]
pub struct MidiError {
    /// The file, when the bytes came from one.
    pub path: Option<PathBuf>,
    /// Byte offset into the file where the problem sits, when there is one.
    pub offset: Option<u64>,
    pub kind: ErrorKind,
}

fn path_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default()
}

fn offset_prefix(offset: &Option<u64>) -> String {
    offset.map(|o| format!("at byte {o}: ")).unwrap_or_default()
}

impl ErrorKind {
    pub(crate) fn too_large(
        what: &'static str,
        value: u64,
        unit: &'static str,
        limit: u64,
        flag: &'static str,
    ) -> ErrorKind {
        ErrorKind::TooLarge { what, value, unit, limit, flag }
    }
}

impl MidiError {
    pub(crate) fn at(offset: u64, kind: ErrorKind) -> Self {
        MidiError { path: None, offset: Some(offset), kind }
    }

    pub(crate) fn in_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// What was wrong.
#[derive(Debug, Error)]
pub enum ErrorKind {
    #[error("empty file: no MIDI header (MThd)")]
    Empty,
    #[error("not a MIDI file: expected \"MThd\" or \"RIFF\", found {found:?}")]
    NotMidi { found: String },
    #[error("RIFF file without an RMID data chunk: {0}")]
    Riff(&'static str),
    #[error("truncated header: {0}")]
    TruncatedHeader(&'static str),
    #[error("unsupported SMF format {0}: only 0, 1 and 2 exist")]
    Format(u16),
    #[error("invalid division 0 ticks per quarter note")]
    ZeroDivision,
    #[error("illegal status byte 0x{status:02X} inside a track: system common messages cannot appear in a MIDI file")]
    IllegalStatus { status: u8 },
    #[error("system real-time byte 0x{status:02X} inside a track (refused in strict mode)")]
    RealtimeStatus { status: u8 },
    #[error("variable-length quantity longer than 4 bytes")]
    VlqTooLong,
    #[error("data byte 0x{byte:02X} with no running status: the track's first event has no status byte")]
    NoRunningStatus { byte: u8 },
    #[error("malformed file (refused in strict mode): {0}")]
    Strict(String),
    #[error("track {track}: event runs past the end of its chunk")]
    TruncatedTrack { track: usize },
    #[error("delta time of {ticks} ticks does not fit MIDI's 28-bit limit")]
    DeltaTooLarge { ticks: u64 },
    /// More than a [`crate::SizeLimits`] allows: what, how much, the limit and the CLI
    /// flag that raises it.
    #[error("{what}: {value}{}{unit}, over the limit of {limit} (--{flag} raises it)", if .unit.is_empty() { "" } else { " " })]
    TooLarge { what: &'static str, value: u64, unit: &'static str, limit: u64, flag: &'static str },
    #[error(transparent)]
    Score(#[from] fugato_score::ScoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
