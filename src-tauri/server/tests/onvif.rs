//! ONVIF discovery through the real server against an ONVIF camera the test
//! runs itself. The fake camera checks the WS-Security digest for real and
//! keeps its clock two hours ahead, as cameras do: a wrong password, or a
//! token dated by our clock, is refused as a camera would refuse it.

mod common;

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use common::{captured_logs, free_port, TestServer};
use roxmltree::Document;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

const USER: &str = "operator";
const PASSWORD: &str = "Onvif-S3cret-pw";
const WRONG_PASSWORD: &str = "Not-The-Pw-4410";
const REFUSED: &str = "The camera refused the username or password: check them.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_streams_with_the_right_password() {
    let logs = captured_logs();
    let camera = serve(fake_camera()).await;
    let server = TestServer::start(false).await;

    let (status, found, text) = probe(&server, credentials(camera.port(), PASSWORD)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        found["device"],
        json!({"manufacturer": "Peregrine Test Cameras", "model": "FakeCam 2",
               "firmware": "1.2.3", "serial": "FC-0001"})
    );
    // The camera put the password into the main URI: it must not come back.
    assert_eq!(
        found["profiles"],
        json!([
            {"token": "main", "name": "Main stream", "encoding": "H264", "width": 1280,
             "height": 720, "fps": 25.0, "stream_uri": "rtsp://127.0.0.1:8554/main"},
            {"token": "sub", "name": "Sub stream", "encoding": "H264", "width": 640,
             "height": 360, "fps": 15.0, "stream_uri": "rtsp://127.0.0.1:8554/sub"},
        ])
    );
    assert!(!text.contains(PASSWORD) && !text.contains(USER), "{text}");
    assert_no_password_logged(&logs);
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn says_what_is_wrong() {
    let logs = captured_logs();
    let camera = serve(fake_camera()).await;
    let web_page = serve(Router::new().fallback(|| async { Html("<p>Router login</p>") })).await;
    let server = TestServer::start(false).await;

    // A wrong password gets a SOAP fault; no user name at all, a bare 401.
    for body in [
        credentials(camera.port(), WRONG_PASSWORD),
        json!({"host": "127.0.0.1", "port": camera.port()}),
    ] {
        let (status, err, text) = probe(&server, body).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (403, Some("forbidden")),
            "{text}"
        );
        assert_eq!(err["message"], REFUSED);
        assert!(
            !text.contains(WRONG_PASSWORD) && !text.contains(PASSWORD),
            "{text}"
        );
    }

    let dead_port = free_port();
    let (status, err, _) = probe(&server, credentials(dead_port, PASSWORD)).await;
    assert_eq!(status, 503);
    let message = err["message"].as_str().unwrap();
    let expected = format!("Cannot reach 127.0.0.1:{dead_port}: check the address and that ONVIF is enabled on the camera.");
    assert_eq!(message, expected);

    let (status, err, _) = probe(&server, credentials(web_page.port(), PASSWORD)).await;
    assert_eq!(status, 503);
    let message = err["message"].as_str().unwrap();
    let expected = format!(
        "127.0.0.1:{} answered but not as an ONVIF device",
        web_page.port()
    );
    assert!(message.starts_with(&expected), "{message}");

    for (body, field) in [
        (json!({"host": ""}), "host"),
        (json!({"host": "http://127.0.0.1"}), "host"),
        (json!({"host": "cam one"}), "host"),
        (json!({"host": "cam/onvif"}), "host"),
        (json!({"port": 80}), "host"),
        (json!({"host": "cam", "port": 0}), "port"),
        (json!({"host": "cam", "port": 70000}), "port"),
        (json!({"host": "cam", "colour": "red"}), "colour"),
    ] {
        let (status, err, _) = probe(&server, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            (err["code"].as_str(), err["field"].as_str()),
            (Some("invalid_argument"), Some(field)),
            "{err}"
        );
    }
    assert_no_password_logged(&logs);
    server.running.stop().await;
}

fn credentials(port: u16, password: &str) -> Value {
    json!({"host": "127.0.0.1", "port": port, "username": USER, "password": password})
}

