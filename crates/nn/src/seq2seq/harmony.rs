//! Harmonisation and continuation with a trained encoder–decoder.
//!
//! [`harmonize`] keeps the melody exactly as it was written (the same notes, ticks and
//! velocities, in its own part) and adds alto, tenor and bass decoded step by step, each
//! kept to its voice's range and to the key (its scale, plus the raised seventh in
//! minor). [`evaluate_harmony`] measures it against Bach's own voices and voice leading.
//! [`continue_melody`] extends a melody four bars at a time.

use burn::tensor::{Device, Int, Tensor, TensorData};
use fugato_repr::melody::{self, HOLD, REST};
use fugato_score::metrics::{Scale, pitch_in_scale_rate};
use fugato_score::voice_leading::{Counts, VoiceLeading};
use fugato_score::{Channel, KeySignature, Note, Score, Track, estimate_key};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Encoded, Seq2Seq};
use crate::NnError;
use crate::sample::{SampleOptions, Sampling, ranked, sample_token};
use fugato_data::lines::{self as data, VOICES};

/// Pitch ranges (MIDI, inclusive) of soprano, alto, tenor and bass: the usual choir
/// ranges, as wide as Bach writes them in the chorales.
pub const RANGES: [(u8, u8); 4] = [(59, 81), (52, 74), (45, 69), (34, 64)];

#[derive(Clone, Debug)]
pub struct HarmonizeOptions {
    pub sampling: Sampling,
    pub seed: u64,
    /// Hypotheses a beam search keeps (1: no search, each step's token drawn by
    /// `sampling`); wider beams need [`Sampling::ArgMax`] (see `compose::beam`).
    pub beam: usize,
    /// The key to keep to [default: the melody's key signature, else its estimated key].
    pub key: Option<KeySignature>,
    /// Set from outside to stop decoding between steps ([`NnError::Cancelled`]).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for HarmonizeOptions {
    fn default() -> Self {
        HarmonizeOptions { sampling: Sampling::ArgMax, seed: 0, beam: 1, key: None, cancel: None }
    }
}

impl HarmonizeOptions {
    /// [`NnError::Cancelled`] where the work was stopped from outside.
    fn stopped(&self) -> Result<(), NnError> {
        match &self.cancel {
            Some(c) if c.load(std::sync::atomic::Ordering::SeqCst) => Err(NnError::Cancelled),
            _ => Ok(()),
        }
    }
}

pub struct Harmonized {
    /// The melody's part first (untouched), then alto, tenor and bass.
    pub score: Score,
    pub key: KeySignature,
    /// The voices written, as melody tokens per grid step.
    pub lines: Vec<Vec<u16>>,
}

/// The part that carries the melody: the only pitched part, else one named soprano or
/// melody, else the highest on average.
pub fn melody_part(score: &Score) -> Option<usize> {
    let pitched: Vec<usize> =
        (0..score.tracks.len()).filter(|&i| !score.tracks[i].is_drum && !score.tracks[i].notes.is_empty()).collect();
    if pitched.len() <= 1 {
        return pitched.first().copied();
    }
    let named = |prefix: &str| {
        pitched.iter().copied().find(|&i| score.tracks[i].name.trim().to_lowercase().starts_with(prefix))
    };
    named("soprano").or_else(|| named("melody")).or_else(|| {
        let mean = |i: usize| {
            let n = &score.tracks[i].notes;
            n.iter().map(|n| f64::from(n.pitch.get())).sum::<f64>() / n.len() as f64
        };
        pitched.iter().copied().max_by(|&a, &b| mean(a).total_cmp(&mean(b)))
    })
}

