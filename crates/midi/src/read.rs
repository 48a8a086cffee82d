//! Bytes → [`Score`]: chunk framing, track events (decoded by midly), note pairing.

use fugato_score::{
    Channel, Control, ControlChange, KeySignature, Note, Pitch, Program, Score, Tempo, TempoMap, TimeSignature, Track,
    Velocity,
};
use midly::{EventIter, MetaMessage, MidiMessage, TrackEventKind};

use crate::error::{ErrorKind, MidiError};

/// How to treat malformed input, and how large a file may be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Refuse anything malformed instead of reading what can be read with a warning.
    pub strict: bool,
    /// How note-offs find their note-ons.
    pub pairing: Pairing,
    pub limits: SizeLimits,
}

/// How large a piece may be. Every command that reads MIDI sizes its work by what the file
/// says — a piano-roll by its length in quarter notes, performance tokens by its seconds, a
/// listing by its notes — so a file that asks for more than these is refused before any of
/// that work, naming the limit. The defaults hold every piece of the shared corpus (and the
/// edge cases' 559,240-quarter note) with room to spare, and keep every grid fugato lays a
/// piece on within memory; the CLI's `--max-*` flags raise them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeLimits {
    /// Bytes of the file.
    pub max_bytes: u64,
    /// Length in quarter notes, to the end of the last note or event.
    pub max_quarters: u64,
    /// Length in seconds, at the file's tempi.
    pub max_seconds: u64,
    pub max_notes: usize,
    pub max_tracks: usize,
    /// Tempo, time-signature and key-signature events.
    pub max_events: usize,
}

impl Default for SizeLimits {
    fn default() -> Self {
        SizeLimits {
            max_bytes: 64 << 20,
            max_quarters: 1_000_000,
            max_seconds: 1_000_000,
            max_notes: 2_000_000,
            max_tracks: 4_096,
            max_events: 200_000,
        }
    }
}

impl SizeLimits {
    /// No limits: for scores fugato made itself, whose size it already bounds.
    pub fn none() -> SizeLimits {
        SizeLimits {
            max_bytes: u64::MAX,
            max_quarters: u64::MAX,
            max_seconds: u64::MAX,
            max_notes: usize::MAX,
            max_tracks: usize::MAX,
            max_events: usize::MAX,
        }
    }
}

/// Which open note a note-off closes when several of the same channel and pitch are open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pairing {
    /// pretty_midi's rule (the reference listings'): close every open note of that
    /// channel and pitch that began before this tick; drop notes never released.
    #[default]
    PrettyMidi,
    /// MusPy's default (`duplicate_note_mode="fifo"`): close the earliest open note;
    /// notes never released end where their track ends.
    Fifo,
}

/// Something the reader repaired or skipped, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub offset: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "at byte {offset}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A MIDI file as read: the score plus what the file itself said.
#[derive(Clone, Debug)]
pub struct MidiFile {
    pub score: Score,
    /// SMF format: 0, 1 or 2.
    pub format: u16,
    /// Track chunks read.
    pub n_tracks: usize,
    pub warnings: Vec<Warning>,
}

/// Reads a Standard MIDI File (format 0, 1 or 2, optionally RIFF-wrapped).
///
/// Notes pair as pretty_midi pairs them: a note-off (or a note-on with velocity 0) closes
/// every open note of that track, channel and pitch that started on an earlier tick; a note
/// whose on and off share a tick, and a note never released, are dropped. A note's program
/// is its channel's program in that track when the note ends. Tempo and signature events
/// count wherever they sit. Format 2 tracks play one after another. Reading stops at a
/// track's end-of-track event.
pub fn read(bytes: &[u8], options: ReadOptions) -> Result<MidiFile, MidiError> {
    let limits = options.limits;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(MidiError::at(
            0,
            ErrorKind::too_large("size", bytes.len() as u64, "bytes", limits.max_bytes, "max-bytes"),
        ));
    }
    let file = Reader { strict: options.strict, pairing: options.pairing, limits, warnings: Vec::new() }.read(bytes)?;
    check_size(&file.score, &limits)?;
    Ok(file)
}

