//! The queue state machine's operations as a proptest strategy, shared by every engine's test
//! (`tests/store_conformance.rs`, `tests/store_postgres.rs`).

use hookroute::store::conformance::{Finish, Op};
use proptest::prelude::*;

pub fn op() -> impl Strategy<Value = Op> {
    let finish = prop_oneof![
        Just(Finish::Delivered),
        (1u16..5000).prop_map(|in_ms| Finish::Retry { in_ms }),
        Just(Finish::Dead),
        Just(Finish::Release),
    ];
    prop_oneof![
        4 => (0u8..12, 1u8..=3).prop_map(|(id, targets)| Op::Accept { id, targets }),
        3 => (0u8..3).prop_map(|slots| Op::Claim { slots }),
        4 => (any::<u8>(), finish).prop_map(|(nth, how)| Op::Finish { nth, how }),
        2 => (0u32..120_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// `PROPTEST_CASES`, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
