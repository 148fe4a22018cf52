//! Time one `Store::put` of a large object (whole or multipart, as the `HIPSGEN_STORE_*` and `AWS_*` variables say)
//! and check that it reads back equal: `put_timing URL MIB [REPEATS]` prints the median seconds and MB/s
//! (BENCHMARKS.md, multipart uploads to SeaweedFS).

use hips_core::storage::{Store, StoreSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(mib)) = (args.get(1), args.get(2).and_then(|m| m.parse::<usize>().ok())) else {
        return Err("usage: put_timing URL MIB [REPEATS]".into());
    };
    let repeats: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(3);
    let s = StoreSettings::process();
    let store = Store::open(url)?;
    // Incompressible, deterministic bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..mib << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    let data = bytes::Bytes::from(data);
    let mut times = Vec::new();
    for i in 0..repeats {
        let key = format!("put-timing/{i}");
        let t0 = std::time::Instant::now();
        store.put(&key, data.clone())?;
        times.push(t0.elapsed().as_secs_f64());
        if store.get(&key)?.as_deref() != Some(&data[..]) {
            return Err(format!("{key}: read back differs").into());
        }
        store.delete(&key)?;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mode = if data.len() > s.multipart_threshold { "multipart" } else { "whole" };
    println!(
        "{mib} MiB {mode} (part {} MiB, {} in flight): median {median:.3} s of {times:.3?}, {:.0} MB/s",
        s.multipart_part_size >> 20,
        s.write_concurrency,
        data.len() as f64 / median / 1e6
    );
    Ok(())
}