/// Harmonises the melody of `input` in four parts.
pub fn harmonize(
    model: &Seq2Seq,
    input: &Score,
    options: &HarmonizeOptions,
    device: &Device,
) -> Result<Harmonized, NnError> {
    if model.streams() != 3 || !model.aligned() {
        return Err(NnError::Options(
            "this model was not trained to harmonise (it writes no alto, tenor and bass)".into(),
        ));
    }
    crate::compose::beam(options.beam, options.sampling)
        .map_err(|e| NnError::Options(format!("{} {}", e.field, e.message)))?;
    let part = melody_part(input).ok_or_else(|| NnError::Options("the file has no notes to harmonise".into()))?;
    let melody = &input.tracks[part];
    let only = Score { tracks: vec![melody.clone()], ..input.clone() };
    let key = options
        .key
        .or_else(|| input.key_signatures.iter().find(|k| k.tick == 0).copied())
        .or_else(|| estimate_key(&only))
        .unwrap_or(KeySignature { tick: 0, fifths: 0, minor: false });
    let steps = data::steps(&only);
    if steps == 0 {
        return Err(NnError::Options(
            "the melody is shorter than one sixteenth note: nothing on the grid to harmonise".into(),
        ));
    }
    let source = data::line(&only, melody, steps)?;
    let positions = data::bar_positions(&only, steps);
    let allowed: Vec<Vec<bool>> = RANGES[1..].iter().map(|&range| allowed_tokens(range, &key, model.vocab())).collect();
    let lines = decode(model, &source, &positions, &allowed, options, device);
    options.stopped()?;

    let tpq = u64::from(input.ticks_per_quarter());
    let velocity = melody.notes[melody.notes.len() / 2].velocity;
    let mut score = Score { tracks: vec![melody.clone()], ..input.clone() };
    if score.tracks[0].name.trim().is_empty() {
        score.tracks[0].name = "Soprano".into();
    }
    for (k, line) in lines.iter().enumerate() {
        let mut track = Track::new(capitalised(VOICES[k + 1]));
        track.program = melody.program;
        track.channel = Channel::new((melody.channel.get() + 1 + k as u8) % 16).expect("a channel below 16");
        track.midi_track = 0;
        let to_tick = |step: u64| step * tpq / u64::from(data::STEPS_PER_QUARTER);
        track.notes = data::line_score(line).tracks[0]
            .notes
            .iter()
            .map(|n| Note { velocity, start_tick: to_tick(n.start_tick), end_tick: to_tick(n.end_tick), ..*n })
            .collect();
        score.tracks.push(track);
    }
    score.end_tick = input.end_tick.max(score.last_note_end_tick());
    Ok(Harmonized { score, key, lines })
}

