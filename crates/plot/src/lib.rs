//! Pictures, as PNG bytes (no I/O here): [`piano_roll_png`] draws a score as time ×
//! pitch, one colour per part, with a line at every C and every bar; [`line_chart_png`]
//! draws curves such as a training run's losses; [`bar_chart_png`] draws grouped bars
//! such as pitch-class histograms.
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

    png_of(width, height, |area| {
        for pitch in (low..=high).filter(|p| p % 12 == 0) {
            let y = y_of(pitch) + px - 1;
            area.draw(&PathElement::new([(0, y), (width as i32, y)], RGBColor(210, 210, 210))).map_err(draw_err)?;
        }
        for bar_tick in bar_lines(score) {
            let x = (bar_tick as f64 * x_per_tick) as i32;
            area.draw(&PathElement::new([(x, 0), (x, height as i32)], RGBColor(230, 230, 230))).map_err(draw_err)?;
        }
        for (track, note) in &notes {
            let (r, g, b) = PALETTE[track % PALETTE.len()];
            let x0 = (note.start_tick as f64 * x_per_tick) as i32;
            let x1 = ((note.end_tick as f64 * x_per_tick) as i32 - 1).max(x0 + 1);
            let y = y_of(note.pitch.get());
            area.draw(&Rectangle::new([(x0, y), (x1, y + px - 1)], RGBColor(r, g, b).filled())).map_err(draw_err)?;
        }
        Ok(())
    })
}

/// A named line of (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// DejaVu Sans Mono (see assets/DejaVu-LICENSE.txt), so charts need no system fonts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid TrueType; registration cannot fail on it.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A line chart with labelled axes and a legend, e.g. training and validation loss per epoch.
pub fn line_chart_png(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<Vec<u8>, PlotError> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = points().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) =
        points().filter(|p| p.1.is_finite()).fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { (0.0, 1.0_f64.max(x1)) };
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = if y0 <= y1 { (y0 - pad, y1 + pad) } else { (0.0, 1.0) };
    png_of(CHART_WIDTH, CHART_HEIGHT, |area| {
        let mut chart = chart_frame(area, title).build_cartesian_2d(x0..x1, y0..y1).map_err(draw_err)?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(draw_err)?;
        for (i, s) in series.iter().enumerate() {
            let (r, g, b) = PALETTE[i % PALETTE.len()];
            let color = RGBColor(r, g, b);
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .map_err(draw_err)?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw_err)
    })
}

/// One named row of values for [`bar_chart_png`], one value per category.
pub struct Bars<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
}

/// Grouped bars: for each category (a pitch class, a histogram bin), one bar per series,
/// e.g. a generated set against its reference.
pub fn bar_chart_png(title: &str, y_label: &str, categories: &[String], series: &[Bars]) -> Result<Vec<u8>, PlotError> {
    let n_cat = categories.len().max(1);
    let n_series = series.len().max(1);
    let y1 = series.iter().flat_map(|s| s.values.iter()).filter(|v| v.is_finite()).fold(0.0f64, |m, &v| m.max(v));
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    png_of(CHART_WIDTH, CHART_HEIGHT, |area| {
        let mut chart = chart_frame(area, title).build_cartesian_2d(0.0..n_cat as f64, 0.0..y1).map_err(draw_err)?;
        let label = |x: &f64| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-9 {
                categories.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * n_cat + 1)
            .x_label_formatter(&label)
            .y_desc(y_label)
            .draw()
            .map_err(draw_err)?;
        let slot = 0.8 / n_series as f64;
        for (k, s) in series.iter().enumerate() {
            let (r, g, b) = PALETTE[k % PALETTE.len()];
            let color = RGBColor(r, g, b);
            let bars = s.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| {
                let x0 = i as f64 + 0.1 + k as f64 * slot;
                Rectangle::new([(x0, 0.0), (x0 + slot * 0.95, v)], color.filled())
            });
            chart
                .draw_series(bars)
                .map_err(draw_err)?
                .label(s.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw_err)
    })
}

/// Size of the charts, in pixels.
const CHART_WIDTH: u32 = 800;
const CHART_HEIGHT: u32 = 500;

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_err(e: impl std::fmt::Debug) -> PlotError {
    PlotError::Draw(format!("{e:?}"))
}

/// A white `width` × `height` picture, drawn by `draw`, as PNG bytes.
fn png_of(width: u32, height: u32, draw: impl FnOnce(&Area) -> Result<(), PlotError>) -> Result<Vec<u8>, PlotError> {
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_err)?;
        draw(&area)?;
        area.present().map_err(draw_err)?;
    }
    encode_png(&rgb, width, height)
}

/// The frame every chart shares: its title, margin and axis label areas.
fn chart_frame<'a, 'b, 'c>(area: &'a Area<'c>, title: &str) -> ChartBuilder<'a, 'b, BitMapBackend<'c>> {
    register_font();
    let mut builder = ChartBuilder::on(area);
    builder.caption(title, ("sans-serif", 22)).margin(12).x_label_area_size(40).y_label_area_size(60);
    builder
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(rgb)?;
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