/// Refuses a score longer than `limits` allow, in quarter notes or in seconds.
fn check_size(score: &Score, limits: &SizeLimits) -> Result<(), MidiError> {
    let quarters = score.end_tick / u64::from(score.ticks_per_quarter().max(1));
    if quarters > limits.max_quarters {
        let kind = ErrorKind::too_large("length", quarters, "quarter notes", limits.max_quarters, "max-quarters");
        return Err(MidiError { path: None, offset: None, kind });
    }
    let seconds = score.duration_s();
    if seconds.is_nan() || seconds > limits.max_seconds as f64 {
        let kind = ErrorKind::too_large("length", seconds.ceil() as u64, "seconds", limits.max_seconds, "max-seconds");
        return Err(MidiError { path: None, offset: None, kind });
    }
    Ok(())
}

struct Reader {
    strict: bool,
    pairing: Pairing,
    limits: SizeLimits,
    warnings: Vec<Warning>,
}

/// Score-level events gathered from all tracks.
#[derive(Default)]
struct Global {
    tempos: Vec<Tempo>,
    time_signatures: Vec<TimeSignature>,
    key_signatures: Vec<KeySignature>,
    tracks: Vec<Track>,
    end_tick: u64,
    unreleased: usize,
    smpte: bool,
    ignored_tempos: usize,
}

struct OpenNote {
    channel: u8,
    pitch: u8,
    velocity: u8,
    start_tick: u64,
}

impl OpenNote {
    fn note(&self, end_tick: u64) -> Note {
        Note {
            pitch: Pitch::new(self.pitch).expect("midly yields 7-bit keys"),
            velocity: Velocity::new(self.velocity).expect("note-ons with velocity 0 are note-offs"),
            start_tick: self.start_tick,
            end_tick,
        }
    }
}

impl Reader {
    /// Refuses a file whose notes or tempo and signature events, counted after a track
    /// that ends at byte `offset`, are more than the limits allow.
    fn check_counts(&self, global: &Global, offset: u64) -> Result<(), MidiError> {
        let notes: usize = global.tracks.iter().map(|t| t.notes.len()).sum();
        if notes > self.limits.max_notes {
            let kind = ErrorKind::too_large("notes", notes as u64, "", self.limits.max_notes as u64, "max-notes");
            return Err(MidiError::at(offset, kind));
        }
        let events = global.tempos.len() + global.time_signatures.len() + global.key_signatures.len();
        if events > self.limits.max_events {
            let limit = self.limits.max_events as u64;
            let kind = ErrorKind::too_large("tempo and signature events", events as u64, "", limit, "max-events");
            return Err(MidiError::at(offset, kind));
        }
        Ok(())
    }

    /// In strict mode, fails with `message`; otherwise records it as a warning.
    fn malformed(&mut self, offset: u64, message: String) -> Result<(), MidiError> {
        if self.strict {
            return Err(MidiError::at(offset, ErrorKind::Strict(message)));
        }
        self.warnings.push(Warning { offset: Some(offset), message });
        Ok(())
    }

