//! Collections living in a context through `allocator_api2`.

use crate::util::scaled;
use morph_runtime::{MorphContext, MorphVec};

#[test]
fn vec_grows_from_one_to_a_hundred_thousand() {
    let ctx = MorphContext::new();
    let n = scaled(100_000, 2_000) as u64;
    let mut v: MorphVec<'_, u64> = MorphVec::new_in(&ctx);
    for i in 0..n {
        v.push(i * 3);
    }
    assert_eq!(v.len() as u64, n);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
    assert_eq!(
        ctx.stats().live_objects,
        1,
        "one buffer, every old one freed"
    );
    drop(v);
    assert_eq!(ctx.stats().live_objects, 0);
}

#[test]
fn hashbrown_map_of_ten_thousand_entries() {
    let ctx = MorphContext::new();
    let n = scaled(10_000, 300) as u32;
    let mut map = hashbrown::HashMap::new_in(&ctx);
    for i in 0..n {
        map.insert(i, i.wrapping_mul(2_654_435_761));
    }
    assert_eq!(map.len() as u32, n);
    for i in (0..n).step_by(7) {
        assert_eq!(map.get(&i), Some(&i.wrapping_mul(2_654_435_761)));
        map.remove(&i);
    }
    assert!(map.get(&0).is_none());
    map.shrink_to_fit();
    drop(map);
    assert_eq!(ctx.stats().live_objects, 0, "every table freed");
}
