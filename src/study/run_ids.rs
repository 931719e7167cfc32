//! The run id of each trial of a tracked study, held compactly.

use std::collections::HashMap;
use std::num::NonZeroU128;

/// Per trial number, the id of the run that holds the trial, where known.
///
/// A search of 100,000 trials keeps 100,000 ids. One of 32 lowercase hex digits (a UUID
/// in the simple form every store of this project gives its runs) takes 16 bytes here,
/// where a `String` takes a 24-byte handle and a heap block; any other id (a tracking
/// server's own scheme) is kept as given.
#[derive(Debug, Default)]
pub(super) struct RunIds {
    packed: Vec<Option<NonZeroU128>>,
    other: HashMap<usize, String>,
}

impl RunIds {
    /// Trial `number` is held by run `run_id`.
    pub fn set(&mut self, number: usize, run_id: &str) {
        if self.packed.len() <= number {
            self.packed.resize(number + 1, None);
        }
        let packed = pack(run_id);
        self.packed[number] = packed;
        if packed.is_some() {
            self.other.remove(&number);
        } else {
            self.other.insert(number, run_id.to_string());
        }
    }

    /// The id of trial `number`'s run, as it was given.
    pub fn get(&self, number: usize) -> Option<String> {
        match self.packed.get(number).copied().flatten() {
            Some(id) => Some(format!("{id:032x}")),
            None => self.other.get(&number).cloned(),
        }
    }
}

/// `run_id` as a number, when it is 32 lowercase hex digits (so that printing the number
/// gives it back) and not all zeros.
fn pack(run_id: &str) -> Option<NonZeroU128> {
    let lower_hex = run_id.len() == 32
        && run_id
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let id = u128::from_str_radix(run_id, 16)
        .ok()
        .filter(|_| lower_hex)?;
    NonZeroU128::new(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_comes_back_as_given() {
        let ids = [
            "0f8e2a4c6b1d3e5f7a9c0b2d4e6f8a1c",
            "0F8E2A4C6B1D3E5F7A9C0B2D4E6F8A1C",
            "00000000000000000000000000000000",
            "00000000000000000000000000000001",
            "run-7",
            "",
            "0f8e2a4c-6b1d-3e5f-7a9c-0b2d4e6f8a1c",
            "+f8e2a4c6b1d3e5f7a9c0b2d4e6f8a1c",
        ];
        let mut run_ids = RunIds::default();
        for (number, id) in ids.iter().enumerate() {
            run_ids.set(number * 2, id);
        }
        for (number, id) in ids.iter().enumerate() {
            assert_eq!(run_ids.get(number * 2).as_deref(), Some(*id));
            assert_eq!(run_ids.get(number * 2 + 1), None, "a gap stays unknown");
        }
        assert_eq!(run_ids.get(ids.len() * 2), None);
        assert_eq!(run_ids.other.len(), 6, "only hex ids are packed");
    }

    #[test]
    fn setting_again_replaces_the_id_whatever_its_form() {
        let mut run_ids = RunIds::default();
        run_ids.set(3, "run-7");
        run_ids.set(3, "0f8e2a4c6b1d3e5f7a9c0b2d4e6f8a1c");
        assert_eq!(
            run_ids.get(3).as_deref(),
            Some("0f8e2a4c6b1d3e5f7a9c0b2d4e6f8a1c")
        );
        assert!(run_ids.other.is_empty());
        run_ids.set(3, "run-8");
        assert_eq!(run_ids.get(3).as_deref(), Some("run-8"));
    }
}
