/*
 * libfugato: endless music from fugato's models, bar by bar, under live control.
 *
 * Every function returns a FugatoStatus (FUGATO_STATUS_OK = 0); on any other status,
 * fugato_last_error() says what went wrong on this thread. Models and sessions are
 * numbered handles: a handle that is 0, freed or never made gives FUGATO_STATUS_BAD_HANDLE,
 * never a crash. No Rust panic crosses this boundary (FUGATO_STATUS_INTERNAL).
 */

#ifndef FUGATO_H
#define FUGATO_H

/* Made by cbindgen from crates/ffi/src (cargo build -p fugato-ffi); do not edit. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/**
 * What a call did: `FUGATO_STATUS_OK`, or why not (then [`fugato_last_error`] says more).
 */
typedef enum FugatoStatus {
  FUGATO_STATUS_OK = 0,
  /**
   * A pointer argument that must not be null was null.
   */
  FUGATO_STATUS_NULL_POINTER = 1,
  /**
   * A model or session handle that is 0, freed or was never made.
   */
  FUGATO_STATUS_BAD_HANDLE = 2,
  /**
   * A value out of range or unreadable: a control, a string not in UTF-8, a sample rate.
   */
  FUGATO_STATUS_BAD_ARGUMENT = 3,
  /**
   * No bundled model of that name and no checkpoint folder at that path.
   */
  FUGATO_STATUS_NOT_FOUND = 4,
  /**
   * A file could not be written.
   */
  FUGATO_STATUS_IO = 5,
  /**
   * The session has written no bar yet (for notes and rendering).
   */
  FUGATO_STATUS_NO_BAR = 6,
  /**
   * The buffer is too small: the count it needs was written to the count pointer.
   */
  FUGATO_STATUS_BUFFER_TOO_SMALL = 7,
  /**
   * A fault inside fugato (a panic caught at the boundary).
   */
  FUGATO_STATUS_INTERNAL = 8,
} FugatoStatus;

/**
 * A bar's summary, from [`fugato_session_next_bar`].
 */
typedef struct FugatoBar {
  /**
   * 0 for the session's first bar.
   */
  uint64_t index;
  /**
   * Its start, in seconds from the session's start.
   */
  double start_s;
  double seconds;
  /**
   * Its length in quarter notes.
   */
  double quarters;
  double tempo_bpm;
  /**
   * How many notes [`fugato_session_notes`] gives for it.
   */
  size_t note_count;
} FugatoBar;

/**
 * A note of the last bar: times in quarter notes from the bar's start and in seconds
 * from the session's start.
 */
typedef struct FugatoNote {
  /**
   * The part, numbered as the session first wrote each part.
   */
  uint16_t track;
  /**
   * Its General MIDI program (0..=127).
   */
  uint8_t program;
  /**
   * 1 for a drum part (General MIDI channel 10), else 0.
   */
  uint8_t is_drum;
  uint8_t pitch;
  uint8_t velocity;
  /**
   * 1 when the note sounds on from the bar before (hold it, don't strike it again).
   */
  uint8_t tied;
  double start_beats;
  double end_beats;
  double start_s;
  double end_s;
} FugatoNote;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * What the last failed call on this thread said went wrong ("" after a call that worked).
 * The text stays valid until this thread's next fugato call.
 */
const char *fugato_last_error(void);

/**
 * Opens a model: a bundled one by name (e.g. "folk-melody") or a checkpoint folder made
 * by `fugato train`. Only sequence models (token or piano-roll) stream.
 *
 * # Safety
 * `name` is a NUL-terminated string; `model_out` points to a writable `uint64_t`.
 */
enum FugatoStatus fugato_model_open(const char *name, uint64_t *model_out);

/**
 * Closes a model. Its sessions go on (they hold their own copy of its weights).
 */
enum FugatoStatus fugato_model_free(uint64_t model);

/**
 * Starts a session of `model` drawing with `seed`. `controls` is null or lines (or
 * `;`-separated items) of `name=value`, the names of [`fugato_session_change`]: e.g.
 * `"key=D:major; tempo=120"`.
 *
 * # Safety
 * `controls` is null or a NUL-terminated string; `session_out` points to a writable
 * `uint64_t`.
 */
enum FugatoStatus fugato_session_new(uint64_t model,
                                     uint64_t seed,
                                     const char *controls,
                                     uint64_t *session_out);

/**
 * Changes one control from the next bar on: `key` ("Bb:major", "none"), `tempo` (bpm),
 * `instrument` ("violin, cello"), `style`, `temperature`, `top_k`, `top_p`, `intensity`
 * (0..1), `loop` (bars, "none"). A refused change changes nothing.
 *
 * # Safety
 * `name` and `value` are NUL-terminated strings.
 */
enum FugatoStatus fugato_session_change(uint64_t session, const char *name, const char *value);

/**
 * Writes the next bar and gives its summary; its notes come from [`fugato_session_notes`].
 *
 * # Safety
 * `bar_out` points to a writable `FugatoBar`.
 */
enum FugatoStatus fugato_session_next_bar(uint64_t session, struct FugatoBar *bar_out);

/**
 * Copies the last bar's notes into `notes` (room for `capacity`) and their number into
 * `count_out`; with too little room, writes the number needed and returns
 * `FUGATO_STATUS_BUFFER_TOO_SMALL`.
 *
 * # Safety
 * `notes` is null (with `capacity` 0) or points to `capacity` writable `FugatoNote`s;
 * `count_out` points to a writable `size_t`.
 */
enum FugatoStatus fugato_session_notes(uint64_t session,
                                       struct FugatoNote *notes,
                                       size_t capacity,
                                       size_t *count_out);

/**
 * Renders the last bar with the built-in voices as interleaved stereo `float` at
 * `sample_rate` (8000..=192000): `seconds × sample_rate` frames, written to `pcm` (room
 * for `capacity_frames` frames, i.e. twice as many floats), their number to `frames_out`.
 * Notes sounding past the bar's end come in the next bar's render. Too little room:
 * `FUGATO_STATUS_BUFFER_TOO_SMALL` with the frames needed. The first render fixes the
 * session's sample rate.
 *
 * # Safety
 * `pcm` points to `2 × capacity_frames` writable floats; `frames_out` to a writable `size_t`.
 */
enum FugatoStatus fugato_session_render(uint64_t session,
                                        uint32_t sample_rate,
                                        float *pcm,
                                        size_t capacity_frames,
                                        size_t *frames_out);

/**
 * Starts (`on` ≠ 0, from the next bar, dropping an earlier recording) or stops keeping
 * the bars written, for [`fugato_session_write_midi`].
 */
enum FugatoStatus fugato_session_record(uint64_t session, int32_t on);

/**
 * Writes the bars recorded so far as a standard MIDI file (written whole or not at all).
 *
 * # Safety
 * `path` is a NUL-terminated string.
 */
enum FugatoStatus fugato_session_write_midi(uint64_t session, const char *path);

/**
 * Ends a session.
 */
enum FugatoStatus fugato_session_free(uint64_t session);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* FUGATO_H */