    fn read(mut self, bytes: &[u8]) -> Result<MidiFile, MidiError> {
        if bytes.is_empty() {
            return Err(MidiError::at(0, ErrorKind::Empty));
        }
        let base = riff_data_offset(bytes)?;
        let smf = &bytes[base..];
        if !smf.starts_with(b"MThd") {
            let found = String::from_utf8_lossy(&smf[..smf.len().min(4)]).into_owned();
            return Err(MidiError::at(base as u64, ErrorKind::NotMidi { found }));
        }
        let at = |i: usize| (base + i) as u64;
        let Some(header_len) = be_u32(smf, 4) else {
            return Err(MidiError::at(
                at(smf.len()),
                ErrorKind::TruncatedHeader("the header chunk's length is cut off"),
            ));
        };
        let header_len = header_len as usize;
        if header_len < 6 {
            return Err(MidiError::at(at(4), ErrorKind::TruncatedHeader("the header chunk is shorter than 6 bytes")));
        }
        if smf.len() < 8 + header_len.min(6) || smf.len() < 14 {
            return Err(MidiError::at(at(smf.len()), ErrorKind::TruncatedHeader("the file ends inside the header")));
        }
        let format = u16::from_be_bytes([smf[8], smf[9]]);
        let n_declared = usize::from(u16::from_be_bytes([smf[10], smf[11]]));
        let division = u16::from_be_bytes([smf[12], smf[13]]);
        if format > 2 {
            return Err(MidiError::at(at(8), ErrorKind::Format(format)));
        }
        let mut global = Global::default();
        let ticks_per_quarter = if division & 0x8000 != 0 {
            // SMPTE: -fps in the high byte, ticks per frame in the low byte. One quarter
            // note of the score is made one second, so ticks keep their meaning exactly.
            let fps = (-i16::from((division >> 8) as u8 as i8)) as u16;
            let per_frame = division & 0xFF;
            let (nominal_fps, us_per_second) = match fps {
                24 | 25 | 30 => (fps, 1_000_000),
                29 => (30, 1_001_001),
                _ => {
                    return Err(MidiError::at(at(12), ErrorKind::Strict(format!("invalid SMPTE frame rate {fps}"))));
                }
            };
            if per_frame == 0 {
                return Err(MidiError::at(at(12), ErrorKind::ZeroDivision));
            }
            global.smpte = true;
            global.tempos.push(Tempo { tick: 0, us_per_quarter: us_per_second });
            nominal_fps * per_frame
        } else if division == 0 {
            return Err(MidiError::at(at(12), ErrorKind::ZeroDivision));
        } else {
            division
        };

        let mut pos = 8usize.saturating_add(header_len).min(smf.len());
        let mut n_tracks = 0usize;
        while pos < smf.len() {
            let remaining = smf.len() - pos;
            if remaining < 8 {
                self.malformed(at(pos), format!("{remaining} stray bytes after the last chunk were ignored"))?;
                break;
            }
            let id = &smf[pos..pos + 4];
            let declared = be_u32(smf, pos + 4).unwrap_or(0) as usize;
            let data_start = pos + 8;
            let available = smf.len() - data_start;
            if declared > available {
                self.malformed(
                    at(pos + 4),
                    format!("chunk declares {declared} bytes but only {available} remain; reading what is there"),
                )?;
            }
            let data = &smf[data_start..data_start + declared.min(available)];
            if id == b"MTrk" {
                if n_tracks == n_declared {
                    self.malformed(
                        at(pos),
                        format!("track chunks beyond the {n_declared} the header announces were ignored"),
                    )?;
                    break;
                }
                if n_tracks == self.limits.max_tracks {
                    let kind = ErrorKind::too_large(
                        "tracks",
                        n_declared as u64,
                        "",
                        self.limits.max_tracks as u64,
                        "max-tracks",
                    );
                    return Err(MidiError::at(at(10), kind));
                }
                let tick_offset = if format == 2 { global.end_tick } else { 0 };
                self.read_track(n_tracks, data, at(data_start), tick_offset, &mut global)?;
                self.check_counts(&global, at(data_start))?;
                n_tracks += 1;
            }
            // Chunks of other types are skipped, as the SMF specification asks.
            pos = data_start + declared.min(available);
        }
        if n_tracks < n_declared {
            self.malformed(
                at(smf.len()),
                format!("the header announces {n_declared} tracks, but {n_tracks} were found"),
            )?;
        }
        if format == 0 && n_tracks > 1 {
            self.malformed(at(10), format!("format 0 file with {n_tracks} tracks; read as format 1"))?;
        }
        if global.unreleased > 0 {
            self.warnings.push(Warning {
                offset: None,
                message: format!("{} notes never released were dropped", global.unreleased),
            });
        }
        if global.ignored_tempos > 0 {
            self.warnings.push(Warning {
                offset: None,
                message: format!(
                    "{} tempo events ignored: the file counts time in SMPTE frames",
                    global.ignored_tempos
                ),
            });
        }

        global.time_signatures.sort_by_key(|t| t.tick);
        global.key_signatures.sort_by_key(|k| k.tick);
        let mut tracks = global.tracks;
        tracks.retain(|t| !t.notes.is_empty());
        for track in &mut tracks {
            track.sort();
        }
        let mut score = Score {
            tempo_map: TempoMap::new(ticks_per_quarter, global.tempos).map_err(|e| MidiError::at(at(12), e.into()))?,
            time_signatures: global.time_signatures,
            key_signatures: global.key_signatures,
            tracks,
            end_tick: global.end_tick,
        };
        score.end_tick = score.end_tick.max(score.last_note_end_tick());
        Ok(MidiFile { score, format, n_tracks, warnings: self.warnings })
    }

