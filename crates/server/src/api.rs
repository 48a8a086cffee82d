//! The handlers: JSON in, JSON (or WAV) out, every error as JSON naming its field.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State as Shared;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use fugato_nn::compose::{ComposeOptions, ControlError, Controls, compose};
use fugato_score::Score;
use fugato_score::metrics::MusPy;
use fugato_synth::{RenderOptions, Voice};
use serde::{Deserialize, Serialize};

use crate::State;

static PAGE: &str = include_str!("../assets/index.html");

/// An error response: `{"error": message, "field": field}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, field: Option<&'static str>, message: impl Into<String>) -> ApiError {
        ApiError { status, field, message: message.into() }
    }

    pub(crate) fn field(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, Some(field), message)
    }
}

/// The longest error message an answer carries: a message quoting a huge input is cut.
const MAX_ERROR_CHARS: usize = 500;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.message;
        if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        let body = serde_json::json!({ "error": message, "field": self.field });
        (self.status, Json(body)).into_response()
    }
}

/// Answers 408 for a request not done within [`crate::Limits::request_timeout`], its body
/// read included (a slow client cannot hold a connection and a handler forever).
pub async fn within_time(
    Shared(state): Shared<Arc<State>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            None,
            format!("the request was not done within {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// A JSON body that did not parse: axum's message names the field and position.
fn rejected(r: JsonRejection) -> ApiError {
    ApiError::new(r.status(), None, r.body_text())
}

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, None, "no such page or API route")
}

pub async fn health(Shared(state): Shared<Arc<State>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "in_flight": state.in_flight(),
        "running": state.running(),
        "workers": state.limits.workers,
        "queue": state.limits.queue,
    }))
}

#[derive(Serialize)]
pub struct ModelInfo {
    name: String,
    about: String,
    /// The styles the model was trained with (`style` of /api/generate).
    styles: Vec<String>,
}

pub async fn models(Shared(state): Shared<Arc<State>>) -> Json<Vec<ModelInfo>> {
    Json(
        state
            .models
            .iter()
            .map(|m| ModelInfo { name: m.name.clone(), about: m.about.clone(), styles: m.styles.clone() })
            .collect(),
    )
}

/// Runs `work` on a blocking thread once a worker is free: 503 at once when every place
/// is taken, 504 when it takes longer than the limit, 500 if it panics. `work` gets a flag
/// to check between its steps: it is set when the request times out or its client goes
/// away (the server then drops this future), and the work stops. The job keeps its place
/// and its worker until its work has really stopped, so the count of jobs stays true.
async fn run_job<T: Send + 'static>(
    state: &State,
    work: impl FnOnce(Arc<AtomicBool>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let Ok(slot) = state.slots.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!(
                "busy: {} requests running or queued; try again shortly",
                state.limits.workers + state.limits.queue
            ),
        ));
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let _stop_when_dropped = StopWhenDropped(cancel.clone());
    let (workers, running) = (state.workers.clone(), state.running.clone());
    let job = async move {
        let permit = workers.acquire_owned().await.expect("the worker semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let _held = (slot, permit, Running::start(running));
            if cancel.load(Ordering::SeqCst) {
                return Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, None, "stopped before it started"));
            }
            work(cancel)
        })
        .await
    };
    match tokio::time::timeout(state.limits.timeout, job).await {
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            None,
            format!("took longer than {} s; stopped", state.limits.timeout.as_secs()),
        )),
        Ok(Err(_)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error while working")),
        Ok(Ok(result)) => result,
    }
}

