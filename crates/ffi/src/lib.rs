//! libfugato: fugato's live sessions ([`fugato_nn::stream`]) behind a C ABI, for game
//! engines and other hosts that cannot call Rust. `include/fugato.h` is made from this file
//! by cbindgen when the crate builds; `examples/c/stream.c` uses it.
//!
//! Models and sessions are numbered handles in a table, never pointers: a handle that is 0,
//! freed or never made is looked up, not followed, and gives [`FugatoStatus::BadHandle`].
//! Every call runs under `catch_unwind`, so no panic crosses into C; every failure sets
//! the calling thread's [`fugato_last_error`]. The only `unsafe` here reads what C hands in
//! (strings, output pointers, buffers), each after its null check.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fugato_nn::checkpoint::Checkpoint;
use fugato_nn::stream::{Bar, LiveControls, Recording, Session};
use fugato_synth::LiveSynth;

/// What a call did: `FUGATO_STATUS_OK`, or why not (then [`fugato_last_error`] says more).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FugatoStatus {
    Ok = 0,
    /// A pointer argument that must not be null was null.
    NullPointer = 1,
    /// A model or session handle that is 0, freed or was never made.
    BadHandle = 2,
    /// A value out of range or unreadable: a control, a string not in UTF-8, a sample rate.
    BadArgument = 3,
    /// No bundled model of that name and no checkpoint folder at that path.
    NotFound = 4,
    /// A file could not be written.
    Io = 5,
    /// The session has written no bar yet (for notes and rendering).
    NoBar = 6,
    /// The buffer is too small: the count it needs was written to the count pointer.
    BufferTooSmall = 7,
    /// A fault inside fugato (a panic caught at the boundary).
    Internal = 8,
}

/// A bar's summary, from [`fugato_session_next_bar`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FugatoBar {
    /// 0 for the session's first bar.
    pub index: u64,
    /// Its start, in seconds from the session's start.
    pub start_s: f64,
    pub seconds: f64,
    /// Its length in quarter notes.
    pub quarters: f64,
    pub tempo_bpm: f64,
    /// How many notes [`fugato_session_notes`] gives for it.
    pub note_count: usize,
}

/// A note of the last bar: times in quarter notes from the bar's start and in seconds
/// from the session's start.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FugatoNote {
    /// The part, numbered as the session first wrote each part.
    pub track: u16,
    /// Its General MIDI program (0..=127).
    pub program: u8,
    /// 1 for a drum part (General MIDI channel 10), else 0.
    pub is_drum: u8,
    pub pitch: u8,
    pub velocity: u8,
    /// 1 when the note sounds on from the bar before (hold it, don't strike it again).
    pub tied: u8,
    pub start_beats: f64,
    pub end_beats: f64,
    pub start_s: f64,
    pub end_s: f64,
}

/// A session and what the calls on it keep.
struct Live {
    session: Session,
    last: Option<Bar>,
    recording: Option<Recording>,
    synth: Option<LiveSynth>,
}

struct Table<T> {
    next: u64,
    items: BTreeMap<u64, Arc<Mutex<T>>>,
}

impl<T> Table<T> {
    fn insert(&mut self, item: T) -> u64 {
        self.next += 1;
        self.items.insert(self.next, Arc::new(Mutex::new(item)));
        self.next
    }
}

/// The item of `handle` in `table` (`what` names the kind in the error).
fn get<T>(table: &Mutex<Table<T>>, handle: u64, what: &str) -> Result<Arc<Mutex<T>>, (FugatoStatus, String)> {
    lock(table)
        .items
        .get(&handle)
        .cloned()
        .ok_or_else(|| fail(FugatoStatus::BadHandle, format!("{what} handle {handle} is not open")))
}

/// Frees the item of `handle`: a call that runs on it meanwhile keeps it until it returns.
fn free<T>(table: &Mutex<Table<T>>, handle: u64, what: &str) -> FugatoStatus {
    call(|| match lock(table).items.remove(&handle) {
        Some(_) => Ok(()),
        None => Err(fail(FugatoStatus::BadHandle, format!("{what} handle {handle} is not open"))),
    })
}

/// Handles count up from 1 and are never reused, so a freed one stays bad.
static MODELS: Mutex<Table<Checkpoint>> = Mutex::new(Table { next: 0, items: BTreeMap::new() });
static SESSIONS: Mutex<Table<Live>> = Mutex::new(Table { next: 0, items: BTreeMap::new() });

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A lock that a panic elsewhere left poisoned still opens: every value under these locks
/// is whole between calls.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Outcome = Result<(), (FugatoStatus, String)>;

