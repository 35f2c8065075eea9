//! The byte budget of one PostgreSQL batch. 500 rows of up to 796 KiB each would be hundreds of
//! MB of JSON, held several times over on the way to the runs (the PostgreSQL Worker's answer,
//! the parsed records, the runs' inputs, the calls to the shards): far beyond an isolate's
//! 128 MB. So a batch also ends at [`MAX_BATCH_BYTES`] of record JSON. The PostgreSQL Worker reads
//! the batch's rows a few at a time (a portal, asked for as many rows as the budget left should
//! hold) and ends the batch before the row that would pass the budget; the cursor moves past
//! the rows taken, and the next poll, at once as after a full batch, reads on from there. The
//! first row is always taken, so every poll makes progress.

/// Most record JSON (bytes of `row_to_json` text, weighed by [`record_weight`]) one batch
/// holds, unless its first row alone is larger.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// What one value (an array element or object member) of a record takes once parsed, about:
/// the batch's budget counts it so.
pub const VALUE_WEIGHT: usize = 32;

/// What a record's JSON text weighs in a batch's budget: its bytes, or, for one of many small
/// values (`[0,0,0,…]`: two bytes of text each, tens once parsed), its values at
/// [`VALUE_WEIGHT`] each. Held in a batch by their bytes alone, records of 4 MiB of such text
/// would take over 100 MB once parsed and copied into their runs' inputs.
pub fn record_weight(json: &str) -> usize {
    let values = crate::kernel::json_budget::check_with(json.as_bytes(), usize::MAX, usize::MAX)
        .unwrap_or(0);
    json.len().max(values.saturating_mul(VALUE_WEIGHT))
}

/// What a row read from PostgreSQL weighs in its batch: its record's [`record_weight`], or,
/// for a record left out for its size (`None`), the size the server gave (`bytes`): so that
/// the next fetch asks for fewer rows, each such row's JSON being built by the server only to
/// be measured, and so that such a row over the budget ends its batch.
pub fn row_weight(record: Option<&str>, bytes: u64) -> usize {
    record.map_or(usize::try_from(bytes).unwrap_or(usize::MAX), record_weight)
}

/// Rows asked for first, before any row's size is known.
const FIRST_FETCH: usize = 16;

/// What one batch has taken so far, and how many rows to ask for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBudget {
    max_rows: usize,
    max_bytes: usize,
    rows: usize,
    bytes: usize,
}

impl BatchBudget {
    /// A batch of at most `max_rows` rows and [`MAX_BATCH_BYTES`].
    pub fn new(max_rows: u32) -> BatchBudget {
        BatchBudget::with_bytes(max_rows, MAX_BATCH_BYTES)
    }

    /// A batch of at most `max_rows` rows and `max_bytes`.
    pub fn with_bytes(max_rows: u32, max_bytes: usize) -> BatchBudget {
        BatchBudget {
            max_rows: max_rows as usize,
            max_bytes,
            rows: 0,
            bytes: 0,
        }
    }

    /// Takes a row of `bytes` if it fits: the first row always does, later ones while the batch
    /// stays within its bytes. `false`: the batch ends before this row.
    pub fn take(&mut self, bytes: usize) -> bool {
        let total = self.bytes.saturating_add(bytes);
        if self.rows > 0 && total > self.max_bytes {
            return false;
        }
        self.rows += 1;
        self.bytes = total;
        true
    }