    /// Reads one MTrk chunk's events into `global`.
    fn read_track(
        &mut self,
        track_idx: usize,
        data: &[u8],
        data_offset: u64,
        tick_offset: u64,
        global: &mut Global,
    ) -> Result<(), MidiError> {
        let mut t = TrackState::new(track_idx, data, data_offset, tick_offset, global);
        let mut iter = EventIter::new(data);
        while let Some((event, status_pos)) = self.next_event(&mut t, &mut iter)? {
            t.tick += u64::from(event.delta.as_int());
            match event.kind {
                TrackEventKind::Midi { channel, message } => {
                    t.last_status = iter.running_status();
                    self.on_midi(&mut t, global, channel.as_int(), message)?;
                }
                TrackEventKind::Meta(MetaMessage::EndOfTrack) => {
                    t.saw_end = true;
                    let left = iter.unread().len();
                    if left > 0 {
                        self.malformed(
                            data_offset + (data.len() - left) as u64,
                            format!("track {track_idx}: {left} bytes after end-of-track were ignored"),
                        )?;
                    }
                    break;
                }
                TrackEventKind::Meta(meta) => self.on_meta(&mut t, global, meta, status_pos)?,
                TrackEventKind::SysEx(_) | TrackEventKind::Escape(_) => {}
            }
        }
        self.finish_track(t, global)
    }

