//! Infilling with a melody model: bars A..=B of a one-part tune written anew, given what
//! comes before and after them. A left-to-right model cannot read the future, so the
//! future chooses: several candidates are drawn from what comes before, and the one under
//! which the two bars after B are likeliest is kept (sample and rerank). Every note that
//! does not start in the hole is kept as it was.

use fugato_repr::{ReprKind, melody};
use fugato_score::{Note, Score, estimate_key};

use crate::NnError;
use crate::checkpoint::Checkpoint;
use crate::classify::rank_styles;
use crate::model::{StepItem, Stepper};
use crate::sample::{SampleOptions, Sampling, Sequence, generate};

/// The most candidates one infill may draw.
pub const MAX_CANDIDATES: usize = 64;
/// Bars after the hole that judge the candidates.
const JUDGING_BARS: usize = 2;

#[derive(Clone, Debug)]
pub struct InfillOptions {
    /// The first and last bar to rewrite, counted from 1.
    pub bars: (usize, usize),
    pub candidates: usize,
    pub sampling: Sampling,
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub struct Infilled {
    pub score: Score,
    /// Notes written into the hole, and the candidate kept (from 0).
    pub new_notes: usize,
    pub chosen: usize,
    /// The bars after the hole, log-likelihood under the kept candidate (0 without any).
    pub judged_by: f64,
}

/// Bars as a user writes them, "5-8" or "3": the first and last, counted from 1.
pub fn bar_range(text: &str) -> Result<(usize, usize), crate::compose::ControlError> {
    let number = |s: &str| s.trim().parse::<usize>().ok().filter(|&b| b >= 1);
    let range = match text.split_once('-') {
        Some((a, b)) => number(a).zip(number(b)),
        None => number(text).map(|a| (a, a)),
    };
    match range {
        Some((a, b)) if a <= b => Ok((a, b)),
        _ => Err(crate::compose::bad(
            "bars",
            format!("{text:?}: expected bars from 1 as A-B (e.g. 5-8) or one bar, the first no later than the last"),
        )),
    }
}

/// Rewrites bars `options.bars` of the one-part `piece` with the melody model `ckpt`.
pub fn infill(ckpt: &Checkpoint, piece: &Score, options: &InfillOptions) -> Result<Infilled, NnError> {
    if ckpt.meta.data.repr != ReprKind::Melody {
        return Err(NnError::Options(format!(
            "infilling needs a melody model; this one reads {} (try folk-melody or styles-melody)",
            ckpt.meta.data.repr.name()
        )));
    }
    let parts: Vec<usize> = (0..piece.tracks.len()).filter(|&i| !piece.tracks[i].notes.is_empty()).collect();
    let [part] = parts[..] else {
        return Err(NnError::Options(format!(
            "a melody model infills one-part tunes; this piece has {} parts",
            parts.len()
        )));
    };
    let (first, last) = options.bars;
    if first == 0 || last < first {
        return Err(NnError::Options(format!(
            "bars {first}-{last}: give bars from 1, the first no later than the last"
        )));
    }
    if !(1..=MAX_CANDIDATES).contains(&options.candidates) {
        return Err(NnError::Options(format!("candidates must be 1..={MAX_CANDIDATES}")));
    }
    let (n, d) = piece.first_time_signature().bar_quarters();
    // Sixteenth steps per bar (a meter whose bar is not whole sixteenths is refused).
    let bar_steps = (n * melody::STEPS_PER_QUARTER) / d;
    if bar_steps == 0 || !(n * melody::STEPS_PER_QUARTER).is_multiple_of(d) {
        return Err(NnError::Options("the piece's meter is not a whole number of sixteenths a bar".into()));
    }
    let tokens: Vec<u16> = melody::encode(piece)?.into_iter().map(|t| t as u16).collect();
    let step = |bar: usize| (bar * bar_steps as usize).min(tokens.len());
    let (hole_start, hole_end) = (step(first - 1), step(last));
    if hole_start >= tokens.len() {
        return Err(NnError::Options(format!(
            "the piece has {} bars; bar {first} is past its end",
            tokens.len().div_ceil(bar_steps as usize)
        )));
    }
    let style = match ckpt.meta.data.styles.is_empty() {
        true => None,
        // The piece's own likeliest style.
        false => {
            let best = rank_styles(ckpt, piece)?.0.remove(0).style;
            ckpt.meta.data.styles.iter().position(|s| *s == best).map(|i| i as u16)
        }
    };
    // Before the hole (a rest opens a hole at the very start), the hole, the bars judging it.
    let mut before: Vec<u16> = tokens[..hole_start].to_vec();
    if before.is_empty() {
        before.push(melody::REST as u16);
    }
    let after = &tokens[hole_end..step(last + JUDGING_BARS)];
    let key = estimate_key(piece);
    let mut best: Option<(f64, usize, Vec<u16>)> = None;
    for k in 0..options.candidates {
        let sample = SampleOptions {
            steps: hole_end - hole_start,
            sampling: options.sampling,
            seed: options.seed.wrapping_add(k as u64),
            allowed_units: None,
            allowed_tokens: key.map(|k| crate::compose::tokens_in(ReprKind::Melody, melody::VOCAB_SIZE, &k)),
            style,
            until: None,
            cancel: None,
        };
        let Sequence::Tokens(hole) = generate(&ckpt.model, &Sequence::Tokens(before.clone()), &sample) else {
            unreachable!("a token primer is continued with tokens")
        };
        let context: Vec<u16> = before.iter().chain(&hole).copied().collect();
        let judged = log_likelihood(ckpt, &context, after, style);
        if best.as_ref().is_none_or(|(b, _, _)| judged > *b) {
            best = Some((judged, k, hole));
        }
    }
    let (judged_by, chosen, hole) = best.expect("at least one candidate");
    let mut all: Vec<u32> = tokens[..hole_start].iter().map(|&t| u32::from(t)).collect();
    all.extend(hole.iter().map(|&t| u32::from(t)));
    let decoded = melody::decode(&all).score;
    let tpq = u64::from(piece.ticks_per_quarter());
    let to_tick = |s: u64| s * tpq / u64::from(melody::STEPS_PER_QUARTER);
    let (from, to) = (to_tick(hole_start as u64), to_tick(hole_end as u64));
    let track = &piece.tracks[part];
    let velocity = track.notes[track.notes.len() / 2].velocity;
    let new: Vec<Note> = decoded.tracks[0]
        .notes
        .iter()
        .filter(|n| n.start_tick >= hole_start as u64)
        .map(|n| Note { velocity, start_tick: to_tick(n.start_tick), end_tick: to_tick(n.end_tick).min(to), ..*n })
        .filter(|n| n.end_tick > n.start_tick)
        .collect();
    Ok(Infilled { score: with_hole_filled(piece, part, (from, to), &new), new_notes: new.len(), chosen, judged_by })
}

/// `piece` with the notes of `part` that start in `[from, to)` replaced by `new`; a kept
/// note sounding into the first new note ends where it starts.
fn with_hole_filled(piece: &Score, part: usize, (from, to): (u64, u64), new: &[Note]) -> Score {
    let mut out = piece.clone();
    let track = &mut out.tracks[part];
    track.notes.retain(|n| !(from..to).contains(&n.start_tick));
    if let Some(first) = new.first() {
        for n in track.notes.iter_mut().filter(|n| n.start_tick < first.start_tick && n.end_tick > first.start_tick) {
            n.end_tick = first.start_tick;
        }
    }
    track.notes.extend_from_slice(new);
    track.sort();
    out.end_tick = out.end_tick.max(out.last_note_end_tick());
    out
}

/// `log p(next | context)` under the model, in nats.
fn log_likelihood(ckpt: &Checkpoint, context: &[u16], next: &[u16], style: Option<u16>) -> f64 {
    let mut stepper = Stepper::new(&ckpt.model);
    let mut logits = Vec::new();
    let items: Vec<u16> = context.iter().chain(next).copied().collect();
    let mut total = 0.0;
    for (i, &id) in items.iter().enumerate().take(items.len().saturating_sub(1)) {
        stepper.feed(StepItem::Token { id, style });
        if i + 1 >= context.len() {
            stepper.logits(&mut logits);
            total += crate::classify::log_softmax_at(&logits, usize::from(items[i + 1]));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jig() -> Score {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/YellowStockingsJig_0001.mid");
        fugato_midi::read_file(path.as_ref(), Default::default()).unwrap().score
    }

    fn model(name: &str) -> Checkpoint {
        crate::bundled::load(name.as_ref(), &crate::default_device()).unwrap().into_sequence(name.as_ref()).unwrap()
    }

    #[test]
    fn bars_are_rewritten_and_every_other_note_is_kept() {
        let piece = jig();
        let ckpt = model("folk-melody");
        let options = InfillOptions { bars: (3, 4), candidates: 4, sampling: Sampling::Temperature(1.0), seed: 5 };
        let out = infill(&ckpt, &piece, &options).unwrap();
        let tpq = u64::from(piece.ticks_per_quarter());
        // 9/8: a bar is 4.5 quarters.
        let (from, to) = (2 * tpq * 9 / 2, 4 * tpq * 9 / 2);
        let part = piece.tracks.iter().position(|t| !t.notes.is_empty()).unwrap();
        let outside = |s: &Score| -> Vec<Note> {
            s.tracks[part].notes.iter().filter(|n| !(from..to).contains(&n.start_tick)).copied().collect()
        };
        let (kept, was) = (outside(&out.score), outside(&piece));
        assert_eq!(kept.len(), was.len());
        for (k, w) in kept.iter().zip(&was) {
            assert_eq!((k.pitch, k.velocity, k.start_tick), (w.pitch, w.velocity, w.start_tick));
            assert!(k.end_tick == w.end_tick || k.end_tick < w.end_tick && w.end_tick > from);
        }
        assert!(out.new_notes > 0);
        let inside = |s: &Score| -> Vec<(u8, u64)> {
            s.tracks[part]
                .notes
                .iter()
                .filter(|n| (from..to).contains(&n.start_tick))
                .map(|n| (n.pitch.get(), n.start_tick))
                .collect()
        };
        assert_ne!(inside(&out.score), inside(&piece), "the hole holds new notes");
        assert!(out.score.tracks[part].notes.iter().all(|n| !(from..to).contains(&n.start_tick) || n.end_tick <= to));
        let again = infill(&ckpt, &piece, &options).unwrap();
        assert_eq!(again.score, out.score, "the same seed writes the same notes");
        assert!(out.judged_by < 0.0 && out.chosen < 4);
    }

    #[test]
    fn what_cannot_be_infilled_is_refused() {
        let piece = jig();
        let options = InfillOptions { bars: (3, 4), candidates: 2, sampling: Sampling::ArgMax, seed: 0 };
        assert!(infill(&model("chorale-parts"), &piece, &options).is_err());
        let bad = InfillOptions { bars: (4, 3), ..options.clone() };
        assert!(infill(&model("folk-melody"), &piece, &bad).is_err());
        let past = InfillOptions { bars: (400, 401), ..options };
        assert!(infill(&model("folk-melody"), &piece, &past).unwrap_err().to_string().contains("past its end"));
    }
}
