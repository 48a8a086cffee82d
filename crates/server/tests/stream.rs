//! `/api/stream` over a real socket: bars paced by the tempo, a key change that holds from
//! the bars after it, bad messages answered while the stream goes on, bad queries refused
//! before the upgrade, and the bound on sessions.

use std::sync::Arc;
use std::time::Duration;

use fugato_server::{Limits, State};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn server(limits: Limits) -> std::net::SocketAddr {
    let state = Arc::new(State::new(None, limits).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(fugato_server::serve_on(listener, state, std::future::pending()));
    addr
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(socket: &mut Socket) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

fn in_scale(bar: &serde_json::Value, scale: &[u64]) -> bool {
    let notes = bar["notes"].as_array().unwrap();
    notes.iter().filter(|n| n["tied"] == false).all(|n| scale.contains(&(n["pitch"].as_u64().unwrap() % 12)))
}

#[tokio::test]
async fn four_bars_then_a_key_change_then_four_bars_in_the_new_key() {
    let addr = server(Limits::default()).await;
    let url = format!("ws://{addr}/api/stream?model=folk-melody&seed=2&key=D:major&tempo=400");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let started = std::time::Instant::now();
    let d_major = [2, 4, 6, 7, 9, 11, 1];
    let bb_major = [10, 0, 2, 3, 5, 7, 9];
    for i in 0..4 {
        let bar = next_json(&mut socket).await;
        assert_eq!(bar["bar"], i);
        assert_eq!(bar["tempo_bpm"], 400.0);
        assert!(in_scale(&bar, &d_major), "{bar}");
    }
    // Bars 0 and 1 come at once, then one as each starts: bar 3 when bar 2 starts (1.2 s).
    assert!(started.elapsed() >= Duration::from_millis(1000), "bars came faster than the tempo");
    socket.send(Message::Text("{\"key\": \"Bb:major\"}".into())).await.unwrap();
    socket.send(Message::Text("not json".into())).await.unwrap();
    socket.send(Message::Text("{\"tempo\": \"fast\"}".into())).await.unwrap();
    let (mut bars, mut errors) = (Vec::new(), Vec::new());
    while bars.len() < 4 {
        let v = next_json(&mut socket).await;
        if v.get("error").is_some() { errors.push(v) } else { bars.push(v) }
    }
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[1]["field"], "tempo");
    let notes: usize = bars.iter().map(|b| b["notes"].as_array().unwrap().len()).sum();
    assert!(notes > 0);
    for bar in &bars {
        assert!(in_scale(bar, &bb_major), "{bar}");
        assert!(bar["bar"].as_u64().unwrap() >= 4);
    }
}

#[tokio::test]
async fn bad_queries_are_refused_before_the_upgrade_and_sessions_are_bounded() {
    let addr = server(Limits { streams: 1, ..Limits::default() }).await;
    let refused = |query: &str| {
        let url = format!("ws://{addr}/api/stream?{query}");
        async move {
            match tokio_tungstenite::connect_async(url).await {
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    let body = response.body().clone().unwrap_or_default();
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    (response.status().as_u16(), v)
                }
                other => panic!("not refused: {:?}", other.map(|(_, r)| r.status())),
            }
        }
    };
    let (status, v) = refused("model=no-such").await;
    assert_eq!((status, v["field"].as_str()), (400, Some("model")));
    let (status, v) = refused("key=H:major").await;
    assert_eq!((status, v["field"].as_str()), (400, Some("key")));
    let (status, _) = refused("seed=minus").await;
    assert_eq!(status, 400);
    let (mut first, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/stream?tempo=400")).await.unwrap();
    next_json(&mut first).await;
    let (status, v) = refused("tempo=400").await;
    assert_eq!(status, 503, "{v}");
    // Closed, its place is free again.
    first.close(None).await.unwrap();
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((s, _)) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/stream?tempo=400")).await {
            again = Some(s);
            break;
        }
    }
    let mut again = again.expect("the closed session's place was not freed");
    assert_eq!(next_json(&mut again).await["bar"], 0);
}