/// Sets its flag when dropped: the request's future ended, answered or abandoned.
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts a job as running while it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(count: Arc<AtomicUsize>) -> Running {
        count.fetch_add(1, Ordering::SeqCst);
        Running(count)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refuses a text field longer than the server allows, naming it (checked before any work).
pub(crate) fn bounded(field: &'static str, text: &Option<String>, limit: usize) -> Result<(), ApiError> {
    match text {
        Some(t) if t.chars().count() > limit => {
            Err(ApiError::field(field, format!("at most {limit} characters, but was {}", t.chars().count())))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub model: Option<String>,
    pub seed: Option<u64>,
    pub bars: Option<usize>,
    pub steps: Option<usize>,
    pub seconds: Option<f64>,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub key: Option<String>,
    pub tempo: Option<f64>,
    pub instrument: Option<String>,
    pub program: Option<u8>,
    pub style: Option<String>,
    /// A MIDI file to continue, base64-encoded.
    pub primer_base64: Option<String>,
}

/// One note, for drawing.
#[derive(Serialize)]
struct NoteOut {
    track: usize,
    pitch: u8,
    velocity: u8,
    start_s: f64,
    end_s: f64,
}

#[derive(Serialize)]
struct GenerateResponse {
    model: String,
    seed: u64,
    midi_base64: String,
    n_notes: usize,
    duration_s: f64,
    /// Tokens dropped while decoding because they came in an impossible order.
    repairs: usize,
    /// The style played, for a model with styles.
    #[serde(skip_serializing_if = "Option::is_none")]
    style: Option<String>,
    notes: Vec<NoteOut>,
    metrics: MusPy,
}

fn decode_midi(field: &'static str, text: &str, state: &State) -> Result<Score, ApiError> {
    let limit = state.limits.body_bytes;
    let bytes = BASE64.decode(text.trim()).map_err(|e| ApiError::field(field, format!("not base64: {e}")))?;
    if bytes.len() > limit {
        return Err(ApiError::field(field, format!("MIDI of {} bytes is over the limit of {limit}", bytes.len())));
    }
    fugato_midi::read(&bytes, state.read)
        .map(|f| f.score)
        .map_err(|e| ApiError::field(field, format!("not a readable MIDI file: {e}")))
}

pub async fn generate(
    Shared(state): Shared<Arc<State>>,
    body: Result<Json<GenerateRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(req) = body.map_err(rejected)?;
    let max = state.limits.max_text;
    for (field, text) in
        [("model", &req.model), ("key", &req.key), ("instrument", &req.instrument), ("style", &req.style)]
    {
        bounded(field, text, max)?;
    }
    let name = req.model.clone().unwrap_or_else(|| state.models[0].name.clone());
    let Some(model) = state.models.iter().find(|m| m.name == name).cloned() else {
        let names: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
        return Err(ApiError::field("model", format!("no model {name:?}; served: {}", names.join(", "))));
    };
    let limits = &state.limits;
    let controls = Controls {
        bars: req.bars,
        steps: req.steps,
        seconds: req.seconds,
        temperature: req.temperature,
        top_k: req.top_k,
        top_p: req.top_p,
        seed: req.seed.unwrap_or(0),
        key: req.key.clone(),
        tempo_bpm: req.tempo,
        program: req.program,
        instrument: req.instrument.clone(),
        style: req.style.clone(),
    };
    let mut options = controls.check_within(&limits.controls()).map_err(|e| ApiError::field(e.field, e.message))?;
    if let Some(text) = &req.primer_base64 {
        options.primer = Some(decode_midi("primer_base64", text, &state)?);
    }
    let seed = options.seed;
    let response = run_job(&state, move |cancel| {
        let ckpt = model.load().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, model.hide(e)))?;
        let options = ComposeOptions { cancel: Some(cancel), ..options };
        let piece = compose(&ckpt, &options).map_err(|e| match e {
            fugato_nn::NnError::Cancelled => ApiError::new(StatusCode::GATEWAY_TIMEOUT, None, "stopped"),
            fugato_nn::NnError::Options(m) => ApiError::new(StatusCode::BAD_REQUEST, None, m),
            fugato_nn::NnError::Control(e) => ApiError::field(e.field, e.message),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, other.to_string()),
        })?;
        piece_response(&model.name, seed, piece.score, piece.repairs, piece.style)
    })
    .await?;
    Ok(Json(serde_json::to_value(response).expect("plain data")))
}

