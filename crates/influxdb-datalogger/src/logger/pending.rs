//! What has been logged and not yet handed to the writers, and its journal in the spool.

use crate::entry::{Batch, Event};
use crate::error::Result;
use crate::spool::{self, Kind, ReleasedFiles, SpoolMark, SpoolWriter};
use crate::store::PointStore;
use crate::value::Precision;

/// What has been logged and not yet handed to the writers.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) points: PointStore,
    pub(super) events: Vec<Event>,
    /// Points accepted so far; counted under this lock, which `log` holds anyway.
    pub(super) points_logged: u64,
    /// Where every complete point and event is appended before it is stored here.
    pub(super) spool: Option<SpoolWriter>,
    /// An emptied store, taken at the next write instead of a new one (see
    /// [`PointStore::recycle`]).
    pub(super) spare: Option<PointStore>,
}

/// What [`Pending::take`] took.
pub(super) struct HandedOver {
    pub(super) points: PointStore,
    pub(super) events: Vec<Event>,
    /// Where the spool stands after them.
    pub(super) mark: Option<SpoolMark>,
    /// Spool segments that handing them over released: to be dropped (deleted) once the lock
    /// `log` needs is released.
    pub(super) released: ReleasedFiles,
}

impl Pending {
    /// A copy of the complete points and the events, as a batch.
    pub(super) fn batch(&self, precision: Precision) -> Batch {
        self.points.to_batch(self.events.clone(), precision)
    }

    /// Takes the complete points and the events, leaving none pending, and where the spool
    /// stands after them. Cheap (it moves the store), so that the batch can be assembled after
    /// the lock that `log` needs is released.
    pub(super) fn take(&mut self) -> Result<HandedOver> {
        let (mark, released) = match self.spool.as_mut().map(SpoolWriter::hand_over) {
            Some(handed) => {
                let (mark, released) = handed?;
                (Some(mark), released)
            }
            None => (None, ReleasedFiles::default()),
        };
        let fresh = self.spare.take().unwrap_or_default();
        Ok(HandedOver {
            points: std::mem::replace(&mut self.points, fresh),
            events: std::mem::take(&mut self.events),
            mark,
            released,
        })
    }

    /// Appends a record to the spool, if there is one.
    #[inline]
    pub(super) fn journal(&mut self, kind: Kind, parts: &[&[u8]]) -> Result<()> {
        match &mut self.spool {
            Some(spool) => spool.append(kind, parts),
            None => Ok(()),
        }
    }

    /// Stores an event (spooled first).
    pub(super) fn push_event(&mut self, event: Event) -> Result<()> {
        self.journal(Kind::Event, &[&spool::event_payload(&event)])?;
        self.events.push(event);
        Ok(())
    }

    /// Stores a complete line (spooled first), whose series key is `split` bytes long.
    pub(super) fn push_line(&mut self, line: &[u8], split: usize) -> Result<()> {
        self.journal(Kind::Point, &[line])?;
        self.points.push_line(line, split);
        Ok(())
    }
}
