//! Taking over what dead processes left in the spool, when a logger starts.

use std::sync::Arc;

use super::{lock, DataLogger};
use crate::error::Result;
use crate::spool::{self, ReplayItem, ReplayReport, SpoolWriter};

impl DataLogger {
    /// What this logger replayed from its spool when it started.
    pub fn replay_report(&self) -> ReplayReport {
        lock(&self.replayed).clone()
    }

    /// Replays what dead processes left in the spool directory: their points and events are
    /// stored (and spooled) as if just logged, with their original timestamps, and (unless
    /// `hand_over` is false) handed to the writers — every few thousand records, and at the end
    /// of each of their segments, which is deleted once its records are on disk in this
    /// logger's own segment.
    pub(super) fn replay_dead_owners(&self, hand_over: bool) -> Result<()> {
        const HAND_OVER_EVERY: usize = 5_000;
        if lock(&self.delivery).is_empty() {
            // Nowhere to deliver: leave them for a logger that has writers.
            return Ok(());
        }
        let Some(shared) = lock(&self.pending)
            .spool
            .as_ref()
            .map(|s| Arc::clone(s.shared()))
        else {
            return Ok(());
        };
        let options = shared.options().clone();
        let mut report = ReplayReport::default();
        for owner in spool::claim_dead_owners(&options.dir, shared.owner())? {
            let mut since_hand_over = 0;
            spool::replay_owner(
                owner,
                shared.target(),
                options.adopt,
                self.precision,
                &mut report,
                |item| {
                    match item {
                        ReplayItem::Point(line) => {
                            let split =
                                crate::line_protocol::series_key_len(&line).unwrap_or(line.len());
                            lock(&self.pending).push_line(&line, split)?;
                        }
                        ReplayItem::Event(event) => lock(&self.pending).push_event(event)?,
                        ReplayItem::SegmentDone => {
                            // Failed writers keep their data; it is in this logger's spool too.
                            if hand_over {
                                let _ = self.write_data();
                            }
                            since_hand_over = 0;
                            return lock(&self.pending)
                                .spool
                                .as_ref()
                                .map_or(Ok(()), SpoolWriter::sync);
                        }
                    }
                    since_hand_over += 1;
                    if hand_over && since_hand_over >= HAND_OVER_EVERY {
                        since_hand_over = 0;
                        let _ = self.write_data();
                    }
                    Ok(())
                },
            )?;
        }
        *lock(&self.replayed) = report;
        Ok(())
    }
}