/// Runs a call: its error or panic becomes a status and the thread's last error.
fn call(body: impl FnOnce() -> Outcome) -> FugatoStatus {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (FugatoStatus::Ok, String::new()),
        Ok(Err((status, message))) => (status, message),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            (FugatoStatus::Internal, format!("internal fault: {what}"))
        }
    };
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
    status
}

fn fail(status: FugatoStatus, message: impl Into<String>) -> (FugatoStatus, String) {
    (status, message.into())
}

/// A C string argument as UTF-8.
///
/// # Safety
/// `text` is null or points to a NUL-terminated string that outlives the call.
unsafe fn text<'a>(text: *const c_char, what: &str) -> Result<&'a str, (FugatoStatus, String)> {
    if text.is_null() {
        return Err(fail(FugatoStatus::NullPointer, format!("{what} is null")));
    }
    // SAFETY: not null (checked above); the caller promises a NUL-terminated string that
    // lives through the call.
    let c = unsafe { CStr::from_ptr(text) };
    c.to_str().map_err(|_| fail(FugatoStatus::BadArgument, format!("{what} is not UTF-8")))
}

/// Writes `value` through an output pointer.
///
/// # Safety
/// `out` is null or points to writable memory for a `T`.
unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Outcome {
    if out.is_null() {
        return Err(fail(FugatoStatus::NullPointer, format!("{what} is null")));
    }
    // SAFETY: not null (checked above); the caller promises it points to a writable T.
    unsafe { out.write(value) };
    Ok(())
}

fn model(handle: u64) -> Result<Arc<Mutex<Checkpoint>>, (FugatoStatus, String)> {
    get(&MODELS, handle, "model")
}

fn session(handle: u64) -> Result<Arc<Mutex<Live>>, (FugatoStatus, String)> {
    get(&SESSIONS, handle, "session")
}

/// What the last failed call on this thread said went wrong ("" after a call that worked).
/// The text stays valid until this thread's next fugato call.
#[unsafe(no_mangle)]
pub extern "C" fn fugato_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Opens a model: a bundled one by name (e.g. "folk-melody") or a checkpoint folder made
/// by `fugato train`. Only sequence models (token or piano-roll) stream.
///
/// # Safety
/// `name` is a NUL-terminated string; `model_out` points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_model_open(name: *const c_char, model_out: *mut u64) -> FugatoStatus {
    call(|| {
        // SAFETY: the caller's promise, passed on.
        let name = unsafe { text(name, "name") }?;
        if model_out.is_null() {
            return Err(fail(FugatoStatus::NullPointer, "model_out is null"));
        }
        let path = Path::new(name);
        let device = fugato_nn::default_device();
        let known = fugato_nn::bundled::Bundled::by_name(name).is_some() || path.is_dir();
        if !known {
            return Err(fail(
                FugatoStatus::NotFound,
                format!("{name}: no bundled model of that name, no folder there"),
            ));
        }
        let loaded = fugato_nn::bundled::load(path, &device).and_then(|m| m.into_sequence(path));
        let ckpt = loaded.map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))?;
        let handle = lock(&MODELS).insert(ckpt);
        // SAFETY: checked not null above; the caller promises a writable uint64_t.
        unsafe { put(model_out, handle, "model_out") }
    })
}

/// Closes a model. Its sessions go on (they hold their own copy of its weights).
#[unsafe(no_mangle)]
pub extern "C" fn fugato_model_free(model: u64) -> FugatoStatus {
    free(&MODELS, model, "model")
}

/// Starts a session of `model` drawing with `seed`. `controls` is null or lines (or
/// `;`-separated items) of `name=value`, the names of [`fugato_session_change`]: e.g.
/// `"key=D:major; tempo=120"`.
///
/// # Safety
/// `controls` is null or a NUL-terminated string; `session_out` points to a writable
/// `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_new(
    model: u64,
    seed: u64,
    controls: *const c_char,
    session_out: *mut u64,
) -> FugatoStatus {
    call(|| {
        if session_out.is_null() {
            return Err(fail(FugatoStatus::NullPointer, "session_out is null"));
        }
        let controls = if controls.is_null() {
            ""
        } else {
            // SAFETY: not null; the caller promises a NUL-terminated string.
            unsafe { text(controls, "controls") }?
        };
        let ckpt = self::model(model)?;
        let mut session = Session::new(&lock(&ckpt), &LiveControls::default(), seed)
            .map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))?;
        for item in controls.split([';', '\n']).map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| fail(FugatoStatus::BadArgument, format!("{item:?}: expected name=value")))?;
            session.change(name, value).map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))?;
        }
        let live = Live { session, last: None, recording: None, synth: None };
        let handle = lock(&SESSIONS).insert(live);
        // SAFETY: checked not null above; the caller promises a writable uint64_t.
        unsafe { put(session_out, handle, "session_out") }
    })
}

