//! Any bytes into the MIDI reader, lenient and strict: it may refuse, never panic or hang.
//! What it reads must write, read back strictly, and encode in every representation.
#![no_main]

use fugato_midi::{ReadOptions, read, write};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read(data, ReadOptions { strict: true, ..Default::default() });
    let Ok(file) = read(data, ReadOptions::default()) else { return };
    let score = &file.score;
    if let Ok(bytes) = write(score) {
        let again = read(&bytes, ReadOptions { strict: true, ..Default::default() }).expect("fugato's own output reads strictly");
        assert_eq!(again.score.n_notes(), score.n_notes());
    }
    // Absurdly long files (huge delta times) are legal, but a grid of millions of steps
    // only slows the fuzzer down: encode scores of up to 2^16 sixteenths.
    if score.end_tick * 4 / u64::from(score.ticks_per_quarter()) > 1 << 16 {
        return;
    }
    let _ = fugato_repr::remi::encode(score).map(|t| fugato_repr::remi::decode(&t));
    let _ = fugato_repr::melody::encode(score);
    let _ = fugato_repr::performance::encode(score);
});
