//! `/api/stream`: a live session ([`fugato_nn::stream`]) over a WebSocket.
//!
//! `GET /api/stream?model=NAME&seed=N&key=K&tempo=T&style=S` (also `instrument`,
//! `temperature`, `top_k`, `top_p`, `intensity`, `loop`) checks its controls before the
//! upgrade (a bad one gets the API's JSON error), then sends one JSON message per bar,
//! `{"bar", "start_s", "seconds", "tempo_bpm", "key", "notes": [{"pitch", "velocity",
//! "start_s", "end_s", "track", "program", "tied"}]}`, paced by the tempo: bars 0 and 1 at
//! once, then bar i when bar i−1 starts, so the client holds at most two bars ahead of
//! its playhead. A text message `{"key": "G:minor", "tempo": 90}` changes every bar written
//! after it arrives; a bad one is answered `{"error", "field"}` and the stream goes on. At
//! most [`crate::Limits::streams`] sessions at once (503 past that), each for at most
//! [`crate::Limits::stream_seconds`] of music.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::extract::State as Shared;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fugato_nn::stream::{Bar, LiveControls, Session};
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;

use crate::State;
use crate::api::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    model: Option<String>,
    seed: Option<u64>,
    key: Option<String>,
    tempo: Option<f64>,
    style: Option<String>,
    instrument: Option<String>,
    temperature: Option<f64>,
    top_k: Option<usize>,
    top_p: Option<f64>,
    intensity: Option<f64>,
    #[serde(rename = "loop")]
    loop_bars: Option<usize>,
}

/// The model streamed when the query names none.
const DEFAULT_MODEL: &str = "folk-melody";

pub async fn stream(
    Shared(state): Shared<Arc<State>>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, None, r.body_text()))?;
    for (field, text) in [("key", &q.key), ("style", &q.style), ("instrument", &q.instrument), ("model", &q.model)] {
        crate::api::bounded(field, text, state.limits.max_text)?;
    }
    let name = q.model.as_deref().unwrap_or(DEFAULT_MODEL);
    let model = state.models.iter().find(|m| m.name == name).cloned().ok_or_else(|| {
        let known: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
        ApiError::field("model", format!("{name:?} is not a served model: {}", known.join(", ")))
    })?;
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        let message = format!("busy: {} streams are playing; try again shortly", state.limits.streams);
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, message));
    };
    let controls = LiveControls {
        key: q.key,
        tempo_bpm: q.tempo,
        instrument: q.instrument,
        style: q.style,
        temperature: q.temperature,
        top_k: q.top_k,
        top_p: q.top_p,
        intensity: q.intensity,
        loop_bars: q.loop_bars,
    };
    let seed = q.seed.unwrap_or(0);
    let made = tokio::task::spawn_blocking(move || {
        let ckpt = model.load().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, model.hide(e)))?;
        Session::new(&ckpt, &controls, seed).map_err(|e| match e {
            fugato_nn::NnError::Control(c) => ApiError::field(c.field, c.message),
            e => ApiError::field("model", e.to_string()),
        })
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "the session could not be made"))?;
    let session = made?;
    let upgrade = upgrade.map_err(|r| ApiError::new(r.status(), None, r.body_text()))?;
    let most = state.limits.stream_seconds;
    Ok(upgrade.on_upgrade(move |socket| play(socket, session, permit, most)).into_response())
}

/// The bar as the client gets it.
fn message(bar: &Bar) -> String {
    let notes: Vec<serde_json::Value> = bar
        .notes
        .iter()
        .map(|n| {
            serde_json::json!({
                "pitch": n.pitch, "velocity": n.velocity, "start_s": n.start_s, "end_s": n.end_s,
                "track": n.track, "program": n.program, "tied": n.tied,
            })
        })
        .collect();
    serde_json::json!({
        "bar": bar.index, "start_s": bar.start_s, "seconds": bar.seconds, "tempo_bpm": bar.tempo_bpm,
        "key": bar.key, "notes": notes,
    })
    .to_string()
}

/// A client that takes no message for this long is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `message`; false when the client is gone or stopped reading.
async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await, Ok(Ok(())))
}

fn error(field: Option<&str>, message: &str) -> Message {
    Message::Text(serde_json::json!({ "error": message, "field": field }).to_string().into())
}

/// Control changes from a client's text: a JSON object of controls, each applied on its own.
fn changes(session: &mut Session, text: &str) -> Vec<Message> {
    let object = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(o)) => o,
        _ => return vec![error(None, "expected a JSON object of controls, e.g. {\"key\": \"G:minor\"}")],
    };
    let mut errors = Vec::new();
    for (name, value) in object {
        let value = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => "none".into(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                errors.push(error(None, &format!("{name}: {other} is neither text nor a number")));
                continue;
            }
        };
        if let Err(e) = session.change(&name, &value) {
            errors.push(error(Some(e.field), &e.to_string()));
        }
    }
    errors
}

async fn play(mut socket: WebSocket, mut session: Session, _permit: OwnedSemaphorePermit, most_seconds: f64) {
    let start = tokio::time::Instant::now();
    let mut due = Duration::ZERO;
    loop {
        tokio::select! {
            received = socket.recv() => match received {
                Some(Ok(Message::Text(text))) => {
                    for e in changes(&mut session, text.as_str()) {
                        if !send(&mut socket, e).await {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    if !send(&mut socket, error(None, "send controls as JSON text")).await {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                // Closed, or gone: the session ends with it.
                None | Some(Err(_)) => return,
            },
            _ = tokio::time::sleep_until(start + due) => {
                let Ok((back, bar)) = tokio::task::spawn_blocking(move || {
                    let bar = session.next_bar();
                    (session, bar)
                })
                .await else {
                    return;
                };
                session = back;
                if bar.start_s > most_seconds {
                    send(&mut socket, error(None, &format!("the stream ends after {most_seconds} s of music"))).await;
                    send(&mut socket, Message::Close(None)).await;
                    return;
                }
                if !send(&mut socket, Message::Text(message(&bar).into())).await {
                    return;
                }
                // The next bar goes out when this one starts to play.
                due = Duration::from_secs_f64(bar.start_s);
            }
        }
    }
}