/// Changes one control from the next bar on: `key` ("Bb:major", "none"), `tempo` (bpm),
/// `instrument` ("violin, cello"), `style`, `temperature`, `top_k`, `top_p`, `intensity`
/// (0..1), `loop` (bars, "none"). A refused change changes nothing.
///
/// # Safety
/// `name` and `value` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_change(
    session: u64,
    name: *const c_char,
    value: *const c_char,
) -> FugatoStatus {
    call(|| {
        // SAFETY: the caller's promise, passed on.
        let (name, value) = unsafe { (text(name, "name")?, text(value, "value")?) };
        let live = self::session(session)?;
        let result = lock(&live).session.change(name, value);
        result.map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))
    })
}

/// Writes the next bar and gives its summary; its notes come from [`fugato_session_notes`].
///
/// # Safety
/// `bar_out` points to a writable `FugatoBar`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_next_bar(session: u64, bar_out: *mut FugatoBar) -> FugatoStatus {
    call(|| {
        if bar_out.is_null() {
            return Err(fail(FugatoStatus::NullPointer, "bar_out is null"));
        }
        let live = self::session(session)?;
        let mut live = lock(&live);
        let bar = live.session.next_bar();
        if let Some(recording) = &mut live.recording {
            recording.add(&bar);
        }
        let summary = FugatoBar {
            index: bar.index,
            start_s: bar.start_s,
            seconds: bar.seconds,
            quarters: bar.quarters,
            tempo_bpm: bar.tempo_bpm,
            note_count: bar.notes.len(),
        };
        live.last = Some(bar);
        // SAFETY: checked not null above; the caller promises a writable FugatoBar.
        unsafe { put(bar_out, summary, "bar_out") }
    })
}

/// Copies the last bar's notes into `notes` (room for `capacity`) and their number into
/// `count_out`; with too little room, writes the number needed and returns
/// `FUGATO_STATUS_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `notes` is null (with `capacity` 0) or points to `capacity` writable `FugatoNote`s;
/// `count_out` points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_notes(
    session: u64,
    notes: *mut FugatoNote,
    capacity: usize,
    count_out: *mut usize,
) -> FugatoStatus {
    call(|| {
        if count_out.is_null() || (notes.is_null() && capacity > 0) {
            return Err(fail(FugatoStatus::NullPointer, "notes or count_out is null"));
        }
        let live = self::session(session)?;
        let live = lock(&live);
        let bar = live.last.as_ref().ok_or_else(|| fail(FugatoStatus::NoBar, "no bar written yet"))?;
        // SAFETY: checked not null above; the caller promises a writable size_t.
        unsafe { put(count_out, bar.notes.len(), "count_out") }?;
        if bar.notes.len() > capacity {
            let message = format!("the bar has {} notes, the buffer room for {capacity}", bar.notes.len());
            return Err(fail(FugatoStatus::BufferTooSmall, message));
        }
        for (i, n) in bar.notes.iter().enumerate() {
            let note = FugatoNote {
                track: n.track,
                program: n.program,
                is_drum: u8::from(n.is_drum),
                pitch: n.pitch,
                velocity: n.velocity,
                tied: u8::from(n.tied),
                start_beats: n.start,
                end_beats: n.end,
                start_s: n.start_s,
                end_s: n.end_s,
            };
            // SAFETY: i < bar.notes.len() <= capacity, and the caller promises `capacity`
            // writable notes at `notes` (not null: capacity > 0 here).
            unsafe { notes.add(i).write(note) };
        }
        Ok(())
    })
}