/// The status, the JSON answer and its raw text.
async fn probe(server: &TestServer, body: Value) -> (u16, Value, String) {
    let r = server
        .client
        .post(server.url("/api/v1/onvif/probe"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn assert_no_password_logged(logs: &std::sync::Mutex<Vec<u8>>) {
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logs.contains(PASSWORD) && !logs.contains(WRONG_PASSWORD));
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// ---- The fake camera --------------------------------------------------------

fn fake_camera() -> Router {
    Router::new()
        .route("/onvif/device_service", post(device_service))
        .route("/onvif/media_service", post(media_service))
}

fn camera_clock() -> DateTime<Utc> {
    Utc::now() + TimeDelta::hours(2)
}

async fn device_service(request: String) -> Response {
    let Ok(doc) = Document::parse(&request) else {
        return fault(StatusCode::BAD_REQUEST, "env:Sender", "not XML");
    };
    let operation = operation(&doc);
    if operation == "GetSystemDateAndTime" {
        return answer(&clock_answer());
    }
    if let Some(refusal) = refusal(&doc) {
        return refusal;
    }
    match operation.as_str() {
        "GetDeviceInformation" => answer(
            "<dev:GetDeviceInformationResponse><dev:Manufacturer>Peregrine Test Cameras</dev:Manufacturer>\
             <dev:Model>FakeCam 2</dev:Model><dev:FirmwareVersion>1.2.3</dev:FirmwareVersion>\
             <dev:SerialNumber>FC-0001</dev:SerialNumber><dev:HardwareID>7</dev:HardwareID>\
             </dev:GetDeviceInformationResponse>",
        ),
        // Announces an address we cannot reach (loopback, port 1), as a
        // camera behind a port forward does: the client must keep ours.
        "GetCapabilities" => answer(
            "<dev:GetCapabilitiesResponse><dev:Capabilities><sch:Media>\
             <sch:XAddr>http://127.0.0.2:1/onvif/media_service</sch:XAddr>\
             </sch:Media></dev:Capabilities></dev:GetCapabilitiesResponse>",
        ),
        _ => fault(StatusCode::BAD_REQUEST, "ter:ActionNotSupported", "not here"),
    }
}

async fn media_service(request: String) -> Response {
    let Ok(doc) = Document::parse(&request) else {
        return fault(StatusCode::BAD_REQUEST, "env:Sender", "not XML");
    };
    if let Some(refusal) = refusal(&doc) {
        return refusal;
    }
    match operation(&doc).as_str() {
        "GetProfiles" => answer(&format!(
            "<med:GetProfilesResponse>{}{}</med:GetProfilesResponse>",
            profile("main", "Main stream", 1280, 720, 25),
            profile("sub", "Sub stream", 640, 360, 15),
        )),
        "GetStreamUri" => stream_uri(&doc),
        _ => fault(
            StatusCode::BAD_REQUEST,
            "ter:ActionNotSupported",
            "not here",
        ),
    }
}

fn stream_uri(doc: &Document) -> Response {
    if text(doc, "Stream") != "RTP-Unicast" || text(doc, "Protocol") != "RTSP" {
        return fault(
            StatusCode::BAD_REQUEST,
            "ter:InvalidStreamSetup",
            "unicast RTSP only",
        );
    }
    let uri = match text(doc, "ProfileToken").as_str() {
        "main" => format!("rtsp://{USER}:{PASSWORD}@127.0.0.1:8554/main"),
        "sub" => "rtsp://127.0.0.1:8554/sub".to_owned(),
        _ => return fault(StatusCode::BAD_REQUEST, "ter:NoProfile", "no such profile"),
    };
    answer(&format!(
        "<med:GetStreamUriResponse><med:MediaUri><sch:Uri>{uri}</sch:Uri>\
         <sch:InvalidAfterConnect>false</sch:InvalidAfterConnect></med:MediaUri>\
         </med:GetStreamUriResponse>"
    ))
}

fn profile(token: &str, name: &str, width: u32, height: u32, fps: u32) -> String {
    format!(
        "<med:Profiles token=\"{token}\" fixed=\"true\"><sch:Name>{name}</sch:Name>\
         <sch:VideoSourceConfiguration token=\"vsc\"><sch:Name>Camera</sch:Name></sch:VideoSourceConfiguration>\
         <sch:VideoEncoderConfiguration token=\"enc-{token}\"><sch:Name>Encoder</sch:Name>\
         <sch:Encoding>H264</sch:Encoding>\
         <sch:Resolution><sch:Width>{width}</sch:Width><sch:Height>{height}</sch:Height></sch:Resolution>\
         <sch:RateControl><sch:FrameRateLimit>{fps}</sch:FrameRateLimit><sch:BitrateLimit>2048</sch:BitrateLimit></sch:RateControl>\
         </sch:VideoEncoderConfiguration></med:Profiles>"
    )
}

fn clock_answer() -> String {
    let now = camera_clock();
    format!(
        "<dev:GetSystemDateAndTimeResponse><dev:SystemDateAndTime>\
         <sch:DateTimeType>Manual</sch:DateTimeType><sch:UTCDateTime>\
         <sch:Time><sch:Hour>{}</sch:Hour><sch:Minute>{}</sch:Minute><sch:Second>{}</sch:Second></sch:Time>\
         <sch:Date><sch:Year>{}</sch:Year><sch:Month>{}</sch:Month><sch:Day>{}</sch:Day></sch:Date>\
         </sch:UTCDateTime></dev:SystemDateAndTime></dev:GetSystemDateAndTimeResponse>",
        now.hour(),
        now.minute(),
        now.second(),
        now.year(),
        now.month(),
        now.day()
    )
}

/// Refuses as ONVIF cameras do: a bare 401 without a UsernameToken, a
/// NotAuthorized fault for a bad one. `None` lets the request through.
fn refusal(doc: &Document) -> Option<Response> {
    let Some(token) = find(doc, "UsernameToken") else {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    };
    if token_is_good(token).unwrap_or(false) {
        return None;
    }
    Some(fault(
        StatusCode::BAD_REQUEST,
        "ter:NotAuthorized",
        "Sender not Authorized",
    ))
}

/// Right user, a digest of our password, dated within 5 min of our clock.
fn token_is_good(token: roxmltree::Node) -> Option<bool> {
    let field = |name: &str| token.descendants().find(|n| n.tag_name().name() == name);
    let password = field("Password")?;
    let is_digest = password.attribute("Type")?.ends_with("#PasswordDigest");
    let nonce = BASE64.decode(field("Nonce")?.text()?).ok()?;
    let created = field("Created")?.text()?;
    let age = DateTime::parse_from_rfc3339(created).ok()?.to_utc() - camera_clock();
    let expected = BASE64.encode(Sha1::digest(
        [&nonce[..], created.as_bytes(), PASSWORD.as_bytes()].concat(),
    ));
    Some(
        field("Username")?.text()? == USER
            && is_digest
            && age.abs() < TimeDelta::minutes(5)
            && password.text()? == expected,
    )
}

/// The local name of the Body's first element.
fn operation(doc: &Document) -> String {
    find(doc, "Body")
        .and_then(|b| b.first_element_child())
        .map(|op| op.tag_name().name().to_owned())
        .unwrap_or_default()
}

fn find<'a, 'i>(doc: &'a Document<'i>, local_name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .find(|n| n.tag_name().name() == local_name)
}

fn text(doc: &Document, local_name: &str) -> String {
    find(doc, local_name)
        .and_then(|n| n.text())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Prefixes deliberately unlike the client's own.
fn answer(body: &str) -> Response {
    soap(StatusCode::OK, body)
}

fn fault(status: StatusCode, subcode: &str, reason: &str) -> Response {
    soap(
        status,
        &format!(
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value>\
             <env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>\
             <env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault>"
        ),
    )
}

fn soap(status: StatusCode, body: &str) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:dev=\"http://www.onvif.org/ver10/device/wsdl\" \
         xmlns:med=\"http://www.onvif.org/ver10/media/wsdl\" \
         xmlns:sch=\"http://www.onvif.org/ver10/schema\" \
         xmlns:ter=\"http://www.onvif.org/ver10/error\">\
         <env:Body>{body}</env:Body></env:Envelope>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        xml,
    )
        .into_response()
}
