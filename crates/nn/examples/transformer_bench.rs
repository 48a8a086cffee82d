//! fugato's side of `bench/transformer`: the workload of
//! `bench/reference/transformer_torch.py` — a decoder-only Transformer of 6 blocks, width
//! 256, 8 heads, feed-forward 1024, relative attention over distances up to 512, on the
//! REMI vocabulary — trained through fugato's own step (model loss → backward → Adam with
//! the gradient norm clipped to 5, as `fugato train`) on windows of 512 at batch 8, and
//! sampled at batch 1 with the key–value cache (`sample::generate`, 512 tokens).
//!
//!     cargo run --release -p fugato-nn --example transformer_bench -- [STEPS] [RUNS]
//!     cargo run --release -p fugato-nn --example transformer_bench -- vocab
//!
//! Prints one JSON object per line, like the reference (or the vocabulary's size).

mod common;

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::tensor::Device;
use fugato_data::Sequences;
use fugato_nn::batch::{SequenceSet, Window, make_batch};
use fugato_nn::fused::FusedAdam;
use fugato_nn::model::{AttentionConfig, CellKind, HeadKind, Input, ModelConfig};
use fugato_nn::sample::Sequence;

use common::{emit, sampled_ms};
use fugato_repr::ReprKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 8;
const WINDOW: usize = 512;
const SAMPLED: usize = 512;

fn vocab() -> usize {
    ReprKind::Remi.vocabulary().expect("REMI has a vocabulary").size() as usize
}

fn config() -> ModelConfig {
    let vocab = vocab();
    ModelConfig {
        cell: CellKind::Transformer,
        peephole: false,
        hidden: 256,
        layers: 6,
        dropout: 0.1,
        head: HeadKind::Softmax,
        input: Input::Tokens { vocab, embedding: 256, styles: 0 },
        outputs: vocab,
        nade_hidden: 0,
        attention: Some(AttentionConfig { heads: 8, feed_forward: 1024, distances: WINDOW, absolute: false }),
    }
}

fn train(steps: usize, runs: usize) {
    let device = Device::flex().autodiff();
    device.seed(0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut seqs = Sequences::default();
    for _ in 0..2 * BATCH {
        let tokens: Vec<u16> = (0..=WINDOW).map(|_| rng.random_range(0..vocab() as u16)).collect();
        seqs.push(&tokens);
    }
    let set = SequenceSet::Tokens { seqs, styles: None, repr: ReprKind::Remi };
    let batches: Vec<_> = (0..2)
        .map(|b| {
            let windows: Vec<Window> =
                (0..BATCH).map(|r| Window { sequence: b * BATCH + r, start: 0, len: WINDOW + 1, shift: 0 }).collect();
            make_batch(&set, &windows, &device)
        })
        .collect();
    let mut model = config().init(&device);
    let mut optimizer = FusedAdam::module_optimizer(Some(5.0), None);
    let mut run_steps = |model: fugato_nn::model::SequenceModel, n: usize| {
        let mut model = model;
        for i in 0..n {
            let loss = model.loss(&batches[i % batches.len()]);
            let _ = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(3e-4, model, grads);
        }
        model
    };
    model = run_steps(model, 1);
    let mut values = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        model = run_steps(model, steps);
        values.push((BATCH * WINDOW * steps) as f64 / start.elapsed().as_secs_f64());
    }
    emit("train transformer 6x256", "train", values, "tokens/s");
}

fn sample(runs: usize) {
    let device = Device::flex();
    device.seed(0);
    let model = config().init(&device);
    emit(
        "sample transformer 6x256",
        "sample",
        sampled_ms(&model, &Sequence::Tokens(vec![0]), SAMPLED, runs),
        "ms/token",
    );
}

fn main() {
    fugato_kernels::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "vocab") {
        println!("{}", vocab());
        return;
    }
    let steps = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let runs = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let only = args.get(3).cloned().unwrap_or_default();
    if "train".contains(&only) {
        train(steps, runs);
    }
    if "sample".contains(&only) {
        sample(runs);
    }
}