/// Renders the last bar with the built-in voices as interleaved stereo `float` at
/// `sample_rate` (8000..=192000): `seconds × sample_rate` frames, written to `pcm` (room
/// for `capacity_frames` frames, i.e. twice as many floats), their number to `frames_out`.
/// Notes sounding past the bar's end come in the next bar's render. Too little room:
/// `FUGATO_STATUS_BUFFER_TOO_SMALL` with the frames needed. The first render fixes the
/// session's sample rate.
///
/// # Safety
/// `pcm` points to `2 × capacity_frames` writable floats; `frames_out` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_render(
    session: u64,
    sample_rate: u32,
    pcm: *mut f32,
    capacity_frames: usize,
    frames_out: *mut usize,
) -> FugatoStatus {
    call(|| {
        if pcm.is_null() || frames_out.is_null() {
            return Err(fail(FugatoStatus::NullPointer, "pcm or frames_out is null"));
        }
        let live = self::session(session)?;
        let mut live = lock(&live);
        let live = &mut *live;
        let bar = live.last.as_ref().ok_or_else(|| fail(FugatoStatus::NoBar, "no bar written yet"))?;
        let needed = (bar.seconds * f64::from(sample_rate)).round() as usize;
        // SAFETY: checked not null above; the caller promises a writable size_t.
        unsafe { put(frames_out, needed, "frames_out") }?;
        if needed > capacity_frames {
            return Err(fail(FugatoStatus::BufferTooSmall, format!("the bar needs {needed} frames")));
        }
        let synth = match &mut live.synth {
            Some(s) if s.sample_rate_hz() == sample_rate => s,
            Some(s) => {
                let message = format!("this session renders at {} Hz, not {sample_rate}", s.sample_rate_hz());
                return Err(fail(FugatoStatus::BadArgument, message));
            }
            None => live
                .synth
                .insert(LiveSynth::new(sample_rate, None).map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))?),
        };
        let frames =
            synth.render(&bar.score(), bar.seconds).map_err(|e| fail(FugatoStatus::BadArgument, e.to_string()))?;
        // SAFETY: frames.len() == needed <= capacity_frames, and the caller promises
        // 2 × capacity_frames writable floats at `pcm` (not null: checked above).
        let out = unsafe { std::slice::from_raw_parts_mut(pcm, 2 * frames.len()) };
        for (o, f) in out.chunks_exact_mut(2).zip(&frames) {
            o.copy_from_slice(f);
        }
        Ok(())
    })
}

/// Starts (`on` ≠ 0, from the next bar, dropping an earlier recording) or stops keeping
/// the bars written, for [`fugato_session_write_midi`].
#[unsafe(no_mangle)]
pub extern "C" fn fugato_session_record(session: u64, on: i32) -> FugatoStatus {
    call(|| {
        let live = self::session(session)?;
        lock(&live).recording = (on != 0).then(Recording::default);
        Ok(())
    })
}

/// Writes the bars recorded so far as a standard MIDI file (written whole or not at all).
///
/// # Safety
/// `path` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fugato_session_write_midi(session: u64, path: *const c_char) -> FugatoStatus {
    call(|| {
        // SAFETY: the caller's promise, passed on.
        let path = unsafe { text(path, "path") }?;
        let live = self::session(session)?;
        let score = match &lock(&live).recording {
            Some(r) => r.score(),
            None => return Err(fail(FugatoStatus::NoBar, "nothing recorded: call fugato_session_record first")),
        };
        fugato_midi::write_file(&score, Path::new(path)).map_err(|e| fail(FugatoStatus::Io, format!("{path}: {e}")))
    })
}

