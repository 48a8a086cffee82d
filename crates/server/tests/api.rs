//! The API through the router, request by request (no sockets), and one real socket for
//! the queue limit.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use fugato_server::{Limits, State, router};
use tower::ServiceExt;

fn app(limits: Limits) -> axum::Router {
    router(Arc::new(State::new(None, limits).unwrap()))
}

async fn call(app: &axum::Router, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.map_or(Body::empty(), |b| Body::from(b.to_string()))).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (status, axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec())
}

async fn json(app: &axum::Router, method: &str, path: &str, body: Option<&str>) -> (StatusCode, serde_json::Value) {
    let (status, bytes) = call(app, method, path, body).await;
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes))))
}

#[tokio::test]
async fn health_models_and_page() {
    let app = app(Limits::default());
    let (status, v) = json(&app, "GET", "/api/health", None).await;
    assert_eq!((status, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (_, v) = json(&app, "GET", "/api/models", None).await;
    assert_eq!(v[0]["name"], "jsb-chorales");
    let styled = v.as_array().unwrap().iter().find(|m| m["name"] == "styles-melody").unwrap();
    assert!(styled["styles"].as_array().unwrap().iter().any(|s| s == "reel"), "{styled}");
    let body = r#"{"model": "styles-melody", "style": "reel", "bars": 4, "seed": 2}"#;
    let (status, v) = json(&app, "POST", "/api/generate", Some(body)).await;
    assert_eq!((status, v["style"].as_str()), (StatusCode::OK, Some("reel")), "{v}");
    assert!(v["n_notes"].as_u64().unwrap() > 0);
    let (status, page) = call(&app, "GET", "/", None).await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<canvas id=\"roll\"") && page.contains("/api/generate") && !page.contains("http"),
        "the page loads nothing from elsewhere"
    );
    let (status, v) = json(&app, "GET", "/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn generate_is_seeded_and_returns_midi_notes_and_metrics() {
    let app = app(Limits::default());
    let body = r#"{"model": "jsb-chorales", "seed": 5, "bars": 2, "temperature": 0.8, "key": "D:major", "tempo": 90, "instrument": "violin"}"#;
    let (status, a) = json(&app, "POST", "/api/generate", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let (_, b) = json(&app, "POST", "/api/generate", Some(body)).await;
    assert_eq!(a["midi_base64"], b["midi_base64"], "same seed, same MIDI");
    let midi = BASE64.decode(a["midi_base64"].as_str().unwrap()).unwrap();
    let score = fugato_midi::read(&midi, Default::default()).unwrap().score;
    assert_eq!(score.n_notes() as u64, a["n_notes"].as_u64().unwrap());
    assert!(score.n_notes() > 0);
    assert!(score.tracks.iter().all(|t| t.program.get() == 40));
    let d_major = [2, 4, 6, 7, 9, 11, 1];
    for n in a["notes"].as_array().unwrap() {
        assert!(d_major.contains(&(n["pitch"].as_u64().unwrap() % 12)), "{n}");
        assert!(n["end_s"].as_f64().unwrap() > n["start_s"].as_f64().unwrap());
    }
    assert!(a["metrics"]["pitch_in_scale_rate"].as_f64().is_some());
    let other = body.replace("\"seed\": 5", "\"seed\": 6");
    let (_, c) = json(&app, "POST", "/api/generate", Some(&other)).await;
    assert_ne!(a["midi_base64"], c["midi_base64"]);
}

#[tokio::test]
async fn a_primer_is_continued() {
    let app = app(Limits::default());
    let primer = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/bwv66.6.mid")).unwrap();
    let plain = r#"{"seed": 1, "bars": 1}"#;
    let (_, alone) = json(&app, "POST", "/api/generate", Some(plain)).await;
    let body = serde_json::json!({ "seed": 1, "bars": 1, "primer_base64": BASE64.encode(&primer) }).to_string();
    let (status, v) = json(&app, "POST", "/api/generate", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // The chorale's 163 notes (some merged on the quarter-note grid) come first.
    let (primed, plain) = (v["n_notes"].as_u64().unwrap(), alone["n_notes"].as_u64().unwrap());
    assert!(primed > plain + 100, "{primed} vs {plain}");
    assert!(v["duration_s"].as_f64().unwrap() > 5.0 * alone["duration_s"].as_f64().unwrap());
}

/// Each bad request: its status and the field the error must name.
#[tokio::test]
async fn bad_requests_name_the_field() {
    let app = app(Limits::default());
    let cases: [(&str, StatusCode, &str); 13] = [
        (r#"{"seconds": 1000}"#, StatusCode::BAD_REQUEST, "seconds"),
        (r#"{"temperature": -1}"#, StatusCode::BAD_REQUEST, "temperature"),
        (r#"{"top_p": 2}"#, StatusCode::BAD_REQUEST, "top_p"),
        (r#"{"bars": 100000}"#, StatusCode::BAD_REQUEST, "bars"),
        (r#"{"steps": 100000}"#, StatusCode::BAD_REQUEST, "steps"),
        (r#"{"key": "H:major"}"#, StatusCode::BAD_REQUEST, "key"),
        (r#"{"tempo": 5000}"#, StatusCode::BAD_REQUEST, "tempo"),
        (r#"{"instrument": "kazoo"}"#, StatusCode::BAD_REQUEST, "instrument"),
        (r#"{"model": "nope"}"#, StatusCode::BAD_REQUEST, "model"),
        (r#"{"style": "reel"}"#, StatusCode::BAD_REQUEST, "style"),
        (r#"{"primer_base64": "!!!"}"#, StatusCode::BAD_REQUEST, "primer_base64"),
        (r#"{"primer_base64": "TVRoZA=="}"#, StatusCode::BAD_REQUEST, "primer_base64"),
        (r#"{"program": 300}"#, StatusCode::UNPROCESSABLE_ENTITY, "program"),
    ];
    for (body, want, field) in cases {
        let (status, v) = json(&app, "POST", "/api/generate", Some(body)).await;
        assert_eq!(status, want, "{body}: {v}");
        let named = v["field"].as_str() == Some(field) || v["error"].as_str().unwrap().contains(field);
        assert!(named, "{body}: the error should name {field}: {v}");
    }
    for body in [r#"{"temperature": "hot"}"#, r#"{"tempertaure": 1}"#, "{not json"] {
        let (status, v) = json(&app, "POST", "/api/generate", Some(body)).await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(v["error"].is_string(), "{body}: {v}");
    }
    let (_, v) = json(&app, "POST", "/api/generate", Some(r#"{"tempertaure": 1}"#)).await;
    assert!(v["error"].as_str().unwrap().contains("tempertaure"), "{v}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = app(Limits { body_bytes: 1000, ..Default::default() });
    let body = format!(r#"{{"primer_base64": "{}"}}"#, "A".repeat(5000));
    let (status, v) = json(&app, "POST", "/api/generate", Some(&body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
}

#[tokio::test]
async fn render_turns_midi_into_wav() {
    let app = app(Limits::default());
    let midi = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/1781-1800_1794.mid")).unwrap();
    let body = serde_json::json!({ "midi_base64": BASE64.encode(&midi), "voice": "pluck", "sample_rate": 22050 });
    let (status, wav) = call(&app, "POST", "/api/render", Some(&body.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 22050);
    let (status, v) = json(&app, "POST", "/api/render", Some(&body.to_string().replace("pluck", "theremin"))).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("voice")));
    let (status, v) = json(&app, "POST", "/api/render", Some(r#"{"midi_base64": "AAAA"}"#)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("midi_base64")));
}

/// The bundled harmoniser keeps the melody and adds three parts; bad input names its field.
#[tokio::test]
async fn harmonize_adds_three_voices_to_a_melody() {
    use base64::Engine;
    let app = app(Limits::default());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/midi/zuccal0_0698.mid");
    let bytes = std::fs::read(&path).unwrap();
    let melody = fugato_midi::read(&bytes, Default::default()).unwrap().score;
    let body =
        serde_json::json!({ "midi_base64": base64::engine::general_purpose::STANDARD.encode(&bytes) }).to_string();
    let (status, v) = json(&app, "POST", "/api/harmonize", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["model"], "chorale-harmonizer");
    let midi = base64::engine::general_purpose::STANDARD.decode(v["midi_base64"].as_str().unwrap()).unwrap();
    let out = fugato_midi::read(&midi, Default::default()).unwrap().score;
    let parts: Vec<_> = out.tracks.iter().filter(|t| !t.notes.is_empty()).collect();
    assert_eq!(parts.len(), 4);
    let original = melody.tracks.iter().find(|t| !t.notes.is_empty()).unwrap();
    let kept: Vec<(u8, u64, u64)> = original.notes.iter().map(|n| (n.pitch.get(), n.start_tick, n.end_tick)).collect();
    let back: Vec<(u8, u64, u64)> = parts[0].notes.iter().map(|n| (n.pitch.get(), n.start_tick, n.end_tick)).collect();
    assert_eq!(back, kept);

    let (status, v) = json(&app, "POST", "/api/harmonize", Some(r#"{"midi_base64": "AAAA"}"#)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("midi_base64")));
    let bad_key = serde_json::json!({ "midi_base64": base64::engine::general_purpose::STANDARD.encode(&bytes), "key": "H minor" }).to_string();
    let (status, v) = json(&app, "POST", "/api/harmonize", Some(&bad_key)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("key")));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    for (beam, temperature) in [(1000, 0.0), (4, 1.0)] {
        let body = serde_json::json!({ "midi_base64": encoded, "beam": beam, "temperature": temperature }).to_string();
        let (status, v) = json(&app, "POST", "/api/harmonize", Some(&body)).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("beam")), "{v}");
    }
    let body = serde_json::json!({ "midi_base64": encoded, "beam": 3 }).to_string();
    let (status, v) = json(&app, "POST", "/api/harmonize", Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// One worker, no queue: while a long generation holds the only slot, other requests get
/// 503 at once; health stays up and reports the request in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_answers_503() {
    let state = Arc::new(State::new(None, Limits { workers: 1, queue: 0, ..Default::default() }).unwrap());
    let app = router(state.clone());
    let long = {
        let app = app.clone();
        tokio::spawn(async move { call(&app, "POST", "/api/generate", Some(r#"{"seed": 1, "steps": 4096}"#)).await.0 })
    };
    while state.in_flight() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (_, health) = json(&app, "GET", "/api/health", None).await;
    assert_eq!(health["in_flight"], 1);
    for _ in 0..5 {
        let (status, v) = json(&app, "POST", "/api/generate", Some(r#"{"seed": 2, "bars": 1}"#)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert!(v["error"].as_str().unwrap().contains("busy"));
    }
    assert_eq!(long.await.unwrap(), StatusCode::OK);
    assert_eq!(state.in_flight(), 0);
    let (status, _) = call(&app, "POST", "/api/generate", Some(r#"{"seed": 2, "bars": 1}"#)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn infill_rewrites_bars_of_a_tune_and_refuses_what_it_cannot() {
    let app = app(Limits::default());
    let body = r#"{"model": "folk-melody", "bars": 4, "seed": 2, "key": "D:major"}"#;
    let (status, tune) = json(&app, "POST", "/api/generate", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{tune}");
    let midi = tune["midi_base64"].as_str().unwrap();
    let req = serde_json::json!({ "midi_base64": midi, "bars": "2-3", "seed": 1, "candidates": 4 }).to_string();
    let (status, v) = json(&app, "POST", "/api/infill", Some(&req)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["n_notes"].as_u64().unwrap() > 0);
    // Bar 1 and bar 4 are kept: the notes starting there are the tune's.
    let outside = |v: &serde_json::Value| -> Vec<(u64, String)> {
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["start_s"].as_f64().unwrap() < 2.0 - 1e-9 || n["start_s"].as_f64().unwrap() >= 6.0 - 1e-9)
            .map(|n| (n["pitch"].as_u64().unwrap(), format!("{:.4}", n["start_s"].as_f64().unwrap())))
            .collect()
    };
    assert_eq!(outside(&v), outside(&tune));
    let bad = serde_json::json!({ "midi_base64": midi, "bars": "3-2" }).to_string();
    let (status, v) = json(&app, "POST", "/api/infill", Some(&bad)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("bars")), "{v}");
    let many = serde_json::json!({ "midi_base64": midi, "bars": "2", "candidates": 100 }).to_string();
    let (status, v) = json(&app, "POST", "/api/infill", Some(&many)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("candidates")), "{v}");
    let chorale =
        BASE64.encode(std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/midi/bwv66.6.mid")).unwrap());
    let parts = serde_json::json!({ "midi_base64": chorale, "bars": "2" }).to_string();
    let (status, v) = json(&app, "POST", "/api/infill", Some(&parts)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"].as_str().unwrap().contains("one-part"), "{v}");
}
