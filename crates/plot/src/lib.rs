//! Pictures of music, as PNG bytes (no I/O here): [`piano_roll_png`] draws a score as
//! time × pitch, one colour per part, with a line at every C and every bar.
//!
//! ```
//! use fugato_score::{Note, Score, Track};
//!
//! let mut score = Score::new(4);
//! let mut track = Track::new("");
//! track.notes.push(Note::new(60, 90, 0, 4)?);
//! score.tracks.push(track);
//! score.end_tick = 4;
//! let png = fugato_plot::piano_roll_png(&score, &Default::default())?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use fugato_score::Score;
use plotters::prelude::*;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PlotError {
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// Distinct part colours (Tableau 10).
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

#[derive(Clone, Debug)]
pub struct RollStyle {
    /// Pixels per quarter note.
    pub px_per_quarter: u32,
    /// Pixels per semitone.
    pub px_per_pitch: u32,
    /// The picture is never wider than this; the time axis shrinks to fit.
    pub max_width: u32,
}

impl Default for RollStyle {
    fn default() -> Self {
        RollStyle { px_per_quarter: 24, px_per_pitch: 4, max_width: 4000 }
    }
}

/// The score as a piano-roll picture: time left to right, pitch bottom to top over the
/// notes' range (at least an octave), parts in distinct colours.
pub fn piano_roll_png(score: &Score, style: &RollStyle) -> Result<Vec<u8>, PlotError> {
    let notes = score.notes_in_order();
    let low = notes.iter().map(|(_, n)| n.pitch.get()).min().unwrap_or(60).saturating_sub(2);
    let high = notes.iter().map(|(_, n)| n.pitch.get()).max().unwrap_or(72).saturating_add(2).max(low + 12).min(127);
    let quarters = score.end_tick.max(1) as f64 / f64::from(score.ticks_per_quarter());
    let width = ((quarters * f64::from(style.px_per_quarter)).ceil() as u32).clamp(64, style.max_width.max(64));
    let height = u32::from(high - low + 1) * style.px_per_pitch.max(1);
    let x_per_tick = f64::from(width) / score.end_tick.max(1) as f64;
    let px = style.px_per_pitch.max(1) as i32;
    let y_of = |pitch: u8| (i32::from(high) - i32::from(pitch)) * px;

    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| PlotError::Draw(format!("{e:?}"));
        area.fill(&WHITE).map_err(err)?;
        for pitch in (low..=high).filter(|p| p % 12 == 0) {
            let y = y_of(pitch) + px - 1;
            area.draw(&PathElement::new([(0, y), (width as i32, y)], RGBColor(210, 210, 210))).map_err(err)?;
        }
        for bar_tick in bar_lines(score) {
            let x = (bar_tick as f64 * x_per_tick) as i32;
            area.draw(&PathElement::new([(x, 0), (x, height as i32)], RGBColor(230, 230, 230))).map_err(err)?;
        }
        for (track, note) in &notes {
            let (r, g, b) = PALETTE[track % PALETTE.len()];
            let x0 = (note.start_tick as f64 * x_per_tick) as i32;
            let x1 = ((note.end_tick as f64 * x_per_tick) as i32 - 1).max(x0 + 1);
            let y = y_of(note.pitch.get());
            area.draw(&Rectangle::new([(x0, y), (x1, y + px - 1)], RGBColor(r, g, b).filled())).map_err(err)?;
        }
        area.present().map_err(err)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgb)?;
    Ok(out)
}

/// Ticks of the bar lines, following the time signatures (4/4 where there is none).
fn bar_lines(score: &Score) -> Vec<u64> {
    let tpq = u64::from(score.ticks_per_quarter());
    let mut lines = Vec::new();
    let mut meter = score.first_time_signature();
    let mut changes = score.time_signatures.iter().peekable();
    let mut tick = 0u64;
    while tick < score.end_tick && lines.len() < 10_000 {
        while let Some(ts) = changes.next_if(|ts| ts.tick <= tick) {
            meter = *ts;
        }
        lines.push(tick);
        tick += meter.bar_ticks(tpq).unwrap_or(4 * tpq).max(1);
    }
    lines
}