/// Continues the melody of `input` (its highest part) by `spans` × four bars, each span
/// decoded from the four bars before it. The other parts are kept as they were; the new
/// notes join the melody's part. Needs at least four bars of music.
pub fn continue_melody(
    model: &Seq2Seq,
    input: &Score,
    spans: usize,
    options: &HarmonizeOptions,
    device: &Device,
) -> Result<Score, NnError> {
    if model.streams() != 1 || model.aligned() {
        return Err(NnError::Options("this model was not trained to continue a melody".into()));
    }
    let part = melody_part(input).ok_or_else(|| NnError::Options("the primer has no notes to continue".into()))?;
    let melody = &input.tracks[part];
    let only = Score { tracks: vec![melody.clone()], ..input.clone() };
    let tpq = u64::from(input.ticks_per_quarter());
    let signature = input.time_signatures.iter().rev().find(|t| t.tick <= only.last_note_end_tick());
    let bar = signature.and_then(|s| s.bar_ticks(tpq)).unwrap_or(4 * tpq) * u64::from(data::STEPS_PER_QUARTER) / tpq;
    let bar = (bar as usize).max(1);
    let steps = data::steps(&only);
    let mut tokens = data::line(&only, melody, steps)?;
    // Whole bars from the first downbeat, the last one filled out with rests.
    let first = data::bar_positions(&only, steps).iter().position(|&p| p == 0).unwrap_or(0);
    let end = first + (steps - first).div_ceil(bar) * bar;
    tokens.resize(end, REST as u16);
    let span = data::CONTINUATION_BARS * bar;
    if end - first < span {
        return Err(NnError::Options(format!(
            "the primer's melody spans {} bars; continuing needs at least {}",
            (end - first) / bar,
            data::CONTINUATION_BARS
        )));
    }
    let positions: Vec<u16> = (0..span).map(|i| (i % bar).min(data::POSITIONS - 1) as u16).collect();
    for k in 0..spans {
        let source = tokens[tokens.len() - span..].to_vec();
        let step_options = HarmonizeOptions { seed: options.seed.wrapping_add(k as u64), ..options.clone() };
        let line = decode(model, &source, &positions, &[], &step_options, device).remove(0);
        tokens.extend(line);
    }
    let to_tick = |step: u64| step * tpq / u64::from(data::STEPS_PER_QUARTER);
    let added = data::line_score(&tokens[end..]);
    let velocity = melody.notes[melody.notes.len() / 2].velocity;
    let mut score = input.clone();
    let offset = end as u64;
    score.tracks[part].notes.extend(added.tracks.iter().flat_map(|t| &t.notes).map(|n| Note {
        velocity,
        start_tick: to_tick(offset + n.start_tick),
        end_tick: to_tick(offset + n.end_tick),
        ..*n
    }));
    score.end_tick = score.last_note_end_tick();
    Ok(score)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The tokens a voice may write: HOLD, REST and the pitches of its range in the key.
fn allowed_tokens((low, high): (u8, u8), key: &KeySignature, vocab: usize) -> Vec<bool> {
    let mut classes = key.scale_pitch_classes().to_vec();
    if key.minor {
        classes.push((key.tonic_pitch_class() + 11) % 12); // the leading tone
    }
    (0..vocab as u32)
        .map(|t| match melody::token_pitch(t) {
            Some(p) => (low..=high).contains(&p) && classes.contains(&(p % 12)),
            None => t == HOLD || t == REST,
        })
        .collect()
}

/// Runs the decoder over the source, one step at a time, choosing each line's token
/// among `allowed` (per line): drawn by `options.sampling`, or by a beam search where
/// `options.beam` is above one.
pub fn decode(
    model: &Seq2Seq,
    source: &[u16],
    positions: &[u16],
    allowed: &[Vec<bool>],
    options: &HarmonizeOptions,
    device: &Device,
) -> Vec<Vec<u16>> {
    if options.beam > 1 {
        return decode_beam(model, source, positions, allowed, options, device);
    }
    let encoded = model.encode(ids(source, device), ids(positions, device));
    let mut state = model.start(&encoded);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let streams = model.streams();
    let mut previous = vec![REST as u16; streams];
    let mut lines = vec![Vec::with_capacity(positions.len()); streams];
    // Per line, the sampling options of the first step (nothing to hold yet) and of the rest.
    let per_line: Vec<[SampleOptions; 2]> = line_masks(model, allowed)
        .into_iter()
        .map(|masks| {
            masks.map(|mask| SampleOptions {
                steps: 1,
                sampling: options.sampling,
                seed: options.seed,
                allowed_units: None,
                allowed_tokens: Some(mask),
                until: None,
                style: None,
                cancel: None,
            })
        })
        .collect();
    for (t, &position) in positions.iter().enumerate() {
        if options.stopped().is_err() {
            break;
        }
        let aligned = model.aligned().then(|| encoded.outputs.clone().narrow(1, t, 1).squeeze_dim(1));
        let prev: Vec<Tensor<1, Int>> = previous.iter().map(|&p| ids1(&[p], device)).collect();
        let (logits, next) = model.step(&prev, ids1(&[position], device), aligned, &encoded, state);
        state = next;
        for k in 0..streams {
            let values: Vec<f32> = logits[k].clone().into_data().try_to_vec::<f32>().expect("f32 logits");
            let token = sample_token(&values, &per_line[k][usize::from(t > 0)], &mut rng) as u16;
            lines[k].push(token);
            previous[k] = token;
        }
    }
    lines
}

/// `[1, len]` token ids.
fn ids(v: &[u16], device: &Device) -> Tensor<2, Int> {
    ids1(v, device).unsqueeze_dim(0)
}

/// `[len]` token ids.
fn ids1(v: &[u16], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(), [v.len()]), device)
}

/// Per line, the tokens it may write at its first step (nothing to hold yet) and later.
fn line_masks(model: &Seq2Seq, allowed: &[Vec<bool>]) -> Vec<[Vec<bool>; 2]> {
    (0..model.streams())
        .map(|k| {
            let later = allowed.get(k).cloned().unwrap_or_else(|| vec![true; model.vocab()]);
            let mut first = later.clone();
            first[HOLD as usize] = false;
            [first, later]
        })
        .collect()
}

