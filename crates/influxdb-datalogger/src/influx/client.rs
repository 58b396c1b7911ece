//! The HTTP side the writer and the reader share: one agent per server, configured from an
//! [`InfluxConfig`] (timeout, proxy, TLS), and the `Authorization` header its API wants.

use std::path::Path;

use super::config::{Api, InfluxConfig, Secret};
use crate::error::{Error, ErrorKind, Result};

/// An agent and the credentials to send with every request.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) agent: ureq::Agent,
    /// The `Authorization` header, a [`Secret`] so that `Debug` shows `***`.
    pub(crate) authorization: Option<Secret>,
}

impl Client {
    /// The agent and credentials for `config` (which the caller has validated).
    pub(crate) fn new(config: &InfluxConfig) -> Result<Client> {
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("influxdb-datalogger/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &config.proxy {
            let proxy = ureq::Proxy::new(proxy).map_err(|e| {
                Error::new(ErrorKind::InvalidArgument, format!("proxy {proxy:?}: {e}"))
            })?;
            builder = builder.proxy(Some(proxy));
        }
        let mut tls =
            ureq::tls::TlsConfig::builder().disable_verification(config.insecure_skip_verify);
        if let Some(ca) = &config.ca_file {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&read_ca_file(ca)?));
        }
        let agent = crate::http::agent(builder.tls_config(tls.build()).build());
        let authorization = (match config.api() {
            Api::V1 => config.username.as_ref().map(|user| {
                let password = config.password.as_ref().map_or("", |p| p.expose());
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
            }),
            Api::V2 => config
                .token
                .as_ref()
                .map(|t| format!("Token {}", t.expose())),
            Api::V3 => config
                .token
                .as_ref()
                .map(|t| format!("Bearer {}", t.expose())),
        })
        .map(Secret::new);
        Ok(Client {
            agent,
            authorization,
        })
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::io(
            format_args!("cannot read the CA file {}", path.display()),
            e,
        )
    })?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certificates.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("CA file {}: {e}", path.display()),
                ))
            }
        }
    }
    if certificates.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("CA file {} holds no certificate", path.display()),
        ));
    }
    Ok(certificates)
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The server's message in an error body: the `error` or `message` of a JSON object, or the
/// text itself.
pub(crate) fn server_message(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(value) => ["error", "message"]
            .iter()
            .find_map(|k| value.get(k).and_then(|v| v.as_str()).map(str::to_string))
            .unwrap_or_else(|| body.trim().to_string()),
        Err(_) => body.trim().to_string(),
    }
}
