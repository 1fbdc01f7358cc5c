//! A small ONVIF client: asks a camera who it is and which RTSP streams it
//! offers, so a guard can add it without hunting for stream paths.
//!
//! SOAP 1.2 over plain HTTP, signed with a WS-Security UsernameToken.
//! Replies are matched by local element name: vendors pick their own
//! namespace prefixes. The password only ever goes into the digest; it is
//! never logged and never put in a URL.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use rand::RngCore;
use roxmltree::{Document, Node};
use serde::Serialize;
use sha1::{Digest, Sha1};
use tracing::debug;
use url::Url;

pub mod discovery;

const DEVICE_NS: &str = "http://www.onvif.org/ver10/device/wsdl";
const MEDIA_NS: &str = "http://www.onvif.org/ver10/media/wsdl";
/// Per request; a probe makes a handful.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Profiles are a few KiB; anything far larger is not a camera talking.
const MAX_REPLY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OnvifError {
    #[error("The camera refused the username or password: check them.")]
    NotAuthorized,

    #[error("Cannot reach {addr}: check the address and that ONVIF is enabled on the camera.")]
    Unreachable { addr: String },

    #[error("{addr} answered but not as an ONVIF device: check the port (ONVIF often listens on 80, 8000 or 8080) and that ONVIF is enabled on the camera.")]
    NotOnvif { addr: String },

    #[error("The camera at {addr} refused the ONVIF request ({reason}): check that ONVIF is enabled and that this user may use it.")]
    Fault { addr: String, reason: String },
}

#[derive(Debug, PartialEq, Serialize)]
pub struct DeviceInfo {
    pub manufacturer: String,
    pub model: String,
    pub firmware: String,
    pub serial: String,
}

/// One media profile: a stream the camera encodes.
#[derive(Debug, PartialEq, Serialize)]
pub struct Profile {
    pub token: String,
    pub name: String,
    pub encoding: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    /// Never holds credentials: they stay in the camera's own fields.
    pub stream_uri: String,
}

#[derive(Debug, Serialize)]
pub struct Discovery {
    pub device: DeviceInfo,
    pub profiles: Vec<Profile>,
}

/// One camera's ONVIF service.
pub struct Camera {
    http: reqwest::Client,
    /// `host:port`, for error sentences.
    addr: String,
    device_url: Url,
    credentials: Option<(String, String)>,
    /// The camera's clock minus ours: WS-Security tokens carry the camera's time.
    skew: TimeDelta,
}

