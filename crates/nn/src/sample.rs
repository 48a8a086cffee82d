//! Sampling new sequences from a trained model, one step at a time with the state
//! carried, from a seeded random generator: the same checkpoint, seed and options give
//! the same sequence.

use fugato_repr::pianoroll::{Frame, N_KEYS};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::{Head, SequenceModel, StepItem, Stepper};

/// How the next token is chosen from the model's distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The most likely token (for piano-rolls: every unit with p ≥ 0.5).
    ArgMax,
    /// Draw from the distribution with logits divided by the temperature.
    Temperature(f64),
    /// Draw from the k most likely tokens (tokens only; piano-rolls use the temperature).
    TopK { k: usize, temperature: f64 },
    /// Draw from the smallest set of tokens whose probability reaches p (nucleus).
    TopP { p: f64, temperature: f64 },
}

impl Sampling {
    pub(crate) fn temperature(self) -> f64 {
        match self {
            Sampling::ArgMax => 0.0,
            Sampling::Temperature(t)
            | Sampling::TopK { temperature: t, .. }
            | Sampling::TopP { temperature: t, .. } => t,
        }
    }
}

/// A sequence of piano-roll frames or of tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sequence {
    Frames(Vec<Frame>),
    Tokens(Vec<u16>),
}

impl Sequence {
    pub fn len(&self) -> usize {
        match self {
            Sequence::Frames(f) => f.len(),
            Sequence::Tokens(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Options for [`generate`].
#[derive(Clone, Debug)]
pub struct SampleOptions {
    pub steps: usize,
    pub sampling: Sampling,
    pub seed: u64,
    /// Frames: units allowed to sound (e.g. a key's scale); `None`: all.
    pub allowed_units: Option<Frame>,
    /// Tokens: tokens allowed; `None`: all.
    pub allowed_tokens: Option<Vec<bool>>,
    /// The style, for a model that has styles (it needs one).
    pub style: Option<u16>,
    /// Tokens: stop early, at the draw that brings the tokens' weights to a total (that
    /// draw is not kept), e.g. after a number of REMI bars or performance seconds.
    pub until: Option<Until>,
    /// Set from outside to stop between steps (what was drawn so far is returned).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// See [`SampleOptions::until`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Until {
    /// Per token id; ids past the end weigh 0.
    pub weights: Vec<u32>,
    pub total: u64,
}

/// Continues `primer` by `options.steps` items (fewer where `options.until` stops it)
/// and returns the new items only. An empty
/// primer starts from a silent frame (piano-roll) or token 0 (whose meaning the
/// representation defines: HOLD for melodies, BAR for REMI, NOTE_ON 0 for performances).
///
/// The model is stepped on plain `f32` copies of its weights ([`Stepper`]), not through
/// burn: at batch 1 a step is a few matrix–vector products, and a tensor graph per step
/// would cost more than the arithmetic.
pub fn generate(model: &SequenceModel, primer: &Sequence, options: &SampleOptions) -> Sequence {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut stepper = Stepper::new(model);
    let rule = Rule::of(&model.head);
    let token = |id: u16| StepItem::Token { id, style: options.style };
    let frames = matches!(primer, Sequence::Frames(_));
    let mut last = match primer {
        Sequence::Frames(f) => StepItem::Frame(f.first().copied().unwrap_or(0)),
        Sequence::Tokens(t) => token(t.first().copied().unwrap_or(0)),
    };
    // Feed the primer; the state after its last item predicts the first new one.
    let rest: Vec<StepItem> = match primer {
        Sequence::Frames(f) => f.iter().skip(1).map(|&x| StepItem::Frame(x)).collect(),
        Sequence::Tokens(t) => t.iter().skip(1).map(|&x| token(x)).collect(),
    };
    for next in rest {
        stepper.feed(last);
        last = next;
    }
    let mut out_frames = Vec::new();
    let mut out_tokens = Vec::new();
    let mut drawer = Drawer::default();
    let mut weight = 0u64;
    for _ in 0..options.steps {
        if options.cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
            break;
        }
        stepper.feed(last);
        last = drawer.draw(&mut stepper, rule, options, None, &mut rng);
        match last {
            StepItem::Frame(f) => out_frames.push(f),
            StepItem::Token { id, .. } => {
                if let Some(until) = &options.until {
                    weight += u64::from(until.weights.get(usize::from(id)).copied().unwrap_or(0));
                    if weight >= until.total {
                        break;
                    }
                }
                out_tokens.push(id);
            }
        }
    }
    if frames { Sequence::Frames(out_frames) } else { Sequence::Tokens(out_tokens) }
}

/// How a head's output becomes an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Sigmoid head: each unit drawn on its own.
    Units,
    /// NADE head: units drawn one after another, each given those before.
    Nade,
    /// Softmax head: one token.
    Tokens,
}

impl Rule {
    /// # Panics
    /// For a regression head, which predicts values, not music to sample.
    pub(crate) fn of(head: &Head) -> Rule {
        match head {
            Head::Sigmoid(_) => Rule::Units,
            Head::Nade(_) => Rule::Nade,
            Head::Softmax(_) => Rule::Tokens,
            Head::Regression(_) => panic!("a regression model predicts values, not music to sample"),
        }
    }
}

/// Draws the next item from a stepped model's state: the one drawing rule of [`generate`]
/// and of live sessions ([`crate::stream`]), with its scratch buffers.
#[derive(Default)]
pub(crate) struct Drawer {
    logits: Vec<f32>,
    uniform: Vec<f32>,
}

impl Drawer {
    /// The item the state after the last fed item predicts, by `options`' sampling rule,
    /// key mask and style. `lean`, per token or unit, is added to the logits first (live
    /// sessions lean towards more or fewer notes with it).
    pub(crate) fn draw(
        &mut self,
        stepper: &mut Stepper,
        rule: Rule,
        options: &SampleOptions,
        lean: Option<&[f32]>,
        rng: &mut ChaCha8Rng,
    ) -> StepItem {
        let leaned = |logits: &mut Vec<f32>| {
            if let Some(lean) = lean {
                logits.iter_mut().zip(lean).for_each(|(l, b)| *l += b);
            }
        };
        match rule {
            Rule::Units => {
                stepper.logits(&mut self.logits);
                leaned(&mut self.logits);
                StepItem::Frame(sample_units(&self.logits, options, rng))
            }
            Rule::Nade => {
                let t = options.sampling.temperature().max(1e-3);
                self.uniform.clear();
                self.uniform.resize(N_KEYS, 0.5);
                if options.sampling.temperature() > 0.0 {
                    self.uniform.iter_mut().for_each(|u| *u = rng.random::<f32>());
                }
                if let Some(lean) = lean {
                    // u < σ((l + b) / T) exactly when σ(logit(u) − b / T) < σ(l / T).
                    for (u, b) in self.uniform.iter_mut().zip(lean) {
                        let x = (*u / (1.0 - *u)).ln() - b / t as f32;
                        *u = 1.0 / (1.0 + (-x).exp());
                    }
                }
                let frame = stepper.sample_nade(&self.uniform, t as f32);
                StepItem::Frame(frame & options.allowed_units.unwrap_or(Frame::MAX))
            }
            Rule::Tokens => {
                stepper.logits(&mut self.logits);
                leaned(&mut self.logits);
                StepItem::Token { id: sample_token(&self.logits, options, rng) as u16, style: options.style }
            }
        }
    }
}

/// Each unit on with probability σ(logit / T) (argmax: p ≥ 0.5), within the allowed units.
fn sample_units(logits: &[f32], options: &SampleOptions, rng: &mut impl Rng) -> Frame {
    let t = options.sampling.temperature();
    let mut frame: Frame = 0;
    for (k, &l) in logits.iter().enumerate().take(N_KEYS) {
        let on = if t <= 0.0 {
            l >= 0.0
        } else {
            let p = 1.0 / (1.0 + (-(f64::from(l)) / t).exp());
            rng.random::<f64>() < p
        };
        if on {
            frame |= 1 << k;
        }
    }
    frame & options.allowed_units.unwrap_or(Frame::MAX)
}

/// The allowed tokens (all where `allowed` is `None` or allows none) with their logits,
/// likeliest first, ties to the lower token.
pub(crate) fn ranked(logits: &[f32], allowed: Option<&[bool]>) -> Vec<(usize, f64)> {
    let allows = |i: usize| allowed.is_none_or(|a| a.get(i).copied().unwrap_or(false));
    let mut candidates: Vec<(usize, f64)> =
        logits.iter().enumerate().filter(|(i, _)| allows(*i)).map(|(i, &l)| (i, f64::from(l))).collect();
    if candidates.is_empty() {
        candidates = logits.iter().enumerate().map(|(i, &l)| (i, f64::from(l))).collect();
    }
    // A total order (ties go to the lower token), so the unstable sort gives the stable one's order.
    candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates
}

/// A token from softmax logits, after masking, temperature, top-k and top-p.
pub fn sample_token(logits: &[f32], options: &SampleOptions, rng: &mut impl Rng) -> usize {
    let mut candidates = ranked(logits, options.allowed_tokens.as_deref());
    let t = options.sampling.temperature();
    if t <= 0.0 {
        return candidates[0].0;
    }
    if let Sampling::TopK { k, .. } = options.sampling {
        candidates.truncate(k.max(1));
    }
    let max = candidates[0].1;
    let mut weights: Vec<f64> = candidates.iter().map(|(_, l)| ((l - max) / t).exp()).collect();
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w /= total);
    if let Sampling::TopP { p, .. } = options.sampling {
        let mut mass = 0.0;
        let keep = weights.iter().position(|w| {
            mass += w;
            mass >= p
        });
        let keep = keep.map_or(weights.len(), |i| i + 1);
        candidates.truncate(keep);
        weights.truncate(keep);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
    }
    let mut u = rng.random::<f64>();
    for ((i, _), w) in candidates.iter().zip(&weights) {
        if u < *w {
            return *i;
        }
        u -= w;
    }
    candidates.last().expect("at least one candidate").0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(sampling: Sampling) -> SampleOptions {
        SampleOptions {
            steps: 1,
            sampling,
            seed: 0,
            allowed_units: None,
            allowed_tokens: None,
            style: None,
            until: None,
            cancel: None,
        }
    }

    #[test]
    fn top_k_and_top_p_keep_only_the_likely_tokens() {
        let logits = [0.0f32, 5.0, 4.0, -3.0, 1.0];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let t = sample_token(&logits, &options(Sampling::TopK { k: 2, temperature: 1.0 }), &mut rng);
            assert!(t == 1 || t == 2);
            let t = sample_token(&logits, &options(Sampling::TopP { p: 0.5, temperature: 1.0 }), &mut rng);
            assert_eq!(t, 1);
        }
        assert_eq!(sample_token(&logits, &options(Sampling::ArgMax), &mut rng), 1);
    }

    #[test]
    fn masks_restrict_tokens_and_units() {
        let mut o = options(Sampling::Temperature(1.0));
        o.allowed_tokens = Some(vec![true, false, false, true, false]);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..100 {
            let t = sample_token(&[0.0, 9.0, 9.0, 0.0, 9.0], &o, &mut rng);
            assert!(t == 0 || t == 3);
        }
        let mut o = options(Sampling::ArgMax);
        o.allowed_units = Some(0b101);
        assert_eq!(sample_units(&[1.0; 88], &o, &mut rng), 0b101);
    }
}
