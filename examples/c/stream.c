/*
 * libfugato from C: 16 bars of the bundled folk-melody model at 120 bpm, in D major for
 * bars 1-8 and in B-flat major from bar 9 on (changed through the API after bar 8), each
 * bar also rendered to PCM with the built-in voices, written as a MIDI file.
 *
 *     scripts/c-example OUT.mid     (builds libfugato and this file, then runs it)
 */
#include <stdio.h>
#include <stdlib.h>

#include "fugato.h"

#define BARS 16
#define SAMPLE_RATE 44100

/* Prints what went wrong and leaves, when a call did not return FUGATO_STATUS_OK. */
static void check(FugatoStatus status, const char *what) {
    if (status != FUGATO_STATUS_OK) {
        fprintf(stderr, "stream: %s: %s (status %d)\n", what, fugato_last_error(), (int)status);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.mid\n", argv[0]);
        return 2;
    }
    uint64_t model = 0, session = 0;
    check(fugato_model_open("folk-melody", &model), "open folk-melody");
    check(fugato_session_new(model, 2, "key=D:major; tempo=120", &session), "new session");
    check(fugato_session_record(session, 1), "record");

    /* Two seconds of stereo a bar at 120 bpm; the call says how many frames it needs. */
    size_t capacity = 4 * SAMPLE_RATE;
    float *pcm = malloc(2 * capacity * sizeof(float));
    FugatoNote notes[256];
    for (int i = 0; i < BARS; i++) {
        if (i == 8) {
            check(fugato_session_change(session, "key", "Bb:major"), "change key");
        }
        FugatoBar bar;
        size_t count = 0, frames = 0;
        check(fugato_session_next_bar(session, &bar), "next bar");
        check(fugato_session_notes(session, notes, 256, &count), "notes");
        check(fugato_session_render(session, SAMPLE_RATE, pcm, capacity, &frames), "render");
        printf("bar %2llu at %5.2f s: %zu notes", (unsigned long long)bar.index + 1, bar.start_s, count);
        for (size_t n = 0; n < count; n++) {
            printf(" %d%s", notes[n].pitch, notes[n].tied ? "~" : "");
        }
        printf("  (%zu frames of audio)\n", frames);
    }
    free(pcm);

    check(fugato_session_write_midi(session, argv[1]), "write MIDI");
    check(fugato_session_free(session), "free session");
    check(fugato_model_free(model), "free model");
    /* A freed handle is an error, not a crash. */
    FugatoBar bar;
    if (fugato_session_next_bar(session, &bar) != FUGATO_STATUS_BAD_HANDLE) {
        fprintf(stderr, "stream: a freed session was accepted\n");
        return 1;
    }
    printf("wrote %s\n", argv[1]);
    return 0;
}
