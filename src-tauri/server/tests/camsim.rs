//! The built-in camera simulator on the real footage, read by real
//! clients: retina (the product's own RTSP client, through the engine's
//! "Test connection" probe) and the ffmpeg CLI, plus the RTSP errors a
//! client can meet and a clean stop.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use peregrine_server::assets;
use peregrine_server::camsim::{CamSim, CamSimError, CamSimOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

const WIDTH: u64 = 768;
const HEIGHT: u64 = 576;

fn footage() -> PathBuf {
    let footage = assets::footage();
    assert!(
        footage.is_file(),
        "demo footage missing at {}: run `npm run setup`",
        footage.display()
    );
    footage
}

async fn start(cameras: usize) -> CamSim {
    let opts = CamSimOptions {
        footage: footage(),
        cameras,
        port: 0,
    };
    CamSim::start(&opts).await.expect("the simulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_reads_every_camera() {
    let sim = start(2).await;
    let probes = (1..=2).map(|camera| {
        let url = url::Url::parse(&sim.url(camera)).unwrap();
        async move { peregrine_engine::ingest::probe(&url, None).await }
    });
    for (i, probe) in futures::future::join_all(probes)
        .await
        .into_iter()
        .enumerate()
    {
        let info = probe.unwrap_or_else(|e| panic!("retina reads cam{}: {e}", i + 1));
        assert_eq!(info.codec, "H.264");
        assert_eq!(
            (u64::from(info.width), u64::from(info.height)),
            (WIDTH, HEIGHT)
        );
        let fps = info.fps.expect("a frame rate");
        assert!((fps - 10.0).abs() < 0.5, "cam{} at {fps} fps", i + 1);
        assert!(!info.audio);
    }
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_sees_h264_at_the_footage_size() {
    let sim = start(2).await;
    for camera in 1..=2 {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-rtsp_transport", "tcp"])
            .args(["-show_entries", "stream=codec_name,width,height"])
            .args(["-of", "json", &sim.url(camera)])
            .output()
            .await
            .expect("ffprobe runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let stream = &json["streams"][0];
        assert_eq!(stream["codec_name"], "h264", "{json}");
        assert_eq!(stream["width"], WIDTH, "{json}");
        assert_eq!(stream["height"], HEIGHT, "{json}");
    }
    sim.stop().await;
}

/// Decodes 3 s of a camera with the ffmpeg CLI: the frames it decoded, and
/// everything it complained about.
async fn decode_3s(url: String) -> (u64, String) {
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
            &url,
        ])
        .args([
            "-t",
            "3",
            "-f",
            "null",
            "-",
            "-progress",
            "pipe:1",
            "-nostats",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress = String::from_utf8_lossy(&out.stdout);
    let frames = progress
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("frame=")?.trim().parse().ok())
        .unwrap_or(0);
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_of_one_camera_and_another_camera_all_decode() {
    let sim = start(2).await;
    let (a, b, c) = tokio::join!(
        decode_3s(sim.url(1)),
        decode_3s(sim.url(1)),
        decode_3s(sim.url(2))
    );
    for (client, (frames, errors)) in ["cam1 (1)", "cam1 (2)", "cam2"].iter().zip([a, b, c]) {
        assert!(frames >= 28, "{client}: {frames} frames in 3 s at 10 fps");
        assert!(errors.is_empty(), "{client}: decode errors: {errors}");
    }
    sim.stop().await;
}

/// The last camera starts within 1/16 of the clip (plus a GOP) of its end,
/// so 9 s of it cross the loop: every frame step stays one frame (9000
/// ticks at 10 fps), with no jump back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_time_runs_on_across_the_loop() {
    let sim = start(16).await;
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-select_streams",
            "v:0",
        ])
        .args(["-read_intervals", "%+9", "-show_entries", "packet=pts"])
        .args(["-of", "csv=p=0", &sim.url(16)])
        .output()
        .await
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pts: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    assert!(pts.len() >= 85, "{} frames in 9 s", pts.len());
    let steps: Vec<i64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(steps.iter().all(|&s| s == 9000), "{steps:?}");
    sim.stop().await;
}

/// A raw RTSP connection: what it has read and not yet looked at.
struct Client {
    stream: TcpStream,
    inbox: Vec<u8>,
}

impl Client {
    async fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        Client {
            stream,
            inbox: Vec::new(),
        }
    }

    /// Sends `request` and reads one reply.
    async fn exchange(&mut self, request: &str) -> String {
        self.send(request).await;
        self.reply().await
    }

    async fn send(&mut self, request: &str) {
        self.stream.write_all(request.as_bytes()).await.unwrap();
    }

    /// One reply, head and body; what follows it stays in the inbox.
    async fn reply(&mut self) -> String {
        loop {
            if let Some(len) = reply_len(&self.inbox) {
                let reply: Vec<u8> = self.inbox.drain(..len).collect();
                return String::from_utf8(reply).unwrap();
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "connection closed after {:?}",
            String::from_utf8_lossy(&self.inbox)
        );
        self.inbox.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the complete reply at the start of `buf`, if it is there.
fn reply_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let body: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    (buf.len() >= end + 4 + body).then_some(end + 4 + body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_bad_requests_with_rtsp_errors() {
    let sim = start(2).await;
    let base = sim.url(1).replace("/cam1", "");
    let mut c = Client::connect(sim.port()).await;

    let reply = c
        .exchange(&format!("DESCRIBE {base}/cam3 RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
        .await;
    assert!(
        reply.starts_with("RTSP/1.0 404 Not Found\r\nCSeq: 1\r\n"),
        "{reply}"
    );

    let reply = c
        .exchange(&format!("PLAY {base}/cam1 RTSP/1.0\r\nCSeq: 2\r\n\r\n"))
        .await;
    assert!(reply.starts_with("RTSP/1.0 455 "), "{reply}");

    let udp = "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n";
    let reply = c
        .exchange(&format!(
            "SETUP {base}/cam1/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n{udp}\r\n"
        ))
        .await;
    assert!(
        reply.starts_with("RTSP/1.0 461 Unsupported Transport\r\nCSeq: 3\r\n"),
        "{reply}"
    );
    assert!(reply.contains("-rtsp_transport tcp"), "{reply}");

    // Two requests in one write get two replies, in order.
    c.send(&format!(
        "OPTIONS {base}/cam2 RTSP/1.0\r\nCSeq: 4\r\n\r\n\
         DESCRIBE {base}/cam2 RTSP/1.0\r\nCSeq: 5\r\nAccept: application/sdp\r\n\r\n"
    ))
    .await;
    let options = c.reply().await;
    assert!(
        options.starts_with("RTSP/1.0 200 OK\r\nCSeq: 4\r\n"),
        "{options}"
    );
    assert!(
        options.contains("Public: OPTIONS, DESCRIBE, SETUP, PLAY"),
        "{options}"
    );
    let describe = c.reply().await;
    assert!(
        describe.starts_with("RTSP/1.0 200 OK\r\nCSeq: 5\r\n"),
        "{describe}"
    );
    assert!(
        describe.contains(&format!("Content-Base: {base}/cam2/\r\n")),
        "{describe}"
    );
    assert!(describe.contains("a=rtpmap:96 H264/90000"), "{describe}");

    // Garbage gets a 400, then the connection closes.
    let reply = c.exchange("HELLO\r\n\r\n").await;
    assert!(reply.starts_with("RTSP/1.0 400 Bad Request\r\n"), "{reply}");
    let mut rest = Vec::new();
    c.stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_sessions_and_frees_the_port() {
    let sim = start(1).await;
    let port = sim.port();
    let url = sim.url(1);
    let mut c = Client::connect(port).await;
    let tcp = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n";
    let setup = c
        .exchange(&format!(
            "SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n{tcp}\r\n"
        ))
        .await;
    assert!(setup.starts_with("RTSP/1.0 200 OK"), "{setup}");
    let session = setup
        .lines()
        .find_map(|l| l.strip_prefix("Session: "))
        .expect("a Session header")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let play = c
        .exchange(&format!(
            "PLAY {url}/ RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n"
        ))
        .await;
    assert!(
        play.contains(&format!("RTP-Info: url={url}/trackID=0;seq=")),
        "{play}"
    );
    if c.inbox.is_empty() {
        c.read_more().await;
    }
    assert_eq!(c.inbox[0], b'$', "RTP interleaved on channel 0 after PLAY");

    tokio::time::timeout(Duration::from_secs(5), sim.stop())
        .await
        .expect("stop returns within 5 s");
    // The session was closed: the client reads what was sent, then the end.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), c.stream.read_to_end(&mut rest))
        .await
        .expect("the session is closed")
        .ok();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free after stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_it_stops_it_too() {
    let sim = start(1).await;
    let port = sim.port();
    drop(sim);
    // Aborted tasks end on the runtime's next turn: the port frees at once.
    for _ in 0..100 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("port {port} still taken 1 s after the drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_say_what_to_do() {
    let missing = CamSimOptions {
        footage: PathBuf::from("/nonexistent/vtest.mp4"),
        cameras: 1,
        port: 0,
    };
    let err = CamSim::start(&missing)
        .await
        .err()
        .expect("missing footage fails");
    assert!(matches!(err, CamSimError::FootageMissing(_)));
    assert!(err.to_string().contains("run `npm run setup`"), "{err}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let busy = CamSimOptions {
        footage: footage(),
        cameras: 1,
        port,
    };
    let err = CamSim::start(&busy)
        .await
        .err()
        .expect("a taken port fails");
    assert!(
        err.to_string()
            .starts_with(&format!("port {port} is in use")),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mpeg4 = dir.path().join("mpeg4.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5",
        ])
        .args(["-t", "1", "-c:v", "mpeg4"])
        .arg(&mpeg4)
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(made.success());
    let other = CamSimOptions {
        footage: mpeg4,
        cameras: 1,
        port: 0,
    };
    let err = CamSim::start(&other)
        .await
        .err()
        .expect("MPEG-4 footage fails");
    assert!(
        err.to_string().contains("is not H.264 (found mpeg4)"),
        "{err}"
    );
}