    /// The track's next event, with its status byte's offset; `None` where
    /// the track ends (or, leniently, where what is left cannot be read). Repairs and
    /// refusals of malformed bytes happen here: running status after meta or SysEx,
    /// system real-time bytes, payloads longer than the chunk, data bytes with the top bit
    /// set (strict).
    fn next_event<'a>(
        &mut self,
        t: &mut TrackState,
        iter: &mut EventIter<'a>,
    ) -> Result<Option<(midly::TrackEvent<'a>, u64)>, MidiError> {
        loop {
            let rest = iter.unread();
            if rest.is_empty() {
                return Ok(None);
            }
            let pos = t.data_offset + (t.data_len - rest.len()) as u64;
            let track_idx = t.track_idx;
            let (delta, vlq_len) = match read_vlq(rest) {
                Vlq::Value(v, n) => (v, n),
                Vlq::TooLong => return Err(MidiError::at(pos, ErrorKind::VlqTooLong)),
                Vlq::Truncated => {
                    self.malformed(pos, format!("track {track_idx} ends inside a delta time"))?;
                    return Ok(None);
                }
            };
            let status_pos = pos + vlq_len as u64;
            let Some(&status) = rest.get(vlq_len) else {
                self.malformed(status_pos, format!("track {track_idx} ends after a delta time"))?;
                return Ok(None);
            };
            match status {
                0x00..=0x7F if iter.running_status().is_none() => {
                    let Some(last) = t.last_status else {
                        return Err(MidiError::at(status_pos, ErrorKind::NoRunningStatus { byte: status }));
                    };
                    // Meta and SysEx events cancel running status by the book, but many
                    // writers keep using it afterwards; so do we, unless strict.
                    if !t.continued_running_status {
                        self.malformed(
                            status_pos,
                            format!("track {track_idx}: running status used after a meta or SysEx event"),
                        )?;
                        t.continued_running_status = true;
                    }
                    *iter.running_status_mut() = Some(last);
                }
                0xF1..=0xF6 => return Err(MidiError::at(status_pos, ErrorKind::IllegalStatus { status })),
                0xF8..=0xFE => {
                    if self.strict {
                        return Err(MidiError::at(status_pos, ErrorKind::RealtimeStatus { status }));
                    }
                    self.warnings.push(Warning {
                        offset: Some(status_pos),
                        message: format!("track {track_idx}: system real-time byte 0x{status:02X} skipped"),
                    });
                    t.tick += delta;
                    let running = iter.running_status();
                    *iter = EventIter::new(&rest[vlq_len + 1..]);
                    *iter.running_status_mut() = running;
                    continue;
                }
                _ => {}
            }
            if let Some(problem) = overlong_payload(&rest[vlq_len..]) {
                self.malformed(status_pos, format!("track {track_idx}: {problem}; the rest of the track is ignored"))?;
                return Ok(None);
            }
            let event = match iter.next() {
                None => return Ok(None),
                Some(Ok(event)) => event,
                Some(Err(_)) => {
                    if self.strict {
                        return Err(MidiError::at(pos, ErrorKind::TruncatedTrack { track: track_idx }));
                    }
                    self.warnings.push(Warning {
                        offset: Some(pos),
                        message: format!(
                            "track {track_idx}: event runs past the end of its chunk; the rest of the track is ignored"
                        ),
                    });
                    return Ok(None);
                }
            };
            if self.strict && matches!(event.kind, TrackEventKind::Midi { .. }) {
                let consumed = rest.len() - iter.unread().len();
                let first_data = if status >= 0x80 { vlq_len + 1 } else { vlq_len };
                if let Some(&bad) = rest[first_data..consumed].iter().find(|&&b| b >= 0x80) {
                    return Err(MidiError::at(
                        status_pos,
                        ErrorKind::Strict(format!("data byte 0x{bad:02X} has its top bit set")),
                    ));
                }
            }
            return Ok(Some((event, status_pos)));
        }
    }

    /// A channel message: notes opened and closed, programs, controllers.
    fn on_midi(
        &mut self,
        t: &mut TrackState,
        global: &mut Global,
        channel: u8,
        message: MidiMessage,
    ) -> Result<(), MidiError> {
        let tick = t.tick;
        match message {
            MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                t.open.push(OpenNote { channel, pitch: key.as_int(), velocity: vel.as_int(), start_tick: tick })
            }
            MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                let part = t.part(global, channel);
                match self.pairing {
                    Pairing::PrettyMidi => {
                        close_notes(&mut t.open, &mut global.tracks[part], channel, key.as_int(), tick)
                    }
                    Pairing::Fifo => close_first(&mut t.open, &mut global.tracks[part], channel, key.as_int(), tick),
                }
            }
            MidiMessage::ProgramChange { program } => t.programs[usize::from(channel)] = program.as_int(),
            MidiMessage::Controller { controller, value } => {
                if let Some(control) = Control::from_cc(controller.as_int()) {
                    let part = t.part(global, channel);
                    global.tracks[part].controls.push(ControlChange { tick, control, value: value.as_int() });
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A meta event but the end of the track: tempo, meter, key, the track's name.
    fn on_meta(
        &mut self,
        t: &mut TrackState,
        global: &mut Global,
        meta: MetaMessage,
        status_pos: u64,
    ) -> Result<(), MidiError> {
        let tick = t.tick;
        match meta {
            MetaMessage::Tempo(_) if global.smpte => global.ignored_tempos += 1,
            MetaMessage::Tempo(us) => {
                if us.as_int() == 0 {
                    self.malformed(status_pos, "tempo of 0 µs per quarter ignored".into())?;
                } else {
                    global.tempos.push(Tempo { tick, us_per_quarter: us.as_int() });
                }
            }
            MetaMessage::TimeSignature(numerator, denominator_log2, _, _) => {
                match (denominator_log2 <= 7)
                    .then(|| TimeSignature::new(tick, numerator, 1u32 << denominator_log2).ok())
                    .flatten()
                {
                    Some(ts) => global.time_signatures.push(ts),
                    None => {
                        self.malformed(status_pos, format!("time signature {numerator}/2^{denominator_log2} ignored"))?
                    }
                }
            }
            MetaMessage::KeySignature(fifths, minor) => match KeySignature::new(tick, fifths, minor) {
                Ok(key) => global.key_signatures.push(key),
                Err(e) => self.malformed(status_pos, format!("key signature ignored: {e}"))?,
            },
            MetaMessage::TrackName(bytes) if t.name.is_empty() => {
                t.name = String::from_utf8_lossy(bytes).trim().to_string();
                for part in &mut global.tracks[t.first_part..] {
                    part.name.clone_from(&t.name);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// After a track's last event: a missing end-of-track noted, notes never released
    /// ended (FIFO pairing) or counted, the score's end moved on.
    fn finish_track(&mut self, mut t: TrackState, global: &mut Global) -> Result<(), MidiError> {
        if !t.saw_end {
            let message = format!("track {} has no end-of-track event", t.track_idx);
            self.malformed(t.data_offset + t.data_len as u64, message)?;
        }
        if self.pairing == Pairing::Fifo {
            for o in std::mem::take(&mut t.open) {
                let part = t.part(global, o.channel);
                if o.start_tick < t.tick {
                    global.tracks[part].notes.push(o.note(t.tick));
                }
            }
        }
        global.unreleased += t.open.len();
        global.end_tick = global.end_tick.max(t.tick);
        Ok(())
    }
}

/// Where the reading of one track stands.
struct TrackState {
    track_idx: usize,
    data_offset: u64,
    data_len: usize,
    tick: u64,
    last_status: Option<u8>,
    saw_end: bool,
    /// Each channel's program.
    programs: [u8; 16],
    open: Vec<OpenNote>,
    name: String,
    /// Parts of this track, by (channel, program), are `global.tracks[first_part..]`.
    first_part: usize,
    continued_running_status: bool,
}

impl TrackState {
    fn new(track_idx: usize, data: &[u8], data_offset: u64, tick_offset: u64, global: &Global) -> TrackState {
        TrackState {
            track_idx,
            data_offset,
            data_len: data.len(),
            tick: tick_offset,
            last_status: None,
            saw_end: false,
            programs: [0; 16],
            open: Vec::new(),
            name: String::new(),
            first_part: global.tracks.len(),
            continued_running_status: false,
        }
    }

    /// The part of `channel` at its current program.
    fn part(&self, global: &mut Global, channel: u8) -> usize {
        let program = self.programs[usize::from(channel)];
        part_index(global, self.first_part, self.track_idx, channel, program, &self.name)
    }
}

/// The part (score track) of MIDI track `track_idx` for `channel` and `program`, created on first use.
fn part_index(global: &mut Global, first_part: usize, track_idx: usize, channel: u8, program: u8, name: &str) -> usize {
    let found =
        global.tracks[first_part..].iter().position(|t| t.channel.get() == channel && t.program.get() == program);
    match found {
        Some(i) => first_part + i,
        None => {
            let mut track = Track::new(name);
            track.channel = Channel::new(channel).expect("midly yields 4-bit channels");
            track.program = Program::new(program).expect("midly yields 7-bit programs");
            track.is_drum = track.channel == Channel::DRUMS;
            track.midi_track = track_idx;
            global.tracks.push(track);
            global.tracks.len() - 1
        }
    }
}

/// The pretty_midi rule: close every open note of (channel, pitch) that began before `tick`.
/// Notes that began on `tick` itself stay open if some earlier note was closed, and are
/// dropped (zero length) otherwise.
fn close_notes(open: &mut Vec<OpenNote>, part: &mut Track, channel: u8, pitch: u8, tick: u64) {
    let matches = |o: &OpenNote| o.channel == channel && o.pitch == pitch;
    let mut closed_any = false;
    for o in open.iter().filter(|o| matches(o) && o.start_tick < tick) {
        closed_any = true;
        part.notes.push(o.note(tick));
    }
    open.retain(|o| !(matches(o) && (o.start_tick < tick || !closed_any)));
}

/// MusPy's rule: close the earliest open note of (channel, pitch); one that began on `tick`
/// itself has no length and is dropped.
fn close_first(open: &mut Vec<OpenNote>, part: &mut Track, channel: u8, pitch: u8, tick: u64) {
    if let Some(i) = open.iter().position(|o| o.channel == channel && o.pitch == pitch) {
        let o = open.remove(i);
        if o.start_tick < tick {
            part.notes.push(o.note(tick));
        }
    }
}

/// For a meta, SysEx or escape event (from its status byte on), says so if its declared
/// length runs past the end of the track; midly would quietly take what is left.
fn overlong_payload(event: &[u8]) -> Option<String> {
    let skip = match event.first()? {
        0xFF => 2,
        0xF0 | 0xF7 => 1,
        _ => return None,
    };
    let rest = event.get(skip..)?;
    let Vlq::Value(declared, n) = read_vlq(rest) else {
        return None;
    };
    let available = (rest.len() - n) as u64;
    (declared > available).then(|| format!("event declares {declared} data bytes but only {available} remain"))
}

enum Vlq {
    Value(u64, usize),
    TooLong,
    Truncated,
}

/// A variable-length quantity of at most 4 bytes (the SMF limit).
fn read_vlq(bytes: &[u8]) -> Vlq {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(4).enumerate() {
        value = (value << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            return Vlq::Value(value, i + 1);
        }
    }
    if bytes.len() >= 4 { Vlq::TooLong } else { Vlq::Truncated }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Where the SMF starts: 0, or inside the "data" chunk of a RIFF RMID file.
fn riff_data_offset(bytes: &[u8]) -> Result<usize, MidiError> {
    if !bytes.starts_with(b"RIFF") {
        return Ok(0);
    }
    if bytes.get(8..12) != Some(b"RMID") {
        return Err(MidiError::at(8, ErrorKind::Riff("the RIFF form type is not RMID")));
    }
    let mut pos = 12usize;
    while let Some(len) = le_u32(bytes, pos + 4) {
        let data = pos + 8;
        if &bytes[pos..pos + 4] == b"data" {
            return Ok(data);
        }
        pos = data.saturating_add(len as usize).saturating_add(len as usize % 2);
    }
    Err(MidiError::at(12, ErrorKind::Riff("no \"data\" chunk")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format-0 file at 480 tpq holding `events` (already delta-encoded) in one track.
    fn smf(events: &[u8]) -> Vec<u8> {
        let mut out = b"MThd\0\0\0\x06\0\0\0\x01\x01\xE0MTrk".to_vec();
        out.extend((events.len() as u32).to_be_bytes());
        out.extend(events);
        out
    }

    fn notes(bytes: &[u8]) -> Vec<(u8, u8, u64, u64)> {
        let file = read(bytes, ReadOptions::default()).unwrap();
        file.score
            .notes_in_order()
            .iter()
            .map(|(_, n)| (n.pitch.get(), n.velocity.get(), n.start_tick, n.end_tick))
            .collect()
    }

    const EOT: [u8; 4] = [0x00, 0xFF, 0x2F, 0x00];

    #[test]
    fn fifo_pairing_closes_the_earliest_note_as_muspy_does() {
        // on@0, on@240, off@480, off@720: pretty_midi ends both at 480; FIFO gives 0..480
        // and 240..720. A note never released ends where the track ends under FIFO.
        let mut ev = vec![0x00, 0x90, 60, 90, 0x81, 0x70, 0x90, 60, 80, 0x81, 0x70, 0x80, 60, 0];
        ev.extend([0x81, 0x70, 0x80, 60, 0, 0x00, 0x90, 64, 70, 0x64, 0xB0, 7, 100]);
        ev.extend(EOT);
        let notes = |pairing| {
            let file = read(&smf(&ev), ReadOptions { pairing, ..Default::default() }).unwrap();
            file.score.tracks[0].notes.iter().map(|n| (n.pitch.get(), n.start_tick, n.end_tick)).collect::<Vec<_>>()
        };
        assert_eq!(notes(Pairing::PrettyMidi), vec![(60, 0, 480), (60, 240, 480)]);
        assert_eq!(notes(Pairing::Fifo), vec![(60, 0, 480), (60, 240, 720), (64, 720, 820)]);
    }

    #[test]
    fn pairs_notes_with_running_status_and_velocity_zero() {
        let mut ev = vec![0x00, 0x90, 60, 100, 0x83, 0x60, 60, 0, 0x00, 62, 90, 0x83, 0x60, 62, 0];
        ev.extend(EOT);
        assert_eq!(notes(&smf(&ev)), vec![(60, 100, 0, 480), (62, 90, 480, 960)]);
    }

    #[test]
    fn note_off_closes_every_earlier_note_of_the_pitch() {
        // on@0, on@240, off@480, off@720 → both end at 480 (pretty_midi's rule).
        let mut ev =
            vec![0x00, 0x90, 60, 100, 0x81, 0x70, 0x90, 60, 80, 0x81, 0x70, 0x80, 60, 0, 0x81, 0x70, 0x80, 60, 0];
        ev.extend(EOT);
        assert_eq!(notes(&smf(&ev)), vec![(60, 100, 0, 480), (60, 80, 240, 480)]);
    }

    #[test]
    fn zero_length_and_unreleased_notes_are_dropped() {
        let mut ev = vec![0x00, 0x90, 60, 100, 0x00, 0x80, 60, 0, 0x00, 0x90, 64, 100];
        ev.extend(EOT);
        let file = read(&smf(&ev), ReadOptions::default()).unwrap();
        assert_eq!(file.score.n_notes(), 0);
        assert!(file.warnings.iter().any(|w| w.message.contains("never released")));
    }

    #[test]
    fn five_byte_vlq_is_refused_with_offset() {
        let mut ev = vec![0x81, 0x80, 0x80, 0x80, 0x00, 0x90, 60, 100];
        ev.extend(EOT);
        let err = read(&smf(&ev), ReadOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "at byte 22: variable-length quantity longer than 4 bytes");
    }

    #[test]
    fn strict_refuses_what_lenient_repairs() {
        let ev = vec![0x00, 0x90, 60, 100, 0x83, 0x60, 60, 0]; // no end-of-track
        let lenient = read(&smf(&ev), ReadOptions::default()).unwrap();
        assert_eq!(lenient.score.n_notes(), 1);
        assert_eq!(lenient.warnings.len(), 1);
        let err = read(&smf(&ev), ReadOptions { strict: true, ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("no end-of-track"), "{err}");
    }

    #[test]
    fn rejects_non_midi_and_empty_input() {
        assert_eq!(
            read(b"", ReadOptions::default()).unwrap_err().to_string(),
            "at byte 0: empty file: no MIDI header (MThd)"
        );
        let err = read(b"hello world", ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("not a MIDI file"), "{err}");
    }

    #[test]
    fn smpte_division_byte_0x80_is_an_error_not_an_overflow() {
        // Found by fuzzing: -(-128i8) overflowed.
        let mut bytes = smf(&EOT);
        bytes[12] = 0x80;
        let err = read(&bytes, ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("invalid SMPTE frame rate 128"), "{err}");
    }

    #[test]
    fn vlq_reads_up_to_four_bytes() {
        assert!(matches!(read_vlq(&[0x7F]), Vlq::Value(127, 1)));
        assert!(matches!(read_vlq(&[0xFF, 0xFF, 0xFF, 0x7F]), Vlq::Value(0x0FFF_FFFF, 4)));
        assert!(matches!(read_vlq(&[0x80, 0x80]), Vlq::Truncated));
        assert!(matches!(read_vlq(&[0x80, 0x80, 0x80, 0x80, 0x00]), Vlq::TooLong));
    }
}
