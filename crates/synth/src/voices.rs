//! The built-in voices. Each renders one note, adding into a stereo buffer that is
//! allocated once for the whole piece.

/// A voice with no sound files behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voice {
    /// Harmonic partials with falling weights under an ADSR envelope: organ-like.
    Additive,
    /// Sawtooth and square through a resonant low-pass filter whose cutoff follows its
    /// own envelope, under an ADSR envelope: "analog".
    Subtractive,
    /// Karplus–Strong plucked string: a noise burst circulating in a damped delay line.
    Pluck,
}

impl std::str::FromStr for Voice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "additive" => Ok(Voice::Additive),
            "subtractive" => Ok(Voice::Subtractive),
            "pluck" => Ok(Voice::Pluck),
            _ => Err(format!("unknown voice {s:?}: expected additive, subtractive or pluck")),
        }
    }
}

/// A note to render, in samples.
pub struct NoteSpec {
    pub start: usize,
    /// Samples from the start to the note-off.
    pub held: usize,
    pub frequency_hz: f64,
    /// Linear amplitude before panning.
    pub amplitude: f64,
    /// Left and right gains.
    pub pan: (f64, f64),
    /// Seed of the note's noise, so renders repeat exactly.
    pub seed: u32,
}

/// Seconds a note sounds after its note-off.
pub const RELEASE_S: f64 = 0.25;

/// Deterministic white noise in [-1, 1).
pub struct Noise(u32);

impl Noise {
    pub fn new(seed: u32) -> Self {
        Noise(seed.wrapping_mul(2_654_435_761).max(1))
    }

    pub fn next(&mut self) -> f64 {
        // xorshift32
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        f64::from(x) / f64::from(u32::MAX) * 2.0 - 1.0
    }
}

/// Attack, decay, sustain level, release (seconds, level).
#[derive(Clone, Copy)]
struct Adsr {
    attack_s: f64,
    decay_s: f64,
    sustain: f64,
    release_s: f64,
}

impl Adsr {
    /// Level at `t` seconds after note-on, for a note released at `held_s`.
    fn level(&self, t: f64, held_s: f64) -> f64 {
        let on = |t: f64| {
            if t < self.attack_s {
                t / self.attack_s
            } else if t < self.attack_s + self.decay_s {
                1.0 - (1.0 - self.sustain) * (t - self.attack_s) / self.decay_s
            } else {
                self.sustain
            }
        };
        if t < held_s { on(t) } else { on(held_s) * (1.0 - (t - held_s) / self.release_s).max(0.0) }
    }
}

fn mix(out: &mut [[f32; 2]], i: usize, value: f64, pan: (f64, f64)) {
    if let Some(frame) = out.get_mut(i) {
        frame[0] += (value * pan.0) as f32;
        frame[1] += (value * pan.1) as f32;
    }
}

pub fn render_note(voice: Voice, note: &NoteSpec, sample_rate_hz: u32, out: &mut [[f32; 2]]) {
    match voice {
        Voice::Additive => additive(note, sample_rate_hz, out),
        Voice::Subtractive => subtractive(note, sample_rate_hz, out),
        Voice::Pluck => pluck(note, sample_rate_hz, out),
    }
}

