//! Hostile requests: the server answers each with a status (never a dropped connection or
//! a 500) and stays up and honest afterwards. Each test is one finding of the issue
//! "Hostile input", and failed before its fix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use fugato_server::{Limits, State, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name)
}

async fn json(app: &axum::Router, method: &str, path: &str, body: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(path);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req.body(body.map_or(Body::empty(), |b| Body::from(b.to_string()))).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes))))
}

/// The issue's 37-byte file (one note whose delta time is the largest a VLQ holds, at
/// division 1) as a primer and as a melody, and a melody shorter than a sixteenth note:
/// a 4xx each, and the server healthy after.
#[tokio::test]
async fn hostile_primers_and_melodies_get_a_client_error() {
    let app = router(Arc::new(State::new(None, Limits::default()).unwrap()));
    let huge = BASE64.encode(std::fs::read(testdata("hostile/huge-delta.mid")).unwrap());
    let short = BASE64.encode(std::fs::read(testdata("hostile/short-notes.mid")).unwrap());
    let cases = [
        ("/api/generate", serde_json::json!({ "primer_base64": huge, "bars": 1 }), "primer_base64"),
        ("/api/generate", serde_json::json!({ "model": "folk-melody", "primer_base64": huge }), "primer_base64"),
        ("/api/harmonize", serde_json::json!({ "midi_base64": huge }), "midi_base64"),
        ("/api/harmonize", serde_json::json!({ "midi_base64": short }), "midi_base64"),
        ("/api/render", serde_json::json!({ "midi_base64": huge }), "midi_base64"),
    ];
    for (path, body, field) in cases {
        let (status, v) = json(&app, "POST", path, Some(&body.to_string())).await;
        assert!(status.is_client_error(), "{path}: {status} {v}");
        assert_eq!(v["field"], field, "{path}: {v}");
    }
    let (status, v) = json(&app, "GET", "/api/health", None).await;
    assert_eq!((status, v["running"].as_u64(), v["in_flight"].as_u64()), (StatusCode::OK, Some(0), Some(0)));
}

/// A 270,000-name instrument list once stalled /api/health for seconds while it was
/// checked: text fields are bounded before anything heavy, and the answer is quick.
#[tokio::test]
async fn a_huge_instrument_list_is_refused_at_once() {
    let app = router(Arc::new(State::new(None, Limits::default()).unwrap()));
    let names = vec!["violin"; 270_000].join(",");
    let start = Instant::now();
    let (status, v) =
        json(&app, "POST", "/api/generate", Some(&serde_json::json!({ "instrument": names }).to_string())).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("instrument")), "{v}");
    assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    // The error does not echo the list back.
    assert!(v["error"].as_str().unwrap().len() < 600, "{}", v["error"].as_str().unwrap().len());
}

/// Work the server timed out once ran on for minutes while /api/health said nothing was
/// running: now it is stopped, and health reports it until it has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timed_out_generation_is_stopped() {
    let limits = Limits { workers: 1, queue: 4, timeout: Duration::from_millis(300), ..Default::default() };
    let state = Arc::new(State::new(None, limits).unwrap());
    let app = router(state.clone());
    // 4,096 NADE frames take seconds: far past the 0.3 s limit.
    let (status, v) = json(&app, "POST", "/api/generate", Some(r#"{"seed": 1, "steps": 4096}"#)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{v}");
    let start = Instant::now();
    while state.running() > 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "the timed-out work still runs");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(state.in_flight(), 0);
    let (status, _) = json(&app, "POST", "/api/generate", Some(r#"{"seed": 2, "bars": 1}"#)).await;
    assert_eq!(status, StatusCode::OK, "the worker is free again");
}

/// /api/models showed absolute paths of the server's folders.
#[tokio::test]
async fn models_show_no_paths() {
    let root = tempfile::tempdir().unwrap();
    let model = root.path().join("mine");
    copy_bundled_checkpoint(&model);
    let state = State::new(Some(root.path()), Limits::default()).unwrap();
    let app = router(Arc::new(state));
    let (_, v) = json(&app, "GET", "/api/models", None).await;
    let mine = v.as_array().unwrap().iter().find(|m| m["name"] == "mine").expect("the folder's model is served");
    let text = v.to_string();
    assert!(!text.contains(&root.path().display().to_string()), "{mine}");
    // An error about its files does not show where they are either.
    std::fs::write(model.join("model.bpk"), b"garbage").unwrap();
    let (status, v) = json(&app, "POST", "/api/generate", Some(r#"{"model": "mine", "bars": 1}"#)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let error = v["error"].as_str().unwrap();
    assert!(!error.contains(&root.path().display().to_string()) && error.contains("model.bpk"), "{error}");
}

/// The repository's `models/jsb-chorales` checkpoint, copied into `dir`.
fn copy_bundled_checkpoint(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/jsb-chorales");
    for name in ["checkpoint.json", "model.bpk"] {
        std::fs::copy(from.join(name), dir.join(name)).unwrap();
    }
}

/// Idle and slow connections were never closed: one that sends nothing, and one that
/// sends its headers a byte at a time, are closed after the header timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed() {
    let limits = Limits { header_timeout: Duration::from_millis(300), ..Default::default() };
    let state = Arc::new(State::new(None, limits).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fugato_server::serve_on(listener, state, async {
        let _ = stopped.await;
    }));
    // Silent.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the idle connection was not closed: {read:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // Slow: a byte every 100 ms never finishes its headers in time.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".iter() {
        if slow.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    if !closed {
        let read = tokio::time::timeout(Duration::from_secs(2), slow.read(&mut buf)).await;
        closed = matches!(read, Ok(Ok(0)) | Ok(Err(_)));
    }
    assert!(closed, "the slow connection was not closed");
    // A well-behaved client is served, and the server stops when told.
    let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap();
}