/// Ends a session.
#[unsafe(no_mangle)]
pub extern "C" fn fugato_session_free(session: u64) -> FugatoStatus {
    free(&SESSIONS, session, "session")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn last_error() -> String {
        // SAFETY: fugato_last_error returns this thread's NUL-terminated message.
        unsafe { CStr::from_ptr(fugato_last_error()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn bad_handles_and_null_pointers_give_errors_not_crashes() {
        let mut bar = FugatoBar::default();
        // SAFETY: every pointer is null or valid for the call.
        unsafe {
            assert_eq!(fugato_session_next_bar(0, &mut bar), FugatoStatus::BadHandle);
            assert!(last_error().contains("session handle 0"));
            assert_eq!(fugato_session_next_bar(12345, std::ptr::null_mut()), FugatoStatus::NullPointer);
            assert_eq!(fugato_model_open(std::ptr::null(), std::ptr::null_mut()), FugatoStatus::NullPointer);
            let mut model = 0;
            assert_eq!(fugato_model_open(c("no-such-model").as_ptr(), &mut model), FugatoStatus::NotFound);
            assert!(last_error().contains("no-such-model"), "{}", last_error());
            assert_eq!(fugato_model_open(c("folk-melody").as_ptr(), &mut model), FugatoStatus::Ok);
            assert_eq!(last_error(), "");
            let mut s = 0;
            let bad = c("key=H:major");
            assert_eq!(fugato_session_new(model, 1, bad.as_ptr(), &mut s), FugatoStatus::BadArgument);
            assert!(last_error().contains("key"));
            assert_eq!(fugato_session_new(model, 1, c("tempo=90").as_ptr(), &mut s), FugatoStatus::Ok);
            let mut count = 0;
            assert_eq!(fugato_session_notes(s, std::ptr::null_mut(), 0, &mut count), FugatoStatus::NoBar);
            assert_eq!(fugato_session_next_bar(s, &mut bar), FugatoStatus::Ok);
            assert_eq!((bar.index, bar.tempo_bpm), (0, 90.0));
            let status = fugato_session_notes(s, std::ptr::null_mut(), 0, &mut count);
            assert!(status == FugatoStatus::Ok && count == 0 || status == FugatoStatus::BufferTooSmall);
            assert_eq!(count, bar.note_count);
            assert_eq!(fugato_session_change(s, c("volume").as_ptr(), c("3").as_ptr()), FugatoStatus::BadArgument);
            assert_eq!(fugato_model_free(model), FugatoStatus::Ok);
            assert_eq!(fugato_model_free(model), FugatoStatus::BadHandle);
            // The session goes on without its model handle; freed, it is gone for good.
            assert_eq!(fugato_session_next_bar(s, &mut bar), FugatoStatus::Ok);
            assert_eq!(fugato_session_free(s), FugatoStatus::Ok);
            assert_eq!(fugato_session_next_bar(s, &mut bar), FugatoStatus::BadHandle);
            assert_eq!(fugato_session_free(s), FugatoStatus::BadHandle);
        }
    }

    #[test]
    fn a_session_streams_notes_renders_pcm_and_records_midi() {
        let dir = tempfile_dir();
        let out = dir.join("rec.mid");
        // SAFETY: every pointer is valid for the call.
        unsafe {
            let (mut model, mut s) = (0, 0);
            assert_eq!(fugato_model_open(c("chorale-parts").as_ptr(), &mut model), FugatoStatus::Ok);
            assert_eq!(fugato_session_new(model, 3, c("key=G:major;tempo=100").as_ptr(), &mut s), FugatoStatus::Ok);
            assert_eq!(fugato_session_record(s, 1), FugatoStatus::Ok);
            let mut notes = vec![FugatoNote::default(); 256];
            let mut pcm = vec![0f32; 2 * 48_000 * 4];
            let mut total = 0;
            for _ in 0..4 {
                let mut bar = FugatoBar::default();
                assert_eq!(fugato_session_next_bar(s, &mut bar), FugatoStatus::Ok);
                let mut count = 0;
                assert_eq!(fugato_session_notes(s, notes.as_mut_ptr(), notes.len(), &mut count), FugatoStatus::Ok);
                assert!(notes[..count].iter().all(|n| n.start_beats < bar.quarters && n.pitch < 128));
                total += count;
                let mut frames = 0;
                let status = fugato_session_render(s, 48_000, pcm.as_mut_ptr(), 48_000 * 4, &mut frames);
                assert_eq!(status, FugatoStatus::Ok, "{}", last_error());
                assert_eq!(frames, (bar.seconds * 48_000.0).round() as usize);
                assert!(pcm[..2 * frames].iter().all(|x| x.abs() <= 1.0));
            }
            assert!(total > 0);
            let mut frames = 0;
            let status = fugato_session_render(s, 44_100, pcm.as_mut_ptr(), 10, &mut frames);
            assert_eq!(status, FugatoStatus::BufferTooSmall);
            let path = CString::new(out.to_str().unwrap()).unwrap();
            assert_eq!(fugato_session_write_midi(s, path.as_ptr()), FugatoStatus::Ok, "{}", last_error());
            assert_eq!(fugato_session_free(s), FugatoStatus::Ok);
            assert_eq!(fugato_model_free(model), FugatoStatus::Ok);
        }
        let score = fugato_midi::read_file(&out, Default::default()).unwrap().score;
        assert!(score.n_notes() > 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fugato-ffi-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