/// Beam search over the lines together: every step extends each kept hypothesis by the
/// likeliest tokens of each line (given the decoder's state the lines are independent, so
/// their log-probabilities add) and keeps the `options.beam` likeliest extensions. The
/// hypotheses run as one batch, a row each.
fn decode_beam(
    model: &Seq2Seq,
    source: &[u16],
    positions: &[u16],
    allowed: &[Vec<bool>],
    options: &HarmonizeOptions,
    device: &Device,
) -> Vec<Vec<u16>> {
    let (width, streams, vocab) = (options.beam, model.streams(), model.vocab());
    let encoded = model.encode(ids(source, device), ids(positions, device));
    let encoded =
        Encoded { outputs: encoded.outputs.repeat_dim(0, width), vector: encoded.vector.repeat_dim(0, width) };
    let mut state = model.start(&encoded);
    let masks = line_masks(model, allowed);
    // Per step, each kept hypothesis as (its parent at the step before, its tokens).
    let mut history: Vec<Vec<(usize, Vec<u16>)>> = Vec::with_capacity(positions.len());
    let mut scores = vec![0f64];
    for (t, &position) in positions.iter().enumerate() {
        if options.stopped().is_err() {
            break;
        }
        // Rows past the live hypotheses repeat the last one; their results are not read.
        let last = |row: usize, k: usize| {
            history.last().map_or(REST as u16, |kept: &Vec<(usize, Vec<u16>)>| kept[row.min(kept.len() - 1)].1[k])
        };
        let prev: Vec<Tensor<1, Int>> =
            (0..streams).map(|k| ids1(&(0..width).map(|row| last(row, k)).collect::<Vec<_>>(), device)).collect();
        let aligned = model.aligned().then(|| encoded.outputs.clone().narrow(1, t, 1).squeeze_dim(1));
        let (logits, next) = model.step(&prev, ids1(&vec![position; width], device), aligned, &encoded, state);
        let logits: Vec<Vec<f32>> =
            logits.into_iter().map(|l| l.into_data().try_to_vec::<f32>().expect("f32 logits")).collect();
        let mut extensions: Vec<(f64, usize, Vec<u16>)> = Vec::new();
        for (parent, &score) in scores.iter().enumerate() {
            // The best `width` token tuples, line by line: a tuple among the best keeps its
            // first lines' tokens among the best of those lines.
            let mut partial: Vec<(f64, Vec<u16>)> = vec![(score, Vec::with_capacity(streams))];
            for k in 0..streams {
                let row = &logits[k][parent * vocab..(parent + 1) * vocab];
                let best = likeliest(row, &masks[k][usize::from(t > 0)], width);
                let mut grown: Vec<(f64, Vec<u16>)> = partial
                    .iter()
                    .flat_map(|(s, tokens)| {
                        best.iter().map(move |&(token, lp)| (s + lp, [&tokens[..], &[token]].concat()))
                    })
                    .collect();
                grown.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
                grown.truncate(width);
                partial = grown;
            }
            extensions.extend(partial.into_iter().map(|(s, tokens)| (s, parent, tokens)));
        }
        extensions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2)));
        extensions.truncate(width);
        let parents: Vec<u16> = (0..width).map(|row| extensions[row.min(extensions.len() - 1)].1 as u16).collect();
        state = next.select_rows(ids1(&parents, device));
        scores = extensions.iter().map(|e| e.0).collect();
        history.push(extensions.into_iter().map(|(_, parent, tokens)| (parent, tokens)).collect());
    }
    // Back from the best hypothesis at the last step.
    let mut lines = vec![vec![0u16; history.len()]; streams];
    let mut at = 0;
    for (t, kept) in history.iter().enumerate().rev() {
        let (parent, tokens) = &kept[at];
        for k in 0..streams {
            lines[k][t] = tokens[k];
        }
        at = *parent;
    }
    lines
}

/// The `n` likeliest allowed tokens of a row of logits, with their log-probabilities
/// among the allowed tokens (every token when none is allowed, as when sampling).
fn likeliest(logits: &[f32], allowed: &[bool], n: usize) -> Vec<(u16, f64)> {
    let candidates = ranked(logits, Some(allowed));
    let max = candidates[0].1;
    let log_total = max + candidates.iter().map(|c| (c.1 - max).exp()).sum::<f64>().ln();
    candidates.iter().take(n).map(|&(token, l)| (token as u16, l - log_total)).collect()
}

