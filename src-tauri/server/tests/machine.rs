//! "Measure this machine" on the real footage and the real model.

mod common;

use common::TestServer;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measuring_this_machine_recommends_settings() {
    let server = TestServer::start(false).await;
    assert_eq!(server.get_json("/api/v1/machine").await["measured"], false);
    let (status, error) = server
        .send_json(
            Method::POST,
            "/api/v1/machine/measure?seconds=1",
            &json!({}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    let (status, result) = server
        .send_json(
            Method::POST,
            "/api/v1/machine/measure?seconds=3",
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    let speed = &result["speed"];
    assert!(speed["decode_fps"].as_f64().unwrap() > 10.0, "{result}");
    assert_eq!(
        (speed["width"].as_u64(), speed["height"].as_u64()),
        (Some(768), Some(576))
    );
    assert!(speed["inference_ms_1_thread"].as_f64().unwrap() > 1.0);
    let recommendation = &result["recommendation"];
    assert!(
        recommendation["max_cameras"].as_u64().unwrap() >= 1,
        "{result}"
    );
    assert!(recommendation["summary"]
        .as_str()
        .unwrap()
        .contains(" detection fps"));
    eprintln!("{}", recommendation["summary"]);
    let again = server.get_json("/api/v1/machine").await;
    assert_eq!(again["measured"], true);
    assert_eq!(again["recommendation"], *recommendation);
    server.running.stop().await;
}
