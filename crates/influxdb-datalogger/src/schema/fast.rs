//! The fast paths of encoding a point: for the common case — every value present, nothing to
//! escape, no string fields — they merge and encode in one pass, with the schema's names
//! already escaped. Anything else (a value to escape or refuse,
//! a missing value, an unknown name, a string field) returns `None`, and the
//! general path in `mod.rs` does the work and produces the errors. All must write the same
//! bytes; a property test checks that.
//!
//! The quickest path takes every tag and field given once, in the order the schema declared
//! them (how a call site usually lists them): it only confirms each name, as it writes that
//! value (a pass of its own over the names cost ~6 % more time). If a name is not where the
//! schema declared it, the line is rewound and the given names are mapped to the schema's
//! slots. Mapping, and then reading values through the slots, took ~40 % of a point's time
//! (~105 → ~68 ns per point in `examples/encode_loop`).

use std::borrow::Cow;
use std::cell::Cell;

use super::{FieldDef, FieldInput, Measurement, TagDef, TagInput};
use crate::line_protocol::{append_scalar, append_short, is_plain, write_escaped, Part};
use crate::value::{FieldValue, Precision, Timestamp};

const UNSET: u8 = u8::MAX;
const NULL: u8 = u8::MAX - 1;
/// Schemas with more tags or fields than this take the general path.
const MAX_SLOTS: usize = 32;

/// Compares two names without a call into `memcmp`: lengths first, then (for up to 16
/// bytes) two overlapping fixed-width loads per side.
#[inline(always)]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word8 =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let word4 =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0..=3 => a == b,
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

