//! The one place URLs are made safe to show or log.

/// Returns `url` with any user name and password removed, so it can be
/// logged, stored or shown. Unparseable input is replaced wholesale rather
/// than echoed, since it may still hold a password.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        // Without a host, whatever follows the scheme may be a password.
        Ok(parsed) if parsed.host().is_none() => "<unparseable URL>".to_owned(),
        Ok(mut parsed) => {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                // Both setters only fail for URLs that cannot have credentials.
                let _ = parsed.set_username("");
                let _ = parsed.set_password(None);
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials() {
        assert_eq!(
            redact_url("rtsp://admin:hunter2@10.0.0.5:554/stream1"),
            "rtsp://10.0.0.5:554/stream1"
        );
        assert_eq!(redact_url("rtsp://cam.local/live"), "rtsp://cam.local/live");
    }

    #[test]
    fn never_echoes_garbage() {
        assert_eq!(redact_url("admin:hunter2@ nonsense"), "<unparseable URL>");
    }
}