/// Music metrics of four bars of melody, as means over the spans measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanMetrics {
    pub notes: f64,
    pub n_pitch_classes_used: f64,
    pub pitch_range: f64,
    /// Bits.
    pub pitch_class_entropy: f64,
    /// Share of the notes in the tune's key (its key signature, else the key estimated
    /// from the four bars before): MusPy's pitch_in_scale_rate.
    pub in_key: f64,
    /// Mean distance in semitones between the span's first note and the last note
    /// before it (over the spans that have both).
    pub first_leap: f64,
}

/// How a continuation model does on tunes it did not learn from: each tune's first four
/// bars continued by four drawn at temperature 1 (seed: the tune's place in the list),
/// beside the tune's own next four bars.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContinuationReport {
    pub tunes: usize,
    pub generated: SpanMetrics,
    pub real: SpanMetrics,
    /// Share of sixteenth steps where the drawn continuation sounds the tune's own pitch
    /// (or rests with it).
    pub step_agreement: f64,
}

/// See [`ContinuationReport`].
pub fn evaluate_continuation(model: &Seq2Seq, tunes: &[Score], device: &Device) -> Result<ContinuationReport, NnError> {
    if model.streams() != 1 || model.aligned() {
        return Err(NnError::Options("this model was not trained to continue a melody".into()));
    }
    let mut r = ContinuationReport::default();
    let (mut agree, mut steps, mut leaps) = (0usize, 0usize, [0usize; 2]);
    for (i, tune) in tunes.iter().enumerate() {
        let Some(example) = data::continuation_examples("", tune)?.into_iter().next() else { continue };
        let primer = data::line_score(&example.source);
        let Some(key) = tune.key_signatures.first().copied().or_else(|| estimate_key(&primer)) else { continue };
        let options = HarmonizeOptions { sampling: Sampling::Temperature(1.0), seed: i as u64, ..Default::default() };
        let drawn = decode(model, &example.source, &example.source_positions, &[], &options, device).remove(0);
        let real = &example.targets[0];
        let (ours, theirs) = (data::sounding(&drawn), data::sounding(real));
        agree += ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
        steps += theirs.len();
        let last_before = data::sounding(&example.source).into_iter().flatten().last();
        leaps[0] += usize::from(add_span(&mut r.generated, &drawn, &key, last_before));
        leaps[1] += usize::from(add_span(&mut r.real, real, &key, last_before));
        r.tunes += 1;
    }
    for (m, leaps) in [(&mut r.generated, leaps[0]), (&mut r.real, leaps[1])] {
        let n = r.tunes.max(1) as f64;
        for x in
            [&mut m.notes, &mut m.n_pitch_classes_used, &mut m.pitch_range, &mut m.pitch_class_entropy, &mut m.in_key]
        {
            *x /= n;
        }
        m.first_leap /= leaps.max(1) as f64;
    }
    r.step_agreement = agree as f64 / steps.max(1) as f64;
    Ok(r)
}

/// Adds one span's metrics to the sums in `m`; whether it had a first leap to add.
fn add_span(m: &mut SpanMetrics, line: &[u16], key: &KeySignature, last_before: Option<u8>) -> bool {
    use fugato_score::metrics::{n_pitch_classes_used, pitch_class_entropy, pitch_range};
    let score = data::line_score(line);
    m.notes += score.n_notes() as f64;
    m.n_pitch_classes_used += f64::from(n_pitch_classes_used(&score));
    m.pitch_range += f64::from(pitch_range(&score));
    m.pitch_class_entropy += pitch_class_entropy(&score);
    m.in_key += pitch_in_scale_rate(&score, Scale { root: key.tonic_pitch_class(), minor: key.minor });
    let first = score.tracks.iter().flat_map(|t| &t.notes).min_by_key(|n| (n.start_tick, std::cmp::Reverse(n.pitch)));
    let (Some(first), Some(before)) = (first, last_before) else { return false };
    m.first_leap += f64::from(first.pitch.get().abs_diff(before));
    true
}