/// A written score as the page shows it: MIDI, notes in seconds, metrics.
fn piece_response(
    model: &str,
    seed: u64,
    score: Score,
    repairs: usize,
    style: Option<String>,
) -> Result<GenerateResponse, ApiError> {
    let midi = fugato_midi::write(&score)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))?;
    let notes = score
        .notes_in_order()
        .into_iter()
        .map(|(track, n)| NoteOut {
            track,
            pitch: n.pitch.get(),
            velocity: n.velocity.get(),
            start_s: score.seconds(n.start_tick),
            end_s: score.seconds(n.end_tick),
        })
        .collect();
    Ok(GenerateResponse {
        model: model.to_string(),
        seed,
        midi_base64: BASE64.encode(&midi),
        n_notes: score.n_notes(),
        duration_s: score.duration_s(),
        repairs,
        style,
        notes,
        metrics: MusPy::of(&score),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    pub midi_base64: String,
    /// additive, subtractive or pluck for every pitched part [default: each family's own].
    pub voice: Option<String>,
    pub sample_rate: Option<u32>,
}

/// MIDI in, a stereo 16-bit WAV out (built-in voices).
pub async fn render(
    Shared(state): Shared<Arc<State>>,
    body: Result<Json<RenderRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(rejected)?;
    let voice = match &req.voice {
        Some(v) => Some(v.parse::<Voice>().map_err(|e| ApiError::field("voice", e))?),
        None => None,
    };
    let sample_rate_hz = req.sample_rate.unwrap_or(44_100);
    if !(8_000..=96_000).contains(&sample_rate_hz) {
        return Err(ApiError::field("sample_rate", format!("must be 8000..=96000 Hz, but was {sample_rate_hz}")));
    }
    let score = decode_midi("midi_base64", &req.midi_base64, &state)?;
    let max_s = state.limits.max_render_s;
    if score.duration_s() > max_s {
        return Err(ApiError::field(
            "midi_base64",
            format!("the score lasts {:.0} s; at most {max_s:.0} s are rendered", score.duration_s()),
        ));
    }
    let wav = run_job(&state, move |cancel| {
        let audio = fugato_synth::render(&score, &RenderOptions { sample_rate_hz, voice, cancel: Some(cancel) })
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some("midi_base64"), e.to_string()))?;
        audio.to_wav().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarmonizeRequest {
    /// The melody: a MIDI file with one part (or a part named Soprano or Melody).
    pub midi_base64: String,
    /// Keep to this key, e.g. G, F#m [default: the file's key signature, else estimated].
    pub key: Option<String>,
    /// 0 (the default) takes the most likely notes.
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    /// Hypotheses of a beam search for the most likely harmony (1, the default: none).
    pub beam: Option<usize>,
}

/// A melody in, the same melody with alto, tenor and bass from the bundled harmoniser out.
pub async fn harmonize(
    Shared(state): Shared<Arc<State>>,
    body: Result<Json<HarmonizeRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use fugato_nn::seq2seq::harmony::{HarmonizeOptions, harmonize};
    let Json(req) = body.map_err(rejected)?;
    bounded("key", &req.key, state.limits.max_text)?;
    let field = |e: ControlError| ApiError::field(e.field, e.message);
    let key = req.key.as_deref().map(fugato_nn::compose::key).transpose().map_err(field)?;
    // The most likely notes unless a temperature is asked for.
    let sampling = fugato_nn::compose::sampling(Some(req.temperature.unwrap_or(0.0)), None, None).map_err(field)?;
    let beam = fugato_nn::compose::beam(req.beam.unwrap_or(1), sampling).map_err(field)?;
    let melody = decode_midi("midi_base64", &req.midi_base64, &state)?;
    let max_s = state.limits.max_seconds;
    if melody.duration_s() > max_s {
        return Err(ApiError::field(
            "midi_base64",
            format!("the melody lasts {:.0} s; at most {max_s:.0} s are harmonised", melody.duration_s()),
        ));
    }
    let seed = req.seed.unwrap_or(0);
    let response = run_job(&state, move |cancel| {
        let name = "chorale-harmonizer";
        let device = fugato_nn::default_device();
        let ckpt = fugato_nn::bundled::load(name.as_ref(), &device)
            .and_then(|m| m.into_seq2seq(name.as_ref()))
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))?;
        let options = HarmonizeOptions { sampling, seed, beam, key, cancel: Some(cancel) };
        let out = harmonize(&ckpt.model, &melody, &options, &device)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some("midi_base64"), e.to_string()))?;
        piece_response(name, seed, out.score, 0, None)
    })
    .await?;
    Ok(Json(serde_json::to_value(response).expect("plain data")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfillRequest {
    /// A one-part tune.
    pub midi_base64: String,
    /// The bars to rewrite, e.g. "5-8" or "3".
    pub bars: String,
    /// A served melody model [default: folk-melody].
    pub model: Option<String>,
    /// Candidates drawn, 1..=16 [default 8]: the one under which the bars after are likeliest is kept.
    pub candidates: Option<usize>,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
}

/// The most candidates one request may ask for.
const MAX_INFILL_CANDIDATES: usize = 16;

/// A tune in, the same tune with some bars rewritten by a melody model out.
pub async fn infill(
    Shared(state): Shared<Arc<State>>,
    body: Result<Json<InfillRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use fugato_nn::infill::{InfillOptions, bar_range, infill};
    let Json(req) = body.map_err(rejected)?;
    bounded("model", &req.model, state.limits.max_text)?;
    bounded("bars", &Some(req.bars.clone()), state.limits.max_text)?;
    let field = |e: ControlError| ApiError::field(e.field, e.message);
    let bars = bar_range(&req.bars).map_err(field)?;
    let sampling = fugato_nn::compose::sampling(req.temperature, None, None).map_err(field)?;
    let candidates = req.candidates.unwrap_or(8);
    if !(1..=MAX_INFILL_CANDIDATES).contains(&candidates) {
        return Err(ApiError::field(
            "candidates",
            format!("must be 1..={MAX_INFILL_CANDIDATES}, but was {candidates}"),
        ));
    }
    let name = req.model.clone().unwrap_or_else(|| "folk-melody".into());
    let Some(model) = state.models.iter().find(|m| m.name == name).cloned() else {
        return Err(ApiError::field("model", format!("no model {name:?}")));
    };
    let tune = decode_midi("midi_base64", &req.midi_base64, &state)?;
    let max_s = state.limits.max_seconds;
    if tune.duration_s() > max_s {
        return Err(ApiError::field(
            "midi_base64",
            format!("the tune lasts {:.0} s; at most {max_s:.0} s", tune.duration_s()),
        ));
    }
    let seed = req.seed.unwrap_or(0);
    let response = run_job(&state, move |_cancel| {
        let ckpt = model.load().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, model.hide(e)))?;
        let options = InfillOptions { bars, candidates, sampling, seed };
        // What infilling refuses is the tune (its parts, meter, length) or the model.
        let out = infill(&ckpt, &tune, &options)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, Some("midi_base64"), model.hide(e)))?;
        piece_response(&model.name, seed, out.score, 0, None)
    })
    .await?;
    Ok(Json(serde_json::to_value(response).expect("plain data")))
}