fn additive(note: &NoteSpec, sr: u32, out: &mut [[f32; 2]]) {
    const PARTIALS: [f64; 8] = [1.0, 0.5, 0.33, 0.25, 0.14, 0.1, 0.07, 0.05];
    let env = Adsr { attack_s: 0.012, decay_s: 0.12, sustain: 0.8, release_s: RELEASE_S };
    let sr = f64::from(sr);
    let nyquist = sr / 2.0;
    let used: Vec<(f64, f64)> = PARTIALS
        .iter()
        .enumerate()
        .map(|(k, &w)| ((k + 1) as f64 * note.frequency_hz, w))
        .filter(|(f, _)| *f < nyquist * 0.9)
        .collect();
    let norm: f64 = used.iter().map(|(_, w)| w).sum();
    let held_s = note.held as f64 / sr;
    let len = note.held + (RELEASE_S * sr) as usize;
    // Rotating phasors instead of a sine call per partial and sample.
    let mut phasors: Vec<(f64, f64, f64, f64, f64)> = used
        .iter()
        .map(|&(f, w)| {
            let step = std::f64::consts::TAU * f / sr;
            (0.0, 1.0, step.cos(), step.sin(), w / norm)
        })
        .collect();
    for n in 0..len {
        let mut value = 0.0;
        for p in phasors.iter_mut() {
            value += p.0 * p.4;
            let (s, c) = (p.0 * p.2 + p.1 * p.3, p.1 * p.2 - p.0 * p.3);
            p.0 = s;
            p.1 = c;
        }
        let level = env.level(n as f64 / sr, held_s);
        mix(out, note.start + n, value * level * note.amplitude, note.pan);
    }
}

fn subtractive(note: &NoteSpec, sr: u32, out: &mut [[f32; 2]]) {
    let env = Adsr { attack_s: 0.005, decay_s: 0.25, sustain: 0.6, release_s: RELEASE_S };
    let sr = f64::from(sr);
    let held_s = note.held as f64 / sr;
    let len = note.held + (RELEASE_S * sr) as usize;
    let dt = note.frequency_hz / sr;
    let (mut phase, mut low, mut band) = (0.0f64, 0.0f64, 0.0f64);
    let resonance = 0.35;
    for n in 0..len {
        let t = n as f64 / sr;
        // Naive sawtooth and square, softened by the filter below.
        let saw = 2.0 * phase - 1.0;
        let square = if phase < 0.5 { 1.0 } else { -1.0 };
        let osc = 0.7 * saw + 0.3 * square;
        phase = (phase + dt).fract();
        // Cutoff falls from 8 × to 2 × the fundamental over the first half second.
        let cutoff = (note.frequency_hz * (2.0 + 6.0 * (-t * 4.0).exp())).min(sr * 0.2);
        let f = 2.0 * (std::f64::consts::PI * cutoff / sr).sin();
        // Chamberlin state-variable filter.
        low += f * band;
        let high = osc - low - resonance * band;
        band += f * high;
        let level = env.level(t, held_s);
        mix(out, note.start + n, low * level * note.amplitude * 0.8, note.pan);
    }
}

fn pluck(note: &NoteSpec, sr: u32, out: &mut [[f32; 2]]) {
    let srf = f64::from(sr);
    let period = (srf / note.frequency_hz).max(2.0);
    let size = period.ceil() as usize + 2;
    let mut line = vec![0.0f64; size];
    let mut noise = Noise::new(note.seed);
    // A noise burst, smoothed once so loud notes are brighter than soft ones.
    let mut previous = 0.0;
    let brightness = 0.5 + 0.5 * note.amplitude.min(1.0);
    for v in line.iter_mut() {
        let x = noise.next();
        previous = brightness * x + (1.0 - brightness) * previous;
        *v = previous;
    }
    // Lower strings ring longer; a note-off damps the string quickly.
    let ring = 0.996 + 0.0035 * (1.0 - (note.frequency_hz / 2000.0).min(1.0));
    let damped = 0.96;
    let len = note.held + (RELEASE_S * srf) as usize;
    let fade_in = (0.002 * srf) as usize + 1;
    let mut write = 0usize;
    let mut last = 0.0;
    for n in 0..len {
        let read = (write as f64 + size as f64 - period).rem_euclid(size as f64);
        let (i0, frac) = (read.floor() as usize % size, read.fract());
        let delayed = line[i0] * (1.0 - frac) + line[(i0 + 1) % size] * frac;
        let loss = if n < note.held { ring } else { damped };
        let value = loss * 0.5 * (delayed + last);
        last = delayed;
        line[write] = value;
        write = (write + 1) % size;
        let attack = (n as f64 / fade_in as f64).min(1.0);
        mix(out, note.start + n, value * attack * note.amplitude * 1.6, note.pan);
    }
}

