//! Recognition by Bayes' rule: a model trained with styles gives each piece a likelihood
//! under each style it knows; with equal priors, the likeliest style is the best guess
//! (`fugato classify`).

use fugato_score::Score;
use serde::Serialize;

use crate::NnError;
use crate::checkpoint::Checkpoint;
use crate::model::{StepItem, Stepper};

/// Tokens scored from one fresh state: a long piece is scored window by window, each
/// window from the model's starting state, and the windows' log-likelihoods summed.
pub const WINDOW: usize = 512;
/// The most tokens of a piece scored (its first ones).
pub const MAX_TOKENS: usize = 64 * WINDOW;

/// One style's score of a piece.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StyleScore {
    pub style: String,
    /// Natural log of the piece's tokens' probability under the style.
    pub log_likelihood: f64,
}

/// The model's styles ranked by the piece's log-likelihood under each, best first; also
/// how many tokens were scored.
pub fn rank_styles(ckpt: &Checkpoint, piece: &Score) -> Result<(Vec<StyleScore>, usize), NnError> {
    let styles = &ckpt.meta.data.styles;
    if styles.is_empty() {
        return Err(NnError::Options("this model was trained without styles: it cannot tell them apart".into()));
    }
    let repr = ckpt.meta.data.repr;
    let Some(tokens) = repr.encode_tokens(piece) else {
        return Err(NnError::Options(format!("a {} model reads no tokens to score", repr.name())));
    };
    let tokens: Vec<u16> = tokens?.into_iter().take(MAX_TOKENS).map(|t| t as u16).collect();
    if tokens.len() < 2 {
        return Err(NnError::Options("the piece is too short to score (fewer than two tokens)".into()));
    }
    let mut logits = Vec::new();
    let mut ranked: Vec<StyleScore> = styles
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let mut total = 0.0f64;
            for window in tokens.chunks(WINDOW) {
                let mut stepper = Stepper::new(&ckpt.model);
                for pair in window.windows(2) {
                    stepper.feed(StepItem::Token { id: pair[0], style: Some(s as u16) });
                    stepper.logits(&mut logits);
                    total += log_softmax_at(&logits, usize::from(pair[1]));
                }
            }
            StyleScore { style: name.clone(), log_likelihood: total }
        })
        .collect();
    ranked.sort_by(|a, b| b.log_likelihood.total_cmp(&a.log_likelihood));
    Ok((ranked, tokens.len()))
}

/// `log softmax(logits)[i]`, computed stably.
pub(crate) fn log_softmax_at(logits: &[f32], i: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    f64::from(logits[i] - max) - sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chorale_is_likelier_a_chorale_than_a_reel() {
        let name = "styles-melody".as_ref();
        let ckpt = crate::bundled::load(name, &crate::default_device()).unwrap().into_sequence(name).unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/bwv66.6.mid");
        let piece = fugato_midi::read_file(path.as_ref(), Default::default()).unwrap().score;
        let (ranked, tokens) = rank_styles(&ckpt, &piece).unwrap();
        assert_eq!(ranked.len(), ckpt.meta.data.styles.len());
        assert!(tokens > 100);
        assert!(ranked.windows(2).all(|w| w[0].log_likelihood >= w[1].log_likelihood));
        let place = |s: &str| ranked.iter().position(|r| r.style == s).unwrap();
        assert!(place("chorale") < place("reel"), "{ranked:?}");
        assert!(ranked.iter().all(|r| r.log_likelihood < 0.0 && r.log_likelihood.is_finite()));
        let jsb = "jsb-chorales".as_ref();
        let plain = crate::bundled::load(jsb, &crate::default_device()).unwrap().into_sequence(jsb).unwrap();
        assert!(rank_styles(&plain, &piece).is_err());
    }
}