/// For each schema name, which given entry sets it, `NULL` for an explicit "no value", `UNSET`
/// for none; `None` if a given name is not in the schema or is given twice (the general path
/// says which).
#[inline(always)]
fn map_slots<'n, 'g>(
    names: impl ExactSizeIterator<Item = &'n str> + Clone,
    given: impl Iterator<Item = (&'g str, Option<usize>, bool, bool)>,
) -> Option<[u8; MAX_SLOTS]> {
    let mut slots = [UNSET; MAX_SLOTS];
    let count = names.len();
    for (i, (key, index, has_value, absent)) in given.enumerate() {
        let j = match index {
            Some(j) if j < count => j,
            _ => names
                .clone()
                .position(|name| same_name(name.as_bytes(), key.as_bytes()))?,
        };
        if absent {
            // Left out: as if not given.
            continue;
        }
        if slots[j] != UNSET {
            return None;
        }
        slots[j] = if has_value { i as u8 } else { NULL };
    }
    Some(slots)
}

impl Measurement {
    /// Which given entry sets each of the schema's tags and fields (see [`map_slots`]); `None`
    /// if the point must take the general path: a schema too wide for the slots, no fields,
    /// more given entries than a slot can number, or a name not in the schema.
    #[inline(always)]
    fn slots<F: FieldInput, T: TagInput>(
        &self,
        fields: &[F],
        tags: &[T],
    ) -> Option<([u8; MAX_SLOTS], [u8; MAX_SLOTS])> {
        let schema = &*self.0;
        if schema.tags.len() > MAX_SLOTS
            || schema.fields.len() > MAX_SLOTS
            || schema.fields.is_empty()
            || tags.len() >= NULL as usize
            || fields.len() >= NULL as usize
        {
            return None;
        }
        let tag_names = schema.tags.iter().map(|d| d.tag.name.as_str());
        let tag_slots = map_slots(
            tag_names,
            tags.iter()
                .map(|t| (t.key(), t.schema_index(), t.value().is_some(), false)),
        )?;
        let field_names = schema.fields.iter().map(|d| d.field.name.as_str());
        let field_slots = map_slots(
            field_names,
            fields.iter().map(|f| {
                let has_value = f.value().is_some();
                (
                    f.key(),
                    f.schema_index(),
                    has_value,
                    !has_value && f.absent_when_none(),
                )
            }),
        )?;
        Some((tag_slots, field_slots))
    }

    /// Tries the fast paths; `Some(length of the series key)` if the point was appended to
    /// `out`, `None` if the general path must run (`out` is then as it was).
    #[inline]
    pub(crate) fn encode_fast<F: FieldInput, T: TagInput>(
        &self,
        out: &mut Vec<u8>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> Option<usize> {
        self.append_by_either_path(out, None, fields, tags, time, precision)
    }

    /// The fast paths writing the series key (measurement and tags) to `series` and the rest of
    /// the line to `rest`, so that a store keeping series keys once need not move bytes. On
    /// `false` both buffers are as they were.
    #[inline]
    pub(crate) fn encode_fast_split<F: FieldInput, T: TagInput>(
        &self,
        series: &mut Vec<u8>,
        rest: &mut Vec<u8>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> bool {
        self.append_by_either_path(series, Some(rest), fields, tags, time, precision)
            .is_some()
    }

    /// The declared-order path when it takes the point, else the slots path; on `None` both
    /// buffers are rewound.
    #[inline(always)]
    fn append_by_either_path<F: FieldInput, T: TagInput>(
        &self,
        out: &mut Vec<u8>,
        mut rest: Option<&mut Vec<u8>>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> Option<usize> {
        let (out_mark, rest_mark) = (out.len(), rest.as_ref().map_or(0, |r| r.len()));
        let rewind = |out: &mut Vec<u8>, rest: Option<&mut Vec<u8>>| {
            out.truncate(out_mark);
            if let Some(rest) = rest {
                rest.truncate(rest_mark);
            }
        };
        match self.append_in_declared_order(out, rest.as_deref_mut(), fields, tags, time, precision)
        {
            Ok(series_len) => return Some(series_len),
            Err(NotTaken::ForTheSlots) => rewind(out, rest.as_deref_mut()),
            // The slots path would refuse the same value.
            Err(NotTaken::ForTheGeneralPath) => {
                rewind(out, rest);
                return None;
            }
        }
        let (tag_slots, field_slots) = self.slots(fields, tags)?;
        let values = BySlots {
            fields,
            tags,
            field_slots,
            tag_slots,
        };
        let done = self.append_line(out, rest.as_deref_mut(), values, time, precision);
        if done.is_none() {
            rewind(out, rest);
        }
        done
    }

    /// The quickest path: every tag and field given exactly once, in the order the schema
    /// declared them (by name, or by the schema index bindings pass), each value taken straight
    /// from its entry. Each name is confirmed as its value is written, not in a pass of its
    /// own. An error says which path should have the point; the buffers are left for the
    /// caller to rewind.
    #[inline(always)]
    fn append_in_declared_order<F: FieldInput, T: TagInput>(
        &self,
        out: &mut Vec<u8>,
        rest: Option<&mut Vec<u8>>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> Result<usize, NotTaken> {
        let schema = &*self.0;
        if tags.len() != schema.tags.len()
            || fields.len() != schema.fields.len()
            || fields.is_empty()
        {
            return Err(NotTaken::ForTheSlots);
        }
        let values = InDeclaredOrder {
            declared_at: &schema.declared_at,
            fields,
            tags,
            for_the_slots: Cell::new(false),
        };
        match self.append_line(out, rest, &values, time, precision) {
            Some(series_len) => Ok(series_len),
            None if values.for_the_slots.get() => Err(NotTaken::ForTheSlots),
            None => Err(NotTaken::ForTheGeneralPath),
        }
    }

    /// Appends the line: the measurement, each tag in sorted order with the value `values`
    /// gives for it (an empty one is left out), then each field with its value, then the
    /// timestamp. The series key goes to `out`, the rest to `rest` when the caller keeps series
    /// keys apart. `None` (`values` had no value, or a value needs the general path) leaves the
    /// buffers for the caller to rewind.
    #[inline(always)]
    fn append_line<'v>(
        &'v self,
        out: &mut Vec<u8>,
        rest: Option<&mut Vec<u8>>,
        values: impl PointValues<'v>,
        time: Timestamp,
        precision: Precision,
    ) -> Option<usize> {
        let schema = &*self.0;
        let start = out.len();
        append_short(out, &schema.encoded_name);
        for (k, def) in schema.tags.iter().enumerate() {
            append_tag(out, def, &values.tag(k, def)?)?;
        }
        let series_len = out.len() - start;
        let out = match rest {
            Some(rest) => rest,
            None => out,
        };
        for (n, def) in schema.fields.iter().enumerate() {
            append_field(out, n, def, &*values.field(n, def)?)?;
        }
        crate::line_protocol::write_timestamp_and_newline(out, time, precision);
        Some(series_len)
    }
}

/// Where [`Measurement::append_line`] finds the value of the `k`th tag (in sorted order) and
/// the `n`th field: `None` sends the point to another path. A trait with inlined methods rather
/// than closures: closures were not always inlined into the calling crate's loop (a call per
/// tag and field, ~10 % of a point's time in the criterion benchmark).
trait PointValues<'v> {
    fn tag(&self, k: usize, def: &'v TagDef) -> Option<Cow<'v, str>>;
    fn field(&self, n: usize, def: &'v FieldDef) -> Option<Cow<'v, FieldValue>>;
}

/// The values of a point whose tags and fields were given in declared order, straight from
/// their entries once each name is confirmed.
struct InDeclaredOrder<'v, F, T> {
    declared_at: &'v [usize],
    fields: &'v [F],
    tags: &'v [T],
    /// Set when a name is not where the schema declared it, or an entry gives no value: the
    /// slots path takes such points (a value it cannot write, it would refuse as well).
    for_the_slots: Cell<bool>,
}

/// Why the declared-order path did not take a point, and so which path should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotTaken {
    /// Not every name in declared order, or an entry without a value.
    ForTheSlots,
    /// A value to escape or refuse, or a string field: only the general path writes those.
    ForTheGeneralPath,
}

/// Whether an entry given as `key` (or with the schema index `given_index`) is the schema's
/// `index`th, named `name`.
#[inline(always)]
fn is_declared(given_index: Option<usize>, key: &str, index: usize, name: &str) -> bool {
    match given_index {
        Some(given) => given == index,
        None => same_name(key.as_bytes(), name.as_bytes()),
    }
}

impl<'v, F: FieldInput, T: TagInput> PointValues<'v> for &InDeclaredOrder<'v, F, T> {
    #[inline(always)]
    fn tag(&self, k: usize, def: &'v TagDef) -> Option<Cow<'v, str>> {
        let given = &self.tags[self.declared_at[k]];
        self.found(
            is_declared(given.schema_index(), given.key(), k, &def.tag.name)
                .then(|| given.value())
                .flatten(),
        )
        .map(Cow::Borrowed)
    }

    #[inline(always)]
    fn field(&self, n: usize, def: &'v FieldDef) -> Option<Cow<'v, FieldValue>> {
        let given = &self.fields[n];
        self.found(
            is_declared(given.schema_index(), given.key(), n, &def.field.name)
                .then(|| given.value())
                .flatten(),
        )
        .map(Cow::Borrowed)
    }
}

impl<F, T> InDeclaredOrder<'_, F, T> {
    /// Passes `value` on; `None` (a name out of place, or no value) sends the point to the
    /// slots path.
    #[inline(always)]
    fn found<V>(&self, value: Option<V>) -> Option<V> {
        if value.is_none() {
            self.for_the_slots.set(true);
        }
        value
    }
}

/// The values of a point through its slots (see [`map_slots`]): a given entry, else the
/// schema's function or default.
struct BySlots<'v, F, T> {
    fields: &'v [F],
    tags: &'v [T],
    field_slots: [u8; MAX_SLOTS],
    tag_slots: [u8; MAX_SLOTS],
}

impl<'v, F: FieldInput, T: TagInput> PointValues<'v> for BySlots<'v, F, T> {
    #[inline(always)]
    fn tag(&self, k: usize, def: &'v TagDef) -> Option<Cow<'v, str>> {
        match self.tag_slots[k] {
            UNSET => match (&def.tag.func, &def.tag.default) {
                (Some(func), _) => Some(Cow::Owned(func())),
                (None, Some(default)) => Some(Cow::Borrowed(default)),
                // An empty value is left out.
                (None, None) if def.optional => Some(Cow::Borrowed("")),
                (None, None) => None,
            },
            NULL if def.optional => Some(Cow::Borrowed("")),
            NULL => None,
            i => Some(Cow::Borrowed(
                self.tags[i as usize].value().expect("slot holds a value"),
            )),
        }
    }

    #[inline(always)]
    fn field(&self, n: usize, def: &'v FieldDef) -> Option<Cow<'v, FieldValue>> {
        match self.field_slots[n] {
            UNSET => match (&def.field.func, &def.field.default) {
                (Some(func), _) => Some(Cow::Owned(func())),
                (None, Some(default)) => Some(Cow::Borrowed(default)),
                (None, None) => None,
            },
            NULL => None,
            i => Some(Cow::Borrowed(
                self.fields[i as usize].value().expect("slot holds a value"),
            )),
        }
    }
}

/// Appends `,key=value` for a tag, nothing for an empty value of an optional tag; `None` if the
/// value is refused (the general path says why). A value to escape (a space, a comma) is
/// escaped here: sending the whole point down the general path for it cost a test's point
/// with a CPU model tag ~300 ns (`bench/examples/test_attribute_overhead.rs`).
#[inline(always)]
fn append_tag(out: &mut Vec<u8>, def: &TagDef, value: &str) -> Option<()> {
    if value.is_empty() {
        // A required tag may not be empty: the general path says so.
        return def.optional.then_some(());
    }
    let start = out.len();
    append_short(out, &def.encoded_key);
    if is_plain(value.as_bytes()) {
        append_short(out, value.as_bytes());
    } else if write_escaped(out, value, Part::TagValue).is_err() {
        out.truncate(start);
        return None;
    }
    Some(())
}

/// Appends the `n`th field, `key=value` after a space or a comma; `None` if the value needs the
/// general path (NaN and infinity are refused, strings need escaping, a value of another type
/// than the field's is refused: it does all three).
#[inline(always)]
fn append_field(out: &mut Vec<u8>, n: usize, def: &FieldDef, value: &FieldValue) -> Option<()> {
    // A value of another type than the field's: the general path says so.
    let value = def.ty.admit(value).ok()?;
    out.push(if n == 0 { b' ' } else { b',' });
    append_short(out, &def.encoded_key);
    append_scalar(out, &value).then_some(())
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