impl Camera {
    pub fn new(
        host: &url::Host,
        port: u16,
        credentials: Option<(String, String)>,
    ) -> anyhow::Result<Self> {
        let addr = format!("{host}:{port}");
        let device_url = Url::parse(&format!("http://{addr}/onvif/device_service"))?;
        let http = reqwest::Client::builder()
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            // Cameras sit on the local network, and must not send us elsewhere.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            addr,
            device_url,
            credentials,
            skew: TimeDelta::zero(),
        })
    }

    /// Device information and every video profile with its RTSP URI.
    pub async fn discover(mut self) -> Result<Discovery, OnvifError> {
        self.skew = self.clock_skew().await?;
        let xml = self
            .call(&self.device_url, DEVICE_NS, "GetDeviceInformation", "")
            .await?;
        let device = parse_device_info(&xml).ok_or_else(|| self.not_onvif())?;
        let media_url = self.media_url().await?;
        let xml = self.call(&media_url, MEDIA_NS, "GetProfiles", "").await?;
        let mut profiles = parse_profiles(&xml).ok_or_else(|| self.not_onvif())?;
        for profile in &mut profiles {
            profile.stream_uri = self.stream_uri(&media_url, &profile.token).await?;
        }
        profiles.retain(|p| !p.stream_uri.is_empty());
        Ok(Discovery { device, profiles })
    }

    /// Make, model, firmware and serial alone.
    pub async fn device_info(&self) -> Result<DeviceInfo, OnvifError> {
        let xml = self
            .call(&self.device_url, DEVICE_NS, "GetDeviceInformation", "")
            .await?;
        parse_device_info(&xml).ok_or_else(|| self.not_onvif())
    }

    /// Many cameras keep a wrong clock and refuse tokens dated by ours.
    async fn clock_skew(&self) -> Result<TimeDelta, OnvifError> {
        let clock = match self.unsigned_call("GetSystemDateAndTime").await {
            Ok(xml) => parse_device_clock(&xml),
            // The call needs no login, but some cameras ask for one anyway.
            Err(OnvifError::NotAuthorized | OnvifError::Fault { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(clock.map_or(TimeDelta::zero(), |c| c - Utc::now()))
    }

    /// The media service's address, from GetCapabilities or GetServices;
    /// the device service itself when the camera names neither.
    async fn media_url(&self) -> Result<Url, OnvifError> {
        let capabilities = "<tds:Category>Media</tds:Category>";
        let services = "<tds:IncludeCapability>false</tds:IncludeCapability>";
        for (operation, inner) in [("GetCapabilities", capabilities), ("GetServices", services)] {
            let xaddr = self
                .optional(self.call(&self.device_url, DEVICE_NS, operation, inner))
                .await?
                .and_then(|xml| parse_media_xaddr(&xml));
            if let Some(url) = xaddr.and_then(|x| self.on_our_address(&x)) {
                return Ok(url);
            }
        }
        Ok(self.device_url.clone())
    }

    /// The profile's unicast RTSP URI, credentials removed; empty when the
    /// camera has none for it (an audio-only profile, say).
    async fn stream_uri(&self, media_url: &Url, token: &str) -> Result<String, OnvifError> {
        let inner = format!(
            "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>\
             <tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>\
             <trt:ProfileToken>{}</trt:ProfileToken>",
            escape(token)
        );
        let xml = self
            .optional(self.call(media_url, MEDIA_NS, "GetStreamUri", &inner))
            .await?;
        let uri = xml.and_then(|x| parse_stream_uri(&x));
        if uri.is_none() {
            debug!(addr = %self.addr, profile = token, "no RTSP URI for this profile");
        }
        Ok(uri.unwrap_or_default())
    }

    /// Cameras behind a port forward announce their inner address: keep
    /// the service's path but talk to the address the user gave.
    fn on_our_address(&self, xaddr: &str) -> Option<Url> {
        let announced = Url::parse(xaddr).ok()?;
        let mut url = self.device_url.clone();
        url.set_path(announced.path());
        url.set_query(announced.query());
        Some(url)
    }

    /// A SOAP fault means "not supported here"; anything else still fails.
    async fn optional(
        &self,
        call: impl std::future::Future<Output = Result<String, OnvifError>>,
    ) -> Result<Option<String>, OnvifError> {
        match call.await {
            Ok(xml) => Ok(Some(xml)),
            Err(OnvifError::Fault { reason, .. }) => {
                debug!(addr = %self.addr, %reason, "ONVIF call not supported");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn call(
        &self,
        url: &Url,
        ns: &str,
        operation: &str,
        inner: &str,
    ) -> Result<String, OnvifError> {
        let header = self.credentials.as_ref().map_or(String::new(), |(u, p)| {
            security_header(u, p, &random_nonce(), Utc::now() + self.skew)
        });
        self.post(url, ns, operation, &header, inner).await
    }

    async fn unsigned_call(&self, operation: &str) -> Result<String, OnvifError> {
        self.post(&self.device_url, DEVICE_NS, operation, "", "")
            .await
    }

    async fn post(
        &self,
        url: &Url,
        ns: &str,
        operation: &str,
        header: &str,
        inner: &str,
    ) -> Result<String, OnvifError> {
        debug!(addr = %self.addr, path = url.path(), operation, "ONVIF request");
        let content_type =
            format!("application/soap+xml; charset=utf-8; action=\"{ns}/{operation}\"");
        let mut response = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(envelope(header, ns, operation, inner))
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(OnvifError::NotAuthorized);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_REPLY {
                return Err(self.not_onvif());
            }
        }
        let text = String::from_utf8(body).map_err(|_| self.not_onvif())?;
        check_reply(&self.addr, status.is_success(), &text)?;
        Ok(text)
    }

    fn transport(&self, e: reqwest::Error) -> OnvifError {
        debug!(addr = %self.addr, error = %e, "ONVIF request failed");
        if e.is_connect() || e.is_timeout() {
            OnvifError::Unreachable {
                addr: self.addr.clone(),
            }
        } else {
            self.not_onvif()
        }
    }

    fn not_onvif(&self) -> OnvifError {
        OnvifError::NotOnvif {
            addr: self.addr.clone(),
        }
    }
}

/// WS-Security PasswordDigest: Base64(SHA1(nonce + created + password)).
fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    BASE64.encode(sha.finalize())
}

fn random_nonce() -> [u8; 16] {
    let mut nonce = [0; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

fn security_header(username: &str, password: &str, nonce: &[u8], now: DateTime<Utc>) -> String {
    const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    const TOKEN: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0";
    const MESSAGE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0";
    // Whole seconds: some cameras reject fractional timestamps.
    let created = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        "<s:Header><wsse:Security s:mustUnderstand=\"1\" xmlns:wsse=\"{WSSE}\" xmlns:wsu=\"{WSU}\">\
         <wsse:UsernameToken><wsse:Username>{}</wsse:Username>\
         <wsse:Password Type=\"{TOKEN}#PasswordDigest\">{}</wsse:Password>\
         <wsse:Nonce EncodingType=\"{MESSAGE}#Base64Binary\">{}</wsse:Nonce>\
         <wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>",
        escape(username),
        password_digest(nonce, &created, password),
        BASE64.encode(nonce),
    )
}

fn envelope(header: &str, ns: &str, operation: &str, inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:tds=\"{DEVICE_NS}\" xmlns:trt=\"{MEDIA_NS}\" \
         xmlns:tt=\"http://www.onvif.org/ver10/schema\">{header}\
         <s:Body><m:{operation} xmlns:m=\"{ns}\">{inner}</m:{operation}></s:Body></s:Envelope>"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A SOAP envelope without a fault, or the error it amounts to.
fn check_reply(addr: &str, success: bool, xml: &str) -> Result<(), OnvifError> {
    let not_onvif = || OnvifError::NotOnvif {
        addr: addr.to_owned(),
    };
    let doc = Document::parse(xml).map_err(|_| not_onvif())?;
    let envelope = doc.root_element();
    let body = child(envelope, "Body")
        .filter(|_| is(envelope, "Envelope"))
        .ok_or_else(not_onvif)?;
    if let Some(fault) = child(body, "Fault") {
        return Err(fault_error(addr, fault));
    }
    if success {
        Ok(())
    } else {
        Err(not_onvif())
    }
}

fn fault_error(addr: &str, fault: Node) -> OnvifError {
    // SOAP 1.2 nests codes in Code/Subcode/Value; SOAP 1.1 has faultcode.
    let refused = fault
        .descendants()
        .filter(|n| is(*n, "Value") || is(*n, "faultcode"))
        .filter_map(|n| n.text())
        .map(|code| code.trim().rsplit(':').next().unwrap_or_default())
        .any(|code| matches!(code, "NotAuthorized" | "FailedAuthentication"));
    if refused {
        return OnvifError::NotAuthorized;
    }
    let reason = ["Text", "faultstring"]
        .iter()
        .find_map(|name| descendant(fault, name).and_then(|n| n.text()))
        .unwrap_or("no reason given");
    OnvifError::Fault {
        addr: addr.to_owned(),
        reason: reason
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect(),
    }
}

fn parse_device_clock(xml: &str) -> Option<DateTime<Utc>> {
    let doc = Document::parse(xml).ok()?;
    let utc = descendant(doc.root_element(), "UTCDateTime")?;
    let date = child(utc, "Date")?;
    let time = child(utc, "Time")?;
    let field = |node: Node, name: &str| text(node, name)?.parse::<u32>().ok();
    let year = i32::try_from(field(date, "Year")?).ok()?;
    NaiveDate::from_ymd_opt(year, field(date, "Month")?, field(date, "Day")?)?
        .and_hms_opt(
            field(time, "Hour")?,
            field(time, "Minute")?,
            field(time, "Second")?,
        )
        .map(|t| t.and_utc())
}

fn parse_device_info(xml: &str) -> Option<DeviceInfo> {
    let doc = Document::parse(xml).ok()?;
    let info = descendant(doc.root_element(), "GetDeviceInformationResponse")?;
    let field = |name| text(info, name).unwrap_or_default();
    Some(DeviceInfo {
        manufacturer: field("Manufacturer"),
        model: field("Model"),
        firmware: field("FirmwareVersion"),
        serial: field("SerialNumber"),
    })
}

/// The media XAddr in a GetCapabilities or a GetServices answer.
fn parse_media_xaddr(xml: &str) -> Option<String> {
    let doc = Document::parse(xml).ok()?;
    let root = doc.root_element();
    let from_capabilities = root
        .descendants()
        .filter(|n| is(*n, "Media"))
        .find_map(|media| text(media, "XAddr"));
    from_capabilities.or_else(|| {
        root.descendants()
            .filter(|n| is(*n, "Service"))
            .find(|s| text(*s, "Namespace").as_deref() == Some(MEDIA_NS))
            .and_then(|s| text(s, "XAddr"))
    })
}

/// Video profiles, without their stream URIs yet.
fn parse_profiles(xml: &str) -> Option<Vec<Profile>> {
    let doc = Document::parse(xml).ok()?;
    let answer = descendant(doc.root_element(), "GetProfilesResponse")?;
    let profiles = answer
        .children()
        .filter(|n| is(*n, "Profiles"))
        .filter_map(|p| {
            // Without a video encoder there is nothing to watch.
            let video = child(p, "VideoEncoderConfiguration")?;
            let resolution = child(video, "Resolution");
            let size = |name| resolution.and_then(|r| text(r, name)?.parse().ok());
            let fps = child(video, "RateControl")
                .and_then(|r| text(r, "FrameRateLimit")?.parse::<f64>().ok())
                .filter(|f| f.is_finite() && *f > 0.0);
            Some(Profile {
                token: p.attribute("token")?.to_owned(),
                name: text(p, "Name").unwrap_or_default(),
                encoding: text(video, "Encoding"),
                width: size("Width"),
                height: size("Height"),
                fps,
                stream_uri: String::new(),
            })
        })
        .collect();
    Some(profiles)
}

/// The RTSP URI in a GetStreamUri answer, without any user name or password.
fn parse_stream_uri(xml: &str) -> Option<String> {
    let doc = Document::parse(xml).ok()?;
    let media_uri = descendant(doc.root_element(), "MediaUri")?;
    let mut uri = Url::parse(&text(media_uri, "Uri")?).ok()?;
    if !matches!(uri.scheme(), "rtsp" | "rtsps") || uri.host_str().is_none_or(str::is_empty) {
        return None;
    }
    uri.set_username("").ok()?;
    uri.set_password(None).ok()?;
    Some(uri.to_string())
}

fn is(node: Node, local_name: &str) -> bool {
    node.is_element() && node.tag_name().name() == local_name
}

fn child<'a, 'i>(node: Node<'a, 'i>, local_name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(*n, local_name))
}

fn descendant<'a, 'i>(node: Node<'a, 'i>, local_name: &str) -> Option<Node<'a, 'i>> {
    node.descendants().find(|n| is(*n, local_name))
}

/// A child's trimmed text; `None` when absent or empty.
fn text(node: Node, local_name: &str) -> Option<String> {
    let text = child(node, local_name)?.text()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_the_onvif_programmers_guide() {
        // The worked example of the ONVIF Application Programmer's Guide.
        let nonce = BASE64.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
    }

    #[test]
    fn digest_is_sha1_of_nonce_created_password() {
        let nonce = [7u8; 16];
        let created = "2026-01-02T03:04:05Z";
        let joined = [&nonce[..], created.as_bytes(), b"pw"].concat();
        let expected = BASE64.encode(Sha1::digest(&joined));
        assert_eq!(password_digest(&nonce, created, "pw"), expected);
    }

    #[test]
    fn header_never_holds_the_password_and_escapes_the_user() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let header = security_header("a<b", "hunter2", &[1; 16], now);
        assert!(!header.contains("hunter2"), "{header}");
        assert!(header.contains("<wsse:Username>a&lt;b</wsse:Username>"));
        assert!(header.contains("<wsu:Created>2026-01-02T03:04:05Z</wsu:Created>"));
        let doc = format!("<e xmlns:s=\"urn:s\">{header}</e>");
        Document::parse(&doc).expect("well-formed header");
    }

    const PROFILES: &str = r#"<?xml version="1.0"?>
        <SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
            xmlns:ns1="http://www.onvif.org/ver10/media/wsdl" xmlns:ns2="http://www.onvif.org/ver10/schema">
          <SOAP-ENV:Body><ns1:GetProfilesResponse>
            <ns1:Profiles token="prof0" fixed="true">
              <ns2:Name>Main</ns2:Name>
              <ns2:VideoSourceConfiguration token="vs"><ns2:Name>Source</ns2:Name></ns2:VideoSourceConfiguration>
              <ns2:VideoEncoderConfiguration token="ve0">
                <ns2:Name>Encoder</ns2:Name><ns2:Encoding>H264</ns2:Encoding>
                <ns2:Resolution><ns2:Width>1920</ns2:Width><ns2:Height>1080</ns2:Height></ns2:Resolution>
                <ns2:RateControl><ns2:FrameRateLimit>25</ns2:FrameRateLimit></ns2:RateControl>
              </ns2:VideoEncoderConfiguration>
            </ns1:Profiles>
            <ns1:Profiles token="audio"><ns2:Name>Audio only</ns2:Name></ns1:Profiles>
          </ns1:GetProfilesResponse></SOAP-ENV:Body>
        </SOAP-ENV:Envelope>"#;

    #[test]
    fn parses_profiles_whatever_the_prefixes() {
        let default_ns = PROFILES
            .replace("SOAP-ENV:", "")
            .replace("xmlns:SOAP-ENV=", "xmlns=")
            .replace("ns2:", "tt:")
            .replace("xmlns:ns2", "xmlns:tt");
        for xml in [PROFILES.to_owned(), default_ns] {
            assert_eq!(
                parse_profiles(&xml).unwrap(),
                vec![Profile {
                    token: "prof0".into(),
                    name: "Main".into(),
                    encoding: Some("H264".into()),
                    width: Some(1920),
                    height: Some(1080),
                    fps: Some(25.0),
                    stream_uri: String::new(),
                }],
                "{xml}"
            );
        }
    }

    #[test]
    fn parses_device_information_and_clock() {
        let xml = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
            xmlns:d="http://www.onvif.org/ver10/device/wsdl" xmlns:x="http://www.onvif.org/ver10/schema">
          <env:Body>
            <d:GetDeviceInformationResponse>
              <d:Manufacturer>Acme</d:Manufacturer><d:Model> IPC-1 </d:Model>
              <d:FirmwareVersion>V5.1</d:FirmwareVersion><d:SerialNumber>SN1</d:SerialNumber>
            </d:GetDeviceInformationResponse>
            <d:SystemDateAndTime><x:UTCDateTime>
              <x:Time><x:Hour>3</x:Hour><x:Minute>4</x:Minute><x:Second>5</x:Second></x:Time>
              <x:Date><x:Year>2026</x:Year><x:Month>1</x:Month><x:Day>2</x:Day></x:Date>
            </x:UTCDateTime></d:SystemDateAndTime>
          </env:Body></env:Envelope>"#;
        let info = parse_device_info(xml).unwrap();
        assert_eq!(
            (info.manufacturer.as_str(), info.model.as_str()),
            ("Acme", "IPC-1")
        );
        assert_eq!(
            (info.firmware.as_str(), info.serial.as_str()),
            ("V5.1", "SN1")
        );
        assert_eq!(
            parse_device_clock(xml).unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
    }

    #[test]
    fn finds_the_media_service_in_capabilities_or_services() {
        let capabilities = r#"<e:Envelope xmlns:e="urn:e" xmlns:a="urn:a"><e:Body>
            <a:GetCapabilitiesResponse><a:Capabilities>
              <a:Media><a:XAddr>http://10.0.0.5/onvif/Media</a:XAddr></a:Media>
            </a:Capabilities></a:GetCapabilitiesResponse></e:Body></e:Envelope>"#;
        let services = r#"<Envelope><Body><GetServicesResponse>
            <Service><Namespace>http://www.onvif.org/ver10/events/wsdl</Namespace><XAddr>http://x/events</XAddr></Service>
            <Service><Namespace>http://www.onvif.org/ver10/media/wsdl</Namespace><XAddr>http://x/media</XAddr></Service>
            </GetServicesResponse></Body></Envelope>"#;
        assert_eq!(
            parse_media_xaddr(capabilities).as_deref(),
            Some("http://10.0.0.5/onvif/Media")
        );
        assert_eq!(
            parse_media_xaddr(services).as_deref(),
            Some("http://x/media")
        );
    }

    #[test]
    fn strips_credentials_from_stream_uris() {
        let xml = r#"<s:Envelope xmlns:s="urn:s" xmlns:m="urn:m"><s:Body><m:GetStreamUriResponse>
            <m:MediaUri><m:Uri>rtsp://admin:hunter2@10.0.0.5:554/live?channel=1</m:Uri></m:MediaUri>
            </m:GetStreamUriResponse></s:Body></s:Envelope>"#;
        assert_eq!(
            parse_stream_uri(xml).as_deref(),
            Some("rtsp://10.0.0.5:554/live?channel=1")
        );
        let http = xml.replace("rtsp://", "http://");
        assert_eq!(parse_stream_uri(&http), None);
    }

    #[test]
    fn faults_become_sentences() {
        let fault = |code: &str| {
            format!(
                r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error">
                <soap:Body><soap:Fault>
                  <soap:Code><soap:Value>soap:Sender</soap:Value>
                    <soap:Subcode><soap:Value>{code}</soap:Value></soap:Subcode></soap:Code>
                  <soap:Reason><soap:Text xml:lang="en">Not supported here</soap:Text></soap:Reason>
                </soap:Fault></soap:Body></soap:Envelope>"#
            )
        };
        assert!(matches!(
            check_reply("cam:80", false, &fault("ter:NotAuthorized")),
            Err(OnvifError::NotAuthorized)
        ));
        let err = check_reply("cam:80", false, &fault("ter:ActionNotSupported")).unwrap_err();
        assert!(err.to_string().contains("(Not supported here)"), "{err}");
        let html = check_reply("cam:80", true, "<html><body>login</body></html>").unwrap_err();
        assert!(html
            .to_string()
            .starts_with("cam:80 answered but not as an ONVIF device"));
        assert!(check_reply("cam:80", true, "not xml").is_err());
    }
}