/// A General MIDI percussion sound from noise and swept sines, by key.
pub fn render_drum(key: u8, note: &NoteSpec, sr: u32, out: &mut [[f32; 2]]) {
    let srf = f64::from(sr);
    let mut noise = Noise::new(note.seed);
    // (tone start Hz, tone end Hz, tone decay s, noise decay s, noise weight, high-pass)
    let (f0, f1, tone_decay, noise_decay, noise_weight, bright): (f64, f64, f64, f64, f64, bool) = match key {
        35 | 36 => (150.0, 45.0, 0.35, 0.02, 0.2, false),
        38 | 40 => (220.0, 160.0, 0.12, 0.18, 0.8, false),
        37 | 39 => (400.0, 300.0, 0.03, 0.08, 0.9, true),
        42 | 44 => (0.0, 0.0, 0.0, 0.05, 1.0, true),
        46 => (0.0, 0.0, 0.0, 0.35, 1.0, true),
        49 | 52 | 55 | 57 => (0.0, 0.0, 0.0, 1.2, 1.0, true),
        51 | 53 | 59 => (0.0, 0.0, 0.0, 0.6, 1.0, true),
        41 | 43 | 45 | 47 | 48 | 50 => {
            let f = 80.0 + (f64::from(key) - 41.0) * 18.0;
            (f * 1.5, f, 0.3, 0.05, 0.3, false)
        }
        _ => (600.0, 500.0, 0.05, 0.05, 0.6, true),
    };
    let len = ((tone_decay.max(noise_decay) * 5.0) * srf) as usize;
    let (mut phase, mut previous_noise) = (0.0f64, 0.0f64);
    for n in 0..len {
        let t = n as f64 / srf;
        let mut value = 0.0;
        if tone_decay > 0.0 {
            let f = f1 + (f0 - f1) * (-t / 0.04).exp();
            phase += std::f64::consts::TAU * f / srf;
            value += phase.sin() * (-t / tone_decay).exp() * (1.0 - noise_weight);
        }
        let x = noise.next();
        let shaped = if bright { x - previous_noise } else { 0.5 * (x + previous_noise) };
        previous_noise = x;
        value += shaped * (-t / noise_decay).exp() * noise_weight;
        mix(out, note.start + n, value * note.amplitude, note.pan);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(frequency_hz: f64) -> NoteSpec {
        NoteSpec { start: 0, held: 22_050, frequency_hz, amplitude: 0.5, pan: (0.7, 0.7), seed: 1 }
    }

    /// The fundamental of the left channel over the note's held part, from the lag of
    /// highest autocorrelation between 1 ms and 10 ms.
    fn pitch_hz(voice: Voice, frequency_hz: f64) -> f64 {
        let mut out = vec![[0f32; 2]; 44_100];
        render_note(voice, &spec(frequency_hz), 44_100, &mut out);
        let x: Vec<f64> = out[4_000..12_000].iter().map(|f| f64::from(f[0])).collect();
        let corr = |lag: usize| x.iter().zip(&x[lag..]).map(|(a, b)| a * b).sum::<f64>();
        let best = (44..441).max_by(|&a, &b| corr(a).total_cmp(&corr(b))).unwrap();
        44_100.0 / best as f64
    }

    #[test]
    fn voices_sound_at_their_pitch() {
        for voice in [Voice::Additive, Voice::Subtractive, Voice::Pluck] {
            for f in [220.0, 440.0] {
                let p = pitch_hz(voice, f);
                assert!((p / f - 1.0).abs() < 0.01, "{voice:?}: {p} Hz for {f} Hz");
            }
        }
    }

    #[test]
    fn release_ends_in_silence() {
        let mut out = vec![[0f32; 2]; 44_100];
        render_note(Voice::Additive, &spec(220.0), 44_100, &mut out);
        let tail = (22_050 + (RELEASE_S * 44_100.0) as usize + 10)..44_100;
        assert!(out[tail].iter().all(|f| f[0] == 0.0));
    }
}
