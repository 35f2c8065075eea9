//! Near misspellings: which known name a mistyped one most likely meant.

/// Levenshtein distance between two byte strings.
pub fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The one name of `known` nearest `word` when it is at most two edits away and the edits are
/// at most a third of `word` (`mesage` → `message`); none when two are as near.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut best: Option<(usize, &'a str)> = None;
    let mut tied = false;
    for k in known {
        let d = edit_distance(word.as_bytes(), k.as_bytes());
        if d == 0 || d > 2 || d * 3 > word.len() {
            continue;
        }
        match best {
            Some((b, _)) if d > b => {}
            Some((b, _)) if d == b => tied = true,
            _ => {
                best = Some((d, k));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_one_near_name_only() {
        let known = ["type", "name", "message"];
        assert_eq!(closest("mesage", &known), Some("message"));
        assert_eq!(closest("nam", &known), Some("name"));
        assert_eq!(closest("typ", &known), Some("type"));
        // Too far, too short to judge, or equally near two.
        assert_eq!(closest("msg", &known), None);
        assert_eq!(closest("x", &known), None);
        assert_eq!(closest("tame", &["name", "type", "time"]), None);
    }
}
