//! Finds ONVIF cameras on the local network with WS-Discovery: one Probe
//! for network video transmitters, multicast to 239.255.255.250:3702 (sent
//! twice, as UDP may drop it), then every ProbeMatch that answers it within
//! the wait: the device's service address, and its name and hardware from
//! the scopes it announces. Make and model come from the device itself
//! where it tells them without a login; otherwise the scopes' are kept.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use rand::RngCore;
use roxmltree::Document;
use serde::Serialize;
use tokio::net::UdpSocket;
use tracing::debug;
use url::Url;

use super::{child, descendant, is, text, Camera};

/// WS-Discovery's multicast group and port.
pub const MULTICAST: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702));
/// Replies are small; a datagram this size is never a camera's.
const MAX_DATAGRAM: usize = 64 * 1024;
/// How long the device-information request of each found camera may take.
const INFO_TIMEOUT: Duration = Duration::from_secs(2);

/// One camera that answered the probe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Found {
    /// The host to give the ONVIF probe (`POST /api/v1/onvif/probe`).
    pub host: String,
    pub port: u16,
    /// The device service's URL as announced.
    pub xaddr: String,
    /// Its WS-Discovery endpoint (a stable `urn:uuid:`).
    pub endpoint: String,
    /// From the device, else the scopes; `None` when neither says.
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    /// The name the camera announces (`onvif://www.onvif.org/name/…`).
    pub name: Option<String>,
}

/// Probes `target` (normally [`MULTICAST`]) and returns every camera that
/// answers within `wait`, each once, sorted by address.
pub async fn probe(target: SocketAddr, wait: Duration) -> std::io::Result<Vec<Found>> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
    // The local network only, as the protocol asks.
    socket.set_multicast_ttl_v4(1)?;
    let message_id = format!("urn:uuid:{}", random_uuid());
    let probe = probe_message(&message_id);
    socket.send_to(probe.as_bytes(), target).await?;
    let mut found = BTreeMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let deadline = tokio::time::Instant::now() + wait;
    let mut resent = false;
    loop {
        let resend_at = tokio::time::Instant::now() + Duration::from_millis(200);
        let until = if resent {
            deadline
        } else {
            resend_at.min(deadline)
        };
        match tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                let reply = String::from_utf8_lossy(&buf[..n]);
                for m in parse_matches(&reply, &message_id) {
                    debug!(%from, endpoint = %m.endpoint, "WS-Discovery: a camera answered");
                    found.entry(m.endpoint.clone()).or_insert(m);
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(_) if !resent && tokio::time::Instant::now() < deadline => {
                socket.send_to(probe.as_bytes(), target).await?;
                resent = true;
            }
            Err(_) => break,
        }
    }
    let mut cameras: Vec<Found> = found.into_values().collect();
    futures::future::join_all(cameras.iter_mut().map(ask_device)).await;
    cameras.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    Ok(cameras)
}

/// Fills in make and model from the device where it answers without a
/// login; many cameras ask for one, and keep the scopes' then.
async fn ask_device(found: &mut Found) {
    let Ok(host) = url::Host::parse(&found.host) else {
        return;
    };
    let Ok(camera) = Camera::new(&host, found.port, None) else {
        return;
    };
    if let Ok(Ok(info)) = tokio::time::timeout(INFO_TIMEOUT, camera.device_info()).await {
        found.manufacturer = Some(info.manufacturer).filter(|s| !s.is_empty());
        found.model = Some(info.model).filter(|s| !s.is_empty());
    }
}

fn probe_message(message_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>{message_id}</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"#
    )
}

