//! Fuzz the pickle walker: any bytes, every stream mode, small caps so caps are reached too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_models::pickle::{Limits, StreamMode, analyse_mode};
use rampart_models::Policy;

fuzz_target!(|data: &[u8]| {
    let policy = Policy::builtin();
    let small = Limits { max_ops: 20_000, max_memo: 1_000, max_stack: 1_000, max_marks: 100, max_value_depth: 50, ..Limits::default() };
    for mode in [StreamMode::Multi, StreamMode::Single, StreamMode::Resync] {
        let _ = analyse_mode(data, &policy, &small, mode);
    }
    let _ = rampart_models::pickle::analyse(data, &policy, &Limits::default());
    let _ = rampart_models::pickle::looks_like_pickle(data);
});
