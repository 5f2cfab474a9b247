//! `http://…`, `https://…`: a request (GET unless [`super::HttpOptions::method`] says otherwise,
//! with [`super::HttpOptions::headers`]) answers with an accepted status (and a matching body).
//! Certificates are verified against the webpki roots unless [`super::HttpOptions::insecure`].

use std::time::Duration;

use super::tcp::{local_listening, resolve};
use super::{fmt_duration, plain_io, Check, Cx, Next, Pacer, Status, WaitOptions};
use crate::error::{Error, Result};

/// Requests time out after this long by default (or at the deadline, whichever is first).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this much of a body is read for `--body`.
const BODY_LIMIT: u64 = 1 << 20;

pub(crate) struct HttpCheck {
    url: String,
    host: String,
    port: u16,
    status: Vec<(u16, u16)>,
    body: Option<regex::Regex>,
    method: String,
    headers: Vec<(String, String)>,
    agent_insecure: bool,
    cheap: bool,
    real: Pacer,
}

impl HttpCheck {
    /// `url` as [`super::Target::Http`] holds it (already checked, scheme in lower case).
    pub fn new(url: &str, opts: &WaitOptions) -> Result<Self> {
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|e| Error::invalid(format!("bad URL '{url}': {e}")))?;
        let host = uri
            .host()
            .ok_or_else(|| Error::invalid(format!("bad URL '{url}': no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        Ok(HttpCheck {
            url: url.to_string(),
            host,
            port,
            status: opts.http.status.clone(),
            body: opts.http.body.clone(),
            method: opts.http.method.clone(),
            headers: opts.http.headers.clone(),
            agent_insecure: opts.http.insecure,
            cheap: false,
            real: Pacer::new(),
        })
    }

    fn request(&self, timeout: Duration) -> std::result::Result<(), String> {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(self.agent_insecure)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut req = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(&self.url);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(())
            .map_err(|e| format!("building the request: {e}"))?;
        let mut resp = agent.run(req).map_err(|e| describe(&e, timeout))?;
        let code = resp.status().as_u16();
        if !self.status.iter().any(|&(a, b)| (a..=b).contains(&code)) {
            return Err(format!("status {code}"));
        }
        if let Some(re) = &self.body {
            let body = resp
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_string()
                .map_err(|e| format!("reading the body: {}", describe(&e, timeout)))?;
            if !re.is_match(&body) {
                return Err(format!("status {code}, but the body does not match /{re}/"));
            }
        }
        Ok(())
    }
}

/// A request error in words a person acts on (ureq's own say "timeout: global" or
/// "received corrupt message of type InvalidContentType").
fn describe(e: &ureq::Error, timeout: Duration) -> String {
    // rustls errors come as they are, or inside an I/O error of the TLS stream.
    let tls = match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    if let Some(r) = tls {
        return match r {
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                "TLS handshake failed: the server did not answer with TLS (is it plain http?)"
                    .to_string()
            }
            r => format!("TLS: {r}"),
        };
    }
    match e {
        ureq::Error::Timeout(_) => format!("no answer within {}", fmt_duration(timeout)),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::Io(io) => plain_io(io),
        ureq::Error::Protocol(p) => format!("not an HTTP answer: {p}"),
        other => other.to_string(),
    }
}

impl Check for HttpCheck {
    fn check(&mut self, cx: &Cx) -> Status {
        self.cheap = false;
        if let Ok(addrs) = resolve(&self.host, self.port) {
            self.cheap = local_listening(&addrs, self.port) == Some(false);
            if self.cheap && !self.real.due() {
                return Status::NotReady(format!("nothing listens on port {}", self.port));
            }
        }
        self.real.attempted(cx.opts.interval);
        match self.request(cx.attempt_timeout(REQUEST_TIMEOUT)) {
            Ok(()) => Status::Ready,
            Err(e) => Status::NotReady(e),
        }
    }

    fn next(&self, cx: &Cx) -> Next {
        Next::network(self.cheap, cx)
    }
}