/// The ProbeMatches answering `message_id`; anything else (another
/// client's probe, a Hello, a stranger's reply) yields none.
fn parse_matches(xml: &str, message_id: &str) -> Vec<Found> {
    let Ok(doc) = Document::parse(xml) else {
        return Vec::new();
    };
    let root = doc.root_element();
    let relates_to = descendant(root, "RelatesTo")
        .and_then(|n| n.text())
        .map(str::trim);
    if relates_to != Some(message_id) {
        return Vec::new();
    }
    root.descendants()
        .filter(|n| is(*n, "ProbeMatch"))
        .filter_map(|m| {
            let endpoint = child(m, "EndpointReference").and_then(|e| text(e, "Address"))?;
            let xaddr = text(m, "XAddrs")?
                .split_whitespace()
                .find(|x| x.starts_with("http://") || x.starts_with("https://"))?
                .to_owned();
            let url = Url::parse(&xaddr).ok()?;
            let scopes = text(m, "Scopes").unwrap_or_default();
            Some(Found {
                host: url.host_str()?.trim_matches(['[', ']']).to_owned(),
                port: url.port_or_known_default()?,
                xaddr,
                endpoint,
                manufacturer: scope(&scopes, &["manufacturer", "mfr"]),
                model: scope(&scopes, &["hardware"]),
                name: scope(&scopes, &["name"]),
            })
        })
        .collect()
}

/// The value of the first `onvif://www.onvif.org/<key>/<value>` scope.
fn scope(scopes: &str, keys: &[&str]) -> Option<String> {
    scopes.split_whitespace().find_map(|s| {
        let rest = s.strip_prefix("onvif://www.onvif.org/")?;
        let (key, value) = rest.split_once('/')?;
        keys.iter()
            .any(|k| key.eq_ignore_ascii_case(k))
            .then(|| percent_decode(value))
            .filter(|v| !v.is_empty())
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).trim().to_owned()
}

fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "urn:uuid:0a6dc791-2e3b-4d5a-8f1e-0123456789ab";

    fn reply(relates_to: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"><SOAP-ENV:Header><wsa:RelatesTo>{relates_to}</wsa:RelatesTo></SOAP-ENV:Header><SOAP-ENV:Body><wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:cam-1</wsa:Address></wsa:EndpointReference><wsd:Types>dn:NetworkVideoTransmitter</wsd:Types><wsd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Back%20door onvif://www.onvif.org/hardware/DS-2CD2043 onvif://www.onvif.org/location/city/Oslo</wsd:Scopes><wsd:XAddrs>http://10.77.0.2:8080/onvif/device_service http://[fe80::1]/onvif/device_service</wsd:XAddrs></wsd:ProbeMatch></wsd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        )
    }

    #[test]
    fn reads_a_probe_match() {
        let found = parse_matches(&reply(ID), ID);
        assert_eq!(
            found,
            vec![Found {
                host: "10.77.0.2".into(),
                port: 8080,
                xaddr: "http://10.77.0.2:8080/onvif/device_service".into(),
                endpoint: "urn:uuid:cam-1".into(),
                manufacturer: None,
                model: Some("DS-2CD2043".into()),
                name: Some("Back door".into()),
            }]
        );
    }

    #[test]
    fn ignores_replies_to_other_probes_and_garbage() {
        assert!(parse_matches(&reply("urn:uuid:someone-else"), ID).is_empty());
        assert!(parse_matches("not xml", ID).is_empty());
        assert!(parse_matches("<a/>", ID).is_empty());
    }

    #[test]
    fn the_probe_asks_for_video_transmitters_with_our_id() {
        let probe = probe_message(ID);
        let doc = Document::parse(&probe).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(
            descendant(root, "MessageID").and_then(|n| n.text()),
            Some(ID)
        );
        assert_eq!(
            descendant(root, "Types").and_then(|n| n.text()),
            Some("dn:NetworkVideoTransmitter")
        );
    }

    #[test]
    fn scopes_decode_percent_escapes() {
        assert_eq!(percent_decode("Gate%20%2F%20north"), "Gate / north");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(
            scope("onvif://www.onvif.org/MFR/Axis", &["manufacturer", "mfr"]),
            Some("Axis".into())
        );
    }
}
