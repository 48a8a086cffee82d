//! The melody-token segments' tensor side (the segments themselves are
//! [`fugato_data::segments::melody`]'s).

use burn::tensor::Tensor;
use fugato_repr::melody::{self, HOLD};
use fugato_repr::pianoroll::LOWEST_PITCH;

/// The keys sounding under one-hot (or soft) melody tokens `[batch, frames, tokens]`, in
/// the tokens' own columns (HOLD's and REST's stay 0): a pitch token sounds its key, HOLD
/// carries the frame before, REST silences. Differentiable, for the discriminator.
pub fn sounding(x: Tensor<3>) -> Tensor<3> {
    let [batch, frames, width] = x.dims();
    let first = melody::pitch_token(LOWEST_PITCH).expect("the lowest key") as usize;
    let hold = x.clone().narrow(2, HOLD as usize, 1); // [batch, frames, 1]
    let pitches = x.clone().narrow(2, first, width - first);
    let mut now = pitches.clone().narrow(1, 0, 1);
    let mut rows = vec![now.clone()];
    for t in 1..frames {
        now = pitches.clone().narrow(1, t, 1) + hold.clone().narrow(1, t, 1) * now;
        rows.push(now.clone());
    }
    Tensor::cat(vec![x.zeros_like().narrow(2, 0, first), Tensor::cat(rows, 1)], 2).reshape([batch, frames, width])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};
    use fugato_data::segments::melody::{frame, sounding_frames};
    use fugato_repr::melody::{HOLD, REST, pitch_token};
    use fugato_repr::pianoroll::Frame;

    use super::*;

    #[test]
    fn the_tensor_form_sounds_the_keys_the_frames_do() {
        let p = |pitch: u8| pitch_token(pitch).unwrap();
        let seg = [p(60), HOLD, REST, HOLD, p(62), HOLD];
        let frames: Vec<Frame> = seg.map(frame).to_vec();
        let width = melody::VOCAB_SIZE as usize;
        let one_hot: Vec<f32> =
            seg.iter().flat_map(|&t| (0..width).map(move |c| f32::from(u8::from(c == t as usize)))).collect();
        let device = Device::flex();
        let x = Tensor::<3>::from_data(TensorData::new(one_hot, [1, seg.len(), width]), &device);
        let s: Vec<f32> = sounding(x).into_data().try_to_vec::<f32>().unwrap();
        for (t, f) in sounding_frames(&frames).iter().enumerate() {
            let row = &s[t * width..(t + 1) * width];
            let on: Vec<usize> = (0..width).filter(|&c| row[c] > 0.5).collect();
            let want: Vec<usize> = (0..88).filter(|&k| f >> k & 1 == 1).map(|k| k + 2).collect();
            assert_eq!(on, want, "step {t}");
        }
    }
}