    /// How many rows to ask for next (0: the batch is full). At first a few; then as many as
    /// the bytes left hold at the rows' average size so far, and one more, which shows whether
    /// the batch ends at its bytes with rows left.
    pub fn next_fetch(&self) -> usize {
        let left = self.max_rows.saturating_sub(self.rows);
        if self.rows == 0 {
            return left.min(FIRST_FETCH);
        }
        let average = (self.bytes / self.rows).max(1);
        left.min(self.max_bytes.saturating_sub(self.bytes) / average + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_weighs_its_bytes_or_its_many_small_values() {
        let text = r#"{"name": "a long enough name for its bytes to count"}"#;
        assert_eq!(record_weight(text), text.len());
        let zeros = format!("[{}0]", "0,".repeat(9_999));
        assert_eq!(record_weight(&zeros), 10_000 * VALUE_WEIGHT);
        // Commas and brackets inside strings are text, not values.
        let quoted = format!("\"{}\"", ",".repeat(1_000));
        assert_eq!(record_weight(&quoted), quoted.len());
    }

    /// Takes rows of `sizes` as a read does: `(rows taken, whether the bytes ended the batch,
    /// the fetches asked for)`.
    fn read(budget: &mut BatchBudget, sizes: &[usize]) -> (usize, bool, Vec<usize>) {
        let (mut next, mut fetches) = (0, Vec::new());
        loop {
            let want = budget.next_fetch();
            if want == 0 {
                return (next, false, fetches);
            }
            fetches.push(want);
            let got = &sizes[next..(next + want).min(sizes.len())];
            for &size in got {
                if !budget.take(size) {
                    return (next, true, fetches);
                }
                next += 1;
            }
            if got.len() < want {
                return (next, false, fetches);
            }
        }
    }

    #[test]
    fn small_rows_fill_the_batch_in_two_fetches() {
        let mut budget = BatchBudget::new(500);
        let (taken, cut, fetches) = read(&mut budget, &[100; 600]);
        assert_eq!((taken, cut), (500, false));
        assert_eq!(fetches, [16, 484]);
    }

    #[test]
    fn large_rows_end_the_batch_at_its_bytes() {
        let mut budget = BatchBudget::new(500);
        let (taken, cut, fetches) = read(&mut budget, &[600_000; 14]);
        // 6 × 600 000 fit in 4 MiB, a 7th would not.
        assert_eq!((taken, cut), (6, true));
        assert_eq!(fetches, [16]);
        // Rows whose size grows: asked for by the average, the bytes still hold.
        let mut budget = BatchBudget::with_bytes(500, 1_000);
        let sizes: Vec<usize> = (1..=100).collect();
        let (taken, cut, _) = read(&mut budget, &sizes);
        assert_eq!((taken, cut), (44, true));
        assert_eq!(sizes[..44].iter().sum::<usize>(), 990);
    }

    /// Rows left out for their size (a 1 MB `bytea` each) weigh that size: the batch ends at
    /// its bytes instead of asking for every row left (each built into JSON by the server only
    /// to be measured), as it did while they weighed nothing.
    #[test]
    fn rows_left_out_for_their_size_weigh_it() {
        assert_eq!(row_weight(None, 1_000_000), 1_000_000);
        assert_eq!(
            row_weight(Some("[0,0,0]"), 1_000_000),
            record_weight("[0,0,0]")
        );
        let mut budget = BatchBudget::new(500);
        let (taken, cut, fetches) = read(&mut budget, &[row_weight(None, 1_000_000); 600]);
        assert_eq!((taken, cut), (4, true));
        assert_eq!(fetches, [16]);
    }

    #[test]
    fn a_row_larger_than_the_budget_is_taken_alone() {
        let mut budget = BatchBudget::with_bytes(500, 1_000);
        let (taken, cut, _) = read(&mut budget, &[5_000, 10, 10]);
        assert_eq!((taken, cut), (1, true));
        let mut budget = BatchBudget::with_bytes(500, 1_000);
        assert_eq!(read(&mut budget, &[5_000]), (1, false, vec![16]));
    }

    #[test]
    fn a_batch_that_ends_exactly_at_its_bytes_asks_once_more() {
        let mut budget = BatchBudget::with_bytes(500, 1_000);
        // 16 rows of 50, then 4 more fill the bytes; the one more asked for is not there.
        let (taken, cut, fetches) = read(&mut budget, &[50; 20]);
        assert_eq!((taken, cut), (20, false));
        assert_eq!(fetches, [16, 5]);
        let mut budget = BatchBudget::with_bytes(3, 1_000);
        assert_eq!(read(&mut budget, &[1; 10]), (3, false, vec![3]));
    }
}
