//! [`GrafanaAnnotationWriter`]: events as Grafana annotations, through Grafana's HTTP API
//! (`POST /api/annotations`).

use std::collections::HashSet;
use std::time::Duration;

use crate::entry::{Batch, Event};
use crate::error::{Error, ErrorKind, Result};
use crate::influx::Secret;
use crate::value::Precision;
use crate::writer::DatabaseWriter;

/// Posts every event of a batch as an annotation: `time`/`timeEnd` from its start and stop
/// (epoch milliseconds), `text` its measurement, `tags` its tags as `key:value`. Points are not
/// Grafana's business and are ignored.
///
/// When a batch fails half-way, the annotations already posted are remembered, so that the
/// retry (which hands the same events over again) does not post them twice.
#[derive(Debug)]
pub struct GrafanaAnnotationWriter {
    url: String,
    token: Secret,
    dashboard_uid: Option<String>,
    panel_id: Option<u64>,
    agent: ureq::Agent,
    /// Events posted since the last batch that went through whole.
    posted: HashSet<String>,
}

impl GrafanaAnnotationWriter {
    /// A writer for the Grafana at `url` (e.g. `http://grafana:3000`), with a service account
    /// token.
    pub fn new(url: impl Into<String>, token: Secret) -> Self {
        GrafanaAnnotationWriter {
            url: url.into().trim_end_matches('/').to_string(),
            token,
            dashboard_uid: None,
            panel_id: None,
            agent: crate::http::agent(
                ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(10)))
                    .http_status_as_error(false)
                    .build(),
            ),
            posted: HashSet::new(),
        }
    }

    /// Ties the annotations to a dashboard (else they are organisation annotations, shown on
    /// any dashboard that queries them by tag).
    pub fn with_dashboard(
        mut self,
        dashboard_uid: impl Into<String>,
        panel_id: Option<u64>,
    ) -> Self {
        self.dashboard_uid = Some(dashboard_uid.into());
        self.panel_id = panel_id;
        self
    }

    /// The request body for `event`.
    pub fn annotation(&self, event: &Event) -> serde_json::Value {
        let mut body = serde_json::json!({
            "time": event.start.in_precision(Precision::Milliseconds),
            "timeEnd": event.stop.in_precision(Precision::Milliseconds),
            "text": event.measurement,
            "tags": event.tags.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        });
        if let Some(uid) = &self.dashboard_uid {
            body["dashboardUID"] = uid.clone().into();
        }
        if let Some(panel) = self.panel_id {
            body["panelId"] = panel.into();
        }
        body
    }

    fn post(&self, body: &serde_json::Value) -> Result<()> {
        let url = format!("{}/api/annotations", self.url);
        let mut response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token.expose()))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| {
                crate::http::transport_error(format!("cannot post an annotation to {url}"), e)
            })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or(text);
        let retriable = status == 429 || (status >= 500 && status != 501);
        Err(Error::new(
            ErrorKind::Writer,
            format!("Grafana at {} refused an annotation: {message}", self.url),
        )
        .with_status(status)
        .with_retriable(retriable))
    }
}

impl DatabaseWriter for GrafanaAnnotationWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        for event in batch.events() {
            let body = self.annotation(event);
            let key = body.to_string();
            if self.posted.contains(&key) {
                continue;
            }
            self.post(&body)?;
            self.posted.insert(key);
        }
        self.posted.clear();
        Ok(())
    }

    fn name(&self) -> String {
        format!("GrafanaAnnotationWriter({})", self.url)
    }
}
