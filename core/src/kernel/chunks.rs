//! Splitting a list into runs that each fit a byte budget (one storage statement per run), in
//! order. An item larger than the budget gets a run of its own rather than being dropped.

/// Consecutive slices of `items` whose `size`s add up to at most `budget` bytes each (a single
/// item over the budget is a slice by itself). Empty input gives no slices.
pub fn by_bytes<T>(items: &[T], budget: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let len = size(item);
        if i > start && used + len > budget {
            out.push(&items[start..i]);
            (start, used) = (i, 0);
        }
        used += len;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_each_slice_up_to_the_budget() {
        let sizes = [4, 4, 4, 1, 9, 2];
        let got: Vec<Vec<usize>> = by_bytes(&sizes, 9, |s| *s)
            .into_iter()
            .map(<[usize]>::to_vec)
            .collect();
        assert_eq!(got, vec![vec![4, 4], vec![4, 1], vec![9], vec![2]]);
    }

    #[test]
    fn an_oversized_item_stands_alone_and_nothing_is_lost() {
        let sizes = [20, 1, 30];
        let got = by_bytes(&sizes, 10, |s| *s);
        assert_eq!(got, vec![&[20][..], &[1][..], &[30][..]]);
        assert!(by_bytes(&[] as &[usize], 10, |s| *s).is_empty());
    }
}