/// How a harmoniser does on chorales it did not learn from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HarmonyReport {
    pub chorales: usize,
    pub steps: usize,
    /// Share of grid steps where the voice sounds Bach's pitch (or is silent with him):
    /// alto, tenor, bass.
    pub voice_accuracy: [f64; 3],
    /// Chorales whose output kept the melody's notes exactly.
    pub melody_kept: usize,
    /// Share of the written notes inside their voice's range.
    pub in_range: f64,
    /// Mean share of all notes (melody included) in the key's scale (MusPy's
    /// pitch_in_scale_rate; natural minor for minor keys).
    pub in_key: f64,
    /// The lowest of those shares over the chorales.
    pub in_key_min: f64,
    /// Parallel fifths and octaves per 100 beats, over all the chorales: the four parts
    /// written, and Bach's own four parts.
    pub parallels_per_100_beats: f64,
    pub bach_parallels_per_100_beats: f64,
}

/// Harmonises the soprano of each chorale (the most likely token at every step, or a beam
/// search `beam` wide, in the chorale's own key) and compares the result with Bach's alto,
/// tenor and bass.
pub fn evaluate_harmony(
    model: &Seq2Seq,
    chorales: &[Score],
    beam: usize,
    device: &Device,
) -> Result<HarmonyReport, NnError> {
    let mut r = HarmonyReport { in_key_min: 1.0, ..Default::default() };
    let (mut right, mut notes, mut inside, mut in_key_sum) = ([0usize; 3], 0usize, 0usize, 0f64);
    // Voice leading over all the chorales, of ours and of Bach's.
    let mut voice_leading = [Counts::default(); 2];
    for chorale in chorales {
        let Some(example) = data::harmony_example("", chorale)? else { continue };
        let soprano = data::find_voice(chorale, VOICES[0]).expect("harmony_example found it");
        let input = Score { tracks: vec![soprano.clone()], ..chorale.clone() };
        let options = HarmonizeOptions { key: chorale.key_signatures.first().copied(), beam, ..Default::default() };
        let out = harmonize(model, &input, &options, device)?;
        r.chorales += 1;
        r.steps += example.source.len();
        r.melody_kept += usize::from(out.score.tracks[0].notes == soprano.notes);
        for k in 0..3 {
            let (ours, bach) = (data::sounding(&out.lines[k]), data::sounding(&example.targets[k]));
            right[k] += ours.iter().zip(&bach).filter(|(a, b)| a == b).count();
            let (low, high) = RANGES[k + 1];
            for n in &out.score.tracks[k + 1].notes {
                notes += 1;
                inside += usize::from((low..=high).contains(&n.pitch.get()));
            }
        }
        let bach = Score {
            tracks: VOICES.iter().filter_map(|v| data::find_voice(chorale, v).cloned()).collect(),
            ..chorale.clone()
        };
        for (sum, score) in voice_leading.iter_mut().zip([&out.score, &bach]) {
            sum.add(&VoiceLeading::count(score).unwrap_or_default());
        }
        let rate = pitch_in_scale_rate(&out.score, Scale { root: out.key.tonic_pitch_class(), minor: out.key.minor });
        in_key_sum += rate;
        r.in_key_min = r.in_key_min.min(rate);
    }
    r.voice_accuracy = right.map(|c| c as f64 / r.steps.max(1) as f64);
    r.in_range = inside as f64 / notes.max(1) as f64;
    r.in_key = in_key_sum / r.chorales.max(1) as f64;
    let [ours, bach] = voice_leading.map(|c| c.rates()).map(|v| v.parallel_fifths + v.parallel_octaves);
    (r.parallels_per_100_beats, r.bach_parallels_per_100_beats) = (ours, bach);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likeliest_ranks_allowed_tokens_with_log_probabilities_among_them() {
        let logits = [2.0f32, 0.0, 1.0, 3.0];
        let allowed = [true, true, true, false];
        let best = likeliest(&logits, &allowed, 2);
        assert_eq!(best.iter().map(|b| b.0).collect::<Vec<_>>(), [0, 2]);
        // Normalised over the allowed three: e² / (e² + 1 + e).
        let expected = 2.0 - (2f64.exp() + 1.0 + 1f64.exp()).ln();
        assert!((best[0].1 - expected).abs() < 1e-12, "{best:?}");
        // Nothing allowed: every token competes, as when sampling.
        assert_eq!(likeliest(&logits, &[false; 4], 1)[0].0, 3);
    }
}
